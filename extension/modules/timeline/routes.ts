// Timelines and search.
import { z } from 'zod';
import { sendData } from '../../http/envelope.ts';
import { pageQuery } from '../../http/pagination.ts';
import { defineRoute } from '../../http/registry.ts';
import { chatwootIdParam, text } from '../../http/schemas.ts';
import { search } from '../search/service.ts';
import { contactTimeline, dealTimeline } from './service.ts';

export function timelineRoutes() {
  return [
    defineRoute({
      method: 'get',
      path: '/deals/:dealId/timeline',
      summary: 'What happened on a deal, newest first: stage moves, status changes, notes, tasks',
      tags: ['timeline'],
      access: { permission: 'deals:read', capability: 'crm.deals' },
      params: z.object({ dealId: z.uuid() }),
      query: pageQuery,
      handler: async ({ ctx, params, query, res }) => {
        const page = await dealTimeline(ctx, params.dealId, query);
        sendData(res, page.items, { next_cursor: page.nextCursor });
      },
    }),
    defineRoute({
      method: 'get',
      path: '/contacts/:contactId/timeline',
      summary: 'What happened around a Chatwoot contact: their deals’ history and their tasks',
      tags: ['timeline'],
      access: { permission: 'contacts:read', capability: null },
      params: z.object({ contactId: chatwootIdParam }),
      query: pageQuery,
      handler: async ({ ctx, params, query, res }) => {
        const page = await contactTimeline(ctx, params.contactId, query);
        sendData(res, page.items, { next_cursor: page.nextCursor });
      },
    }),
    defineRoute({
      method: 'get',
      path: '/search',
      summary: 'Search deals, tasks and Chatwoot contacts (name, email, phone), best match first',
      tags: ['search'],
      access: { permission: 'search:read', capability: null },
      query: z.object({
        q: text({ min: 2, max: 200 }),
        limit: z.coerce.number().int().min(1).max(50).default(20),
        types: z
          .string()
          .regex(/^(deal|task|contact)(,(deal|task|contact))*$/, 'a comma-separated list of deal, task, contact')
          .transform((v) => v.split(',') as Array<'deal' | 'task' | 'contact'>)
          .optional(),
      }),
      handler: async ({ ctx, query, res }) => sendData(res, await search(ctx, query.q, { limit: query.limit, types: query.types })),
    }),
  ];
}
