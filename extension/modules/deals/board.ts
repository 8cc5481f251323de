// The pipeline board: each stage with its count, amount sums (per currency) and first page of
// cards in rank order; further pages per stage by cursor. Same filters as the deal list.
import type { Knex } from 'knex';
import type { RequestContext } from '../../context.ts';
import { read } from '../../db/tenant.ts';
import { NotFoundError } from '../../errors.ts';
import { paginate } from '../../http/pagination.ts';
import type { StageRow } from '../pipelines/service.ts';
import { applyDealFilters, dealColumns, presentDeal, type DealFilters, type DealRow } from './service.ts';

function column(trx: Knex.Transaction, ctx: RequestContext, stageId: string, filters: DealFilters) {
  return applyDealFilters(trx('deals').where({ 'deals.account_id': ctx.accountId, 'deals.stage_id': stageId }).whereNull('deals.deleted_at'), filters).select(
    ...dealColumns,
  );
}

async function stageCards(trx: Knex.Transaction, ctx: RequestContext, stageId: string, filters: DealFilters, limit: number, cursor?: string) {
  const page = await paginate<DealRow>(column(trx, ctx, stageId, filters), { keys: { rank: 'text', id: 'uuid' }, limit, cursor });
  return { deals: page.items.map(boardCard), next_cursor: page.nextCursor };
}

/** A card carries its rank, so a board that follows changes can slot a moved card where it belongs. */
const boardCard = (row: DealRow) => ({ ...presentDeal(row), rank: row.rank });

async function activeStages(trx: Knex.Transaction, ctx: RequestContext, pipelineId: string): Promise<StageRow[]> {
  return trx('stages')
    .where({ account_id: ctx.accountId, pipeline_id: pipelineId })
    .whereNull('archived_at')
    .orderBy('position')
    .select('id', 'pipeline_id', 'name', 'position', 'win_probability', 'kind', 'archived_at');
}

/** Each stage's count and amount sums (per currency), filtered or not. */
async function stageTotals(trx: Knex.Transaction, ctx: RequestContext, pipelineId: string, stages: StageRow[], filters: DealFilters) {
  const filtered = Object.values(filters).some((v) => v !== undefined && !(typeof v === 'object' && Object.keys(v).length === 0));
  // Unfiltered, the trigger-kept totals answer; filtered, the matching deals are aggregated.
  const totals: Array<{ stage_id: string; currency: string | null; count: number; amount_minor: number | null }> = filtered
    ? await applyDealFilters(trx('deals').where({ 'deals.account_id': ctx.accountId, 'deals.pipeline_id': pipelineId }).whereNull('deals.deleted_at'), filters)
        .groupBy('deals.stage_id', 'deals.currency')
        .select('deals.stage_id', 'deals.currency', trx.raw('count(*)::int as count'), trx.raw('sum(deals.amount_minor)::bigint as amount_minor'))
    : await trx('deal_stage_totals')
        .where({ account_id: ctx.accountId })
        .whereIn('stage_id', stages.map((s) => s.id))
        .andWhere('deal_count', '>', 0)
        .select('stage_id', trx.raw(`nullif(currency, '') as currency`), trx.raw('deal_count::int as count'), 'amount_minor');
  return stages.map((stage) => {
    const mine = totals.filter((t) => t.stage_id === stage.id);
    return {
      stage,
      count: mine.reduce((sum, t) => sum + t.count, 0),
      amount_sums: mine.filter((t) => t.currency).map((t) => ({ currency: t.currency!.trim(), amount_minor: Number(t.amount_minor) })),
    };
  });
}

/**
 * The pipeline, and the point the next "what changed" starts from (read in the same statement, to
 * save a round trip). A deal's updated_at is its writing transaction's start, so a write still in
 * flight now (invisible to this read) will carry a time at or after its own start: start from the
 * oldest such start, or from now when nothing is being written.
 */
async function pipelineAsOf(trx: Knex.Transaction, ctx: RequestContext, pipelineId: string) {
  const asOf = `least(clock_timestamp(), (select min(xact_start) from pg_stat_activity where datname = current_database() and backend_xid is not null and pid <> pg_backend_pid()))`;
  const row = await trx('pipelines').where({ account_id: ctx.accountId, id: pipelineId }).first('id', 'name', 'position', 'archived_at', trx.raw(`${asOf} as as_of`));
  if (!row) throw new NotFoundError('Pipeline');
  const { as_of: asOfTime, ...pipeline } = row as { as_of: Date } & Record<string, unknown>;
  return { pipeline, asOf: asOfTime };
}

export async function pipelineBoard(ctx: RequestContext, pipelineId: string, filters: DealFilters, perStage: number) {
  return read(ctx, async (trx) => {
    // as_of: where a board that follows changes starts asking from (see boardChanges).
    const { pipeline, asOf } = await pipelineAsOf(trx, ctx, pipelineId);
    const columns = [];
    for (const totals of await stageTotals(trx, ctx, pipelineId, await activeStages(trx, ctx, pipelineId), filters)) {
      columns.push({ ...totals, ...(await stageCards(trx, ctx, totals.stage.id, filters, perStage)) });
    }
    return { pipeline, as_of: asOf, columns };
  });
}

export const changesLimit = 500;

/**
 * What changed on the board since `since` (the `as_of` of the previous answer): the cards now in
 * it (with their rank) that changed, the ids of changed deals that left it (moved to another
 * pipeline, deleted, no longer matching the filters), and every column's totals. A card may come
 * twice (changed right at `since`); applying it again puts it in the same place. More than
 * `changesLimit` changes: `complete` is false and the caller reloads the board.
 */
export async function boardChanges(ctx: RequestContext, pipelineId: string, filters: DealFilters, since: Date) {
  return read(ctx, async (trx) => {
    const { asOf } = await pipelineAsOf(trx, ctx, pipelineId);
    const touched: Array<{ id: string }> = await trx('deals')
      .where({ account_id: ctx.accountId })
      .andWhere('updated_at', '>=', since)
      .orderBy('updated_at')
      .limit(changesLimit + 1)
      .select('id');
    const stages = await activeStages(trx, ctx, pipelineId);
    const columns = await stageTotals(trx, ctx, pipelineId, stages, filters);
    if (touched.length > changesLimit) return { as_of: asOf, complete: false, columns, changed: [], removed: [] };
    const ids = touched.map((t) => t.id);
    const onBoard: DealRow[] = ids.length
      ? await applyDealFilters(
          trx('deals').where({ 'deals.account_id': ctx.accountId, 'deals.pipeline_id': pipelineId }).whereIn('deals.id', ids).whereIn('deals.stage_id', stages.map((s) => s.id)).whereNull('deals.deleted_at'),
          filters,
        ).select(...dealColumns.map((c) => `deals.${c}`))
      : [];
    const kept = new Set(onBoard.map((d) => d.id));
    return { as_of: asOf, complete: true, columns, changed: onBoard.map(boardCard), removed: ids.filter((id) => !kept.has(id)) };
  });
}

export async function stagePage(ctx: RequestContext, pipelineId: string, stageId: string, filters: DealFilters, page: { limit: number; cursor?: string }) {
  return read(ctx, async (trx) => {
    const stage = await trx('stages').where({ account_id: ctx.accountId, id: stageId, pipeline_id: pipelineId }).first('id');
    if (!stage) throw new NotFoundError('Stage');
    return stageCards(trx, ctx, stageId, filters, page.limit, page.cursor);
  });
}
