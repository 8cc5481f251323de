// Carrying a client's message to Chatwoot, for the Chatwoot outbox (one item per message): the
// Client portal inbox (set up now if nobody did), the client's EXISTING contact given a contact
// inbox there (the application API's contact_inboxes: a source id on that contact, never a new
// contact), the thread's conversation (a job thread's has the custom attribute onelink_job and is
// linked to the job), then the message as an incoming one from the contact (public client API).
//
// Why not the public API's contact create: Chatwoot's ContactInboxWithContactBuilder would look
// for an existing contact of the account by identifier, then e-mail, then phone, and make a new
// contact when none matches. A client whose portal e-mail or phone differs from the contact's (or
// whose contact has neither) would then appear to agents as a second person. Making the contact
// inbox on the contact the client is bound to (portal_users.chatwoot_contact_id) leaves nothing
// to matching.
//
// Each step is stored as soon as Chatwoot answers, so a retry goes on from where it stopped; a step
// whose answer may have been lost is looked up before it is repeated (the conversation among the
// contact's, the message by its text and files). A thread's messages leave one at a time, in order.
// What Chatwoot no longer has (the inbox, the contact inbox, the conversation: a 404) is forgotten
// here and made again. A deleted contact is final for the message: the client's contact is staff's
// to restore (or to bind the portal user to another), not ours to re-create.
import type { RequestContext } from '../context.ts';
import { ChatwootError, contactConversations, createContactInbox, listInboxes, type ChatwootTarget } from '../chatwoot/client.ts';
import { ensureClientInbox, storedClientInbox, type ClientInbox } from '../chatwoot/client-inbox.ts';
import { createPublicConversation, createPublicMessage, createPublicMessageWithFiles, scanPublicMessages, type PublicInbox, type PublicMessage } from '../chatwoot/public-api.ts';
import { read, write } from '../db/tenant.ts';
import { linkConversationToJob } from '../modules/jobs/links.ts';
import { jobReference } from '../modules/jobs/rules.ts';
import type { Sealer } from '../security/crypto.ts';
import type { FileStorage } from '../storage/index.ts';
import { isStored } from '../vendor-messages/attachments.ts';
import { clockSkewSeconds, comparable, filesOf, listedFilenames } from '../vendor-messages/deliver.ts';
import { announceClientThread } from './announce.ts';

export interface ClientMessageItem { kind: 'client_message'; messageId: string }

interface Pending {
  id: string;
  content: string;
  attachments: unknown[];
  status: string;
  chatwoot_message_id: string | null;
  thread_id: string;
  job_id: string | null;
  portal_user_id: string;
  created_at: Date;
  number: number | null;
  contact_id: string | null;
}

/** What a 404 from a step says Chatwoot no longer has. */
type Gone = 'inbox' | 'contact_inbox' | 'conversation';

class GoneInChatwoot extends ChatwootError {
  constructor(
    readonly what: Gone,
    step: string,
  ) {
    super('bad_response', `Chatwoot answered 404 to ${step}: the client portal ${what.replace('_', ' ')} is gone there`, 404);
  }
}

/** The client's own contact is gone in Chatwoot: no retry brings it back (final). */
class ContactGone extends ChatwootError {
  constructor() {
    super('bad_response', 'The client’s Chatwoot contact no longer exists: staff must restore it or invite the client again from their contact');
  }
}

/** Runs one call to Chatwoot; its error is retold without Chatwoot's words (the public API's addresses carry credentials). */
async function step<T>(label: string, gone: Gone, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (!(err instanceof ChatwootError)) throw err;
    if (err instanceof ContactGone) throw err;
    if (err.status === 404) throw new GoneInChatwoot(gone, label);
    throw new ChatwootError(err.kind, `Chatwoot: ${label} failed (${err.kind}${err.status ? ` ${err.status}` : ''})`, err.status);
  }
}

/** Rounds of "forget what is gone, go again" in one delivery: conversation, contact inbox, inbox, then the send. */
const maxRounds = 4;

/**
 * Sends one client message (the outbox's item); answers Chatwoot's message id, or null when there
 * is nothing left to send (the thread or the person is gone). Throws a ChatwootError to be retried.
 */
