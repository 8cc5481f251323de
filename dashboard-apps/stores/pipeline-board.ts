// The pipeline board: columns per stage with count and sums, cards paged in by cursor, and
// optimistic moves that roll back when the server refuses (409: someone else changed the deal).
// It follows changes made elsewhere by asking what changed since its last answer and slotting
// those cards in by rank, so the pages a column has scrolled through stay loaded.
import { defineStore } from 'pinia';
import { ref } from 'vue';
import type { DealStatus } from '../../extension/modules/deals/rules.ts';
import { api, ApiError, downloadFile, errorMessage, unwrap } from '../lib/api.ts';
import { t } from '../i18n/index.ts';
import { pickFilters, setFilters } from '../lib/board-filters.ts';

export interface BoardStage { id: string; name: string; kind: 'open' | 'won' | 'lost'; position: number }
export interface BoardDeal { id: string; reference: string; title: string; stage_id: string; rank: string; amount_minor: number | null; currency: string | null; version: number; chatwoot_conversation_id: number | null; owner_id: string | null; status: DealStatus; expected_close_date: string | null }
export interface BoardColumn { stage: BoardStage; count: number; amount_sums: Array<{ currency: string; amount_minor: number }>; deals: BoardDeal[]; next_cursor: string | null; loadingMore: boolean }

type Totals = Pick<BoardColumn, 'stage' | 'count' | 'amount_sums'>;
interface BoardChanges { as_of: string; complete: boolean; columns: Totals[]; changed: BoardDeal[]; removed: string[] }

/** The board's filters, as its address and saved views hold them ('' = not filtered). */
export const filterKeys = ['q', 'owner_id', 'status', 'expected_from', 'expected_to'] as const;
export type BoardFilters = Record<(typeof filterKeys)[number], string>;
export const noFilters = (): BoardFilters => pickFilters(filterKeys, {});

const pageSize = 50;
/** Board order: by rank, then id — byte order, as the server sorts them. */
const before = (a: BoardDeal, b: BoardDeal) => a.rank < b.rank || (a.rank === b.rank && a.id < b.id);

