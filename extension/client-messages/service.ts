// A client's conversations with the business, as the client portal shows them: one general thread
// per client and one per (client, job), each a conversation of the account's "Client portal"
// inbox in Chatwoot on the client's existing contact. A message is stored and queued in one unit
// of work (the Chatwoot outbox carries it, so an outage loses nothing); the device's id makes a
// resend the same message. Every query here is scoped by the account and by the client asking: a
// thread of another client is not found, whatever its id.
import type { Knex } from 'knex';
import type { RequestContext } from '../context.ts';
import { read, write, type Audit } from '../db/tenant.ts';
import { NotFoundError, UnprocessableError } from '../errors.ts';
import { jobReference } from '../modules/jobs/rules.ts';
import type { Services } from '../services.ts';
import { isStored, type StoredAttachment } from '../vendor-messages/attachments.ts';
import type { MessageAttachment } from '../vendor-messages/replies.ts';
import { clientAttachmentLink } from './attachments.ts';

export type { StoredAttachment };

export interface ClientMessage {
  id: string;
  client_id: string | null;
  direction: 'from_client' | 'from_agent';
  author_name: string;
  content: string;
  attachments: MessageAttachment[];
  status: 'sending' | 'sent' | 'failed';
  created_at: string;
}

export interface ClientThread {
  id: string;
  job: { id: string; reference: string; summary: string } | null;
  title: string;
  last_message: { content: string; direction: ClientMessage['direction']; created_at: string } | null;
  unread: number;
}

const columns = ['id', 'client_id', 'direction', 'author_name', 'content', 'attachments', 'status', 'created_at'] as const;

/** At most this many of a thread's latest messages are shown. */
export const threadLimit = 500;

type Signer = Pick<Services, 'urlSigner'>;

/** The client's own files are shown through signed links of ours; agents' are Chatwoot's links as they came. */
const shownAttachments = (signer: Signer, accountId: number, row: Record<string, unknown>): MessageAttachment[] =>
  ((row.attachments as unknown[]) ?? []).map((a, index) =>
    isStored(a) ? { url: clientAttachmentLink(signer, accountId, row.id as string, index), filename: a.filename, content_type: a.content_type } : (a as MessageAttachment),
  );

const present = (signer: Signer, accountId: number, row: Record<string, unknown>): ClientMessage => ({
  id: row.id as string,
  client_id: (row.client_id as string | null) ?? null,
  direction: row.direction as ClientMessage['direction'],
  author_name: row.author_name as string,
  content: row.content as string,
  attachments: shownAttachments(signer, accountId, row),
  status: row.status as ClientMessage['status'],
  created_at: new Date(row.created_at as string).toISOString(),
});

/** The client portal user asking; staff and vendors have no thread here (staff answer in Chatwoot). */
export function clientUser(ctx: RequestContext): string {
  if (ctx.contactId === undefined || ctx.actor.type !== 'portal_user') throw new NotFoundError('Thread');
  return ctx.actor.id;
}

/** The job of a client's thread, when it is theirs: a job of their Chatwoot contact. */
async function clientJob(trx: Knex.Transaction, accountId: number, portalUserId: string, jobId: string) {
  return trx('jobs as j')
    .join('portal_users as p', (j) => j.on('p.account_id', 'j.account_id').andOn('p.chatwoot_contact_id', 'j.chatwoot_contact_id'))
    .where({ 'j.account_id': accountId, 'j.id': jobId, 'p.id': portalUserId, 'p.kind': 'client' })
    .first('j.id', 'j.number', 'j.summary');
}

/**
 * The client's thread (general when `jobId` is null, else about that job), created on first use,
 * inside the caller's unit of work. Throws NotFound for a job that is not the client's.
 */
export async function threadFor(trx: Knex.Transaction, ctx: RequestContext, portalUserId: string, jobId: string | null): Promise<{ id: string }> {
  const { accountId } = ctx;
  if (jobId !== null && !(await clientJob(trx, accountId, portalUserId, jobId))) throw new NotFoundError('Job');
  const conflict = jobId === null ? '(account_id, portal_user_id) where job_id is null' : '(account_id, portal_user_id, job_id) where job_id is not null';
  await trx.raw(`insert into client_threads (account_id, portal_user_id, job_id) values (?, ?, ?) on conflict ${conflict} do nothing`, [accountId, portalUserId, jobId]);
  const query = trx('client_threads').where({ account_id: accountId, portal_user_id: portalUserId });
  const row = await (jobId === null ? query.whereNull('job_id') : query.where({ job_id: jobId })).first('id');
  return { id: row.id as string };
}

