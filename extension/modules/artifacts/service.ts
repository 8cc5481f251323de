// Job artifacts: photos and documents uploaded by staff or the job's vendor. An upload is
// received into a temporary file (upload.ts, or a finished resumable upload), scanned through the scan hook, given a thumbnail
// when it is a photo, stored under a key of ours, and only then recorded with its job event and
// audit record. Downloads go through short-lived signed links; clients see only what is
// marked client_visible.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { Request } from 'express';
import type { Knex } from 'knex';
import type { RequestContext } from '../../context.ts';
import { read, write, type Audit } from '../../db/tenant.ts';
import { ConflictError, ForbiddenByRuleError, NotFoundError, UnprocessableError } from '../../errors.ts';
import type { Services } from '../../services.ts';
import { filesOfCurrentVendor, isPortalUser, keepsPhotoLocation } from '../jobs/records.ts';
import { appendJobEvent, loadJob } from '../jobs/service.ts';
import { receiveFile, type ReceivedFile } from './upload.ts';

export const artifactVisibilities = ['internal', 'client_visible'] as const;
export type ArtifactVisibility = (typeof artifactVisibilities)[number];
/** How long a download link works. */
export const linkMinutes = 60;
const thumbnailSize = 480;

const columns = [
  'id', 'job_id', 'kind', 'filename', 'content_type', 'size_bytes', 'sha256', 'storage_key', 'thumbnail_key', 'width', 'height',
  'visibility', 'scan_status', 'uploaded_by_type', 'uploaded_by_id', 'created_at', 'tag', 'client_id', 'taken_at',
  'taken_lat', 'taken_lng', 'taken_accuracy_m',
];
/** Where a photo was taken: staff only (a client or a vendor never reads it back). */
const locationColumns = ['taken_lat', 'taken_lng', 'taken_accuracy_m'] as const;

interface ArtifactRow {
  id: string;
  job_id: string;
  kind: 'photo' | 'document';
  filename: string;
  content_type: string;
  storage_key: string;
  thumbnail_key: string | null;
  visibility: ArtifactVisibility;
  [key: string]: unknown;
}

const isClient = (ctx: RequestContext) => ctx.contactId !== undefined;

/** What callers see: no storage keys, and signed links in their place. */
function present(services: Services, ctx: RequestContext, row: ArtifactRow) {
  const accountId = ctx.accountId;
  const expires = new Date(Date.now() + linkMinutes * 60_000);
  const link = (variant: 'original' | 'thumbnail') =>
    `/api/v1/artifacts/content?token=${services.urlSigner.sign({ a: accountId, i: row.id, v: variant }, expires)}`;
  const { storage_key: _s, thumbnail_key: thumbnail, ...shown } = row;
  if (isPortalUser(ctx)) for (const column of locationColumns) delete shown[column];
  return { ...shown, url: link('original'), thumbnail_url: thumbnail ? link('thumbnail') : null, links_expire_at: expires };
}

async function thumbnailOf(file: string) {
  // Loaded on the first photo, not at start: libvips costs every process ~17 MB it may never use.
  const { default: sharp } = await import('sharp');
  const data = await sharp(file, { failOn: 'error' })
    .rotate() // honour the camera's orientation
    .resize({ width: thumbnailSize, height: thumbnailSize, fit: 'inside', withoutEnlargement: true })
    .webp({ quality: 75 })
    .toBuffer();
  const meta = await sharp(file).metadata();
  const rotated = (meta.orientation ?? 1) >= 5; // EXIF orientations 5–8 swap width and height
  return { data, width: rotated ? meta.height : meta.width, height: rotated ? meta.width : meta.height };
}

