// Write-back to Chatwoot: services queue items in the transaction of the change they report;
// a worker delivers them. Delivery is at-least-once towards the network but exactly-once in
// effect: before posting a note again after an attempt with an unknown outcome (a timeout, a
// crash), the worker looks for the note among the conversation's messages and adopts it.
// Custom attributes are merged with Chatwoot's current ones (its endpoint replaces the set).
// A vendor's portal message rides here too, through the public client API (vendor-messages/deliver.ts),
// and so does a client's (client-messages/deliver.ts) and a client's new details for their
// Chatwoot contact (portal/client-profile.ts).
import type { Knex } from 'knex';
import type { RequestContext } from '../context.ts';
import { systemContext, write } from '../db/tenant.ts';
import { accountsWithWork } from '../modules/system/sweeps.ts';
import type { Sealer } from '../security/crypto.ts';
import type { FileStorage } from '../storage/index.ts';
import { clientMessageFailed, deliverClientMessage, type ClientMessageItem } from '../client-messages/deliver.ts';
import { contactUpdateFailed, deliverContactUpdate, type ContactUpdateItem } from '../portal/client-profile.ts';
import { deliverVendorMessage, vendorMessageFailed, type VendorMessageItem } from '../vendor-messages/deliver.ts';
import {
  ChatwootError,
  createPrivateNote,
  getConversationAttributes,
  listMessages,
  setConversationAttributes,
  type ChatwootTarget,
} from './client.ts';

export const maxOutboxAttempts = 20;
/** A claimed item is retried after this long if its worker vanished mid-call. */
const leaseSeconds = 60;

import type { AttributesItem, NoteItem } from './outbox-queue.ts';

type OutboxItem = NoteItem | AttributesItem | VendorMessageItem | ClientMessageItem | ContactUpdateItem;
interface OutboxRow { id: string; kind: OutboxItem['kind']; chatwoot_conversation_id: number | null; payload: OutboxItem; attempts: number }

/** The Chatwoot API of an account, acting with the administrator token it was installed with. */
export async function chatwootTargetFor(db: Knex, sealer: Sealer, accountId: number, timeoutMs: number): Promise<{ target: ChatwootTarget; chatwootAccountId: number }> {
  const row = await db('accounts as a')
    .join('installations as i', 'i.id', 'a.installation_id')
    .where('a.account_id', accountId)
    .first('i.base_url', 'i.api_token_sealed', 'a.chatwoot_api_token_sealed', 'a.chatwoot_account_id');
  // The account's own installer token; the installation's token for accounts connected before.
  const token = sealer.open(row.chatwoot_api_token_sealed ?? row.api_token_sealed);
  return { target: { baseUrl: row.base_url, token, timeoutMs }, chatwootAccountId: row.chatwoot_account_id };
}

/**
 * A vendor message waits while an earlier one of its thread (same job and person) is still
 * sending, and a client message while an earlier one of its thread is: a thread's messages reach
 * Chatwoot in the order they were written, and only the first opens the conversation. Other
 * threads are not held up.
 */
const laterInItsThread = `(kind = 'vendor_message' and exists (
  select 1 from vendor_messages m
    join vendor_messages e on e.account_id = m.account_id and e.job_id = m.job_id and e.portal_user_id = m.portal_user_id
   where m.account_id = chatwoot_outbox.account_id and m.id = (chatwoot_outbox.payload->>'messageId')::uuid
     and e.direction = 'from_vendor' and e.status = 'sending' and (e.created_at, e.id) < (m.created_at, m.id)))
  or (kind = 'client_message' and exists (
  select 1 from client_messages m
    join client_messages e on e.account_id = m.account_id and e.thread_id = m.thread_id
   where m.account_id = chatwoot_outbox.account_id and m.id = (chatwoot_outbox.payload->>'messageId')::uuid
     and e.direction = 'from_client' and e.status = 'sending' and (e.created_at, e.id) < (m.created_at, m.id)))`;

// The outbox rows are the trail of write-backs: claiming and settling them is bookkeeping.
async function claim(ctx: RequestContext): Promise<OutboxRow | undefined> {
  const { accountId } = ctx;
  return write(ctx, async (trx, audit) => {
    audit.bookkeeping('chatwoot_outbox');
    const { rows } = await trx.raw<{ rows: OutboxRow[] }>(
      `update chatwoot_outbox o set attempts = o.attempts + 1, attempted_at = now(), next_attempt_at = now() + make_interval(secs => ?)
        where (o.account_id, o.id) = (select account_id, id from chatwoot_outbox
                                       where account_id = ? and status = 'pending' and next_attempt_at <= now()
                                         and not ${laterInItsThread}
                                       order by created_at limit 1 for update skip locked)
        returning o.id, o.kind, o.chatwoot_conversation_id, o.payload, o.attempts - 1 as attempts`,
      [leaseSeconds, accountId],
    );
    return rows[0];
  });
}

