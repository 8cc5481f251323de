// Compliance documents the vendor sends from the portal: the file (received, type-sniffed and
// scanned like a job's files, kept under a key of ours) and its kind, reference and expiry wait as
// pending_review until staff approve them or reject them with a reason. Only approved documents
// count toward compliance (service.ts complianceSql). Files are read through short-lived signed
// links, handed to staff and to the vendor's own people.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Request } from 'express';
import type { Knex } from 'knex';
import type { RequestContext } from '../../context.ts';
import { read, write } from '../../db/tenant.ts';
import { ConflictError, InvalidFieldsError, NotFoundError, UnprocessableError, type FieldProblem } from '../../errors.ts';
import { HttpError, badRequest } from '../../http/errors.ts';
import type { Services } from '../../services.ts';
import { receiveForm, type ReceivedFile } from '../artifacts/upload.ts';
import { loadVendorFor, locksOf } from './service.ts';

export const documentStatuses = ['pending_review', 'approved', 'rejected'] as const;
export type DocumentStatus = (typeof documentStatuses)[number];
/** How long a document link works. */
export const documentLinkMinutes = 60;
/** The signed-link claim that says "a vendor document" (job files use other values). */
const linkKind = 'vendor_document';

const columns = [
  'id', 'vendor_id', 'kind', 'reference', 'expires_on', 'status', 'rejection_reason', 'filename', 'content_type', 'size_bytes', 'storage_key',
  'submitted_by_type', 'submitted_by_id', 'reviewed_by_type', 'reviewed_by_id', 'reviewed_at', 'created_at',
];

export interface DocumentRow {
  id: string;
  vendor_id: string;
  kind: string;
  reference: string | null;
  expires_on: string | null;
  status: DocumentStatus;
  rejection_reason: string | null;
  filename: string | null;
  content_type: string | null;
  size_bytes: number | null;
  storage_key: string | null;
  reviewed_at: Date | null;
  created_at: Date;
  [key: string]: unknown;
}

/** What callers see: no storage key; a signed link in its place (null for records without a file). */
export function presentDocument(services: Pick<Services, 'urlSigner'>, accountId: number, row: DocumentRow) {
  const { storage_key: key, ...shown } = row;
  const expires = new Date(Date.now() + documentLinkMinutes * 60_000);
  const url = key ? `/api/v1/vendor-documents/content?token=${services.urlSigner.sign({ a: accountId, i: row.id, v: linkKind }, expires)}` : null;
  return { ...shown, url };
}

export interface DocumentFields { kind: string; reference: string | null; expires_on: string }

/**
 * Reads a multipart document submission: the file (field `file`, spooled to a temporary file
 * exactly as job files are) and the text fields next to it, in any order.
 */
export async function receiveDocument(req: Request, { tmpDir, maxBytes }: { tmpDir: string; maxBytes: number }): Promise<{ file: ReceivedFile; fields: Record<string, string> }> {
  if (!req.is('multipart/form-data')) {
    throw new HttpError(415, 'unsupported_media_type', 'Send the document as multipart/form-data: the file in a field named "file", with kind, expires_on and optionally reference');
  }
  const { files, fields } = await receiveForm(req, { tmpDir, maxBytes });
  if (!files[0]) throw badRequest('file_required', 'Send the document in a multipart field named "file"');
  return { file: files[0], fields };
}

const datePattern = /^\d{4}-\d{2}-\d{2}$/;
const isDay = (value: string) => {
  if (!datePattern.test(value)) return false;
  const day = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(day.getTime()) && day.toISOString().slice(0, 10) === value && day.getUTCFullYear() >= 1900 && day.getUTCFullYear() <= 2200;
};
// Postgres refuses NUL and lone surrogates; multipart fields skip the JSON body's check, so they are checked here.
const badText = (value: string) => value.includes('\u0000') || /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(value);

/** The text fields of a submission, checked as the JSON routes check theirs (422 naming `body.<field>`). */
export function documentFields(raw: Record<string, string>): DocumentFields {
  const problems: FieldProblem[] = [];
  const kind = (raw.kind ?? '').trim();
  const reference = (raw.reference ?? '').trim();
  const expiresOn = (raw.expires_on ?? '').trim();
  for (const [field, value] of Object.entries({ kind, reference, expires_on: expiresOn })) {
    if (badText(value)) problems.push({ field, message: 'must not contain NUL characters or unpaired UTF-16 surrogates', code: 'invalid_text' });
  }
  if (!kind) problems.push({ field: 'kind', message: 'Say what the document is, e.g. insurance or licence', code: 'required' });
  else if (kind.length > 100) problems.push({ field: 'kind', message: 'At most 100 characters', code: 'too_long' });
  if (reference.length > 200) problems.push({ field: 'reference', message: 'At most 200 characters', code: 'too_long' });
  if (!expiresOn) problems.push({ field: 'expires_on', message: 'Give the expiry date printed on the document (YYYY-MM-DD)', code: 'required' });
  else if (!isDay(expiresOn)) problems.push({ field: 'expires_on', message: 'a calendar date such as 2030-01-31', code: 'invalid_date' });
  if (problems.length) throw new InvalidFieldsError('Some fields of the document are missing or invalid', problems);
  return { kind, reference: reference || null, expires_on: expiresOn };
}

