// A vendor user's thread with dispatch about one job, as the portal shows it. Each person has their
// own thread per job (an owner does not read a technician's, nor the other way round): what someone
// says to dispatch stays between them and dispatch, who see every thread in Chatwoot. A message is
// stored and queued in one unit of work (the Chatwoot outbox carries it, so an outage loses
// nothing); the device's id makes a resend the same message.
import type { RequestContext } from '../context.ts';
import { queueVendorMessage } from '../chatwoot/outbox-queue.ts';
import { read, write } from '../db/tenant.ts';
import { NotFoundError, UnprocessableError } from '../errors.ts';
import { visibleJobs } from '../modules/jobs/records.ts';
import type { Knex } from 'knex';
import type { Services } from '../services.ts';
import { attachmentLink, isStored, type StoredAttachment } from './attachments.ts';
import type { MessageAttachment } from './replies.ts';

export interface VendorMessage {
  id: string;
  client_id: string | null;
  direction: 'from_vendor' | 'from_dispatch';
  author_name: string;
  content: string;
  attachments: MessageAttachment[];
  status: 'sending' | 'sent' | 'failed';
  created_at: string;
}

const columns = ['id', 'client_id', 'direction', 'author_name', 'content', 'attachments', 'status', 'created_at'] as const;

/** At most this many of a thread's latest messages are shown. */
export const threadLimit = 500;

type Signer = Pick<Services, 'urlSigner'>;

/** A vendor's own files are shown through signed links of ours; dispatch's are Chatwoot's links as they came. */
const shownAttachments = (signer: Signer, accountId: number, row: Record<string, unknown>): MessageAttachment[] =>
  ((row.attachments as unknown[]) ?? []).map((a, index) =>
    isStored(a) ? { url: attachmentLink(signer, accountId, row.id as string, index), filename: a.filename, content_type: a.content_type } : (a as MessageAttachment),
  );

const present = (signer: Signer, accountId: number, row: Record<string, unknown>): VendorMessage => ({
  id: row.id as string,
  client_id: (row.client_id as string | null) ?? null,
  direction: row.direction as VendorMessage['direction'],
  author_name: row.author_name as string,
  content: row.content as string,
  attachments: shownAttachments(signer, accountId, row),
  status: row.status as VendorMessage['status'],
  created_at: new Date(row.created_at as string).toISOString(),
});

/** The vendor user asking; staff and clients have no thread here (staff read them in Chatwoot). */
function vendorUser(ctx: RequestContext): string {
  if (!ctx.vendorId || ctx.actor.type !== 'portal_user') throw new NotFoundError('Job');
  return ctx.actor.id;
}

async function requireVisibleJob(trx: Knex.Transaction, ctx: RequestContext, jobId: string) {
  const job = await visibleJobs(trx('jobs'), ctx).where('jobs.id', jobId).first('jobs.id');
  if (!job) throw new NotFoundError('Job');
}

/** Throws NotFound unless the caller may write in this job's thread (checked before a file is read). */
export async function requireThread(ctx: RequestContext, jobId: string): Promise<void> {
  vendorUser(ctx);
  await read(ctx, (trx) => requireVisibleJob(trx, ctx, jobId));
}

/** The caller's thread about a job, oldest first. */
export async function listVendorMessages(signer: Signer, ctx: RequestContext, jobId: string): Promise<VendorMessage[]> {
  const portalUserId = vendorUser(ctx);
  return read(ctx, async (trx) => {
    await requireVisibleJob(trx, ctx, jobId);
    const rows = await trx('vendor_messages')
      .where({ account_id: ctx.accountId, job_id: jobId, portal_user_id: portalUserId })
      .orderBy([{ column: 'created_at', order: 'desc' }, { column: 'id', order: 'desc' }])
      .limit(threadLimit)
      .select(columns);
    return rows.reverse().map((row) => present(signer, ctx.accountId, row));
  });
}

