// The client jobs API's shapes (GET /portal/client/jobs, /portal/client/jobs/:jobId).
export const stages = ['received', 'scheduled', 'on_the_way', 'in_progress', 'done', 'canceled'] as const;
export type Stage = (typeof stages)[number];

export interface TimeWindow { starts_at: string | null; ends_at: string | null }

export interface ClientJobSummary {
  id: string;
  reference: string;
  summary: string;
  service_category: string | null;
  stage: Stage;
  window: TimeWindow | null;
  preferred_window: TimeWindow | null;
  technician: { first_name: string | null; eta_at: string | null } | null;
  checklist_percent: number | null;
  created_at: string;
  completed_at: string | null;
  can_cancel: boolean;
}

export interface ClientFile { id: string; kind: string; filename: string; content_type: string; url: string; thumbnail_url: string | null; created_at: string }

export interface ClientJob extends ClientJobSummary {
  timeline: Array<{ stage: Stage; at: string | null; reached: boolean }>;
  address: string | null;
  files: ClientFile[];
}

export interface ServiceOptions { categories: string[]; address: string | null }
