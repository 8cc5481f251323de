// Carrying a vendor's message to Chatwoot, for the Chatwoot outbox (one item per message): the
// vendors inbox (set up now if nobody did), the person as a contact of it, the job's conversation
// with them (custom attribute onelink_job), then the message as an incoming one from the contact.
// Each step is stored as soon as Chatwoot answers, so a retry goes on from where it stopped; a step
// whose answer was lost is looked up before it is repeated (the conversation by its attribute, the
// message by its echo id or its text), so nothing is posted twice.
import type { RequestContext } from '../context.ts';
import { contactConversations, type ChatwootTarget } from '../chatwoot/client.ts';
import { createPublicContact, createPublicConversation, createPublicMessage, listPublicMessages, type PublicInbox, type PublicMessage } from '../chatwoot/public-api.ts';
import { ensureVendorInbox, storedVendorInbox } from '../chatwoot/vendor-inbox.ts';
import { read, write } from '../db/tenant.ts';
import { jobReference } from '../modules/jobs/rules.ts';
import type { Sealer } from '../security/crypto.ts';

export interface VendorMessageItem { kind: 'vendor_message'; messageId: string }

/** How a vendor user is known to Chatwoot: never their e-mail or phone, which would merge them with a customer of the same address. */
export const vendorContactIdentifier = (portalUserId: string) => `onelink-vendor-user-${portalUserId}`;

interface Pending {
  id: string;
  content: string;
  status: string;
  chatwoot_message_id: string | null;
  job_id: string;
  portal_user_id: string;
  thread_inbox_id: string | null;
  thread_conversation_id: string | null;
  number: number;
  name: string;
}

interface Contact { source_id_sealed: string; chatwoot_contact_id: string | null }

/**
 * Sends one vendor message (the outbox's item); answers Chatwoot's message id, or null when there
 * is nothing left to send (the job or the person is gone). Throws a ChatwootError to be retried.
 */