export async function uploadArtifact(services: Services, ctx: RequestContext, jobId: string, req: Request, visibility: ArtifactVisibility) {
  // The job must exist for this caller before a byte is read.
  const job = await read(ctx, (trx) => loadJob(trx, ctx, jobId));
  // Vendors' files reach the client only once staff decide so.
  if (visibility === 'client_visible' && !ctx.permissions.has('jobs:write')) throw new ForbiddenByRuleError('forbidden', 'Only staff can share a file with the client; upload it as internal');
  if (job.status === 'canceled') throw new ConflictError('job_closed', 'A canceled job takes no new files');
  const received = await receiveFile(req, { tmpDir: path.join(services.config.filesDir, '.incoming'), maxBytes: services.config.ONELINK_UPLOAD_MAX_MB * 1024 * 1024 });
  try {
    return (await keepArtifact(services, ctx, jobId, received, { visibility })).artifact;
  } finally {
    await fs.promises.rm(received.path, { force: true });
  }
}

/** What the device says about a file it sent: its tag, its own id for the file, when it was taken. */
export interface ArtifactDetails {
  visibility: ArtifactVisibility;
  tag?: string | null;
  clientId?: string | null;
  takenAt?: Date | null;
  /** Where the device says the photo was taken (from its EXIF); kept only when the account wants it. */
  location?: PhotoLocation | null;
}

export interface PhotoLocation { lat: number; lng: number; accuracyM: number | null }


/**
 * Stores a file that has already been received whole (a finished resumable upload) as an
 * internal job artifact, exactly as uploadArtifact stores a multipart one. A file the device
 * already sent under the same client id answers the artifact kept then (`created: false`).
 * The job (still theirs, not canceled) is checked in the transaction that records the file;
 * the caller keeps and removes `received.path`.
 */
export async function storeReceivedArtifact(services: Services, ctx: RequestContext, jobId: string, received: ReceivedFile, details: Omit<ArtifactDetails, 'visibility'>) {
  return keepArtifact(services, ctx, jobId, received, { ...details, visibility: 'internal' });
}

/** The artifact already kept for a device's file id on a job, if any (inside the caller's transaction). */
export async function artifactIdForClientFile(trx: Knex.Transaction, ctx: RequestContext, jobId: string, clientId: string) {
  return (await sameClientFile(trx, ctx, jobId, clientId))?.id ?? null;
}

async function sameClientFile(trx: Knex.Transaction, ctx: RequestContext, jobId: string, clientId: string | null | undefined) {
  if (!clientId) return undefined;
  return (await trx('job_artifacts').where({ account_id: ctx.accountId, job_id: jobId, client_id: clientId }).first(columns)) as ArtifactRow | undefined;
}

/** A received file scanned, previewed and put in storage, not yet recorded on a job. */
export interface PreparedArtifact {
  id: string;
  received: ReceivedFile;
  storageKey: string;
  thumbnail: { key: string; width: number | undefined; height: number | undefined } | null;
  scan: Awaited<ReturnType<Services['scanFile']>>;
}

/**
 * Scans a received file, makes a photo's preview and puts both in storage under the job's folder
 * (outside any transaction: storage is not part of one). The caller records it with
 * recordArtifactIn, or removes it with discardPrepared when its unit of work fails.
 */
export async function prepareArtifact(services: Services, ctx: Pick<RequestContext, 'accountId'>, jobId: string, received: ReceivedFile): Promise<PreparedArtifact> {
  const id = randomUUID();
  const storageKey = `${ctx.accountId}/${jobId}/${id}`;
  const stored: string[] = [];
  try {
    const scan = await services.scanFile({ path: received.path, contentType: received.contentType, size: received.size });
    if (scan === 'infected') throw new UnprocessableError('file_rejected', 'The file did not pass the virus scan');
    let thumbnail: Awaited<ReturnType<typeof thumbnailOf>> | null = null;
    if (received.kind === 'photo') {
      try {
        thumbnail = await thumbnailOf(received.path);
      } catch {
        // HEIC needs a decoder this build may lack: keep the photo without a preview. Other formats must decode.
        if (!received.contentType.startsWith('image/hei')) throw new UnprocessableError('unreadable_image', 'The image could not be read; it may be damaged');
      }
    }
    // 1 MB reads: a 10 MB file copies several times faster than with the 64 KB default.
    await services.files.put(storageKey, fs.createReadStream(received.path, { highWaterMark: 1024 * 1024 }));
    stored.push(storageKey);
    if (thumbnail) {
      await services.files.put(`${storageKey}.thumb.webp`, Readable.from(thumbnail.data));
      stored.push(`${storageKey}.thumb.webp`);
    }
    return { id, received, storageKey, scan, thumbnail: thumbnail ? { key: `${storageKey}.thumb.webp`, width: thumbnail.width, height: thumbnail.height } : null };
  } catch (err) {
    for (const key of stored) await services.files.remove(key).catch(() => undefined);
    throw err;
  }
}

