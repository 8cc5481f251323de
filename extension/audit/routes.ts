// Admin route to read the audit trail.
import { z } from 'zod';
import { sendData } from '../http/envelope.ts';
import { pageQuery } from '../http/pagination.ts';
import { defineRoute } from '../http/registry.ts';
import { text, timestamp } from '../http/schemas.ts';
import { listAuditEvents } from './queries.ts';

export function auditRoutes() {
  return [
    defineRoute({
      method: 'get',
      path: '/admin/audit-events',
      summary: 'Audit events, newest first, filtered by resource, actor, action and time',
      tags: ['admin'],
      access: { permission: 'audit:read', capability: null },
      query: pageQuery.extend({
        resource_type: text({ max: 100, trim: false }).optional(),
        resource_id: text({ max: 200, trim: false }).optional(),
        actor_type: z.enum(['user', 'portal_user', 'service', 'system']).optional(),
        actor_id: text({ max: 200, trim: false }).optional(),
        action: text({ max: 100, trim: false }).optional(),
        since: timestamp.optional(),
        until: timestamp.optional(),
      }),
      handler: async ({ ctx, query, res }) => {
        const page = await listAuditEvents(ctx, query);
        sendData(res, page.items, { next_cursor: page.nextCursor });
      },
    }),
  ];
}
