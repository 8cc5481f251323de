// HTTP routes for deals, the pipeline board, notes and stage history (pipelines and stages: pipelines/routes.ts).
import { z } from 'zod';
import { sendData } from '../../http/envelope.ts';
import { pageQuery } from '../../http/pagination.ts';
import { defineRoute } from '../../http/registry.ts';
import { chatwootId, isoDate, jsonbRecord, rowVersion, text, timestamp } from '../../http/schemas.ts';
import { boardChanges, changesLimit, pipelineBoard, stagePage } from './board.ts';
import { exportDealsCsv, exportLimit } from './export.ts';
import { dealFilters, toFilters } from './filters.ts';
import { dealSources, dealStatuses } from './rules.ts';
import {
  addDealNote,
  bulkUpdateDeals,
  createDeal,
  dealStageHistory,
  deleteDeal,
  getDeal,
  listDealNotes,
  listDeals,
  moveDeal,
  setDealStatus,
  updateDeal,
} from './service.ts';

const pipelineParams = z.object({ pipelineId: z.uuid() });
const dealParams = z.object({ dealId: z.uuid() });
const currency = z.string().regex(/^[A-Z]{3}$/, 'a three-letter ISO 4217 code such as USD');

const dealFields = {
  title: text({ min: 1, max: 300 }),
  amount_minor: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).nullable().optional().describe('Amount in minor units (cents)'),
  currency: currency.nullable().optional(),
  owner_id: z.uuid().nullable().optional(),
  chatwoot_contact_id: chatwootId.nullable().optional(),
  chatwoot_company_id: chatwootId.nullable().optional(),
  chatwoot_conversation_id: chatwootId.nullable().optional(),
  expected_close_date: isoDate.nullable().optional(),
  custom_fields: jsonbRecord.optional(),
};