/** The caller's thread by id (with its job, if any), or NotFound: another client's, or a job no longer theirs. */
async function requireThreadRow(trx: Knex.Transaction, ctx: RequestContext, threadId: string) {
  const portalUserId = clientUser(ctx);
  const thread = await trx('client_threads').where({ account_id: ctx.accountId, id: threadId, portal_user_id: portalUserId }).first('id', 'job_id', 'last_read_at', 'chatwoot_conversation_id');
  if (!thread) throw new NotFoundError('Thread');
  if (thread.job_id && !(await clientJob(trx, ctx.accountId, portalUserId, thread.job_id))) throw new NotFoundError('Thread');
  return thread as { id: string; job_id: string | null; last_read_at: Date | null; chatwoot_conversation_id: string | null };
}

/** Throws NotFound unless the caller may write in this thread (checked before a file is read). */
export async function requireClientThread(ctx: RequestContext, threadId: string): Promise<void> {
  await read(ctx, (trx) => requireThreadRow(trx, ctx, threadId));
}

/** The client's threads as listed: with the job, last message and unread count. */
async function threadSummaries(trx: Knex.Transaction, ctx: RequestContext, portalUserId: string, threadIds?: string[]): Promise<ClientThread[]> {
  const { accountId } = ctx;
  const query = trx('client_threads as t')
    .leftJoin('jobs as j', (j) => j.on('j.account_id', 't.account_id').andOn('j.id', 't.job_id'))
    .leftJoin('portal_users as p', (j) => j.on('p.account_id', 't.account_id').andOn('p.id', 't.portal_user_id'))
    .where({ 't.account_id': accountId, 't.portal_user_id': portalUserId })
    // A job thread is listed while the job is the client's (its contact is theirs).
    .where((w) => w.whereNull('t.job_id').orWhereRaw('j.chatwoot_contact_id = p.chatwoot_contact_id'))
    .select(
      't.id',
      't.job_id',
      't.created_at',
      'j.number',
      'j.summary',
      trx.raw(
        `(select count(*)::int from client_messages m where m.account_id = t.account_id and m.thread_id = t.id and m.direction = 'from_agent' and m.created_at > coalesce(t.last_read_at, '-infinity')) as unread`,
      ),
      trx.raw(
        `(select json_build_object('content', m.content, 'direction', m.direction, 'created_at', m.created_at, 'files', jsonb_array_length(m.attachments))
            from client_messages m where m.account_id = t.account_id and m.thread_id = t.id order by m.created_at desc, m.id desc limit 1) as last_message`,
      ),
    );
  if (threadIds) query.whereIn('t.id', threadIds);
  const account = await trx('accounts').where({ account_id: accountId }).first('name');
  const rows = await query;
  const threads = rows.map((row): ClientThread & { sortAt: number } => {
    const last = row.last_message as { content: string; direction: ClientMessage['direction']; created_at: string } | null;
    const job = row.job_id ? { id: row.job_id as string, reference: jobReference(Number(row.number)), summary: row.summary as string } : null;
    return {
      id: row.id,
      job,
      title: job ? job.summary : ((account?.name as string | undefined) ?? ''),
      last_message: last ? { content: last.content, direction: last.direction, created_at: new Date(last.created_at).toISOString() } : null,
      unread: Number(row.unread),
      sortAt: new Date(last?.created_at ?? row.created_at).getTime(),
    };
  });
  // The general conversation first, then job threads by their latest message.
  threads.sort((a, b) => Number(a.job !== null) - Number(b.job !== null) || b.sortAt - a.sortAt);
  return threads.map(({ sortAt: _sortAt, ...thread }) => thread);
}

/**
 * The client's threads: the general one first (created on first use), then their job threads;
 * with `jobId`, that job's thread only (created on first use).
 */
export async function listClientThreads(ctx: RequestContext, jobId?: string): Promise<ClientThread[]> {
  const portalUserId = clientUser(ctx);
  return write(ctx, async (trx, audit) => {
    const before = await trx('client_threads').where({ account_id: ctx.accountId, portal_user_id: portalUserId }).count<{ n: string }[]>('* as n');
    const { id } = await threadFor(trx, ctx, portalUserId, jobId ?? null);
    const after = await trx('client_threads').where({ account_id: ctx.accountId, portal_user_id: portalUserId }).count<{ n: string }[]>('* as n');
    if (Number(after[0]!.n) > Number(before[0]!.n)) await audit({ action: 'client_thread.created', resourceType: 'client_thread', resourceId: id, after: { portal_user_id: portalUserId, job_id: jobId ?? null } });
    else audit.nothingChanged();
    return threadSummaries(trx, ctx, portalUserId, jobId ? [id] : undefined);
  });
}

