// Admins see their account's webhook deliveries (Chatwoot and Twilio; failed and dead ones especially) and replay
// them, or dismiss one they decided not to replay (retention may then prune it; dead ones are otherwise kept).
import { z } from 'zod';
import { write } from '../../extension/db/tenant.ts';
import { sendData } from '../../extension/http/envelope.ts';
import { ConflictError } from '../../extension/errors.ts';
import { notFound } from '../../extension/http/errors.ts';
import { pageQuery, paginate } from '../../extension/http/pagination.ts';
import { defineRoute } from '../../extension/http/registry.ts';
import { queues } from '../../extension/queue/names.ts';
import type { Services } from '../../extension/services.ts';
import { webhookHealthRoute } from './health-routes.ts';

const listed = ['id', 'source', 'event', 'status', 'attempts', 'last_error', 'received_at', 'processed_at'] as const;

export function webhookAdminRoutes(services: Services) {
  return [
    webhookHealthRoute(services),
    defineRoute({
      method: 'get',
      path: '/admin/webhook-deliveries',
      summary: 'Chatwoot deliveries of this account, newest first (filter by status, e.g. failed or dead)',
      tags: ['admin'],
      access: { permission: 'admin:webhooks', capability: null },
      query: pageQuery.extend({ status: z.enum(['received', 'processing', 'processed', 'ignored', 'retrying', 'failed', 'dead', 'dismissed']).optional() }),
      handler: async ({ ctx, query, res }) => {
        // The inbox is per installation (see its migration): the account filter is explicit here.
        const q = services.db('webhook_deliveries').where({ account_id: ctx.accountId }).select(...listed);
        if (query.status) q.andWhere({ status: query.status });
        const page = await paginate(q, { keys: { received_at: 'timestamptz', id: 'uuid' }, direction: 'desc', limit: query.limit, cursor: query.cursor });
        sendData(res, page.items, { next_cursor: page.nextCursor });
      },
    }),
    defineRoute({
      method: 'post',
      path: '/admin/webhook-deliveries/:deliveryId/replay',
      summary: 'Process a failed or dead delivery again',
      tags: ['admin'],
      access: { permission: 'admin:webhooks', capability: null },
      params: z.object({ deliveryId: z.uuid() }),
      successStatus: 202,
      handler: async ({ ctx, params, res }) => {
        const replayed = await write(ctx, async (trx, audit) => {
          const [row] = await trx('webhook_deliveries')
            .where({ account_id: ctx.accountId, id: params.deliveryId })
            .whereIn('status', ['failed', 'dead', 'dismissed', 'processed', 'ignored'])
            .update({ status: 'retrying', attempts: 0, last_error: null })
            .returning([...listed]);
          if (!row) throw notFound('Delivery');
          await audit({ action: 'webhook_delivery.replayed', resourceType: 'webhook_delivery', resourceId: params.deliveryId });
          return row;
        });
        await services.jobs.send(replayed.source === 'twilio' ? queues.twilioEvent : queues.chatwootDelivery, { deliveryId: params.deliveryId });
        sendData(res, replayed, {}, 202);
      },
    }),
    defineRoute({
      method: 'post',
      path: '/admin/webhook-deliveries/:deliveryId/dismiss',
      summary: 'Dismiss a failed or dead delivery instead of replaying it (it is then pruned with processed ones)',
      tags: ['admin'],
      access: { permission: 'admin:webhooks', capability: null },
      params: z.object({ deliveryId: z.uuid() }),
      handler: async ({ ctx, params, res }) => {
        const dismissed = await write(ctx, async (trx, audit) => {
          const found = await trx('webhook_deliveries').where({ account_id: ctx.accountId, id: params.deliveryId }).first('status');
          if (!found) throw notFound('Delivery');
          if (found.status !== 'failed' && found.status !== 'dead') {
            throw new ConflictError('delivery_not_dismissable', `Only failed or dead deliveries can be dismissed; this one is ${found.status}`);
          }
          const [row] = await trx('webhook_deliveries')
            .where({ account_id: ctx.accountId, id: params.deliveryId })
            .whereIn('status', ['failed', 'dead'])
            .update({ status: 'dismissed' })
            .returning([...listed]);
          await audit({ action: 'webhook_delivery.dismissed', resourceType: 'webhook_delivery', resourceId: params.deliveryId, before: { status: found.status }, after: { status: 'dismissed' } });
          return row;
        });
        sendData(res, dismissed);
      },
    }),
  ];
}