/**
 * A document sent by the vendor's people (or by staff for them): stored, then recorded as
 * pending_review with an audit event that asks dispatch to review it. The vendor is checked before
 * a byte is read; the file is removed again if anything after storing fails.
 */
export async function submitDocument(services: Services, ctx: RequestContext, vendorId: string, req: Request) {
  await read(ctx, (trx) => loadVendorFor(trx, ctx, vendorId));
  const { file, fields: raw } = await receiveDocument(req, { tmpDir: path.join(services.config.filesDir, '.incoming'), maxBytes: services.config.ONELINK_UPLOAD_MAX_MB * 1024 * 1024 });
  const id = randomUUID();
  const storageKey = `${ctx.accountId}/vendors/${vendorId}/documents/${id}`;
  let stored = false;
  try {
    const fields = documentFields(raw);
    const scan = await services.scanFile({ path: file.path, contentType: file.contentType, size: file.size });
    if (scan === 'infected') throw new UnprocessableError('file_rejected', 'The file did not pass the virus scan');
    await services.files.put(storageKey, fs.createReadStream(file.path));
    stored = true;
    const row = await write(ctx, async (trx, audit) => {
      await loadVendorFor(trx, ctx, vendorId, true); // still there
      const [inserted] = (await trx('vendor_documents')
        .insert({
          account_id: ctx.accountId,
          id,
          vendor_id: vendorId,
          ...fields,
          status: 'pending_review',
          storage_key: storageKey,
          filename: file.filename,
          content_type: file.contentType,
          size_bytes: file.size,
          sha256: file.sha256,
          submitted_by_type: ctx.actor.type,
          submitted_by_id: ctx.actor.id,
        })
        .returning(columns)) as DocumentRow[];
      await audit({
        action: 'vendor.document_submitted',
        resourceType: 'vendor_document',
        resourceId: id,
        after: { vendor_id: vendorId, ...fields, status: 'pending_review', filename: file.filename, content_type: file.contentType, size_bytes: file.size, scan_status: scan },
      });
      return inserted!;
    });
    return presentDocument(services, ctx.accountId, row);
  } catch (err) {
    if (stored) await services.files.remove(storageKey).catch(() => undefined);
    throw err;
  } finally {
    await fs.promises.rm(file.path, { force: true });
  }
}

async function documentsOf(trx: Knex.Transaction, ctx: RequestContext, vendorId: string) {
  return (await trx('vendor_documents')
    .where({ account_id: ctx.accountId, vendor_id: vendorId })
    .whereNull('deleted_at')
    .orderBy([{ column: 'created_at', order: 'desc' }, { column: 'id', order: 'desc' }])
    .select(columns)) as DocumentRow[];
}

/** A vendor's documents, newest first, with links (staff, or the vendor's own people). */
export async function listDocuments(services: Services, ctx: RequestContext, vendorId: string) {
  return read(ctx, async (trx) => {
    await loadVendorFor(trx, ctx, vendorId);
    return (await documentsOf(trx, ctx, vendorId)).map((row) => presentDocument(services, ctx.accountId, row));
  });
}

/** Documents waiting for review across the account's vendors, oldest first (staff). */
export async function documentsToReview(services: Services, ctx: RequestContext) {
  return read(ctx, async (trx) => {
    const rows = (await trx('vendor_documents as d')
      .join('vendors as v', (on) => on.on('v.account_id', 'd.account_id').andOn('v.id', 'd.vendor_id'))
      .where({ 'd.account_id': ctx.accountId, 'd.status': 'pending_review' })
      .whereNull('d.deleted_at')
      .whereNull('v.deleted_at')
      .orderBy([{ column: 'd.created_at', order: 'asc' }, { column: 'd.id', order: 'asc' }])
      .limit(200)
      .select(...columns.map((c) => `d.${c}`), 'v.name as vendor_name')) as Array<DocumentRow & { vendor_name: string }>;
    return rows.map((row) => presentDocument(services, ctx.accountId, row));
  });
}

