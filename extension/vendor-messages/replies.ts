// Agents' replies in a vendor thread, from the account webhook (message_created): a public
// outgoing message in a conversation we opened for a vendor becomes a from_dispatch message of
// that thread, once per Chatwoot message. Private notes never do, nor the vendor's own messages
// coming back (incoming), nor anything in a conversation that is not one of our threads.
import type { RequestContext } from '../context.ts';
import { write } from '../db/tenant.ts';

export interface MessageAttachment { url: string; filename: string; content_type: string }

export interface VendorReply { conversationId: number; inboxId: number | null; messageId: number; content: string; authorName: string; attachments: MessageAttachment[] }

const record = (value: unknown): Record<string, unknown> => (typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {});
const positiveId = (value: unknown): number | null => {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  return typeof n === 'number' && Number.isSafeInteger(n) && n > 0 ? n : null;
};
const clip = (value: unknown, max: number) => (typeof value === 'string' ? value.replace(/\u0000/g, '').slice(0, max) : '');

/** Chatwoot's attachment file types, as the media types a page can act on. */
const fileTypes: Record<string, string> = { image: 'image/*', audio: 'audio/*', video: 'video/*' };

/** An agent's attachment as a link (Chatwoot's data_url); only https addresses are kept (a plain http link would be fetched in the clear, or is not Chatwoot's). */
export function attachmentOf(raw: unknown): MessageAttachment | null {
  const a = record(raw);
  const url = typeof a.data_url === 'string' ? a.data_url : null;
  if (!url || url.length > 2000) return null;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  if (parsed.protocol !== 'https:') return null;
  let last = parsed.pathname.split('/').filter(Boolean).at(-1) ?? 'attachment';
  try {
    last = decodeURIComponent(last);
  } catch {
    // keep it as written
  }
  const filename = clip(typeof a.file_name === 'string' && a.file_name ? a.file_name : last, 255) || 'attachment';
  const contentType = typeof a.content_type === 'string' && /^[\w.+-]+\/[\w.+*-]+$/.test(a.content_type) ? a.content_type : (fileTypes[String(a.file_type)] ?? 'application/octet-stream');
  return { url: parsed.toString(), filename, content_type: contentType };
}

/** What a message_created payload holds for a vendor thread: an agent's public reply, or null. */
export function vendorReplyOf(payload: Record<string, unknown>): VendorReply | null {
  if (payload.private === true) return null;
  const type = payload.message_type;
  if (!(type === 'outgoing' || type === 1)) return null;
  const messageId = positiveId(payload.id);
  const conversation = record(payload.conversation);
  const conversationId = positiveId(conversation.display_id ?? conversation.id);
  if (!messageId || !conversationId) return null;
  // The inbox the conversation is in: a reply counts only in the thread's own (vendors) inbox.
  const inboxId = positiveId(conversation.inbox_id ?? record(payload.inbox).id);
  const sender = record(payload.sender);
  const authorName = clip(sender.available_name, 200) || clip(sender.name, 200) || 'Dispatch';
  const attachments = (Array.isArray(payload.attachments) ? payload.attachments : []).slice(0, 20).map(attachmentOf).filter((a): a is MessageAttachment => a !== null);
  const content = clip(payload.content, 20_000);
  if (!content && !attachments.length) return null;
  return { conversationId, inboxId, messageId, content, authorName, attachments };
}

/**
 * Stores the replies that belong to vendor threads (once per Chatwoot message) and announces them.
 * From a webhook the delivery is their trail; found by reconciling a thread, an audit event says so.
 */
export async function recordVendorReplies(ctx: RequestContext, replies: VendorReply[], { reconciledJobId }: { reconciledJobId?: string } = {}): Promise<number> {
  if (!replies.length) return 0;
  return write(ctx, async (trx, audit) => {
    let stored = 0;
    for (const reply of replies) {
      const thread = await trx('vendor_threads').where({ account_id: ctx.accountId, chatwoot_conversation_id: reply.conversationId }).first('job_id', 'portal_user_id', 'chatwoot_inbox_id');
      // A conversation id alone is not enough: the reply must come from the thread's inbox.
      if (!thread || reply.inboxId === null || Number(thread.chatwoot_inbox_id) !== reply.inboxId) continue;
      const { rowCount } = await trx.raw(
        // clock_timestamp(): replies stored together keep the order they came in (the thread is shown by time).
        `insert into vendor_messages (account_id, job_id, portal_user_id, chatwoot_conversation_id, chatwoot_message_id, direction, author_name, content, attachments, status, sent_at, created_at)
         values (?, ?, ?, ?, ?, 'from_dispatch', ?, ?, ?::jsonb, 'sent', now(), clock_timestamp())
         on conflict (account_id, chatwoot_message_id) where chatwoot_message_id is not null do nothing`,
        [ctx.accountId, thread.job_id, thread.portal_user_id, reply.conversationId, reply.messageId, reply.authorName, reply.content, JSON.stringify(reply.attachments)],
      );
      stored += rowCount ?? 0;
    }
    if (!stored) audit.nothingChanged();
    else if (reconciledJobId) await audit({ action: 'vendor_message.replies_recovered', resourceType: 'job', resourceId: reconciledJobId, after: { count: stored } });
    else audit.recordedElsewhere('webhook_deliveries');
    return stored;
  });
}
