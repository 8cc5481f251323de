// A client's conversations with the business (Chatwoot's "Client portal" inbox): the threads, their
// messages (sent with files or without), read and typing state; and the admin's set-up of the inbox.
import path from 'node:path';
import { z } from 'zod';
import { ensureClientInbox, clientInboxName } from '../chatwoot/client-inbox.ts';
import { ChatwootError } from '../chatwoot/http.ts';
import { chatwootTargetFor } from '../chatwoot/outbox.ts';
import { storedClientInbox } from '../chatwoot/client-inbox.ts';
import { togglePublicTyping, updatePublicLastSeen } from '../chatwoot/public-api.ts';
import type { RequestContext } from '../context.ts';
import { sendData, sendError } from '../http/envelope.ts';
import { HttpError } from '../http/errors.ts';
import { defineRoute } from '../http/registry.ts';
import { text } from '../http/schemas.ts';
import type { Services } from '../services.ts';
import { agentTypingIn } from './announce.ts';
import { dropReceived, maxMessageFiles, openClientAttachment, receiveMessageForm, removeAttachments, storeAttachments, threadFolder } from './attachments.ts';
import { sendAttachment } from '../vendor-messages/attachments.ts';
import { reconcileClientThread } from './reconcile.ts';
import { clientUser, earlierClientMessage, listClientMessages, listClientThreads, markThreadRead, requireClientThread, sendClientMessage, threadConversation } from './service.ts';

const threadParams = z.object({ threadId: z.uuid() });
const access = { permission: 'client_portal:use', capability: 'portal.client' } as const;

const attachment = z.object({ url: z.string(), filename: z.string(), content_type: z.string() });
const message = z.object({
  id: z.uuid(),
  client_id: z.uuid().nullable().describe('The id the device gave the message (null for agents’ replies)'),
  direction: z.enum(['from_client', 'from_agent']),
  author_name: z.string(),
  content: z.string(),
  attachments: z.array(attachment).describe('Links to the files: what an agent attached, or the client’s own (signed, 60 minutes)'),
  status: z.enum(['sending', 'sent', 'failed']).describe('sending: stored here, on its way to the business; sent: the business has it in Chatwoot; failed: it could not be delivered'),
  created_at: z.string(),
});
const thread = z.object({
  id: z.uuid(),
  job: z.object({ id: z.uuid(), reference: z.string(), summary: z.string() }).nullable().describe('The job this conversation is about; null for the general conversation'),
  title: z.string().describe('The job’s summary, or the business’s name for the general conversation'),
  last_message: z.object({ content: z.string(), direction: z.enum(['from_client', 'from_agent']), created_at: z.string() }).nullable(),
  unread: z.number().int().describe('Agents’ messages since the client last read the thread'),
});

/** The public API's coordinates of a thread's conversation, when it is open in the inbox of the day. */
async function publicConversation(services: Services, ctx: RequestContext, threadId: string) {
  const open = await threadConversation(ctx, threadId);
  const inbox = open && (await storedClientInbox(services.db, services.sealer, ctx.accountId));
  if (!open || !inbox || inbox.inboxId !== open.inboxId) return null;
  const installation = await services.db('accounts as a').join('installations as i', 'i.id', 'a.installation_id').where('a.account_id', ctx.accountId).first('i.base_url');
  return {
    where: { baseUrl: installation.base_url as string, timeoutMs: services.config.ONELINK_CHATWOOT_TIMEOUT_MS, inboxIdentifier: inbox.identifier },
    sourceId: services.sealer.open(open.sourceIdSealed),
    conversationId: open.conversationId,
  };
}

