// Messages with dispatch from the vendor portal (a thread per job and person, living in Chatwoot's
// "Vendors" inbox), and the admin's set-up of that inbox.
import { z } from 'zod';
import { ChatwootError } from '../chatwoot/http.ts';
import { chatwootTargetFor } from '../chatwoot/outbox.ts';
import { ensureVendorInbox } from '../chatwoot/vendor-inbox.ts';
import { sendData } from '../http/envelope.ts';
import { HttpError } from '../http/errors.ts';
import { defineRoute } from '../http/registry.ts';
import { text } from '../http/schemas.ts';
import type { Services } from '../services.ts';
import { reconcileThread } from './reconcile.ts';
import { listVendorMessages, sendVendorMessage } from './service.ts';

const jobParams = z.object({ jobId: z.uuid() });

const message = z.object({
  id: z.uuid(),
  client_id: z.uuid().nullable().describe('The id the device gave the message (null for dispatch’s replies)'),
  direction: z.enum(['from_vendor', 'from_dispatch']),
  author_name: z.string(),
  content: z.string(),
  attachments: z.array(z.object({ url: z.string(), filename: z.string(), content_type: z.string() })).describe('Links to what an agent attached'),
  status: z.enum(['sending', 'sent', 'failed']).describe('sending: stored here, on its way to dispatch; sent: dispatch has it; failed: it could not be delivered'),
  created_at: z.string(),
});

export function vendorMessageRoutes(services: Services) {
  const read = { permission: 'jobs:read', capability: 'portal.vendor' } as const;
  const send = { permission: 'jobs:transition', capability: 'portal.vendor' } as const;
  return [
    defineRoute({
      method: 'get',
      path: '/portal/vendor/jobs/:jobId/messages',
      summary: 'Your messages with dispatch about a job, oldest first (the latest 500); private notes never appear',
      tags: ['portal'],
      access: read,
      params: jobParams,
      response: z.array(message),
      handler: async ({ ctx, params, req, res }) => {
        sendData(res, await listVendorMessages(ctx, params.jobId));
        // After the answer: replies whose webhook was lost are fetched, stored and announced.
        const deps = { db: services.db, sealer: services.sealer, timeoutMs: services.config.ONELINK_CHATWOOT_TIMEOUT_MS };
        void reconcileThread(deps, ctx.accountId, params.jobId, ctx.actor.id).catch((err: unknown) => req.log.warn({ err, jobId: params.jobId }, 'vendor thread not reconciled with Chatwoot'));
      },
    }),
    defineRoute({
      method: 'post',
      path: '/portal/vendor/jobs/:jobId/messages',
      summary: 'Send dispatch a message about a job (201; the same id again answers 200 with the message stored the first time)',
      tags: ['portal'],
      access: send,
      params: jobParams,
      body: z.object({
        id: z.uuid().describe('An id the device makes for this message: a resend with the same id is the same message'),
        content: text({ min: 1, max: 5000 }),
      }),
      response: message,
      handler: async ({ ctx, params, body, res }) => {
        const { message: sent, replayed } = await sendVendorMessage(ctx, params.jobId, body);
        sendData(res, sent, {}, replayed ? 200 : 201);
      },
    }),
    defineRoute({
      method: 'post',
      path: '/chatwoot/vendor-inbox',
      summary: 'Find or create the account’s “Vendors” API-channel inbox in Chatwoot, where vendors’ messages arrive (idempotent)',
      tags: ['admin'],
      access: { permission: 'admin:webhooks', capability: 'portal.vendor' },
      successStatus: 200,
      handler: async ({ ctx, res }) => {
        const { target, chatwootAccountId } = await chatwootTargetFor(services.db, services.sealer, ctx.accountId, services.config.ONELINK_CHATWOOT_TIMEOUT_MS);
        const inbox = await ensureVendorInbox(ctx, services.sealer, target, chatwootAccountId).catch((err: unknown) => {
          if (!(err instanceof ChatwootError)) throw err;
          if (err.kind === 'unauthorized') throw new HttpError(502, 'chatwoot_refused', 'Chatwoot refused the account’s installer token: run the installer again with an administrator’s token');
          throw new HttpError(503, 'chatwoot_unreachable', `Chatwoot did not set up the inbox (${err.message}); try again shortly: what exists is reused`);
        });
        sendData(res, { chatwoot_inbox_id: inbox.inboxId, name: 'Vendors', outcome: inbox.outcome });
      },
    }),
  ];
}