async function deliver(ctx: RequestContext, sealer: Sealer, item: OutboxRow, target: ChatwootTarget, chatwootAccountId: number, files?: FileStorage): Promise<number | null> {
  if (item.payload.kind === 'vendor_message') return deliverVendorMessage(ctx, sealer, target, chatwootAccountId, item.payload.messageId, item.attempts, files);
  if (item.payload.kind === 'client_message') return deliverClientMessage(ctx, sealer, target, chatwootAccountId, item.payload.messageId, item.attempts, files);
  if (item.payload.kind === 'contact') {
    await deliverContactUpdate(ctx, target, chatwootAccountId, item.payload);
    return null;
  }
  const conversationId = item.chatwoot_conversation_id!;
  if (item.payload.kind === 'attributes') {
    const current = await getConversationAttributes(target, chatwootAccountId, conversationId);
    await setConversationAttributes(target, chatwootAccountId, conversationId, { ...current, ...item.payload.attributes });
    return null;
  }
  const note = item.payload;
  const marker = { onelink_outbox_id: item.id };
  if (item.attempts > 0) {
    // An earlier attempt may have reached Chatwoot: adopt that note rather than post it twice.
    const existing = (await listMessages(target, chatwootAccountId, conversationId)).find(
      (m) => m.private && (m.content_attributes?.onelink_outbox_id === item.id || m.content === note.content),
    );
    if (existing) return existing.id;
  }
  const created = await createPrivateNote(target, chatwootAccountId, conversationId, note.content, marker);
  return created?.id ?? null;
}

/** Delivers every due write-back of one account; returns how many were sent. `files`: where vendors' message attachments are read from. */
export async function drainOutbox(db: Knex, sealer: Sealer, accountId: number, timeoutMs: number, files?: FileStorage): Promise<number> {
  let sent = 0;
  const { target, chatwootAccountId } = await chatwootTargetFor(db, sealer, accountId, timeoutMs);
  const ctx = await systemContext(db, accountId, 'chatwoot-outbox');
  for (let item = await claim(ctx); item; item = await claim(ctx)) {
    const update = (fields: Record<string, unknown>) =>
      write(ctx, async (trx, audit) => {
        await trx('chatwoot_outbox').where({ account_id: accountId, id: item!.id }).update(fields);
        audit.bookkeeping('chatwoot_outbox');
      });
    try {
      const messageId = await deliver(ctx, sealer, item, target, chatwootAccountId, files);
      await update({ status: 'sent', sent_at: db.fn.now(), chatwoot_message_id: messageId, last_error: null });
      sent++;
    } catch (err) {
      const retryable = !(err instanceof ChatwootError) || err.kind !== 'bad_response';
      const attempts = item.attempts + 1;
      if (!retryable || attempts >= maxOutboxAttempts) {
        await update({ status: 'dead', last_error: (err as Error).message });
        if (item.payload.kind === 'vendor_message') await vendorMessageFailed(ctx, item.payload.messageId, (err as Error).message);
        if (item.payload.kind === 'client_message') await clientMessageFailed(ctx, item.payload.messageId, (err as Error).message);
        if (item.payload.kind === 'contact') await contactUpdateFailed(ctx, item.payload, (err as Error).message);
        continue;
      }
      // Chatwoot is down or refusing for now: back off (30 s, 1, 2, 4 … up to 10 minutes) and stop draining.
      await update({ last_error: (err as Error).message, next_attempt_at: db.raw(`now() + make_interval(secs => ?)`, [Math.min(600, 15 * 2 ** attempts)]) });
      break;
    }
  }
  return sent;
}

/** Accounts with write-backs due now (the sweep's work list). */
export function accountsWithDueWriteBacks(db: Knex): Promise<number[]> {
  return accountsWithWork(db, (trx, accountId) => trx('chatwoot_outbox').where({ account_id: accountId, status: 'pending' }).andWhere('next_attempt_at', '<=', trx.fn.now()).select('id'));
}