export function clientMessageRoutes(services: Services) {
  return [
    defineRoute({
      method: 'get',
      path: '/portal/client/threads',
      summary: 'Your conversations with the business: the general one first, then one per job (each created on first use); ?job_id= answers that job’s conversation only',
      tags: ['portal'],
      access,
      query: z.object({ job_id: z.uuid().optional().describe('A job of yours: its conversation (created now if it has none)') }),
      response: z.array(thread),
      handler: async ({ ctx, query, res }) => {
        sendData(res, await listClientThreads(ctx, query.job_id));
      },
    }),
    defineRoute({
      method: 'get',
      path: '/portal/client/threads/:threadId/messages',
      summary: 'A conversation’s messages, oldest first (the latest 500); agents’ private notes never appear. Replies whose webhook was lost are fetched from Chatwoot after the answer (then announced)',
      tags: ['portal'],
      access,
      params: threadParams,
      response: z.object({ thread, messages: z.array(message), agent_typing: z.boolean() }),
      handler: async ({ ctx, params, req, res }) => {
        const shown = await listClientMessages(services, ctx, params.threadId);
        sendData(res, { ...shown, agent_typing: agentTypingIn(params.threadId) });
        const deps = { db: services.db, sealer: services.sealer, timeoutMs: services.config.ONELINK_CHATWOOT_TIMEOUT_MS };
        void reconcileClientThread(deps, ctx.accountId, params.threadId).catch((err: unknown) => req.log.warn({ err, threadId: params.threadId }, 'client thread not reconciled with Chatwoot'));
      },
    }),
    defineRoute({
      method: 'post',
      path: '/portal/client/threads/:threadId/messages',
      summary: `Send the business a message in one of your conversations (201; the same id again answers 200 with the message stored the first time). As JSON, or as multipart/form-data with the fields id and content (may be empty when a file comes with it) and up to ${maxMessageFiles} files in fields named "attachments" (photos, PDF, Word or Excel, up to ONELINK_UPLOAD_MAX_MB each, 40 MB together; 415 for another type, 413 for too large)`,
      tags: ['portal'],
      access,
      // Per client address: enough for people typing (and a phone's queued messages sent when it is back online).
      rateLimitPerMinute: services.config.ONELINK_VENDOR_MESSAGES_PER_MINUTE,
      params: threadParams,
      multipart: true,
      body: z.object({
        id: z.uuid().describe('An id the device makes for this message: a resend with the same id is the same message'),
        content: text({ min: 1, max: 5000 }),
      }),
      response: message,
      handler: async ({ ctx, params, body, req, res }) => {
        if (body) {
          const { message: sent, replayed } = await sendClientMessage(services, ctx, params.threadId, body);
          sendData(res, sent, {}, replayed ? 200 : 201);
          return;
        }
        // Multipart: the thread is checked before a byte is read; a resend of the id stores nothing again.
        await requireClientThread(ctx, params.threadId);
        const form = await receiveMessageForm(req, {
          tmpDir: path.join(services.config.filesDir, '.incoming'),
          maxBytes: services.config.ONELINK_UPLOAD_MAX_MB * 1024 * 1024,
          fileField: 'attachments',
        });
        try {
          const input = { id: form.id, content: form.content, filenames: form.files.map((f) => f.filename) };
          const earlier = await earlierClientMessage(services, ctx, params.threadId, input);
          if (earlier) return sendData(res, earlier, {}, 200);
          const attachments = await storeAttachments(services, ctx.accountId, threadFolder(params.threadId), form.files);
          let outcome: Awaited<ReturnType<typeof sendClientMessage>>;
          try {
            outcome = await sendClientMessage(services, ctx, params.threadId, { id: form.id, content: form.content, attachments });
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
      method: 'post',
      path: '/portal/client/threads/:threadId/read',
      summary: 'You have read the conversation: its unread count drops to nothing, and Chatwoot shows agents you have seen it',
      tags: ['portal'],
      access,
      params: threadParams,
      successStatus: 200,
      response: z.object({ read: z.literal(true) }),
      handler: async ({ ctx, params, req, res }) => {
        const { moved } = await markThreadRead(ctx, params.threadId);
        sendData(res, { read: true as const });
        if (!moved) return;
        // After the answer, best effort: agents see "seen" in Chatwoot (the count here is what the portal relies on).
        void publicConversation(services, ctx, params.threadId)
          .then((open) => open && updatePublicLastSeen(open.where, open.sourceId, open.conversationId))
          .catch((err: unknown) => req.log.warn({ err: err instanceof ChatwootError ? err.kind : err, threadId: params.threadId }, 'last seen not passed to Chatwoot'));
      },
    }),
    defineRoute({
      method: 'post',
      path: '/portal/client/threads/:threadId/typing',
      summary: 'You are typing (on) or stopped (off): agents see it in Chatwoot once the conversation exists (it opens with the first message)',
      tags: ['portal'],
      access,
      // A phone sends this as the person types: a few a second at most.
      rateLimitPerMinute: 120,
      params: threadParams,
      body: z.object({ on: z.boolean() }),
      successStatus: 200,
      response: z.object({ passed_on: z.boolean().describe('false: the conversation is not open in Chatwoot yet, or Chatwoot did not take it') }),
      handler: async ({ ctx, params, body, req, res }) => {
        clientUser(ctx);
        const open = await publicConversation(services, ctx, params.threadId);
        let passed = false;
        if (open) {
          passed = await togglePublicTyping(open.where, open.sourceId, open.conversationId, body.on).then(
            () => true,
            (err: unknown) => {
              req.log.warn({ err: err instanceof ChatwootError ? err.kind : err, threadId: params.threadId }, 'typing not passed to Chatwoot');
              return false;
            },
          );
        }
        sendData(res, { passed_on: passed });
      },
    }),
    defineRoute({
      method: 'get',
      path: '/portal/client/message-attachments/content',
      summary: 'A file the client attached to a message, behind a signed, short-lived link from the message list',
      tags: ['portal'],
      access: { public: true },
      rateLimitPerMinute: 1200,
      query: z.object({ token: z.string().min(10).max(1000) }),
      handler: async ({ query, res }) => {
        const file = await openClientAttachment(services, query.token);
        if (!file) {
          sendError(res, 404, 'not_found', 'This link is invalid or has expired');
          return;
        }
        await sendAttachment(res, file);
      },
    }),
    defineRoute({
      method: 'post',
      path: '/chatwoot/client-inbox',
      summary: 'Find or create the account’s “Client portal” API-channel inbox in Chatwoot, where clients’ portal messages arrive on their contacts (idempotent)',
      tags: ['admin'],
      access: { permission: 'admin:webhooks', capability: 'portal.client' },
      successStatus: 200,
      response: z.object({ chatwoot_inbox_id: z.number().int(), name: z.string(), outcome: z.enum(['existing', 'found', 'created']) }),
      handler: async ({ ctx, res }) => {
        const { target, chatwootAccountId } = await chatwootTargetFor(services.db, services.sealer, ctx.accountId, services.config.ONELINK_CHATWOOT_TIMEOUT_MS);
        const inbox = await ensureClientInbox(ctx, services.sealer, target, chatwootAccountId).catch((err: unknown) => {
          if (!(err instanceof ChatwootError)) throw err;
          if (err.kind === 'unauthorized') throw new HttpError(502, 'chatwoot_refused', 'Chatwoot refused the account’s installer token: run the installer again with an administrator’s token');
          throw new HttpError(503, 'chatwoot_unreachable', `Chatwoot did not set up the inbox (${err.message}); try again shortly: what exists is reused`);
        });
        sendData(res, { chatwoot_inbox_id: inbox.inboxId, name: clientInboxName, outcome: inbox.outcome });
      },
    }),
  ];
}
