// The conversation sidebar's combined first answer (see service.ts).
import { z } from 'zod';
import { sendData } from '../../http/envelope.ts';
import { defineRoute } from '../../http/registry.ts';
import { chatwootIdParam } from '../../http/schemas.ts';
import { sidebarSnapshot } from './service.ts';

export function sidebarRoutes() {
  return [
    defineRoute({
      method: 'get',
      path: '/sidebar',
      summary:
        'The sidebar’s first answer in one request: the boot payload (as /me) and, for the Chatwoot conversation and contact named, their open deals, jobs and tasks (each null when you may not read it) with the pipelines',
      tags: ['sidebar'],
      access: { permission: 'conversations:read', capability: null },
      query: z.object({
        conversation_id: chatwootIdParam.optional().describe('The Chatwoot conversation shown: records linked to it come first'),
        contact_id: chatwootIdParam.optional().describe('Its contact: their open deals, jobs and tasks'),
      }),
      handler: async ({ ctx, query, res }) => sendData(res, await sidebarSnapshot(ctx, { conversationId: query.conversation_id, contactId: query.contact_id })),
    }),
  ];
}