export async function deliverClientMessage(
  ctx: RequestContext,
  sealer: Sealer,
  target: ChatwootTarget,
  chatwootAccountId: number,
  messageId: string,
  attempts: number,
  files?: FileStorage,
): Promise<number | null> {
  const { accountId } = ctx;
  const row = (await read(ctx, (trx) =>
    trx('client_messages as m')
      .join('client_threads as t', (j) => j.on('t.account_id', 'm.account_id').andOn('t.id', 'm.thread_id'))
      .join('portal_users as p', (j) => j.on('p.account_id', 'm.account_id').andOn('p.id', 'm.portal_user_id'))
      .leftJoin('jobs as j', (j) => j.on('j.account_id', 't.account_id').andOn('j.id', 't.job_id'))
      .where({ 'm.account_id': accountId, 'm.id': messageId, 'm.direction': 'from_client' })
      .first('m.id', 'm.content', 'm.attachments', 'm.status', 'm.chatwoot_message_id', 'm.thread_id', 't.job_id', 'm.portal_user_id', 'm.created_at', 'j.number', 'p.chatwoot_contact_id as contact_id'),
  )) as Pending | undefined;
  if (!row) return null;
  if (row.status === 'sent') return row.chatwoot_message_id === null ? null : Number(row.chatwoot_message_id);
  if (row.contact_id === null) throw new ContactGone();

  let inbox = await storedClientInbox(ctx.db, sealer, accountId);
  let lookBeforePosting = attempts > 0;
  for (let round = 1; ; round++) {
    try {
      inbox ??= await step('set up the client portal inbox', 'inbox', () => ensureClientInbox(ctx, sealer, target, chatwootAccountId));
      const sent = await sendOnce(ctx, sealer, target, chatwootAccountId, inbox, row, lookBeforePosting, files);
      announceClientThread(ctx.db, accountId, row.portal_user_id, row.thread_id);
      return sent;
    } catch (err) {
      if (!(err instanceof GoneInChatwoot) || round >= maxRounds) throw err;
      let what = err.what;
      // The public API answers 404 alike for a gone contact inbox and a gone inbox: the inbox list tells which.
      if (what === 'contact_inbox' && !(await step('list the inboxes', 'inbox', () => listInboxes(target, chatwootAccountId))).some((i) => i.id === inbox!.inboxId)) what = 'inbox';
      await forget(ctx, row, inbox!, what);
      if (what === 'inbox') inbox = await step('set up the client portal inbox', 'inbox', () => ensureClientInbox(ctx, sealer, target, chatwootAccountId));
      // The message may have been posted in the conversation now gone: a new one has not got it.
      lookBeforePosting = false;
    }
  }
}

/** Forgets what Chatwoot says is gone: the thread's conversation, and with the contact inbox or inbox the client's contact inbox too. */
async function forget(ctx: RequestContext, row: Pending, inbox: ClientInbox, what: Gone) {
  await write(ctx, async (trx, audit) => {
    const thread = { account_id: ctx.accountId, id: row.thread_id };
    const before = await trx('client_threads').where(thread).first('chatwoot_inbox_id', 'chatwoot_conversation_id');
    await trx('client_threads').where(thread).update({ chatwoot_inbox_id: null, chatwoot_conversation_id: null });
    if (what !== 'conversation') await trx('client_chat_contacts').where({ account_id: ctx.accountId, portal_user_id: row.portal_user_id, chatwoot_inbox_id: inbox.inboxId }).del();
    await audit({
      action: 'client_thread.gone_in_chatwoot',
      resourceType: 'client_thread',
      resourceId: row.thread_id,
      before: { chatwoot_inbox_id: before?.chatwoot_inbox_id ?? null, chatwoot_conversation_id: before?.chatwoot_conversation_id ?? null },
      after: { gone: what },
    });
  });
}