export const usePipelineBoard = defineStore('pipeline-board', () => {
  const pipelines = ref<Array<{ id: string; name: string }>>([]);
  const pipelineId = ref<string | null>(null);
  const columns = ref<BoardColumn[]>([]);
  const filters = ref<BoardFilters>(noFilters());
  /** Only the filters that are set, as the API takes them. */
  const activeFilters = () => setFilters(filters.value);
  const filterQuery = () => Object.entries(activeFilters()).map(([k, v]) => `&${k}=${encodeURIComponent(v)}`).join('');
  /** Server time of the last answer: the next "what changed" starts there. */
  let asOf: string | null = null;
  let movesInFlight = 0;
  let refreshing = false;
  let refreshWanted = false;
  const loading = ref(false);
  const error = ref<string | null>(null);
  const announcement = ref('');
  const fail = (err: unknown) => (error.value = errorMessage(err, t('common.unreachable')));

  async function load(id?: string) {
    loading.value = true;
    try {
      if (!pipelines.value.length) pipelines.value = (await unwrap<Array<{ id: string; name: string }>>(api.GET('/api/v1/pipelines'))).data;
      pipelineId.value = id ?? pipelineId.value ?? pipelines.value[0]?.id ?? null;
      if (!pipelineId.value) return;
      const board = (
        await unwrap<{ as_of: string; columns: Array<Omit<BoardColumn, 'loadingMore'>> }>(
          api.GET('/api/v1/pipelines/{pipelineId}/board', { params: { path: { pipelineId: pipelineId.value }, query: { per_stage: pageSize, ...activeFilters() } } }),
        )
      ).data;
      columns.value = board.columns.map((c) => ({ ...c, loadingMore: false }));
      asOf = board.as_of;
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
      const page = await unwrap<BoardDeal[]>(
        api.GET('/api/v1/pipelines/{pipelineId}/stages/{stageId}/deals', {
          params: { path: { pipelineId: pipelineId.value!, stageId: column.stage.id }, query: { limit: pageSize, cursor: column.next_cursor, ...activeFilters() } },
        }),
      );
      const known = new Set(column.deals.map((d) => d.id));
      column.deals.push(...page.data.filter((d) => !known.has(d.id)));
      column.next_cursor = (page.meta.next_cursor as string | null) ?? null;
    } catch (err) {
      fail(err);
    } finally {
      column.loadingMore = false;
    }
  }

  /** Something changed in the account: bring the board up to date without dropping loaded pages. */
  async function refresh() {
    if (!pipelineId.value || !asOf || loading.value) return;
    // A card in flight would jump back and forth, and two answers could land out of order:
    // one refresh at a time, none during a move; what came in meanwhile is caught up after.
    if (movesInFlight > 0 || refreshing) {
      refreshWanted = true;
      return;
    }
    refreshing = true;
    try {
      const changes = (
        await unwrap<BoardChanges>(api.GET('/api/v1/pipelines/{pipelineId}/board/changes', { params: { path: { pipelineId: pipelineId.value }, query: { since: asOf, ...activeFilters() } } }))
      ).data;
      const sameStages = changes.columns.length === columns.value.length && changes.columns.every((c, i) => c.stage.id === columns.value[i]!.stage.id);
      if (!changes.complete || !sameStages) return await load();
      applyChanges(changes);
      asOf = changes.as_of;
    } catch {
      // The next change (or the slow timer) tries again; the board stays as it is meanwhile.
    } finally {
      refreshing = false;
      catchUp();
    }
  }

  function catchUp() {
    if (movesInFlight === 0 && !refreshing && refreshWanted) {
      refreshWanted = false;
      void refresh();
    }
  }

  function applyChanges(changes: BoardChanges) {
    const gone = new Set([...changes.removed, ...changes.changed.map((d) => d.id)]);
    for (const column of columns.value) {
      if (column.deals.some((d) => gone.has(d.id))) column.deals = column.deals.filter((d) => !gone.has(d.id));
    }
    for (const deal of changes.changed) {
      const column = columns.value.find((c) => c.stage.id === deal.stage_id);
      if (!column) continue;
      const last = column.deals.at(-1);
      // Past the loaded pages, the card arrives with the next page instead.
      if (column.next_cursor && last && !before(deal, last)) continue;
      const at = column.deals.findIndex((d) => before(deal, d));
      column.deals.splice(at === -1 ? column.deals.length : at, 0, deal);
    }
    changes.columns.forEach((totals, i) => Object.assign(columns.value[i]!, { stage: totals.stage, count: totals.count, amount_sums: totals.amount_sums }));
  }

  /**
   * Moves a card to the top of another column at once; puts it back if the server says no. Into
   * a lost stage the server wants the reason (the board asks for it before calling this).
   */
  async function move(dealId: string, toStageId: string, lostReason?: string) {
    const from = columns.value.find((c) => c.deals.some((d) => d.id === dealId));
    const to = columns.value.find((c) => c.stage.id === toStageId);
    if (!from || !to || from === to) return;
    const index = from.deals.findIndex((d) => d.id === dealId);
    const [deal] = from.deals.splice(index, 1);
    to.deals.unshift(deal!);
    from.count--;
    to.count++;
    movesInFlight++;
    try {
      const moved = (
        await unwrap<BoardDeal>(api.POST('/api/v1/deals/{dealId}/move', { params: { path: { dealId } }, body: { stage_id: toStageId, version: deal!.version, lost_reason: lostReason || undefined } }))
      ).data;
      Object.assign(deal!, moved);
      announcement.value = t('pipeline.moved', { reference: deal!.reference, stage: to.stage.name });
      error.value = null;
    } catch (err) {
      to.deals.splice(to.deals.indexOf(deal!), 1);
      from.deals.splice(index, 0, deal!);
      from.count++;
      to.count--;
      // Someone else changed the deal: show the board as it is now, then say why the move did not happen.
      if (err instanceof ApiError && err.status === 409) await load();
      fail(err);
      if (err instanceof ApiError && err.code === 'stale_version') error.value = t('pipeline.changedMeanwhile', { reference: deal!.reference });
      announcement.value = t('pipeline.couldNotMove', { reference: deal!.reference });
    } finally {
      movesInFlight--;
      catchUp();
    }
  }

  /** The filtered board, or one of its columns, as CSV. */
  async function exportCsv(stageId?: string) {
    const scope = stageId ? `stage_id=${stageId}` : `pipeline_id=${pipelineId.value}`;
    try {
      await downloadFile(`/api/v1/deals/export.csv?${scope}${filterQuery()}`, { filename: `deals-${new Date().toISOString().slice(0, 10)}.csv` });
    } catch (err) {
      fail(err);
    }
  }

  return { pipelines, pipelineId, columns, filters, activeFilters, loading, error, announcement, load, refresh, loadMore, move, exportCsv };
});
