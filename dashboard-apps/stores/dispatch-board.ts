// The dispatch board: jobs by status, one job's detail, vendor suggestions and assignment.
import { defineStore } from 'pinia';
import { ref } from 'vue';
import { apiFetch, ApiError } from '../lib/api.ts';
import { t } from '../i18n/index.ts';
import { pickFilters, setFilters } from '../lib/board-filters.ts';
import { useSessionStore } from './session.ts';

export interface BoardJob { id: string; reference: string; summary: string; status: string; priority: string; sla_state: string; sla_due_at: string | null; vendor_id: string | null; service_category: string | null }
export interface JobDetail extends BoardJob {
  version: number;
  allowed_next: string[];
  conversation_ids: number[];
  vendor: { id: string; name: string } | null;
  events: Array<{ id: number; kind: string; data: Record<string, unknown>; occurred_at: string }>;
  checklist: Array<{ id: string; label: string; required: boolean; done_at: string | null }>;
  artifacts: Array<{ id: string; filename: string; kind: string; thumbnail_url: string | null; url: string }>;
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
  const session = useSessionStore();
  const columns = ref<Array<{ status: string; count: number; count_capped: boolean; jobs: BoardJob[] }>>([]);
  const filters = ref<DispatchFilters>(noDispatchFilters());
  /** Only the filters that are set, as the API (and a saved view) takes them. */
  const activeFilters = () => setFilters(filters.value);
  const detail = ref<JobDetail | null>(null);
  const suggestions = ref<Suggestions | null>(null);
  const error = ref<string | null>(null);
  const api = <T>(path: string, init: Parameters<typeof apiFetch>[1] = {}) => apiFetch<T>(path, { token: session.token, ...init });
  const fail = (err: unknown) => (error.value = err instanceof ApiError ? err.message : t('common.unreachable'));

  async function load() {
    const query = new URLSearchParams({ per_column: '50', ...activeFilters() });
    try {
      columns.value = (await api<{ columns: typeof columns.value }>(`/api/v1/jobs/board?${query}`)).data.columns;
      error.value = null;
    } catch (err) {
      fail(err);
    }
  }

  async function open(jobId: string) {
    suggestions.value = null;
    try {
      detail.value = (await api<JobDetail>(`/api/v1/jobs/${jobId}`)).data;
    } catch (err) {
      fail(err);
    }
  }

  /** Reloads the open job in place (keeping the suggestions on screen): someone else changed something. */
  async function refreshDetail() {
    if (!detail.value) return;
    try {
      detail.value = (await api<JobDetail>(`/api/v1/jobs/${detail.value.id}`)).data;
    } catch (err) {
      fail(err);
    }
  }

  async function suggest() {
    if (!detail.value) return;
    try {
      suggestions.value = (await api<Suggestions>(`/api/v1/jobs/${detail.value.id}/suggestions?limit=5`)).data;
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
      change(() => api(`/api/v1/jobs/${detail.value!.id}/assignment`, { method: 'POST', json: { vendor_id: vendorId, ...(overrideReason ? { compliance_override_reason: overrideReason } : {}) } })),
    transition: (status: string, reason?: string) => change(() => api(`/api/v1/jobs/${detail.value!.id}/status`, { method: 'POST', json: { status, ...(reason ? { reason } : {}) } })),
    tick: (itemId: string, done: boolean) => change(() => api(`/api/v1/jobs/${detail.value!.id}/checklist/${itemId}`, { method: 'PUT', json: { done } })),
  };
});
