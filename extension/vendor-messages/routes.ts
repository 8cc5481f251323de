// Messages with dispatch from the vendor portal (a thread per job and person, living in Chatwoot's
// "Vendors" inbox), and the admin's set-up of that inbox.
import { z } from 'zod';
import { ChatwootError } from '../chatwoot/http.ts';
import { chatwootTargetFor } from '../chatwoot/outbox.ts';
import { ensureVendorInbox } from '../chatwoot/vendor-inbox.ts';
import path from 'node:path';
import { sendData, sendError } from '../http/envelope.ts';
import { HttpError } from '../http/errors.ts';
import { defineRoute } from '../http/registry.ts';
import { text } from '../http/schemas.ts';
import type { Services } from '../services.ts';
import { reconcileThread } from './reconcile.ts';
import { dropReceived, maxMessageFiles, openSignedAttachment, receiveMessageForm, removeAttachments, sendAttachment, storeAttachments } from './attachments.ts';
import { earlierVendorMessage, listVendorMessages, requireThread, sendVendorMessage } from './service.ts';

const jobParams = z.object({ jobId: z.uuid() });

const message = z.object({
  id: z.uuid(),
  client_id: z.uuid().nullable().describe('The id the device gave the message (null for dispatch’s replies)'),
  direction: z.enum(['from_vendor', 'from_dispatch']),
  author_name: z.string(),
  content: z.string(),
  attachments: z.array(z.object({ url: z.string(), filename: z.string(), content_type: z.string() })).describe('Links to the files: what an agent attached, or the sender’s own (signed, 60 minutes)'),
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
        sendData(res, await listVendorMessages(services, ctx, params.jobId));
        // After the answer: replies whose webhook was lost are fetched, stored and announced.
        const deps = { db: services.db, sealer: services.sealer, timeoutMs: services.config.ONELINK_CHATWOOT_TIMEOUT_MS };
        void reconcileThread(deps, ctx.accountId, params.jobId, ctx.actor.id).catch((err: unknown) => req.log.warn({ err, jobId: params.jobId }, 'vendor thread not reconciled with Chatwoot'));
      },
    }),
    defineRoute({
      method: 'post',
      path: '/portal/vendor/jobs/:jobId/messages',
      summary: `Send dispatch a message about a job (201; the same id again answers 200 with the message stored the first time). As JSON, or as multipart/form-data with the fields id and content (may be empty when a file comes with it) and up to ${maxMessageFiles} files in fields named "file" (photos, PDF, Word or Excel, up to ONELINK_UPLOAD_MAX_MB each; 415 for another type, 413 for a larger file)`,
      tags: ['portal'],
      access: send,
      // Per client address: enough for people typing (and a phone's queued messages sent when it is back online).
      rateLimitPerMinute: services.config.ONELINK_VENDOR_MESSAGES_PER_MINUTE,
      params: jobParams,
      multipart: true,
      body: z.object({
        id: z.uuid().describe('An id the device makes for this message: a resend with the same id is the same message'),
        content: text({ min: 1, max: 5000 }),
      }),
      response: message,
      handler: async ({ ctx, params, body, req, res }) => {
        if (body) {
          const { message: sent, replayed } = await sendVendorMessage(services, ctx, params.jobId, body);
          sendData(res, sent, {}, replayed ? 200 : 201);
          return;
        }
        // Multipart: the job is checked before a byte is read; a resend of the id stores nothing again.
        await requireThread(ctx, params.jobId);
        const form = await receiveMessageForm(req, { tmpDir: path.join(services.config.filesDir, '.incoming'), maxBytes: services.config.ONELINK_UPLOAD_MAX_MB * 1024 * 1024 });
        try {
          const input = { id: form.id, content: form.content, filenames: form.files.map((f) => f.filename) };
          const earlier = await earlierVendorMessage(services, ctx, params.jobId, input);
          if (earlier) return sendData(res, earlier, {}, 200);
          const attachments = await storeAttachments(services, ctx.accountId, params.jobId, form.files);
          let outcome: Awaited<ReturnType<typeof sendVendorMessage>>;
          try {
            outcome = await sendVendorMessage(services, ctx, params.jobId, { id: form.id, content: form.content, attachments });
          } catch (err) {
            await removeAttachments(services, attachments);
            throw err;
          }
          // Sent twice at once: the other request's files are the message's, these are spare.
          if (outcome.replayed) await removeAttachments(services, attachments);
          sendData(res, outcome.message, {}, outcome.replayed ? 200 : 201);
        } finally {
          await dropReceived(form.files);
        }
      },
    }),
    defineRoute({
      method: 'get',
      path: '/portal/vendor/message-attachments/content',
      summary: 'A file the vendor attached to a message, behind a signed, short-lived link from the message list',
      tags: ['portal'],
      access: { public: true },
      rateLimitPerMinute: 1200,
      query: z.object({ token: z.string().min(10).max(1000) }),
      handler: async ({ query, res }) => {
        const file = await openSignedAttachment(services, query.token);
        if (!file) {
          sendError(res, 404, 'not_found', 'This link is invalid or has expired');
          return;
        }
        await sendAttachment(res, file);
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
