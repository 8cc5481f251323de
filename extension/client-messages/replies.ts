// Agents' public replies in a client's thread, from the account webhook (message_created): a
// public outgoing message in a conversation we opened for a client's thread, in the thread's own
// inbox, becomes a from_agent message of that thread, once per Chatwoot message. Private notes
// never do, nor the client's own messages coming back (incoming), nor anything in a conversation
// that is not one of our threads. The payload is read the way vendor replies are (vendorReplyOf:
// the same Chatwoot message, only the thread table differs). Typing events, where Chatwoot sends
// them to a webhook of ours, are passed on the same way.
import type { RequestContext } from '../context.ts';
import { read, write } from '../db/tenant.ts';
import type { VendorReply } from '../vendor-messages/replies.ts';
import { announceAgentTyping, announceClientThread } from './announce.ts';

export { vendorReplyOf as agentReplyOf } from '../vendor-messages/replies.ts';
export type AgentReply = VendorReply;

const positiveId = (value: unknown): number | null => {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  return typeof n === 'number' && Number.isSafeInteger(n) && n > 0 ? n : null;
};
const record = (value: unknown): Record<string, unknown> => (typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {});

/**
 * Stores the replies that belong to client threads (once per Chatwoot message), then tells each
 * client's pages. From a webhook the delivery is their trail; found by reconciling, an audit event says so.
 */
export async function recordClientReplies(ctx: RequestContext, replies: AgentReply[], { reconciledThreadId }: { reconciledThreadId?: string } = {}): Promise<number> {
  if (!replies.length) return 0;
  const touched = new Map<string, string>();
  const stored = await write(ctx, async (trx, audit) => {
    let count = 0;
    for (const reply of replies) {
      const thread = await trx('client_threads').where({ account_id: ctx.accountId, chatwoot_conversation_id: reply.conversationId }).first('id', 'portal_user_id', 'chatwoot_inbox_id');
      // A conversation id alone is not enough: the reply must come from the thread's inbox.
      if (!thread || reply.inboxId === null || Number(thread.chatwoot_inbox_id) !== reply.inboxId) continue;
      const { rowCount } = await trx.raw(
        // clock_timestamp(): replies stored together keep the order they came in.
        `insert into client_messages (account_id, thread_id, portal_user_id, chatwoot_conversation_id, chatwoot_message_id, direction, author_name, content, attachments, status, sent_at, created_at)
         values (?, ?, ?, ?, ?, 'from_agent', ?, ?, ?::jsonb, 'sent', now(), clock_timestamp())
         on conflict (account_id, chatwoot_message_id) where chatwoot_message_id is not null do nothing`,
        [ctx.accountId, thread.id, thread.portal_user_id, reply.conversationId, reply.messageId, reply.authorName, reply.content, JSON.stringify(reply.attachments)],
      );
      if (rowCount) touched.set(thread.id as string, thread.portal_user_id as string);
      count += rowCount ?? 0;
    }
    if (!count) audit.nothingChanged();
    else if (reconciledThreadId) await audit({ action: 'client_message.replies_recovered', resourceType: 'client_thread', resourceId: reconciledThreadId, after: { count } });
    else audit.recordedElsewhere('webhook_deliveries');
    return count;
  });
  // After the commit: the pages refetch and find the replies.
  for (const [threadId, portalUserId] of touched) announceClientThread(ctx.db, ctx.accountId, portalUserId, threadId);
  return stored;
}

export interface AgentTyping { conversationId: number; inboxId: number | null; on: boolean }

/**
 * An agent's typing in a conversation (conversation_typing_on/off: { user, conversation,
 * is_private }), or null. Typing a private note is not shown to the client.
 */
export function agentTypingOf(event: string, payload: Record<string, unknown>): AgentTyping | null {
  if (event !== 'conversation_typing_on' && event !== 'conversation_typing_off') return null;
  if (payload.is_private === true) return null;
  const conversation = record(payload.conversation);
  const conversationId = positiveId(conversation.display_id ?? conversation.id);
  if (!conversationId) return null;
  return { conversationId, inboxId: positiveId(conversation.inbox_id), on: event === 'conversation_typing_on' };
}

/** Passes agents' typing on to the clients whose threads the conversations are (nothing stored). */
export async function announceClientTyping(ctx: RequestContext, typings: AgentTyping[]): Promise<void> {
  if (!typings.length) return;
  const threads = await read(ctx, (trx) =>
    trx('client_threads')
      .where({ account_id: ctx.accountId })
      .whereIn('chatwoot_conversation_id', typings.map((t) => t.conversationId))
      .select('id', 'portal_user_id', 'chatwoot_conversation_id', 'chatwoot_inbox_id'),
  );
  for (const typing of typings) {
    const thread = threads.find((t) => Number(t.chatwoot_conversation_id) === typing.conversationId && Number(t.chatwoot_inbox_id) === typing.inboxId);
    if (thread) announceAgentTyping(ctx.db, ctx.accountId, thread.portal_user_id as string, thread.id as string, typing.on);
  }
}
