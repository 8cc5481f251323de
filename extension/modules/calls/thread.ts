// Step 3 of the calls workflow: threads a call into Chatwoot — the contact by phone number
// (created when Chatwoot has never seen it), then that contact's open conversation in the
// account's call inbox (created when there is none). Every step looks before it creates, so a
// retry after a crash or a timeout finds what the previous attempt made instead of making it
// twice; no database transaction is held while Chatwoot answers.
import type { Knex } from 'knex';
import { displayNumber, toE164 } from '../../phones/e164.ts';
import {
  ChatwootError,
  contactConversations,
  createContact,
  createContactInbox,
  createConversation,
  contactsWithPhone,
  type ChatwootTarget,
} from '../../chatwoot/client.ts';
import { chatwootTargetFor } from '../../chatwoot/outbox.ts';
import type { RequestContext } from '../../context.ts';
import { read, write } from '../../db/tenant.ts';
import type { Sealer } from '../../security/crypto.ts';
import { linkConversationToJob } from '../jobs/service.ts';
import { linkTask } from '../tasks/service.ts';
import { cachedContactWithPhone, rememberCreatedContact } from '../conversations/service.ts';
import type { CallRow } from './outcome.ts';
import type { TwilioSettingsRow } from './settings.ts';

/**
 * The caller's Chatwoot contact: our cache first (kept by Chatwoot's webhooks), then Chatwoot's
 * exact phone filter, else a new contact named by the number. Two processes creating the same
 * contact at once: Chatwoot refuses the second (phone taken), which then finds the first's.
 */
export async function findOrCreateContact(
  target: ChatwootTarget,
  chatwootAccountId: number,
  phone: string,
  inboxId: number,
  cache: { find: (phone: string) => Promise<number | undefined>; remember: (contactId: number, phone: string) => Promise<void> },
): Promise<number> {
  const cached = await cache.find(phone);
  if (cached) return cached;
  const lookUp = async () => (await contactsWithPhone(target, chatwootAccountId, phone)).find((c) => toE164(c.phone_number) === phone)?.id;
  const found = await lookUp();
  if (found) return found;
  let created: number;
  try {
    created = (await createContact(target, chatwootAccountId, { inbox_id: inboxId, name: displayNumber(phone), phone_number: phone })).id;
  } catch (err) {
    const taken = err instanceof ChatwootError && err.status === 422 ? await lookUp() : undefined;
    if (!taken) throw err;
    created = taken;
  }
  await cache.remember(created, phone); // the contact_created webhook will confirm it later
  return created;
}

export async function findOrOpenConversation(target: ChatwootTarget, chatwootAccountId: number, contactId: number, inboxId: number): Promise<number> {
  const conversations = await contactConversations(target, chatwootAccountId, contactId);
  const open = conversations
    .filter((c) => c.inbox_id === inboxId && (c.status === 'open' || c.status === 'pending' || c.status === 'snoozed'))
    .sort((a, b) => (b.last_activity_at ?? 0) - (a.last_activity_at ?? 0) || b.id - a.id)[0];
  if (open) return open.id;
  const sourceId = await createContactInbox(target, chatwootAccountId, contactId, inboxId);
  // The document types these ids as strings; Chatwoot accepts both.
  return createConversation(target, chatwootAccountId, { source_id: sourceId, inbox_id: String(inboxId), contact_id: String(contactId), status: 'open' });
}

/** Claims the threading of a call: one process at a time per call; a claim older than two minutes is stale. */
async function claimThreading(ctx: RequestContext, callId: string): Promise<CallRow | undefined> {
  return write(ctx, async (trx, audit) => {
    const [call] = (await trx('calls')
      .where({ account_id: ctx.accountId, id: callId })
      .whereNull('threaded_at')
      .where((q) => q.whereNull('threading_claimed_at').orWhere('threading_claimed_at', '<', trx.raw(`now() - interval '2 minutes'`)))
      .update({ threading_claimed_at: trx.fn.now() })
      .returning('*')) as CallRow[];
    if (call) audit.recordedElsewhere('calls'); // a mark on the call, no change anyone reads
    else audit.nothingChanged();
    return call;
  });
}

const releaseThreading = (ctx: RequestContext, callId: string) =>
  write(ctx, async (trx, audit) => {
    await trx('calls').where({ account_id: ctx.accountId, id: callId }).update({ threading_claimed_at: null });
    audit.recordedElsewhere('calls');
  });

/** Records the thread on the call; follow-ups opened before the thread was known now point at it too. */
async function recordThread(ctx: RequestContext, callId: string, contactId: number, conversationId: number) {
  await write(ctx, async (trx, audit) => {
    const fresh = (await trx('calls').where({ account_id: ctx.accountId, id: callId }).forUpdate().first()) as CallRow;
    await trx('calls')
      .where({ account_id: ctx.accountId, id: callId })
      .update({ chatwoot_contact_id: fresh.chatwoot_contact_id ?? contactId, chatwoot_conversation_id: fresh.chatwoot_conversation_id ?? conversationId, threaded_at: trx.fn.now(), updated_at: trx.fn.now() });
    if (fresh.callback_task_id) await linkTask(trx, ctx, audit, fresh.callback_task_id, { conversationId, contactId });
    if (fresh.job_id && fresh.job_created_at) await linkConversationToJob(trx, ctx, audit, fresh.job_id, conversationId, contactId);
    await audit({ action: 'call.threaded', resourceType: 'call', resourceId: callId, after: { chatwoot_contact_id: contactId, chatwoot_conversation_id: conversationId } });
  });
}

/** The caller's contact and open conversation in the account's call inbox, recorded on the call. */
export async function threadCall(deps: { db: Knex; sealer: Sealer; chatwootTimeoutMs: number }, ctx: RequestContext, callId: string, settings: TwilioSettingsRow) {
  const inboxId = settings.chatwoot_inbox_id;
  const call = await claimThreading(ctx, callId);
  if (!call) return;
  const phone = call.direction === 'inbound' ? call.from_e164 : call.to_e164;
  if (!inboxId || !phone) {
    await releaseThreading(ctx, callId); // a withheld number, or no call inbox: the call stays in Onelink's log
    return;
  }
  try {
    const { target, chatwootAccountId } = await chatwootTargetFor(deps.db, deps.sealer, ctx.accountId, deps.chatwootTimeoutMs);
    const contactId =
      call.chatwoot_contact_id ??
      (await findOrCreateContact(target, chatwootAccountId, phone, inboxId, {
        find: (e164) => read(ctx, (trx) => cachedContactWithPhone(trx, ctx.accountId, e164)),
        remember: (id, e164) => rememberCreatedContact(ctx, id, e164),
      }));
    const conversationId = call.chatwoot_conversation_id ?? (await findOrOpenConversation(target, chatwootAccountId, contactId, inboxId));
    await recordThread(ctx, callId, contactId, conversationId);
  } catch (err) {
    await releaseThreading(ctx, callId).catch(() => undefined);
    throw err;
  }
}