/** A source id on the client's existing contact for the inbox: stored (sealed), or made now through the application API. */
async function contactInbox(ctx: RequestContext, sealer: Sealer, target: ChatwootTarget, chatwootAccountId: number, inbox: ClientInbox, row: Pending): Promise<string> {
  const { accountId } = ctx;
  const stored = await read(ctx, (trx) =>
    trx('client_chat_contacts').where({ account_id: accountId, portal_user_id: row.portal_user_id, chatwoot_inbox_id: inbox.inboxId }).first('source_id_sealed', 'chatwoot_contact_id'),
  );
  const contactId = Number(row.contact_id);
  // Bound to another contact since (staff moved the portal user): a source id of the old one is not used.
  if (stored && Number(stored.chatwoot_contact_id) === contactId) return sealer.open(stored.source_id_sealed);
  let sourceId: string;
  try {
    sourceId = await createContactInbox(target, chatwootAccountId, contactId, inbox.inboxId);
  } catch (err) {
    if (!(err instanceof ChatwootError) || err.status !== 404) return step('give the client’s contact a contact inbox', 'contact_inbox', () => Promise.reject(err));
    // The contact or the inbox is gone (Chatwoot answers 404 for either): the inbox list tells which.
    const inboxes = await step('list the inboxes', 'inbox', () => listInboxes(target, chatwootAccountId));
    if (!inboxes.some((i) => i.id === inbox.inboxId)) throw new GoneInChatwoot('inbox', 'give the client’s contact a contact inbox');
    throw new ContactGone();
  }
  await write(ctx, async (trx, audit) => {
    await trx('client_chat_contacts')
      .insert({ account_id: accountId, portal_user_id: row.portal_user_id, chatwoot_inbox_id: inbox.inboxId, chatwoot_contact_id: contactId, source_id_sealed: sealer.seal(sourceId) })
      .onConflict(['account_id', 'portal_user_id', 'chatwoot_inbox_id'])
      .merge();
    await audit({ action: 'client_chat.contact_inbox_created', resourceType: 'portal_user', resourceId: row.portal_user_id, after: { chatwoot_inbox_id: inbox.inboxId, chatwoot_contact_id: contactId } });
  });
  return sourceId;
}