/** Removes prepared files from storage (their unit of work did not record them). */
export async function discardPrepared(services: Pick<Services, 'files'>, prepared: PreparedArtifact[]) {
  for (const file of prepared) {
    await services.files.remove(file.storageKey).catch(() => undefined);
    if (file.thumbnail) await services.files.remove(file.thumbnail.key).catch(() => undefined);
  }
}

/**
 * Records a prepared file on a job inside the caller's unit of work (the job checked by the
 * caller): the row, the job event and the audit entry.
 */
export async function recordArtifactIn(trx: Knex.Transaction, ctx: RequestContext, audit: Audit, jobId: string, prepared: PreparedArtifact, details: ArtifactDetails): Promise<ArtifactRow> {
  const { visibility, tag = null, clientId = null, takenAt = null, location = null } = details;
  const { id, received, scan, thumbnail } = prepared;
  // Read in this transaction: a phone cannot make an account keep positions it does not want.
  const kept = location && received.kind === 'photo' && (await keepsPhotoLocation(trx, ctx.accountId)) ? location : null;
  const [inserted] = (await trx('job_artifacts')
    .insert({
      account_id: ctx.accountId,
      id,
      job_id: jobId,
      kind: received.kind,
      filename: received.filename,
      content_type: received.contentType,
      size_bytes: received.size,
      sha256: received.sha256,
      storage_key: prepared.storageKey,
      thumbnail_key: thumbnail?.key ?? null,
      width: thumbnail?.width ?? null,
      height: thumbnail?.height ?? null,
      visibility,
      scan_status: scan,
      uploaded_by_type: ctx.actor.type,
      uploaded_by_id: ctx.actor.id,
      tag,
      client_id: clientId,
      taken_at: takenAt,
      taken_lat: kept?.lat ?? null,
      taken_lng: kept?.lng ?? null,
      taken_accuracy_m: kept?.accuracyM ?? null,
      // The moment of this insert, not of the transaction: files recorded together keep their order.
      created_at: trx.raw('clock_timestamp()'),
    })
    .returning(columns)) as ArtifactRow[];
  const tagged = tag ? { tag } : {};
  await appendJobEvent(trx, ctx, jobId, 'artifact_added', { artifact_id: id, kind: received.kind, filename: received.filename, visibility, ...tagged });
  await audit({ action: 'job.artifact_added', resourceType: 'job', resourceId: jobId, after: { artifact_id: id, filename: received.filename, content_type: received.contentType, size_bytes: received.size, visibility, scan_status: scan, ...tagged } });
  return inserted!;
}

/** Scans, previews and stores a received file, then records it with its job event and audit entry. */
async function keepArtifact(services: Services, ctx: RequestContext, jobId: string, received: ReceivedFile, details: ArtifactDetails) {
  const prepared = await prepareArtifact(services, ctx, jobId, received);
  try {
    const result = await write(ctx, async (trx, audit) => {
      const job = await loadJob(trx, ctx, jobId, true); // still there, still theirs; concurrent sends of one file wait here
      const existing = await sameClientFile(trx, ctx, jobId, details.clientId);
      if (existing) {
        audit.nothingChanged();
        return { row: existing, created: false };
      }
      if (job.status === 'canceled') throw new ConflictError('job_closed', 'A canceled job takes no new files');
      return { row: await recordArtifactIn(trx, ctx, audit, jobId, prepared, details), created: true };
    });
    if (!result.created) await discardPrepared(services, [prepared]);
    return { artifact: present(services, ctx, result.row), created: result.created };
  } catch (err) {
    await discardPrepared(services, [prepared]);
    throw err;
  }
}

