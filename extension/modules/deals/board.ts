// The pipeline board: each stage with its count, amount sums (per currency) and first page of
// cards in rank order; further pages per stage by cursor. Same filters as the deal list.
import type { Knex } from 'knex';
import { read, type RequestContext } from '../../db/tenant.ts';
import { notFound } from '../../http/errors.ts';
import { paginate } from '../../http/pagination.ts';
import { findPipeline, type StageRow } from '../pipelines/service.ts';
import { applyDealFilters, dealColumns, presentDeal, type DealFilters, type DealRow } from './service.ts';

function column(trx: Knex.Transaction, ctx: RequestContext, stageId: string, filters: DealFilters) {
  return applyDealFilters(trx('deals').where({ 'deals.account_id': ctx.accountId, 'deals.stage_id': stageId }).whereNull('deals.deleted_at'), filters).select(
    ...dealColumns,
  );
}

async function stageCards(trx: Knex.Transaction, ctx: RequestContext, stageId: string, filters: DealFilters, limit: number, cursor?: string) {
  const page = await paginate<DealRow>(column(trx, ctx, stageId, filters), { keys: ['rank', 'id'], limit, cursor });
  return { deals: page.items.map(presentDeal), next_cursor: page.nextCursor };
}

export async function pipelineBoard(ctx: RequestContext, pipelineId: string, filters: DealFilters, perStage: number) {
  return read(ctx, async (trx) => {
    const pipeline = await findPipeline(trx, ctx.accountId, pipelineId);
    if (!pipeline) throw notFound('Pipeline');
    const stages: StageRow[] = await trx('stages')
      .where({ account_id: ctx.accountId, pipeline_id: pipelineId })
      .whereNull('archived_at')
      .orderBy('position')
      .select('id', 'pipeline_id', 'name', 'position', 'win_probability', 'kind', 'archived_at');
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
    const columns = [];
    for (const stage of stages) {
      const mine = totals.filter((t) => t.stage_id === stage.id);
      columns.push({
        stage,
        count: mine.reduce((sum, t) => sum + t.count, 0),
        amount_sums: mine.filter((t) => t.currency).map((t) => ({ currency: t.currency!.trim(), amount_minor: Number(t.amount_minor) })),
        ...(await stageCards(trx, ctx, stage.id, filters, perStage)),
      });
    }
    return { pipeline, columns };
  });
}

export async function stagePage(ctx: RequestContext, pipelineId: string, stageId: string, filters: DealFilters, page: { limit: number; cursor?: string }) {
  return read(ctx, async (trx) => {
    const stage = await trx('stages').where({ account_id: ctx.accountId, id: stageId, pipeline_id: pipelineId }).first('id');
    if (!stage) throw notFound('Stage');
    return stageCards(trx, ctx, stageId, filters, page.limit, page.cursor);
  });
}
