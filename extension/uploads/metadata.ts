// What a device says about a resumable upload (the tus Upload-Metadata header and lengths),
// checked before tus stores anything. Values arrive base64-encoded; keys we do not know are
// dropped, so nobody can set the keys this module keeps for itself (ownerKey, artifactKey).
import { Metadata } from '@tus/server';
import type { Request } from 'express';
import { z } from 'zod';
import { HttpError, badRequest } from '../http/errors.ts';
import { timestamp } from '../http/schemas.ts';

/** Who created the upload: `<account>:<actor type>:<actor id>`. */
export const ownerKey = 'onelink_owner';
/** The job artifact a finished upload became. */
export const artifactKey = 'onelink_artifact';
/** The artifact already kept for this device file id when the upload was created (a resend). */
export const sameAsKey = 'onelink_same_as';

export const tagPattern = /^[a-z0-9_-]{1,40}$/;

/** A decimal number sent as text (tus metadata is text), within [min, max]. */
const decimal = (min: number, max: number, what: string) =>
  z
    .string()
    .regex(/^-?\d{1,4}(\.\d{1,12})?$/, what)
    .transform(Number)
    .pipe(z.number({ error: what }).min(min, what).max(max, what));

const schema = z.object({
  job_id: z.uuid({ error: 'the job’s id, a UUID' }),
  client_id: z.uuid({ error: 'a UUID the device made for this file' }),
  filename: z.string().max(255, 'at most 255 characters').optional(),
  filetype: z.string().max(255, 'at most 255 characters').optional(),
  tag: z.string().regex(tagPattern, 'lower-case letters, digits, "_" or "-", 1 to 40 characters').optional(),
  taken_at: timestamp.optional(),
  // Where the photo was taken, read from its EXIF on the device; kept only when the account wants it.
  taken_lat: decimal(-90, 90, 'a latitude in decimal degrees, -90 to 90').optional(),
  taken_lng: decimal(-180, 180, 'a longitude in decimal degrees, -180 to 180').optional(),
  taken_accuracy_m: decimal(0, 9999, 'an accuracy in metres, 0 to 9999').optional(),
})
  .refine((m) => (m.taken_lat === undefined) === (m.taken_lng === undefined), { path: ['taken_lat'], message: 'sent together with taken_lng (both or neither)' })
  .refine((m) => m.taken_accuracy_m === undefined || m.taken_lat !== undefined, { path: ['taken_accuracy_m'], message: 'sent only with taken_lat and taken_lng' });

export interface UploadRequest {
  jobId: string;
  clientId: string;
  size: number;
  /** What is kept with the upload (strings, as tus keeps metadata), the caller's own keys excluded. */
  metadata: Record<string, string>;
}

const invalidMetadata = (fields: Array<{ path: string; message: string; code?: string }>) =>
  badRequest('invalid_upload_metadata', `The upload's metadata is not valid: ${fields.map((f) => `${f.path.replace(/^metadata\./, '')} must be ${f.message}`).join('; ')}`, { fields });

/** The creation request's size and metadata, or a 400/413 saying what to fix. */
export function readCreation(req: Request, maxBytes: number): UploadRequest {
  if (req.get('upload-defer-length') !== undefined) {
    throw badRequest('upload_length_required', 'Send the file’s size in Upload-Length; uploads of unknown length are not accepted');
  }
  const length = req.get('upload-length');
  if (length === undefined || !/^\d{1,16}$/.test(length)) throw badRequest('upload_length_required', 'Send the file’s size in bytes in Upload-Length');
  const size = Number(length);
  if (size === 0) throw badRequest('empty_file', 'The file is empty');
  if (size > maxBytes) throw new HttpError(413, 'file_too_large', `The file is larger than ${(maxBytes / (1024 * 1024)).toFixed(1).replace(/\.0$/, '')} MB`, { max_bytes: maxBytes });

  let raw: Record<string, string | null>;
  try {
    raw = Metadata.parse(req.get('upload-metadata'));
  } catch {
    throw invalidMetadata([{ path: 'metadata', message: 'comma-separated "key base64value" pairs with job_id and client_id', code: 'malformed' }]);
  }
  // A key sent without a value counts as not sent.
  const given = Object.fromEntries(Object.entries(raw).filter(([, value]) => value !== null && value !== ''));
  const parsed = schema.safeParse(given);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => ({ path: ['metadata', ...issue.path.map(String)].join('.'), message: issue.message, code: issue.code }));
    // One issue per key, the first being the one to fix.
    throw invalidMetadata(issues.filter((issue, i) => issues.findIndex((other) => other.path === issue.path) === i));
  }
  const { job_id, client_id, filename, filetype, tag, taken_at, taken_lat, taken_lng, taken_accuracy_m } = parsed.data;
  const metadata: Record<string, string> = { job_id, client_id };
  if (filename !== undefined) metadata.filename = filename;
  if (filetype !== undefined) metadata.filetype = filetype;
  if (tag !== undefined) metadata.tag = tag;
  if (taken_at !== undefined) metadata.taken_at = taken_at.toISOString();
  if (taken_lat !== undefined && taken_lng !== undefined) {
    metadata.taken_lat = String(taken_lat);
    metadata.taken_lng = String(taken_lng);
    if (taken_accuracy_m !== undefined) metadata.taken_accuracy_m = String(taken_accuracy_m);
  }
  return { jobId: job_id, clientId: client_id, size, metadata };
}