async function sendOnce(
  ctx: RequestContext,
  sealer: Sealer,
  target: ChatwootTarget,
  chatwootAccountId: number,
  inbox: ClientInbox,
  row: Pending,
  lookBeforePosting: boolean,
  files: FileStorage | undefined,
): Promise<number> {
  const { accountId } = ctx;
  const where: PublicInbox = { baseUrl: target.baseUrl, timeoutMs: target.timeoutMs, inboxIdentifier: inbox.identifier };
  const threadKey = { account_id: accountId, id: row.thread_id };
  const contactId = Number(row.contact_id);
  const sourceId = await contactInbox(ctx, sealer, target, chatwootAccountId, inbox, row);

  // The thread's conversation, opened by its first message.
  const thread = await read(ctx, (trx) => trx('client_threads').where(threadKey).first('chatwoot_inbox_id', 'chatwoot_conversation_id'));
  let conversationId = thread?.chatwoot_conversation_id != null && Number(thread.chatwoot_inbox_id) === inbox.inboxId ? Number(thread.chatwoot_conversation_id) : null;
  if (conversationId === null) {
    const reference = row.number === null ? null : jobReference(Number(row.number));
    // An opening tried before may have opened it without hearing back: the contact's conversations
    // in this inbox show it (a job's by its attribute; the general one has none), unless another
    // thread of ours holds it.
    if (thread?.chatwoot_inbox_id != null && Number(thread.chatwoot_inbox_id) === inbox.inboxId) {
      const listed = await step('list the client’s conversations', 'contact_inbox', () => contactConversations(target, chatwootAccountId, contactId)).catch((err: unknown) => {
        if (err instanceof GoneInChatwoot) throw new ContactGone();
        throw err;
      });
      const held = new Set(
        (await read(ctx, (trx) => trx('client_threads').where({ account_id: accountId }).whereNotNull('chatwoot_conversation_id').pluck('chatwoot_conversation_id'))).map(Number),
      );
      const job = (c: (typeof listed)[number]) => (c.custom_attributes as Record<string, unknown> | undefined)?.onelink_job ?? null;
      conversationId = listed.filter((c) => c.inbox_id === inbox.inboxId && job(c) === reference && !held.has(c.id)).sort((a, b) => b.id - a.id)[0]?.id ?? null;
    }
    if (conversationId === null) {
      // Recorded first: the thread says an opening was tried in this inbox.
      await write(ctx, async (trx, audit) => {
        await trx('client_threads').where(threadKey).update({ chatwoot_inbox_id: inbox.inboxId, chatwoot_conversation_id: null });
        await audit({ action: 'client_thread.opening', resourceType: 'client_thread', resourceId: row.thread_id, after: { chatwoot_inbox_id: inbox.inboxId } });
      });
      const body = reference ? { custom_attributes: { onelink_job: reference } } : {};
      conversationId = (await step('open the thread’s conversation', 'contact_inbox', () => createPublicConversation(where, sourceId, body))).id;
    }
    const opened = conversationId;
    await write(ctx, async (trx, audit) => {
      await trx('client_threads').where(threadKey).update({ chatwoot_inbox_id: inbox.inboxId, chatwoot_conversation_id: opened });
      await audit({ action: 'client_thread.opened', resourceType: 'client_thread', resourceId: row.thread_id, after: { chatwoot_conversation_id: opened, job_id: row.job_id } });
      // The job's whole story is one thread: the conversation joins the job's links and story.
      if (row.job_id) await linkConversationToJob(trx, ctx, audit, row.job_id, opened, contactId);
    });
  }

  const storedFiles = (row.attachments ?? []).filter(isStored);
  let message: PublicMessage | undefined;
  if (lookBeforePosting) {
    // Posted before without an answer? Ours is the incoming message with the same text and files,
    // posted since we stored it, not yet claimed by another of ours (as for vendors' messages).
    const claimed = new Set(
      (
        await read(ctx, (trx) =>
          trx('client_messages').where({ account_id: accountId, chatwoot_conversation_id: conversationId }).whereNotNull('chatwoot_message_id').pluck('chatwoot_message_id'),
        )
      ).map(Number),
    );
    const since = Math.floor(new Date(row.created_at).getTime() / 1000) - clockSkewSeconds;
    const names = JSON.stringify(storedFiles.map((f) => comparable(f.filename)));
    const listed = await step('list the conversation’s messages', 'conversation', () =>
      scanPublicMessages(where, sourceId, conversationId, (page) => page.some((m) => (m.created_at ?? 0) < since)),
    );
    message = listed.find(
      (m) => m.message_type === 0 && (m.content ?? '') === row.content && JSON.stringify(listedFilenames(m)) === names && (m.created_at ?? since) >= since && !claimed.has(m.id),
    );
  }
  const attached = message ? [] : await filesOf(storedFiles, files);
  message ??= await step('post the message', 'conversation', () =>
    attached.length
      ? createPublicMessageWithFiles(where, sourceId, conversationId, { content: row.content, echo_id: row.id, files: attached })
      : createPublicMessage(where, sourceId, conversationId, { content: row.content, echo_id: row.id }),
  );
  const sent = message;
  await write(ctx, async (trx, audit) => {
    const changed = await trx('client_messages')
      .where({ account_id: accountId, id: row.id })
      .whereNot({ status: 'sent' })
      .update({ status: 'sent', chatwoot_message_id: sent.id, chatwoot_conversation_id: conversationId, sent_at: trx.fn.now(), last_error: null });
    if (!changed) return audit.nothingChanged();
    await audit({ action: 'client_message.sent', resourceType: 'client_thread', resourceId: row.thread_id, after: { message_id: row.id, chatwoot_message_id: sent.id } });
  });
  return sent.id;
}

/** A client message the outbox gave up on: the portal shows it failed (the client may send it again as a new message). */
export async function clientMessageFailed(ctx: RequestContext, messageId: string, reason: string) {
  const failed = await write(ctx, async (trx, audit) => {
    const [row] = await trx('client_messages')
      .where({ account_id: ctx.accountId, id: messageId, status: 'sending' })
      .update({ status: 'failed', last_error: reason.slice(0, 500) })
      .returning(['thread_id', 'portal_user_id']);
    if (!row) {
      audit.nothingChanged();
      return null;
    }
    await audit({ action: 'client_message.failed', resourceType: 'client_thread', resourceId: row.thread_id, after: { message_id: messageId, reason: reason.slice(0, 200) } });
    return row as { thread_id: string; portal_user_id: string };
  });
  if (failed) announceClientThread(ctx.db, ctx.accountId, failed.portal_user_id, failed.thread_id);
}
