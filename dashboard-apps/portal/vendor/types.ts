// The shapes the portal reads and sends, as the server's vendor-portal routes define them.
export type JobTab = 'offered' | 'today' | 'upcoming' | 'done';
export const jobTabs: readonly JobTab[] = ['offered', 'today', 'upcoming', 'done'];

export type JobStatus = 'new' | 'triaged' | 'assigned' | 'in_progress' | 'pending_review' | 'completed' | 'canceled';
export type SlaState = 'none' | 'ok' | 'warning' | 'breached' | 'met' | 'missed';

export interface PortalJobCard {
  id: string;
  reference: string;
  status: JobStatus;
  priority: 'low' | 'normal' | 'high' | 'urgent';
  summary: string;
  service_category: string | null;
  window_starts_at: string | null;
  window_ends_at: string | null;
  sla_due_at: string | null;
  sla_state: SlaState | string;
  checklist: { done: number; total: number };
  postal_code: string | null;
  address: string | null;
  maps_url: string | null;
  client: { name: string | null; phone: string | null } | null;
  technician: { id: string; name: string } | null;
  offer: { id: string; answer_by: string; status: string } | null;
  eta: string | null;
  started_at: string | null;
  updated_at: string;
}

export type ActionKind = 'en_route' | 'start' | 'check' | 'uncheck' | 'note' | 'submit_for_review' | 'complete';

export interface ChecklistItem { id: string; label: string; required: boolean; done_at: string | null }
export interface RequiredPhoto { tag: string; label: string; min: number; have: number }
export interface JobArtifact { id: string; kind: string; filename: string; content_type: string; tag: string | null; url: string; thumbnail_url: string | null; created_at: string; taken_at: string | null }
export interface JobEvent { id: string; kind: string; data: Record<string, unknown>; occurred_at: string }

export interface PortalJob extends PortalJobCard {
  checklist_items: ChecklistItem[];
  required_photos: RequiredPhoto[];
  artifacts: JobArtifact[];
  events: JobEvent[];
  allowed_actions: ActionKind[];
  /** The account keeps where photos were taken (set by dispatch; older cached copies lack it). */
  keep_photo_location?: boolean;
}

/** One action as POST /portal/vendor/actions takes it: made on the device, with the device's clock. */
export interface ActionBody {
  id: string;
  job_id: string;
  kind: ActionKind;
  happened_at: string;
  offline: boolean;
  eta?: string;
  location?: { lat: number; lng: number; accuracy_m: number };
  item_id?: string;
  text?: string;
}

export interface MissingThing { type: 'item' | 'photo'; label: string }

/** The signed-in vendor user, from GET /me. */
export interface PortalMe {
  caller: { type: 'portal_user'; id: string; name: string; kind: string; vendor_id: string | null; vendor_role: 'owner' | 'technician' | null };
  account: { id: number; name: string };
}
