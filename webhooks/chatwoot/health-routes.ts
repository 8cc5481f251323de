// GET /api/v1/admin/webhook-health — whether Chatwoot's deliveries reach this account's
// installation: the registered webhook URL, the last accepted delivery, refused deliveries per
// reason, and `failing` while they are being refused with none accepted since.
import { sendData } from '../../extension/http/envelope.ts';
import { notFound } from '../../extension/http/errors.ts';
import { defineRoute } from '../../extension/http/registry.ts';
import type { Services } from '../../extension/services.ts';
import { receiptHealth } from './receipt-health.ts';

export function webhookHealthRoute(services: Services) {
  return defineRoute({
    method: 'get',
    path: '/admin/webhook-health',
    summary: 'Whether Chatwoot deliveries reach Onelink: refused deliveries per reason (no bodies kept), the last accepted one, the registered URL',
    tags: ['admin'],
    access: { permission: 'admin:webhooks', capability: null },
    handler: async ({ ctx, res }) => {
      // The account registry is readable without an account; the installation is the account's own.
      const account = await services.db('accounts').where({ account_id: ctx.accountId }).first('installation_id');
      const health = account && (await receiptHealth(services.db, account.installation_id as string));
      if (!health) throw notFound('Installation');
      sendData(res, health);
    },
  });
}
