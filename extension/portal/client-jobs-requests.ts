// A client asks for service from the portal, or calls off a request no vendor holds yet.
//
// A request becomes a job like any other (insertJob: number, SLA, checklist, the `created` event,
// the audit entry that notifies dispatch, the board's live update), with source 'portal', the
// client's Chatwoot contact, the window they would like and who asked. In the same unit of work
// its photos become job files the client sees, the client's thread about the job is opened and
// the request's words (with the photos) are queued as the client's first message there, so agents
// read it in the Client portal inbox in Chatwoot. The device's id makes a resend the same request:
// its row in portal_actions commits with the job, and a second send of the id answers that job.
import { createHash, randomUUID } from 'node:crypto';
import type { Request } from 'express';
import type { Knex } from 'knex';
import { z } from 'zod';
import { queueClientMessage, threadFor } from '../client-messages/service.ts';
import type { RequestContext } from '../context.ts';
import { pgErrorCodes } from '../db/errors.ts';
import { read, write } from '../db/tenant.ts';
import { ConflictError, InvalidFieldsError, NotFoundError, UnprocessableError } from '../errors.ts';
import { announceToPortalUser } from '../events/portal-feed.ts';
import { HttpError } from '../http/errors.ts';
import { text, timestamp } from '../http/schemas.ts';
import { discardPrepared, prepareArtifact, recordArtifactIn, type PreparedArtifact } from '../modules/artifacts/service.ts';
import { dropReceived, receiveForm, type ReceivedFile } from '../modules/artifacts/upload.ts';
import { changeJobStatus } from '../modules/jobs/lifecycle.ts';
import { loadJob } from '../modules/jobs/records.ts';
import { jobReference } from '../modules/jobs/rules.ts';
import { insertJob } from '../modules/jobs/service.ts';
import type { Services } from '../services.ts';
import { cancelableStatuses, clientJobIn, requireClientUser, type ClientJob } from './client-jobs-view.ts';

/** At most this many photos go with a request. */
export const maxRequestPhotos = 5;
/** The photos go to Chatwoot with the first message, which takes at most 40 MB of files. */
export const maxRequestPhotosBytes = 40 * 1024 * 1024;
/** What the job's summary keeps of the description (the whole of it is the first message). */
const summaryLength = 120;

export const requestFields = z
  .object({
    id: z.uuid().describe('Made on the device: sending the same id again is the same request (answered 200 with its job)'),
    service_category: text({ max: 80 }).optional().describe('One of GET /portal/client/service-options categories; empty or absent: not sure'),
    description: text({ min: 1, max: 5000 }).describe('What needs doing, in the client’s words'),
    address: text({ min: 1, max: 500 }),
    preferred_starts_at: timestamp.optional(),
    preferred_ends_at: timestamp.optional(),
  })
  .superRefine((v, issues) => {
    // Runs even when a field failed its own check: only dates that parsed are compared.
    const starts = v.preferred_starts_at instanceof Date ? v.preferred_starts_at : undefined;
    const ends = v.preferred_ends_at instanceof Date ? v.preferred_ends_at : undefined;
    if (starts && ends && starts >= ends) {
      issues.addIssue({ code: 'custom', message: 'Must be after preferred_starts_at', path: ['preferred_ends_at'] });
    }
    const last = ends ?? starts;
    if (last && last.getTime() < Date.now()) issues.addIssue({ code: 'custom', message: 'The preferred window is in the past', path: [ends ? 'preferred_ends_at' : 'preferred_starts_at'] });
  });
export type RequestFields = z.output<typeof requestFields>;

/** The text fields of a multipart request, checked by the JSON body's rules (422 naming `body.<field>`). */
export function parseRequestFields(raw: Record<string, string>): RequestFields {
  const result = requestFields.safeParse(Object.fromEntries(Object.entries(raw).filter(([, value]) => value !== '')));
  if (result.success) return result.data;
  throw new InvalidFieldsError(
    'The request is not valid',
    result.error.issues.map((issue) => ({ field: issue.path.join('.'), message: issue.message, code: issue.code })),
  );
}

/**
 * Reads a request sent as multipart/form-data: its fields and up to five `photos` (each typed from
 * its bytes; photos only). Too many, too large or not a photo: refused, nothing kept.
 */