export async function listArtifacts(services: Services, ctx: RequestContext, jobId: string) {
  return read(ctx, async (trx) => {
    const job = await loadJob(trx, ctx, jobId);
    const q = trx('job_artifacts').where({ account_id: ctx.accountId, job_id: jobId }).whereNull('deleted_at').orderBy('created_at').select(columns);
    if (isClient(ctx)) q.where({ visibility: 'client_visible' });
    // A vendor sees the files from when it was given the job, never an earlier vendor's time.
    if (ctx.vendorId) await filesOfCurrentVendor(trx, ctx.accountId, job, q);
    return ((await q) as ArtifactRow[]).map((row) => present(services, ctx, row));
  });
}

async function loadArtifact(ctx: RequestContext, trx: Parameters<Parameters<typeof write>[1]>[0], jobId: string, artifactId: string) {
  await loadJob(trx, ctx, jobId, true);
  const row = (await trx('job_artifacts').where({ account_id: ctx.accountId, job_id: jobId, id: artifactId }).whereNull('deleted_at').forUpdate().first(columns)) as ArtifactRow | undefined;
  if (!row) throw new NotFoundError('Artifact');
  return row;
}

export async function setArtifactVisibility(services: Services, ctx: RequestContext, jobId: string, artifactId: string, visibility: ArtifactVisibility) {
  return write(ctx, async (trx, audit) => {
    const before = await loadArtifact(ctx, trx, jobId, artifactId);
    if (before.visibility === visibility) {
      audit.nothingChanged();
      return present(services, ctx, before);
    }
    const [after] = (await trx('job_artifacts').where({ account_id: ctx.accountId, id: artifactId }).update({ visibility }).returning(columns)) as ArtifactRow[];
    await appendJobEvent(trx, ctx, jobId, 'artifact_visibility_changed', { artifact_id: artifactId, filename: before.filename, from: before.visibility, to: visibility });
    await audit({ action: 'job.artifact_visibility_changed', resourceType: 'job', resourceId: jobId, before: { artifact_id: artifactId, visibility: before.visibility }, after: { artifact_id: artifactId, visibility } });
    return present(services, ctx, after!);
  });
}

export async function deleteArtifact(services: Services, ctx: RequestContext, jobId: string, artifactId: string) {
  const removed = await write(ctx, async (trx, audit) => {
    const before = await loadArtifact(ctx, trx, jobId, artifactId);
    await trx('job_artifacts').where({ account_id: ctx.accountId, id: artifactId }).update({ deleted_at: trx.fn.now() });
    await appendJobEvent(trx, ctx, jobId, 'artifact_removed', { artifact_id: artifactId, filename: before.filename });
    await audit({ action: 'job.artifact_removed', resourceType: 'job', resourceId: jobId, before: { artifact_id: artifactId, filename: before.filename, sha256: before.sha256 } });
    return before;
  });
  // The record stays (the job's story names it); the bytes go once the removal is committed.
  await services.files.remove(removed.storage_key);
  if (removed.thumbnail_key) await services.files.remove(removed.thumbnail_key);
  return { id: artifactId, deleted: true };
}

/** The bytes behind a signed link, or null when the link is bad, expired or the file is gone. */
export async function openSignedArtifact(services: Services, token: string) {
  const claims = services.urlSigner.verify(token);
  if (!claims || typeof claims.a !== 'number' || typeof claims.i !== 'string' || !['original', 'thumbnail'].includes(String(claims.v))) return null;
  const row = (await read({ db: services.db, accountId: claims.a }, (trx) =>
    trx('job_artifacts').where({ account_id: claims.a, id: claims.i }).whereNull('deleted_at').first(columns),
  )) as ArtifactRow | undefined;
  if (!row) return null;
  const thumbnail = claims.v === 'thumbnail';
  const key = thumbnail ? row.thumbnail_key : row.storage_key;
  if (!key) return null;
  try {
    const stream = await services.files.open(key);
    return { stream, row, contentType: thumbnail ? 'image/webp' : row.content_type, size: thumbnail ? null : Number(row.size_bytes) };
  } catch {
    return null;
  }
}
