// Chatwoot sends each webhook once and never again, so an agent's reply can be lost on the way.
// When a client opens a thread, its conversation's public message list (no private notes) is read
// after the answer, and replies we never heard of are stored; the announcement then refreshes the
// open page. At most once per thread in `reconcileEvery.ms`.
import type { Knex } from 'knex';
import { storedClientInbox } from '../chatwoot/client-inbox.ts';
import { scanPublicMessages } from '../chatwoot/public-api.ts';
import { read, systemContext } from '../db/tenant.ts';
import type { Sealer } from '../security/crypto.ts';
import { agentReplyOf, recordClientReplies, type AgentReply } from './replies.ts';

export const reconcileEvery = { ms: 30_000 };
const lastRun = new Map<string, number>();

export interface ReconcileDeps { db: Knex; sealer: Sealer; timeoutMs: number }

/** Stores the agents' replies of a thread's conversation that the webhook did not bring; answers how many. */
export async function reconcileClientThread(deps: ReconcileDeps, accountId: number, threadId: string): Promise<number> {
  const key = `${accountId}:${threadId}`;
  const now = Date.now();
  if (now - (lastRun.get(key) ?? 0) < reconcileEvery.ms) return 0;
  if (lastRun.size > 10_000) lastRun.clear();
  lastRun.set(key, now);

  const ctx = await systemContext(deps.db, accountId, 'client-messages');
  const inbox = await storedClientInbox(deps.db, deps.sealer, accountId);
  if (!inbox) return 0;
  const thread = await read(ctx, (trx) =>
    trx('client_threads as t')
      .join('client_chat_contacts as c', (j) => j.on('c.account_id', 't.account_id').andOn('c.portal_user_id', 't.portal_user_id').andOn('c.chatwoot_inbox_id', 't.chatwoot_inbox_id'))
      .where({ 't.account_id': accountId, 't.id': threadId, 't.chatwoot_inbox_id': inbox.inboxId })
      .whereNotNull('t.chatwoot_conversation_id')
      .first('t.chatwoot_conversation_id', 'c.source_id_sealed'),
  );
  if (!thread) return 0;
  const installation = await deps.db('accounts as a').join('installations as i', 'i.id', 'a.installation_id').where('a.account_id', accountId).first('i.base_url');
  const conversationId = Number(thread.chatwoot_conversation_id);
  // Chatwoot lists the latest 20: paged back until a message we already hold (or the start).
  const known = await read(ctx, (trx) => trx('client_messages').where({ account_id: accountId, chatwoot_conversation_id: conversationId }).max('chatwoot_message_id as id').first());
  const knownId = known?.id == null ? 0 : Number(known.id);
  const where = { baseUrl: installation.base_url, timeoutMs: deps.timeoutMs, inboxIdentifier: inbox.identifier };
  const listed = await scanPublicMessages(where, deps.sealer.open(thread.source_id_sealed), conversationId, (page) => page.some((m) => m.id <= knownId));
  // Read as the webhook's payload would say it, so both paths store a reply the same way.
  const replies = listed
    .filter((m) => (m as { private?: unknown }).private !== true)
    .map((m) => agentReplyOf({ ...m, private: false, conversation: { id: conversationId, inbox_id: inbox.inboxId } }))
    .filter((r): r is AgentReply => r !== null);
  return recordClientReplies(ctx, replies, { reconciledThreadId: threadId });
}