export function dealRoutes() {
  const readDeals = { permission: 'deals:read', capability: 'crm.deals' } as const;
  const writeDeals = { permission: 'deals:write', capability: 'crm.deals' } as const;
  return [
    defineRoute({
      method: 'get',
      path: '/pipelines/:pipelineId/board',
      summary: 'The board: every stage with count, amount sums and first page of cards',
      tags: ['deals'],
      access: readDeals,
      params: pipelineParams,
      query: dealFilters.extend({ per_stage: z.coerce.number().int().min(1).max(200).default(25) }),
      handler: async ({ ctx, params, query, res }) => {
        const { per_stage, ...filters } = query;
        sendData(res, await pipelineBoard(ctx, params.pipelineId, toFilters(filters), per_stage));
      },
    }),
    defineRoute({
      method: 'get',
      path: '/pipelines/:pipelineId/board/changes',
      summary: `What changed on the board since the previous answer’s as_of: changed cards (with rank), removed ids, every column’s totals (complete=false past ${changesLimit} changes: reload)`,
      tags: ['deals'],
      access: readDeals,
      params: pipelineParams,
      query: dealFilters.extend({ since: timestamp.describe('An ISO 8601 time: the as_of of the previous answer') }),
      handler: async ({ ctx, params, query, res }) => {
        const { since, ...filters } = query;
        sendData(res, await boardChanges(ctx, params.pipelineId, toFilters(filters), since));
      },
    }),
    defineRoute({
      method: 'get',
      path: '/pipelines/:pipelineId/stages/:stageId/deals',
      summary: 'More cards of one board column',
      tags: ['deals'],
      access: readDeals,
      params: z.object({ pipelineId: z.uuid(), stageId: z.uuid() }),
      query: dealFilters.extend(pageQuery.shape),
      handler: async ({ ctx, params, query, res }) => {
        const { limit, cursor, ...filters } = query;
        const page = await stagePage(ctx, params.pipelineId, params.stageId, toFilters(filters), { limit, cursor });
        sendData(res, page.deals, { next_cursor: page.next_cursor });
      },
    }),
    defineRoute({
      method: 'get',
      path: '/deals',
      summary: 'Deals, newest first, filtered',
      tags: ['deals'],
      access: readDeals,
      query: dealFilters.extend({ pipeline_id: z.uuid().optional(), stage_id: z.uuid().optional() }).extend(pageQuery.shape),
      handler: async ({ ctx, query, res }) => {
        const { limit, cursor, ...filters } = query;
        const page = await listDeals(ctx, toFilters(filters), { limit, cursor });
        sendData(res, page.items, { next_cursor: page.nextCursor });
      },
    }),
    defineRoute({
      method: 'get',
      path: '/deals/export.csv',
      summary: `Deals as CSV (same filters as the list; a board column is stage_id=…; at most ${exportLimit} rows)`,
      tags: ['deals'],
      access: readDeals,
      produces: 'text/csv',
      query: dealFilters.extend({ pipeline_id: z.uuid().optional(), stage_id: z.uuid().optional() }),
      handler: async ({ ctx, query, res }) => {
        const { csv, truncated } = await exportDealsCsv(ctx, toFilters(query));
        res.setHeader('Content-Disposition', `attachment; filename="deals-${new Date().toISOString().slice(0, 10)}.csv"`);
        if (truncated) res.setHeader('X-Onelink-Truncated', String(exportLimit));
        res.type('text/csv; charset=utf-8').send(csv);
      },
    }),
    defineRoute({
      method: 'post',
      path: '/deals',
      summary: 'Create a deal (in the pipeline’s first stage unless stage_id is given)',
      tags: ['deals'],
      access: writeDeals,
      body: z.object({
        ...dealFields,
        pipeline_id: z.uuid(),
        stage_id: z.uuid().optional(),
        source: z.enum(dealSources).optional().describe('Where the deal came from; by default chat when a conversation is linked, api for a service token, manual otherwise'),
      }),
      handler: async ({ ctx, body, res }) => sendData(res, await createDeal(ctx, body), {}, 201),
    }),
    defineRoute({
      method: 'get',
      path: '/deals/:dealId',
      summary: 'One deal',
      tags: ['deals'],
      access: readDeals,
      params: dealParams,
      handler: async ({ ctx, params, res }) => sendData(res, await getDeal(ctx, params.dealId)),
    }),
    defineRoute({
      method: 'patch',
      path: '/deals/:dealId',
      summary: 'Edit a deal; send the version you loaded (409 with the current deal if it changed)',
      tags: ['deals'],
      access: writeDeals,
      params: dealParams,
      body: z.object({ ...dealFields, title: dealFields.title.optional(), version: rowVersion }),
      handler: async ({ ctx, params, body, res }) => sendData(res, await updateDeal(ctx, params.dealId, body)),
    }),
    defineRoute({
      method: 'delete',
      path: '/deals/:dealId',
      summary: 'Delete a deal (soft: it can be restored)',
      tags: ['deals'],
      access: writeDeals,
      params: dealParams,
      successStatus: 200,
      handler: async ({ ctx, params, res }) => sendData(res, await deleteDeal(ctx, params.dealId)),
    }),
    defineRoute({
      method: 'post',
      path: '/deals/:dealId/restore',
      summary: 'Restore a deleted deal',
      tags: ['deals'],
      access: writeDeals,
      params: dealParams,
      successStatus: 200,
      handler: async ({ ctx, params, res }) => sendData(res, await deleteDeal(ctx, params.dealId, true)),
    }),
    defineRoute({
      method: 'post',
      path: '/deals/:dealId/move',
      summary: 'Move a card to a stage and a place in its column (between after_id and before_id); into a lost stage it needs lost_reason',
      tags: ['deals'],
      access: writeDeals,
      params: dealParams,
      body: z.object({
        stage_id: z.uuid(),
        after_id: z.uuid().nullable().optional(),
        before_id: z.uuid().nullable().optional(),
        lost_reason: text({ min: 1, max: 500 }).optional().describe('Required when the move makes the deal lost'),
        version: rowVersion,
      }),
      successStatus: 200,
      handler: async ({ ctx, params, body, res }) => sendData(res, await moveDeal(ctx, params.dealId, body)),
    }),
    defineRoute({
      method: 'post',
      path: '/deals/:dealId/status',
      summary: 'Win, lose (with a reason) or reopen (into an open stage) a deal',
      tags: ['deals'],
      access: writeDeals,
      params: dealParams,
      body: z.object({ status: z.enum(dealStatuses), lost_reason: text({ min: 1, max: 500 }).optional(), stage_id: z.uuid().optional(), version: rowVersion }),
      successStatus: 200,
      handler: async ({ ctx, params, body, res }) => sendData(res, await setDealStatus(ctx, params.dealId, body)),
    }),
    defineRoute({
      method: 'post',
      path: '/deals/bulk',
      summary: 'Move and/or reassign many deals at once (all or nothing)',
      tags: ['deals'],
      access: writeDeals,
      body: z
        .object({ deal_ids: z.array(z.uuid()).min(1).max(500), stage_id: z.uuid().optional(), owner_id: z.uuid().nullable().optional() })
        .refine((b) => b.stage_id !== undefined || b.owner_id !== undefined, 'Give stage_id, owner_id or both'),
      successStatus: 200,
      handler: async ({ ctx, body, res }) => sendData(res, await bulkUpdateDeals(ctx, body)),
    }),
    defineRoute({
      method: 'get',
      path: '/deals/:dealId/stage-history',
      summary: 'Every stage move and status change of a deal, with time in stage',
      tags: ['deals'],
      access: readDeals,
      params: dealParams,
      handler: async ({ ctx, params, res }) => sendData(res, await dealStageHistory(ctx, params.dealId)),
    }),
    defineRoute({
      method: 'get',
      path: '/deals/:dealId/notes',
      summary: 'Internal notes on a deal, newest first',
      tags: ['deals'],
      access: readDeals,
      params: dealParams,
      handler: async ({ ctx, params, res }) => sendData(res, await listDealNotes(ctx, params.dealId)),
    }),
    defineRoute({
      method: 'post',
      path: '/deals/:dealId/notes',
      summary: 'Add an internal note to a deal',
      tags: ['deals'],
      access: writeDeals,
      params: dealParams,
      body: z.object({ body: text({ min: 1, max: 10_000 }) }),
      handler: async ({ ctx, params, body, res }) => sendData(res, await addDealNote(ctx, params.dealId, body.body), {}, 201),
    }),
  ];
}
