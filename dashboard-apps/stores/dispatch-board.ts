// The dispatch board: jobs by status, one job's detail, vendor suggestions and assignment.
import { defineStore } from 'pinia';
import { ref } from 'vue';
import type { JobPriority, JobStatus } from '../../extension/modules/jobs/rules.ts';
import { api, errorMessage, unwrap } from '../lib/api.ts';
import { t } from '../i18n/index.ts';
import { pickFilters, setFilters } from '../lib/board-filters.ts';

export interface BoardJob { id: string; reference: string; summary: string; status: JobStatus; priority: JobPriority; sla_state: string; sla_due_at: string | null; vendor_id: string | null; service_category: string | null }
export interface JobDetail extends BoardJob {
  version: number;
  allowed_next: JobStatus[];
  conversation_ids: number[];
  vendor: { id: string; name: string } | null;
  events: Array<{ id: number; kind: string; data: Record<string, unknown>; occurred_at: string }>;
  checklist: Array<{ id: string; label: string; required: boolean; done_at: string | null }>;
  artifacts: Array<{ id: string; filename: string; kind: string; thumbnail_url: string | null; url: string; taken_lat?: number | null; taken_lng?: number | null; taken_accuracy_m?: number | null }>;
  assignments?: Array<{ id: string; vendor_name: string; assigned_at: string; unassigned_at: string | null; reason: string | null }>;
}
export interface ScorePart { points: number; max: number; why: string }
export interface Suggestion {
  vendor_id: string;
  name: string;
  compliance: string;
  availability: string;
  score: { total: number; distance: ScorePart; workload: ScorePart; preference: ScorePart; category_fit: ScorePart };
}
export interface Suggestions { candidates: Suggestion[]; excluded: Array<{ vendor_id: string; name: string; reasons: string[] }>; evaluated: number }

/** The board's filters, as its address and saved views hold them ('' = not filtered). */
export const dispatchFilterKeys = ['q', 'priority', 'sla_state'] as const;
export type DispatchFilters = Record<(typeof dispatchFilterKeys)[number], string>;
export const noDispatchFilters = (): DispatchFilters => pickFilters(dispatchFilterKeys, {});

export const useDispatchBoard = defineStore('dispatch-board', () => {
  const columns = ref<Array<{ status: JobStatus; count: number; count_capped: boolean; jobs: BoardJob[] }>>([]);
  const filters = ref<DispatchFilters>(noDispatchFilters());
  /** Only the filters that are set, as the API (and a saved view) takes them. */
  const activeFilters = () => setFilters(filters.value);
  const detail = ref<JobDetail | null>(null);
  const suggestions = ref<Suggestions | null>(null);
  const error = ref<string | null>(null);
  const fail = (err: unknown) => (error.value = errorMessage(err, t('common.unreachable')));
  const job = (jobId: string) => ({ params: { path: { jobId } } });

  async function load() {
    try {
      columns.value = (await unwrap<{ columns: typeof columns.value }>(api.GET('/api/v1/jobs/board', { params: { query: { per_column: 50, ...activeFilters() } } }))).data.columns;
      error.value = null;
    } catch (err) {
      fail(err);
    }
  }

  async function open(jobId: string) {
    suggestions.value = null;
    try {
      detail.value = (await unwrap<JobDetail>(api.GET('/api/v1/jobs/{jobId}', job(jobId)))).data;
    } catch (err) {
      fail(err);
    }
  }

  /** Reloads the open job in place (keeping the suggestions on screen): someone else changed something. */
  // Refreshes overlap (the change stream, the person's own change): only the latest one lands, so
  // an older answer arriving late never puts back a story without the newest events.
  let refreshes = 0;
  async function refreshDetail() {
    if (!detail.value) return;
    const mine = ++refreshes;
    try {
      const fresh = (await unwrap<JobDetail>(api.GET('/api/v1/jobs/{jobId}', job(detail.value.id)))).data;
      if (mine === refreshes && fresh.id === detail.value?.id) detail.value = fresh;
    } catch (err) {
      fail(err);
    }
  }

  async function suggest() {
    if (!detail.value) return;
    try {
      suggestions.value = (await unwrap<Suggestions>(api.GET('/api/v1/jobs/{jobId}/suggestions', { params: { path: { jobId: detail.value.id }, query: { limit: 5 } } }))).data;
    } catch (err) {
      fail(err);
    }
  }

  async function change(work: () => Promise<unknown>) {
    try {
      await work();
      error.value = null;
      if (detail.value) await open(detail.value.id);
      await load();
      return true;
    } catch (err) {
      fail(err);
      return false;
    }
  }

  return {
    columns,
    filters,
    activeFilters,
    detail,
    suggestions,
    error,
    load,
    open,
    refreshDetail,
    suggest,
    assign: (vendorId: string, overrideReason?: string) =>
      change(() =>
        unwrap(api.POST('/api/v1/jobs/{jobId}/assignment', { ...job(detail.value!.id), body: { vendor_id: vendorId, compliance_override_reason: overrideReason || undefined } })),
      ),
    transition: (status: JobStatus, reason?: string) =>
      change(() => unwrap(api.POST('/api/v1/jobs/{jobId}/status', { ...job(detail.value!.id), body: { status, reason: reason || undefined } }))),
    tick: (itemId: string, done: boolean) =>
      change(() => unwrap(api.PUT('/api/v1/jobs/{jobId}/checklist/{itemId}', { params: { path: { jobId: detail.value!.id, itemId } }, body: { done } }))),
  };
});
