// Carrying a vendor's message to Chatwoot, for the Chatwoot outbox (one item per message): the
// vendors inbox (set up now if nobody did), the person as a contact of it, the job's conversation
// with them (custom attribute onelink_job), then the message as an incoming one from the contact.
// Each step is stored as soon as Chatwoot answers, so a retry goes on from where it stopped; a step
// whose answer may have been lost is looked up before it is repeated (the conversation by its
// attribute, the message by its text), so nothing is posted twice. A thread's messages leave one
// at a time, in order (the outbox holds a later one back while an earlier one is still sending).
// What Chatwoot no longer has (an inbox, contact or conversation someone deleted: a 404) is
// forgotten here and made again, so one deletion does not fail that person's messages for good.
import type { RequestContext } from '../context.ts';
import { ChatwootError, contactConversations, type ChatwootTarget } from '../chatwoot/client.ts';
import { buffer } from 'node:stream/consumers';
import {
  createPublicContact,
  createPublicConversation,
  createPublicMessage,
  createPublicMessageWithFiles,
  scanPublicMessages,
  type PublicInbox,
  type PublicMessage,
  type PublicMessageFile,
} from '../chatwoot/public-api.ts';
import { ensureVendorInbox, storedVendorInbox, type VendorInbox } from '../chatwoot/vendor-inbox.ts';
import { read, write } from '../db/tenant.ts';
import { jobReference } from '../modules/jobs/rules.ts';
import type { Sealer } from '../security/crypto.ts';
import type { FileStorage } from '../storage/index.ts';
import { isStored, type StoredAttachment } from './attachments.ts';

export interface VendorMessageItem { kind: 'vendor_message'; messageId: string }

/** How a vendor user is known to Chatwoot: never their e-mail or phone, which would merge them with a customer of the same address. */
export const vendorContactIdentifier = (portalUserId: string) => `onelink-vendor-user-${portalUserId}`;

interface Pending {
  id: string;
  content: string;
  attachments: unknown[];
  status: string;
  chatwoot_message_id: string | null;
  job_id: string;
  portal_user_id: string;
  created_at: Date;
  number: number;
  name: string;
}

interface Contact { source_id_sealed: string; chatwoot_contact_id: string | null }

/** What a 404 from a step says Chatwoot no longer has. */
type Gone = 'inbox' | 'contact' | 'conversation';

/** A 404 from Chatwoot: `what` is gone there. Final (a bad response) if it keeps coming back. */
class GoneInChatwoot extends ChatwootError {
  constructor(
    readonly what: Gone,
    step: string,
  ) {
    super('bad_response', `Chatwoot answered 404 to ${step}: the vendors ${what} is gone there`, 404);
  }
}

/**
 * Runs one call to Chatwoot. Its error is retold without Chatwoot's own words: the public client
 * API's addresses carry its credentials (inbox identifier, contact source id), and these messages
 * end in outbox rows, the message's last error and its audit event.
 */
async function step<T>(label: string, gone: Gone, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (!(err instanceof ChatwootError)) throw err;
    if (err.status === 404) throw new GoneInChatwoot(gone, label);
    throw new ChatwootError(err.kind, `Chatwoot: ${label} failed (${err.kind}${err.status ? ` ${err.status}` : ''})`, err.status);
  }
}

/** Rounds of "forget what is gone, go again" in one delivery: conversation, contact, inbox, then the send. */
const maxRounds = 4;

/** Chatwoot's clock and ours may differ a little: a message posted for ours is not older than this before it was stored. */
export const clockSkewSeconds = 120;

/**
 * Sends one vendor message (the outbox's item); answers Chatwoot's message id, or null when there
 * is nothing left to send (the job or the person is gone). Throws a ChatwootError to be retried.
 */
