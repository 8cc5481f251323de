// HTTP routes for saved views of the pipeline and dispatch boards.
import { z } from 'zod';
import { sendData } from '../../http/envelope.ts';
import { defineRoute } from '../../http/registry.ts';
import { jsonbRecord, text } from '../../http/schemas.ts';
import { dealFilters } from '../deals/filters.ts';
import { jobFilters } from '../jobs/filters.ts';
import { boards, createView, deleteView, listViews, updateView, type Board } from './service.ts';

/** The filters each board takes in its address, and so the filters a view of it may hold. */
const filterSchemas: Record<Board, z.ZodType> = {
  pipeline: dealFilters.extend({ pipeline_id: z.uuid().optional() }).strict(),
  dispatch: jobFilters.strict(),
};
const filters = jsonbRecord.describe('The board’s own query filters, e.g. {"owner_id": "…", "status": "open"}');
const viewParams = z.object({ viewId: z.uuid() });
const name = text({ min: 1, max: 80 });

export function viewRoutes() {
  const access = { permission: 'views:manage', capability: null } as const;
  return [
    defineRoute({
      method: 'get',
      path: '/saved-views',
      summary: 'Saved views of a board: the caller’s own and those shared with the account',
      tags: ['views'],
      access,
      query: z.object({ board: z.enum(boards) }),
      handler: async ({ ctx, query, res }) => sendData(res, await listViews(ctx, query.board)),
    }),
    defineRoute({
      method: 'post',
      path: '/saved-views',
      summary: 'Save a board’s filters under a name (shared: everyone in the account sees it)',
      tags: ['views'],
      access,
      body: z.object({ board: z.enum(boards), name, filters, shared: z.boolean().optional() }),
      handler: async ({ ctx, body, res }) => sendData(res, await createView(ctx, body, filterSchemas[body.board]), {}, 201),
    }),
    defineRoute({
      method: 'patch',
      path: '/saved-views/:viewId',
      summary: 'Rename a view, change its filters or share it (its owner, or an admin)',
      tags: ['views'],
      access,
      params: viewParams,
      body: z.object({ name: name.optional(), filters: filters.optional(), shared: z.boolean().optional() }),
      handler: async ({ ctx, params, body, res }) => sendData(res, await updateView(ctx, params.viewId, body, (board) => filterSchemas[board])),
    }),
    defineRoute({
      method: 'delete',
      path: '/saved-views/:viewId',
      summary: 'Delete a view (its owner, or an admin)',
      tags: ['views'],
      access,
      params: viewParams,
      handler: async ({ ctx, params, res }) => sendData(res, await deleteView(ctx, params.viewId)),
    }),
  ];
}
