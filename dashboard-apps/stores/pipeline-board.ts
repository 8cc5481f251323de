// The pipeline board: columns per stage with count and sums, cards paged in by cursor, and
// optimistic moves that roll back when the server refuses (409: someone else changed the deal).
import { defineStore } from 'pinia';
import { ref } from 'vue';
import { apiFetch, ApiError, downloadFile } from '../lib/api.ts';
import { useSessionStore } from './session.ts';

export interface BoardStage { id: string; name: string; kind: 'open' | 'won' | 'lost'; position: number }
export interface BoardDeal { id: string; reference: string; title: string; stage_id: string; amount_minor: number | null; currency: string | null; version: number; chatwoot_conversation_id: number | null; owner_id: string | null }
export interface BoardColumn { stage: BoardStage; count: number; amount_sums: Array<{ currency: string; amount_minor: number }>; deals: BoardDeal[]; next_cursor: string | null; loadingMore: boolean }

const pageSize = 50;

export const usePipelineBoard = defineStore('pipeline-board', () => {
  const session = useSessionStore();
  const pipelines = ref<Array<{ id: string; name: string }>>([]);
  const pipelineId = ref<string | null>(null);
  const columns = ref<BoardColumn[]>([]);
  /** Title or D-number, as the deal list understands it. */
  const search = ref('');
  const filterQuery = () => (search.value.trim() ? `&q=${encodeURIComponent(search.value.trim())}` : '');
  const loading = ref(false);
  const error = ref<string | null>(null);
  const announcement = ref('');
  const api = <T>(path: string, init: Parameters<typeof apiFetch>[1] = {}) => apiFetch<T>(path, { token: session.token, ...init });
  const fail = (err: unknown) => (error.value = err instanceof ApiError ? err.message : 'Onelink could not be reached');

  async function load(id?: string) {
    loading.value = true;
    try {
      if (!pipelines.value.length) pipelines.value = (await api<Array<{ id: string; name: string }>>('/api/v1/pipelines')).data;
      pipelineId.value = id ?? pipelineId.value ?? pipelines.value[0]?.id ?? null;
      if (!pipelineId.value) return;
      const board = (await api<{ columns: Array<Omit<BoardColumn, 'loadingMore'>> }>(`/api/v1/pipelines/${pipelineId.value}/board?per_stage=${pageSize}${filterQuery()}`)).data;
      columns.value = board.columns.map((c) => ({ ...c, loadingMore: false }));
      error.value = null;
    } catch (err) {
      fail(err);
    } finally {
      loading.value = false;
    }
  }

  async function loadMore(column: BoardColumn) {
    if (!column.next_cursor || column.loadingMore) return;
    column.loadingMore = true;
    try {
      const page = await api<BoardDeal[]>(`/api/v1/pipelines/${pipelineId.value}/stages/${column.stage.id}/deals?limit=${pageSize}&cursor=${encodeURIComponent(column.next_cursor)}${filterQuery()}`);
      const known = new Set(column.deals.map((d) => d.id));
      column.deals.push(...page.data.filter((d) => !known.has(d.id)));
      column.next_cursor = (page.meta.next_cursor as string | null) ?? null;
    } catch (err) {
      fail(err);
    } finally {
      column.loadingMore = false;
    }
  }

  /** Moves a card to the top of another column at once; puts it back if the server says no. */
  async function move(dealId: string, toStageId: string) {
    const from = columns.value.find((c) => c.deals.some((d) => d.id === dealId));
    const to = columns.value.find((c) => c.stage.id === toStageId);
    if (!from || !to || from === to) return;
    const index = from.deals.findIndex((d) => d.id === dealId);
    const [deal] = from.deals.splice(index, 1);
    to.deals.unshift(deal!);
    from.count--;
    to.count++;
    try {
      const moved = (await api<BoardDeal>(`/api/v1/deals/${dealId}/move`, { method: 'POST', json: { stage_id: toStageId, version: deal!.version } })).data;
      Object.assign(deal!, moved);
      announcement.value = `${deal!.reference} moved to ${to.stage.name}`;
      error.value = null;
    } catch (err) {
      to.deals.splice(to.deals.indexOf(deal!), 1);
      from.deals.splice(index, 0, deal!);
      from.count++;
      to.count--;
      // Someone else changed the deal: show the board as it is now, then say why the move did not happen.
      if (err instanceof ApiError && err.status === 409) await load();
      fail(err);
      if (err instanceof ApiError && err.code === 'stale_version') error.value = `${deal!.reference} changed meanwhile; the board was refreshed, try again`;
      announcement.value = `${deal!.reference} could not be moved`;
    }
  }

  /** The filtered board, or one of its columns, as CSV. */
  async function exportCsv(stageId?: string) {
    const scope = stageId ? `stage_id=${stageId}` : `pipeline_id=${pipelineId.value}`;
    try {
      await downloadFile(`/api/v1/deals/export.csv?${scope}${filterQuery()}`, { token: session.token, filename: `deals-${new Date().toISOString().slice(0, 10)}.csv` });
    } catch (err) {
      fail(err);
    }
  }

  return { pipelines, pipelineId, columns, search, loading, error, announcement, load, loadMore, move, exportCsv };
});