export async function deliverVendorMessage(ctx: RequestContext, sealer: Sealer, target: ChatwootTarget, chatwootAccountId: number, messageId: string, attempts: number): Promise<number | null> {
  const { accountId } = ctx;
  const row = (await read(ctx, (trx) =>
    trx('vendor_messages as m')
      .join('vendor_threads as t', (j) => j.on('t.account_id', 'm.account_id').andOn('t.job_id', 'm.job_id').andOn('t.portal_user_id', 'm.portal_user_id'))
      .join('jobs as j', (j) => j.on('j.account_id', 'm.account_id').andOn('j.id', 'm.job_id'))
      .join('portal_users as p', (j) => j.on('p.account_id', 'm.account_id').andOn('p.id', 'm.portal_user_id'))
      .where({ 'm.account_id': accountId, 'm.id': messageId, 'm.direction': 'from_vendor' })
      .first(
        'm.id', 'm.content', 'm.status', 'm.chatwoot_message_id', 'm.job_id', 'm.portal_user_id',
        't.chatwoot_inbox_id as thread_inbox_id', 't.chatwoot_conversation_id as thread_conversation_id', 'j.number', 'p.name',
      ),
  )) as Pending | undefined;
  if (!row) return null;
  if (row.status === 'sent') return row.chatwoot_message_id === null ? null : Number(row.chatwoot_message_id);

  const inbox = (await storedVendorInbox(ctx.db, sealer, accountId)) ?? (await ensureVendorInbox(ctx, sealer, target, chatwootAccountId));
  const where: PublicInbox = { baseUrl: target.baseUrl, timeoutMs: target.timeoutMs, inboxIdentifier: inbox.identifier };

  // The person as a contact of the inbox (a lost answer only leaves Chatwoot a spare contact inbox: it reuses the contact by identifier).
  let contact = (await read(ctx, (trx) =>
    trx('vendor_chat_contacts').where({ account_id: accountId, portal_user_id: row.portal_user_id, chatwoot_inbox_id: inbox.inboxId }).first('source_id_sealed', 'chatwoot_contact_id'),
  )) as Contact | undefined;
  if (!contact) {
    const created = await createPublicContact(where, { name: row.name, identifier: vendorContactIdentifier(row.portal_user_id) });
    contact = { source_id_sealed: sealer.seal(created.source_id), chatwoot_contact_id: typeof created.id === 'number' ? String(created.id) : null };
    const stored = contact;
    await write(ctx, async (trx, audit) => {
      await trx('vendor_chat_contacts')
        .insert({ account_id: accountId, portal_user_id: row.portal_user_id, chatwoot_inbox_id: inbox.inboxId, ...stored })
        .onConflict(['account_id', 'portal_user_id', 'chatwoot_inbox_id'])
        .merge();
      await audit({ action: 'vendor_chat.contact_created', resourceType: 'portal_user', resourceId: row.portal_user_id, after: { chatwoot_inbox_id: inbox.inboxId, chatwoot_contact_id: stored.chatwoot_contact_id } });
    });
  }
  const sourceId = sealer.open(contact.source_id_sealed);

  // The job's conversation with this person, opened by their first message.
  let conversationId = row.thread_conversation_id !== null && Number(row.thread_inbox_id) === inbox.inboxId ? Number(row.thread_conversation_id) : null;
  if (conversationId === null) {
    const reference = jobReference(row.number);
    if (attempts > 0 && contact.chatwoot_contact_id) {
      // An earlier attempt may have opened it without hearing back: Chatwoot's contact view shows its attribute.
      const opened = (await contactConversations(target, chatwootAccountId, Number(contact.chatwoot_contact_id))).find(
        (c) => c.inbox_id === inbox.inboxId && (c.custom_attributes as Record<string, unknown> | undefined)?.onelink_job === reference,
      );
      conversationId = opened?.id ?? null;
    }
    conversationId ??= (await createPublicConversation(where, sourceId, { custom_attributes: { onelink_job: reference } })).id;
    const opened = conversationId;
    await write(ctx, async (trx, audit) => {
      await trx('vendor_threads')
        .where({ account_id: accountId, job_id: row.job_id, portal_user_id: row.portal_user_id })
        .update({ chatwoot_inbox_id: inbox.inboxId, chatwoot_conversation_id: opened });
      await audit({ action: 'vendor_thread.opened', resourceType: 'job', resourceId: row.job_id, after: { portal_user_id: row.portal_user_id, chatwoot_conversation_id: opened } });
    });
  }

  let message: PublicMessage | undefined;
  if (attempts > 0) {
    // Posted before without an answer? Ours carries its echo id; failing that, the same text not yet claimed by another of ours.
    const claimed = new Set(
      (
        await read(ctx, (trx) =>
          trx('vendor_messages').where({ account_id: accountId, chatwoot_conversation_id: conversationId }).whereNotNull('chatwoot_message_id').pluck('chatwoot_message_id'),
        )
      ).map(Number),
    );
    const listed = await listPublicMessages(where, sourceId, conversationId);
    message =
      listed.find((m) => (m as { echo_id?: unknown }).echo_id === row.id) ??
      listed.find((m) => m.message_type === 0 && m.content === row.content && !claimed.has(m.id));
  }
  message ??= await createPublicMessage(where, sourceId, conversationId, { content: row.content, echo_id: row.id });
  const sent = message;
  await write(ctx, async (trx, audit) => {
    const changed = await trx('vendor_messages')
      .where({ account_id: accountId, id: row.id })
      .whereNot({ status: 'sent' })
      .update({ status: 'sent', chatwoot_message_id: sent.id, chatwoot_conversation_id: conversationId, sent_at: trx.fn.now(), last_error: null });
    if (!changed) return audit.nothingChanged();
    await audit({ action: 'vendor_message.sent', resourceType: 'job', resourceId: row.job_id, after: { message_id: row.id, chatwoot_message_id: sent.id } });
  });
  return sent.id;
}

/** A vendor message the outbox gave up on: the portal shows it failed (and the vendor may send it again as a new message). */
export async function vendorMessageFailed(ctx: RequestContext, messageId: string, reason: string) {
  await write(ctx, async (trx, audit) => {
    const [failed] = await trx('vendor_messages')
      .where({ account_id: ctx.accountId, id: messageId, status: 'sending' })
      .update({ status: 'failed', last_error: reason.slice(0, 500) })
      .returning('job_id');
    if (!failed) return audit.nothingChanged();
    await audit({ action: 'vendor_message.failed', resourceType: 'job', resourceId: failed.job_id, after: { message_id: messageId, reason: reason.slice(0, 200) } });
  });
}