export interface Review { decision: 'approve' | 'reject'; reason?: string | null }

/**
 * Staff approve a document (it counts toward compliance from then on) or reject it with a reason
 * the vendor is told. Only a document waiting for review can be reviewed.
 */
export async function reviewDocument(services: Services, ctx: RequestContext, vendorId: string, documentId: string, review: Review) {
  const reason = review.reason?.trim() || null;
  if (review.decision === 'reject' && !reason) {
    throw new InvalidFieldsError('Say why the document is rejected; the vendor is told', [{ field: 'reason', message: 'Required to reject', code: 'reason_required' }]);
  }
  return write(ctx, async (trx, audit) => {
    await loadVendorFor(trx, ctx, vendorId, true);
    const before = (await trx('vendor_documents').where({ account_id: ctx.accountId, vendor_id: vendorId, id: documentId }).whereNull('deleted_at').forUpdate().first(columns)) as DocumentRow | undefined;
    if (!before) throw new NotFoundError('Document');
    if (before.status !== 'pending_review') {
      throw new ConflictError('already_reviewed', `This document was already ${before.status === 'approved' ? 'approved' : 'rejected'}`, { status: before.status });
    }
    const status: DocumentStatus = review.decision === 'approve' ? 'approved' : 'rejected';
    const [after] = (await trx('vendor_documents')
      .where({ account_id: ctx.accountId, id: documentId })
      .update({
        status,
        rejection_reason: status === 'rejected' ? reason : null,
        reviewed_by_type: ctx.actor.type,
        reviewed_by_id: ctx.actor.id,
        reviewed_at: trx.fn.now(),
        updated_at: trx.fn.now(),
      })
      .returning(columns)) as DocumentRow[];
    await audit({
      action: status === 'approved' ? 'vendor.document_approved' : 'vendor.document_rejected',
      resourceType: 'vendor_document',
      resourceId: documentId,
      before: { vendor_id: vendorId, kind: before.kind, status: before.status },
      after: { vendor_id: vendorId, kind: before.kind, expires_on: before.expires_on, status, ...(status === 'rejected' ? { reason } : {}) },
    });
    return presentDocument(services, ctx.accountId, after!);
  });
}

/** The bytes behind a document link, or null when the link is bad, expired or the document gone. */
export async function openSignedDocument(services: Services, token: string) {
  const claims = services.urlSigner.verify(token);
  if (!claims || typeof claims.a !== 'number' || typeof claims.i !== 'string' || claims.v !== linkKind) return null;
  const row = (await read({ db: services.db, accountId: claims.a }, (trx) =>
    trx('vendor_documents').where({ account_id: claims.a, id: claims.i }).whereNull('deleted_at').first(columns),
  )) as DocumentRow | undefined;
  if (!row?.storage_key) return null;
  try {
    return { stream: await services.files.open(row.storage_key), row };
  } catch {
    return null;
  }
}

/**
 * The vendor's business as its own people see it in the portal: the vendor's categories and area,
 * weekly hours, time off still to come, what staff locked, and every document with its review.
 */
export async function vendorBusiness(services: Services, ctx: RequestContext, vendorId: string) {
  return read(ctx, async (trx) => {
    const vendor = await loadVendorFor(trx, ctx, vendorId);
    const availability = await trx('vendor_availability').where({ account_id: ctx.accountId, vendor_id: vendorId }).orderBy(['weekday', 'starts']).select('weekday', 'starts', 'ends');
    const timeOff = await trx('vendor_time_off').where({ account_id: ctx.accountId, vendor_id: vendorId }).where('ends_at', '>', trx.fn.now()).orderBy('starts_at').select('id', 'starts_at', 'ends_at', 'reason');
    const documents = (await documentsOf(trx, ctx, vendorId)).map((row) => {
      const { id, kind, reference, expires_on, status, rejection_reason, filename, content_type, url, created_at, reviewed_at } = presentDocument(services, ctx.accountId, row);
      return { id, kind, reference, expires_on, status, rejection_reason, filename, content_type, url, created_at, reviewed_at };
    });
    return {
      vendor: { id: vendor.id, name: vendor.name, categories: vendor.categories, postal_codes: vendor.postal_codes, radius_km: vendor.radius_km, time_zone: vendor.time_zone },
      availability: availability.map((slot: { weekday: number; starts: string; ends: string }) => ({ weekday: slot.weekday, starts: slot.starts.slice(0, 5), ends: slot.ends.slice(0, 5) })),
      time_off: timeOff,
      locks: locksOf(vendor),
      documents,
    };
  });
}