export async function deliverVendorMessage(
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
    trx('vendor_messages as m')
      .join('jobs as j', (j) => j.on('j.account_id', 'm.account_id').andOn('j.id', 'm.job_id'))
      .join('portal_users as p', (j) => j.on('p.account_id', 'm.account_id').andOn('p.id', 'm.portal_user_id'))
      .where({ 'm.account_id': accountId, 'm.id': messageId, 'm.direction': 'from_vendor' })
      .first('m.id', 'm.content', 'm.attachments', 'm.status', 'm.chatwoot_message_id', 'm.job_id', 'm.portal_user_id', 'm.created_at', 'j.number', 'p.name'),
  )) as Pending | undefined;
  if (!row) return null;
  if (row.status === 'sent') return row.chatwoot_message_id === null ? null : Number(row.chatwoot_message_id);

  let inbox = await storedVendorInbox(ctx.db, sealer, accountId);
  let lookBeforePosting = attempts > 0;
  for (let round = 1; ; round++) {
    try {
      inbox ??= await step('set up the vendors inbox', 'inbox', () => ensureVendorInbox(ctx, sealer, target, chatwootAccountId));
      return await sendOnce(ctx, sealer, target, chatwootAccountId, inbox, row, lookBeforePosting, files);
    } catch (err) {
      if (!(err instanceof GoneInChatwoot) || round >= maxRounds) throw err;
      await forget(ctx, row, inbox!, err.what);
      if (err.what === 'inbox') inbox = await step('set up the vendors inbox', 'inbox', () => ensureVendorInbox(ctx, sealer, target, chatwootAccountId));
      // The message may have been posted in the conversation now gone: a new one has not got it.
      lookBeforePosting = false;
    }
  }
}

/** Forgets what Chatwoot says is gone: the thread's conversation, and with the contact or inbox the person's contact too. */
async function forget(ctx: RequestContext, row: Pending, inbox: VendorInbox, what: Gone) {
  await write(ctx, async (trx, audit) => {
    const thread = { account_id: ctx.accountId, job_id: row.job_id, portal_user_id: row.portal_user_id };
    const before = await trx('vendor_threads').where(thread).first('chatwoot_inbox_id', 'chatwoot_conversation_id');
    await trx('vendor_threads').where(thread).update({ chatwoot_inbox_id: null, chatwoot_conversation_id: null });
    if (what !== 'conversation') await trx('vendor_chat_contacts').where({ account_id: ctx.accountId, portal_user_id: row.portal_user_id, chatwoot_inbox_id: inbox.inboxId }).del();
    await audit({
      action: 'vendor_thread.gone_in_chatwoot',
      resourceType: 'job',
      resourceId: row.job_id,
      before: { portal_user_id: row.portal_user_id, chatwoot_inbox_id: before?.chatwoot_inbox_id ?? null, chatwoot_conversation_id: before?.chatwoot_conversation_id ?? null },
      after: { portal_user_id: row.portal_user_id, gone: what },
    });
  });
}

/**
 * A stored file of the message is gone: no retry brings it back, so the message fails (the outbox
 * gives up on a bad_response at once) and the thread's later messages go on.
 */
export class MissingMessageFile extends ChatwootError {
  constructor(filename: string) {
    super('bad_response', `A file of this message is no longer stored (${filename}); send it again with the file`);
  }
}

/** The message's files as they are posted, in the order they were sent: opened, not read (a Blob where the storage gives one). */
export async function filesOf(stored: StoredAttachment[], files: FileStorage | undefined): Promise<PublicMessageFile[]> {
  if (!stored.length) return [];
  // Not a Chatwoot failure: retried by the outbox like one, so a worker without storage loses nothing.
  if (!files) throw new Error('The message has files but this process has no file storage to read them from');
  const out: PublicMessageFile[] = [];
  for (const a of stored) {
    let data: Blob | Uint8Array<ArrayBuffer>;
    try {
      data = files.openBlob ? await files.openBlob(a.storage_key, a.content_type) : new Uint8Array(await buffer(await files.open(a.storage_key)));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new MissingMessageFile(a.filename);
      throw err;
    }
    out.push({ filename: a.filename, contentType: a.content_type, data });
  }
  return out;
}

/** A file name as compared with the last segment of Chatwoot's data_url (Active Storage may rewrite some characters). */
export const comparable = (name: string) => name.toLowerCase().replace(/[^a-z0-9]/g, '');

/** The names of a listed message's attachments, from their data_url (…/blobs/redirect/<id>/<filename>), in order. */
export function listedFilenames(m: PublicMessage): string[] {
  const attachments = (m as { attachments?: unknown }).attachments;
  return (Array.isArray(attachments) ? attachments : []).map((a) => {
    const url = typeof (a as { data_url?: unknown })?.data_url === 'string' ? ((a as { data_url: string }).data_url) : '';
    let last = url.split('?')[0]!.split('/').filter(Boolean).at(-1) ?? '';
    try {
      last = decodeURIComponent(last);
    } catch {
      // keep it as written
    }
    return comparable(last);
  });
}