export async function receiveRequestForm(req: Request, services: Pick<Services, 'config'>): Promise<{ fields: RequestFields; photos: ReceivedFile[] }> {
  const tooLarge = () => new HttpError(413, 'request_too_large', `The photos of one request may total at most ${maxRequestPhotosBytes / (1024 * 1024)} MB`, { max_total_bytes: maxRequestPhotosBytes });
  if (Number(req.get('content-length') ?? 0) > maxRequestPhotosBytes + 64 * 1024) throw tooLarge();
  const form = await receiveForm(req, {
    tmpDir: `${services.config.filesDir}/.incoming`,
    maxBytes: services.config.ONELINK_UPLOAD_MAX_MB * 1024 * 1024,
    maxFiles: maxRequestPhotos,
    fieldSize: 20_000,
    fileField: 'photos',
  });
  try {
    if (form.tooMany) throw new HttpError(413, 'too_many_files', `At most ${maxRequestPhotos} photos go with a request`, { max_files: maxRequestPhotos });
    if (form.files.some((f) => f.kind !== 'photo')) throw new HttpError(415, 'file_type_not_allowed', 'Only photos go with a request (JPEG, PNG, WebP, GIF, HEIC)');
    if (form.files.reduce((sum, f) => sum + f.size, 0) > maxRequestPhotosBytes) throw tooLarge();
    return { fields: parseRequestFields(form.fields), photos: form.files };
  } catch (err) {
    await dropReceived(form.files);
    throw err;
  }
}

/** What a client may pick: the categories the account's vendors and checklists work in. */
async function serviceCategories(trx: Knex.Transaction, accountId: number): Promise<string[]> {
  const { rows } = await trx.raw<{ rows: Array<{ category: string }> }>(
    `select distinct category from (
       select unnest(categories) as category from vendors where account_id = ? and active and deleted_at is null
       union select service_category from checklist_templates where account_id = ? and active and service_category is not null
     ) c where category <> '' order by category`,
    [accountId, accountId],
  );
  return rows.map((r) => r.category);
}

/** GET /portal/client/service-options: the categories, and the address of the client's latest job that had one. */
export async function serviceOptions(ctx: RequestContext) {
  requireClientUser(ctx, 'Service options');
  return read(ctx, async (trx) => {
    const last = await trx('jobs')
      .where({ account_id: ctx.accountId, chatwoot_contact_id: ctx.contactId })
      .whereNotNull('address')
      .orderBy('created_at', 'desc')
      .first('address');
    return { categories: await serviceCategories(trx, ctx.accountId), address: (last?.address as string | undefined) ?? null };
  });
}

/** The request as its id promises it: the same id with other words or photos is another request. */
function fingerprint(fields: RequestFields, photos: ReceivedFile[]) {
  const canonical = {
    service_category: fields.service_category || null,
    description: fields.description,
    address: fields.address,
    preferred_starts_at: fields.preferred_starts_at?.toISOString() ?? null,
    preferred_ends_at: fields.preferred_ends_at?.toISOString() ?? null,
    photos: photos.map((p) => p.sha256),
  };
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex');
}

const when = (d: Date) => d.toISOString().slice(0, 16).replace('T', ' ');

/** The client's first message in the job's conversation: their words, then what they asked for. */
function firstMessage(reference: string, fields: RequestFields) {
  const about = [`${reference} · ${fields.service_category || 'service request'}`, fields.address];
  if (fields.preferred_starts_at || fields.preferred_ends_at) {
    const from = fields.preferred_starts_at ? when(fields.preferred_starts_at) : '…';
    const to = fields.preferred_ends_at ? when(fields.preferred_ends_at) : '…';
    about.push(`Preferred: ${from} – ${to} UTC`);
  }
  return `${fields.description}\n\n${about.join('\n')}`;
}

const summaryOf = (description: string) => {
  const line = description.split('\n').find((l) => l.trim())?.trim() ?? description.trim();
  return line.length > summaryLength ? `${line.slice(0, summaryLength - 1)}…` : line;
};

interface ActionRow { job_id: string | null; request_hash: string | null }

const findRequest = (trx: Knex.Transaction, ctx: RequestContext, id: string) =>
  trx('portal_actions').where({ account_id: ctx.accountId, portal_user_id: ctx.actor.id, id }).first('job_id', 'request_hash', 'kind') as Promise<(ActionRow & { kind: string }) | undefined>;

/** The job a request id made, as the client sees it now; 422 for the id reused for another request. */
async function replay(services: Services, ctx: RequestContext, row: ActionRow & { kind: string }, hash: string): Promise<ClientJob> {
  if (row.kind !== 'service_request' || row.request_hash !== hash) {
    throw new UnprocessableError('idempotency_key_reused', 'This request id was already used for a different request; make a new id for a new request');
  }
  const job = await read(ctx, (trx) => clientJobIn(trx, services, ctx, row.job_id!));
  if (!job) throw new NotFoundError('Job');
  return job;
}