/** The filenames a message's attachments were sent with, in order (what a resend must repeat). */
const filenamesOf = (attachments: unknown) => ((attachments as unknown[]) ?? []).map((a) => (isStored(a) ? a.filename : ''));

/**
 * The message the device already sent under this id, if any (a resend answers it without storing
 * its files again); with other content or other files the id is refused as reused.
 */
export async function earlierVendorMessage(signer: Signer, ctx: RequestContext, jobId: string, input: { id: string; content: string; filenames?: string[] }): Promise<VendorMessage | null> {
  const portalUserId = vendorUser(ctx);
  return read(ctx, async (trx) => {
    const row = await trx('vendor_messages').where({ account_id: ctx.accountId, portal_user_id: portalUserId, client_id: input.id }).first([...columns, 'job_id']);
    if (!row) return null;
    sameMessage(row, jobId, input);
    return present(signer, ctx.accountId, row);
  });
}

function sameMessage(row: Record<string, unknown>, jobId: string, input: { content: string; filenames?: string[] }) {
  const filenames = input.filenames ?? [];
  if (row.job_id !== jobId || row.content !== input.content || JSON.stringify(filenamesOf(row.attachments)) !== JSON.stringify(filenames)) {
    throw new UnprocessableError('idempotency_key_reused', 'This message id was already used for another message; give a new message a new id');
  }
}

/**
 * Stores a vendor's message (status sending) with the files already put in storage for it, and
 * queues it for Chatwoot. The same device id again answers the message stored the first time
 * (`replayed`: the caller removes the files it stored for nothing); with other content it is refused.
 */
export async function sendVendorMessage(
  signer: Signer,
  ctx: RequestContext,
  jobId: string,
  input: { id: string; content: string; attachments?: StoredAttachment[] },
): Promise<{ message: VendorMessage; replayed: boolean }> {
  const portalUserId = vendorUser(ctx);
  const { accountId } = ctx;
  const attachments = input.attachments ?? [];
  const expected = { content: input.content, filenames: attachments.map((a) => a.filename) };
  return write(ctx, async (trx, audit) => {
    const earlier = async () => trx('vendor_messages').where({ account_id: accountId, portal_user_id: portalUserId, client_id: input.id }).first([...columns, 'job_id']);
    const replay = (row: Record<string, unknown>) => {
      sameMessage(row, jobId, expected);
      audit.nothingChanged();
      return { message: present(signer, accountId, row), replayed: true };
    };
    const before = await earlier();
    if (before) return replay(before);
    await requireVisibleJob(trx, ctx, jobId);
    const author = await trx('portal_users').where({ account_id: accountId, id: portalUserId }).first('name');
    await trx('vendor_threads').insert({ account_id: accountId, job_id: jobId, portal_user_id: portalUserId }).onConflict(['account_id', 'job_id', 'portal_user_id']).ignore();
    // Two sends of the same id at once: the second finds the first's row instead of a duplicate.
    const { rows } = await trx.raw<{ rows: Array<Record<string, unknown>> }>(
      `insert into vendor_messages (account_id, client_id, job_id, portal_user_id, direction, author_name, content, attachments, status)
       values (?, ?, ?, ?, 'from_vendor', ?, ?, ?::jsonb, 'sending')
       on conflict (account_id, portal_user_id, client_id) where client_id is not null do nothing
       returning ${columns.join(', ')}`,
      [accountId, input.id, jobId, portalUserId, author?.name ?? 'Vendor', input.content, JSON.stringify(attachments)],
    );
    const created = rows[0];
    if (!created) return replay((await earlier())!);
    await queueVendorMessage(trx, ctx, created.id as string);
    const files = attachments.length ? { files: attachments.map((a) => ({ filename: a.filename, content_type: a.content_type, size: a.size, sha256: a.sha256 })) } : {};
    await audit({ action: 'vendor_message.created', resourceType: 'job', resourceId: jobId, after: { message_id: created.id, client_id: input.id, length: input.content.length, ...files } });
    return { message: present(signer, accountId, created), replayed: false };
  });
}