async function sendOnce(
  ctx: RequestContext,
  sealer: Sealer,
  target: ChatwootTarget,
  chatwootAccountId: number,
  inbox: VendorInbox,
  row: Pending,
  lookBeforePosting: boolean,
  files: FileStorage | undefined,
): Promise<number> {
  const { accountId } = ctx;
  const where: PublicInbox = { baseUrl: target.baseUrl, timeoutMs: target.timeoutMs, inboxIdentifier: inbox.identifier };
  const threadKey = { account_id: accountId, job_id: row.job_id, portal_user_id: row.portal_user_id };

  // The person as a contact of the inbox (a lost answer only leaves Chatwoot a spare contact inbox: it reuses the contact by identifier).
  let contact = (await read(ctx, (trx) =>
    trx('vendor_chat_contacts').where({ account_id: accountId, portal_user_id: row.portal_user_id, chatwoot_inbox_id: inbox.inboxId }).first('source_id_sealed', 'chatwoot_contact_id'),
  )) as Contact | undefined;
  if (!contact) {
    const created = await step('create the vendor contact', 'inbox', () => createPublicContact(where, { name: row.name, identifier: vendorContactIdentifier(row.portal_user_id) }));
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
  const thread = await read(ctx, (trx) => trx('vendor_threads').where(threadKey).first('chatwoot_inbox_id', 'chatwoot_conversation_id'));
  let conversationId = thread?.chatwoot_conversation_id != null && Number(thread.chatwoot_inbox_id) === inbox.inboxId ? Number(thread.chatwoot_conversation_id) : null;
  if (conversationId === null) {
    const reference = jobReference(row.number);
    // Whoever tried to open it before (this message or an earlier one of the thread) may have
    // opened it without hearing back: Chatwoot's contact view shows the attribute.
    if (contact.chatwoot_contact_id) {
      const contactId = Number(contact.chatwoot_contact_id);
      const listed = await step('list the vendor contact’s conversations', 'contact', () => contactConversations(target, chatwootAccountId, contactId));
      conversationId = listed.find((c) => c.inbox_id === inbox.inboxId && (c.custom_attributes as Record<string, unknown> | undefined)?.onelink_job === reference)?.id ?? null;
    }
    if (conversationId === null) {
      // Recorded first: the thread says an opening was tried in this inbox.
      await write(ctx, async (trx, audit) => {
        await trx('vendor_threads').where(threadKey).update({ chatwoot_inbox_id: inbox.inboxId, chatwoot_conversation_id: null });
        await audit({ action: 'vendor_thread.opening', resourceType: 'job', resourceId: row.job_id, after: { portal_user_id: row.portal_user_id, chatwoot_inbox_id: inbox.inboxId } });
      });
      conversationId = (await step('open the job’s conversation', 'contact', () => createPublicConversation(where, sourceId, { custom_attributes: { onelink_job: reference } }))).id;
    }
    const opened = conversationId;
    await write(ctx, async (trx, audit) => {
      await trx('vendor_threads').where(threadKey).update({ chatwoot_inbox_id: inbox.inboxId, chatwoot_conversation_id: opened });
      await audit({ action: 'vendor_thread.opened', resourceType: 'job', resourceId: row.job_id, after: { portal_user_id: row.portal_user_id, chatwoot_conversation_id: opened } });
    });
  }

  // The files are opened only when the message is to be posted (not when it is found already there).
  const storedFiles = (row.attachments ?? []).filter(isStored);
  let message: PublicMessage | undefined;
  if (lookBeforePosting) {
    // Posted before without an answer? The echo id we send comes back on Chatwoot's websocket only,
    // never in its API answers: ours is the incoming message with the same text and the same files
    // (their names, in order, from Chatwoot's data_url: with no text, the files alone tell it),
    // posted since we stored it, not yet claimed by another of ours. The list shows 20 at a time:
    // paged back to then.
    const claimed = new Set(
      (
        await read(ctx, (trx) =>
          trx('vendor_messages').where({ account_id: accountId, chatwoot_conversation_id: conversationId }).whereNotNull('chatwoot_message_id').pluck('chatwoot_message_id'),
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