/**
 * POST /portal/client/requests: the job, its photos, the client's thread and first message, all
 * or nothing. `replayed`: the id was sent before and the answer is the job it made then.
 */
export async function submitServiceRequest(services: Services, ctx: RequestContext, fields: RequestFields, photos: ReceivedFile[]): Promise<{ job: ClientJob; replayed: boolean }> {
  requireClientUser(ctx, 'Service request');
  const portalUserId = ctx.actor.id;
  const hash = fingerprint(fields, photos);
  const earlier = await read(ctx, (trx) => findRequest(trx, ctx, fields.id));
  if (earlier) return { job: await replay(services, ctx, earlier, hash), replayed: true };
  const category = fields.service_category || null;
  if (category) {
    const known = await read(ctx, (trx) => serviceCategories(trx, ctx.accountId));
    if (!known.includes(category)) throw new InvalidFieldsError('Unknown service category', [{ field: 'service_category', message: 'Not one of the service options', code: 'unknown_category' }]);
  }
  // The job's id is made here so its photos are stored in its folder before it exists.
  const jobId = randomUUID();
  const prepared: PreparedArtifact[] = [];
  try {
    for (const photo of photos) prepared.push(await prepareArtifact(services, ctx, jobId, photo));
    const job = await write(ctx, async (trx, audit) => {
      // The id's row first: a second send of the same id waits on it, then finds it taken.
      await trx('portal_actions').insert({
        account_id: ctx.accountId, portal_user_id: portalUserId, id: fields.id, job_id: jobId, kind: 'service_request',
        offline: false, outcome: 'applied', status_code: 201, response: JSON.stringify({ job_id: jobId }), request_hash: hash,
      });
      const created = await insertJob(trx, ctx, audit, {
        id: jobId,
        summary: summaryOf(fields.description),
        source: 'portal',
        // The client's words for dispatch (notes are never shown back to a portal user).
        notes: `Client's request:\n${fields.description}`,
        service_category: category,
        address: fields.address,
        chatwoot_contact_id: ctx.contactId,
        preferred_starts_at: fields.preferred_starts_at ?? null,
        preferred_ends_at: fields.preferred_ends_at ?? null,
        requested_by_portal_user_id: portalUserId,
      });
      for (const file of prepared) await recordArtifactIn(trx, ctx, audit, jobId, file, { visibility: 'client_visible' });
      const thread = await threadFor(trx, ctx, portalUserId, jobId);
      await audit({ action: 'client_thread.created', resourceType: 'client_thread', resourceId: thread.id, after: { portal_user_id: portalUserId, job_id: jobId } });
      await queueClientMessage(trx, ctx, audit, {
        threadId: thread.id,
        portalUserId,
        clientId: fields.id,
        content: firstMessage(jobReference(created.number), fields),
        // The message carries the photos' stored bytes (the same files, not copies).
        attachments: prepared.map((file) => ({ storage_key: file.storageKey, filename: file.received.filename, content_type: file.received.contentType, size: file.received.size, sha256: file.received.sha256 })),
      });
      return (await clientJobIn(trx, services, ctx, jobId))!;
    });
    announceToPortalUser(services.db, ctx.accountId, portalUserId, { type: 'job', job_id: jobId });
    return { job, replayed: false };
  } catch (err) {
    await discardPrepared(services, prepared);
    if ((err as { code?: string }).code === pgErrorCodes.uniqueViolation && (err as { constraint?: string }).constraint === 'portal_actions_pkey') {
      const row = await read(ctx, (trx) => findRequest(trx, ctx, fields.id));
      if (row) return { job: await replay(services, ctx, row, hash), replayed: true };
    }
    throw err;
  }
}

/** POST /portal/client/jobs/:jobId/cancel: through the job's lifecycle, as any cancellation. */
export async function cancelClientJob(services: Services, ctx: RequestContext, jobId: string, reason?: string): Promise<ClientJob> {
  requireClientUser(ctx);
  const job = await write(ctx, async (trx, audit) => {
    const before = await loadJob(trx, ctx, jobId, true);
    if (!cancelableStatuses.includes(before.status)) {
      const message = before.status === 'canceled' ? 'This request is already canceled' : 'A technician has this job now: send us a message to change or cancel it';
      throw new ConflictError('not_cancelable', message);
    }
    await changeJobStatus(trx, ctx, audit, before, { to: 'canceled', via: 'manual', reason: reason ? `Canceled by the client: ${reason}` : 'Canceled by the client' });
    return (await clientJobIn(trx, services, ctx, jobId))!;
  });
  announceToPortalUser(services.db, ctx.accountId, ctx.actor.id, { type: 'job', job_id: jobId });
  return job;
}