/** A thread's latest messages, oldest first, with the thread as listed. */
export async function listClientMessages(signer: Signer, ctx: RequestContext, threadId: string): Promise<{ thread: ClientThread; messages: ClientMessage[] }> {
  const portalUserId = clientUser(ctx);
  return read(ctx, async (trx) => {
    await requireThreadRow(trx, ctx, threadId);
    const [thread] = await threadSummaries(trx, ctx, portalUserId, [threadId]);
    const rows = await trx('client_messages')
      .where({ account_id: ctx.accountId, thread_id: threadId, portal_user_id: portalUserId })
      .orderBy([{ column: 'created_at', order: 'desc' }, { column: 'id', order: 'desc' }])
      .limit(threadLimit)
      .select(columns);
    return { thread: thread!, messages: rows.reverse().map((row) => present(signer, ctx.accountId, row)) };
  });
}

/** The filenames a message's attachments were sent with, in order (what a resend must repeat). */
const filenamesOf = (attachments: unknown) => ((attachments as unknown[]) ?? []).map((a) => (isStored(a) ? a.filename : ''));

function sameMessage(row: Record<string, unknown>, threadId: string, input: { content: string; filenames?: string[] }) {
  const filenames = input.filenames ?? [];
  if (row.thread_id !== threadId || row.content !== input.content || JSON.stringify(filenamesOf(row.attachments)) !== JSON.stringify(filenames)) {
    throw new UnprocessableError('idempotency_key_reused', 'This message id was already used for another message; give a new message a new id');
  }
}

/**
 * The message the device already sent under this id, if any (a resend answers it without storing
 * its files again); with other content or other files the id is refused as reused.
 */
export async function earlierClientMessage(signer: Signer, ctx: RequestContext, threadId: string, input: { id: string; content: string; filenames?: string[] }): Promise<ClientMessage | null> {
  const portalUserId = clientUser(ctx);
  return read(ctx, async (trx) => {
    const row = await trx('client_messages').where({ account_id: ctx.accountId, portal_user_id: portalUserId, client_id: input.id }).first([...columns, 'thread_id']);
    if (!row) return null;
    sameMessage(row, threadId, input);
    return present(signer, ctx.accountId, row);
  });
}

/** Queues a client's message for Chatwoot (its conversation may not exist yet: the delivery opens it). */
async function queueDelivery(trx: Knex.Transaction, accountId: number, messageId: string) {
  const item = { kind: 'client_message' as const, messageId };
  await trx('chatwoot_outbox').insert({ account_id: accountId, kind: item.kind, chatwoot_conversation_id: null, payload: JSON.stringify(item) });
}

/**
 * Stores a from_client message in a thread of the client's (see threadFor) and queues it on the
 * Chatwoot outbox, inside the caller's unit of work. The same device id again answers the message
 * stored the first time (nothing is queued twice; `queued` false).
 */
export async function queueClientMessage(
  trx: Knex.Transaction,
  ctx: RequestContext,
  audit: Audit,
  input: { threadId: string; portalUserId: string; clientId: string; content: string; attachments?: StoredAttachment[] },
): Promise<{ id: string; queued: boolean }> {
  const { accountId } = ctx;
  const attachments = input.attachments ?? [];
  const author = await trx('portal_users').where({ account_id: accountId, id: input.portalUserId }).first('name');
  // Two sends of the same id at once: the second finds the first's row instead of a duplicate.
  const { rows } = await trx.raw<{ rows: Array<{ id: string }> }>(
    `insert into client_messages (account_id, client_id, thread_id, portal_user_id, direction, author_name, content, attachments, status)
     select ?, ?, t.id, t.portal_user_id, 'from_client', ?, ?, ?::jsonb, 'sending'
       from client_threads t where t.account_id = ? and t.id = ? and t.portal_user_id = ?
     on conflict (account_id, portal_user_id, client_id) where client_id is not null do nothing
     returning id`,
    [accountId, input.clientId, author?.name ?? 'Client', input.content, JSON.stringify(attachments), accountId, input.threadId, input.portalUserId],
  );
  const created = rows[0];
  if (!created) {
    const earlier = await trx('client_messages').where({ account_id: accountId, portal_user_id: input.portalUserId, client_id: input.clientId }).first('id');
    if (!earlier) throw new NotFoundError('Thread');
    return { id: earlier.id as string, queued: false };
  }
  await queueDelivery(trx, accountId, created.id);
  const files = attachments.length ? { files: attachments.map((a) => ({ filename: a.filename, content_type: a.content_type, size: a.size, sha256: a.sha256 })) } : {};
  await audit({ action: 'client_message.created', resourceType: 'client_thread', resourceId: input.threadId, after: { message_id: created.id, client_id: input.clientId, length: input.content.length, ...files } });
  return { id: created.id, queued: true };
}

/**
 * A client sends a message in one of their threads (status sending) with the files already put in
 * storage for it. The same device id again answers the message stored the first time (`replayed`:
 * the caller removes the files it stored for nothing); with other content it is refused.
 */
export async function sendClientMessage(
  signer: Signer,
  ctx: RequestContext,
  threadId: string,
  input: { id: string; content: string; attachments?: StoredAttachment[] },
): Promise<{ message: ClientMessage; replayed: boolean }> {
  const portalUserId = clientUser(ctx);
  const { accountId } = ctx;
  const attachments = input.attachments ?? [];
  const expected = { content: input.content, filenames: attachments.map((a) => a.filename) };
  return write(ctx, async (trx, audit) => {
    const earlier = async () => trx('client_messages').where({ account_id: accountId, portal_user_id: portalUserId, client_id: input.id }).first([...columns, 'thread_id']);
    const before = await earlier();
    if (before) {
      sameMessage(before, threadId, expected);
      audit.nothingChanged();
      return { message: present(signer, accountId, before), replayed: true };
    }
    await requireThreadRow(trx, ctx, threadId);
    const { id, queued } = await queueClientMessage(trx, ctx, audit, { threadId, portalUserId, clientId: input.id, content: input.content, attachments });
    const row = (await trx('client_messages').where({ account_id: accountId, id }).first([...columns, 'thread_id']))!;
    // Raced by a send of the same id: the other one's message is the answer.
    if (!queued) {
      sameMessage(row, threadId, expected);
      audit.nothingChanged();
    }
    return { message: present(signer, accountId, row), replayed: !queued };
  });
}

/**
 * The client read their thread: its unread count drops to nothing. Answers whether anything new was
 * read (then Chatwoot's last seen is passed on by the caller).
 */
export async function markThreadRead(ctx: RequestContext, threadId: string): Promise<{ conversationId: number | null; moved: boolean }> {
  return write(ctx, async (trx, audit) => {
    const thread = await requireThreadRow(trx, ctx, threadId);
    const conversationId = thread.chatwoot_conversation_id === null ? null : Number(thread.chatwoot_conversation_id);
    // Up to the newest message, compared in the database (its timestamps are finer than a JavaScript date).
    const { rows } = await trx.raw<{ rows: Array<{ last_read_at: Date }> }>(
      `update client_threads t set last_read_at = n.at
         from (select max(created_at) as at from client_messages where account_id = ? and thread_id = ?) n
        where t.account_id = ? and t.id = ? and n.at is not null and (t.last_read_at is null or t.last_read_at < n.at)
        returning t.last_read_at`,
      [ctx.accountId, threadId, ctx.accountId, threadId],
    );
    if (!rows[0]) {
      audit.nothingChanged();
      return { conversationId, moved: false };
    }
    await audit({ action: 'client_thread.read', resourceType: 'client_thread', resourceId: threadId, after: { read_up_to: new Date(rows[0].last_read_at).toISOString() } });
    return { conversationId, moved: true };
  });
}

/** Where the client's typing is passed on: the thread's conversation and the client's contact inbox, once the conversation is open. */
export async function threadConversation(ctx: RequestContext, threadId: string): Promise<{ conversationId: number; inboxId: number; sourceIdSealed: string } | null> {
  return read(ctx, async (trx) => {
    await requireThreadRow(trx, ctx, threadId);
    const row = await trx('client_threads as t')
      .join('client_chat_contacts as c', (j) => j.on('c.account_id', 't.account_id').andOn('c.portal_user_id', 't.portal_user_id').andOn('c.chatwoot_inbox_id', 't.chatwoot_inbox_id'))
      .where({ 't.account_id': ctx.accountId, 't.id': threadId })
      .whereNotNull('t.chatwoot_conversation_id')
      .first('t.chatwoot_conversation_id', 't.chatwoot_inbox_id', 'c.source_id_sealed');
    return row ? { conversationId: Number(row.chatwoot_conversation_id), inboxId: Number(row.chatwoot_inbox_id), sourceIdSealed: row.source_id_sealed as string } : null;
  });
}
