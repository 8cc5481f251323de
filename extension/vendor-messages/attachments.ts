// Files a vendor attaches to a message for dispatch: received from a multipart form (each file
// spooled, typed from its bytes and size-limited exactly as job files are), kept in the file
// storage under keys of ours, recorded on the message (vendor_messages.attachments) and shown
// back to the sender through short-lived signed links.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import type { Request, Response } from 'express';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import { read } from '../db/tenant.ts';
import { InvalidFieldsError } from '../errors.ts';
import { HttpError } from '../http/errors.ts';
import { dropReceived, receiveForm, type ReceivedFile } from '../modules/artifacts/upload.ts';

export { dropReceived };
import type { Services } from '../services.ts';

/** At most this many files go with one message. */
export const maxMessageFiles = 3;
/** Chatwoot takes at most 40 MB of files with one message: more is refused here, not after it was queued. */
export const maxMessageFilesBytes = 40 * 1024 * 1024;
/** How long a link to an attachment works. */
export const attachmentLinkMinutes = 60;

/** A vendor's attachment as stored on the message (never shown as such: the key is ours). */
export interface StoredAttachment { storage_key: string; filename: string; content_type: string; size: number; sha256: string }

export interface MessageForm { id: string; content: string; files: ReceivedFile[] }

// The JSON body's rule for the id (zod's uuid), so both forms accept the same ids.
const messageId = z.uuid();
// Postgres refuses NUL and lone surrogates; multipart fields skip the JSON body's check.
const badText = (value: string) => value.includes('\u0000') || /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(value);


/**
 * Reads a message sent as multipart/form-data: `id`, `content` (may be empty when a file comes
 * with it) and up to three file parts (named `file`, or `fileField`). A file of a type not accepted answers 415, one above the
 * limit 413; nothing received is kept then.
 */
export async function receiveMessageForm(
  req: Request,
  { tmpDir, maxBytes, maxTotalBytes = maxMessageFilesBytes, fileField = 'file' }: { tmpDir: string; maxBytes: number; maxTotalBytes?: number; fileField?: string },
): Promise<MessageForm> {
  const tooLarge = () =>
    new HttpError(413, 'message_too_large', `The files of one message may total at most ${Math.floor(maxTotalBytes / (1024 * 1024))} MB`, { max_total_bytes: maxTotalBytes });
  // A body far above the total (the text fields and part headers are small) is refused before a byte is spooled.
  if (Number(req.get('content-length') ?? 0) > maxTotalBytes + 64 * 1024) throw tooLarge();
  const { files, fields, tooMany } = await receiveForm(req, { tmpDir, maxBytes, maxFiles: maxMessageFiles, fieldSize: 40_000, fileField });
  try {
    if (tooMany) throw new HttpError(413, 'too_many_files', `At most ${maxMessageFiles} files go with one message`, { max_files: maxMessageFiles });
    if (files.reduce((sum, f) => sum + f.size, 0) > maxTotalBytes) throw tooLarge();
    return { ...messageFields(fields, files.length > 0), files };
  } catch (err) {
    await dropReceived(files);
    throw err;
  }
}

/** The text fields of a multipart message, checked as the JSON body is (422 naming `body.<field>`). */
function messageFields(raw: Record<string, string>, withFiles: boolean): { id: string; content: string } {
  const problems: Array<{ field: string; message: string; code: string }> = [];
  const id = (raw.id ?? '').trim();
  const content = (raw.content ?? '').trim();
  if (!messageId.safeParse(id).success) problems.push({ field: 'id', message: 'An id the device makes for this message (a UUID)', code: 'invalid_format' });
  if (badText(content)) problems.push({ field: 'content', message: 'must not contain NUL characters or unpaired UTF-16 surrogates', code: 'invalid_text' });
  else if (content.length > 5000) problems.push({ field: 'content', message: 'At most 5000 characters', code: 'too_long' });
  else if (!content && !withFiles) problems.push({ field: 'content', message: 'Write a message or attach a file', code: 'too_small' });
  if (problems.length) throw new InvalidFieldsError('The message is not valid', problems);
  return { id: id.toLowerCase(), content };
}

/** Puts received files into the storage for a message; on failure nothing stays there. */
export async function storeAttachments(services: Pick<Services, 'files'>, accountId: number, jobId: string, files: ReceivedFile[]): Promise<StoredAttachment[]> {
  const stored: StoredAttachment[] = [];
  try {
    for (const file of files) {
      const key = `${accountId}/${jobId}/messages/${randomUUID()}`;
      await services.files.put(key, fs.createReadStream(file.path, { highWaterMark: 1024 * 1024 }));
      stored.push({ storage_key: key, filename: file.filename, content_type: file.contentType, size: file.size, sha256: file.sha256 });
    }
    return stored;
  } catch (err) {
    await removeAttachments(services, stored);
    throw err;
  }
}

export async function removeAttachments(services: Pick<Services, 'files'>, attachments: Array<{ storage_key?: string }>) {
  for (const a of attachments) if (a.storage_key) await services.files.remove(a.storage_key).catch(() => undefined);
}

export const isStored = (a: unknown): a is StoredAttachment => typeof (a as StoredAttachment | null)?.storage_key === 'string';

/** The link the sender's portal shows an attachment of theirs by. */
export function attachmentLink(services: Pick<Services, 'urlSigner'>, accountId: number, messageId: string, index: number) {
  // Rounded up to the next ten minutes: the thread refetches on every change, and the same link
  // within those minutes lets the phone keep the image it has instead of loading it again.
  const step = 10 * 60_000;
  const expires = new Date(Math.ceil((Date.now() + attachmentLinkMinutes * 60_000) / step) * step);
  return `/api/v1/portal/vendor/message-attachments/content?token=${services.urlSigner.sign({ a: accountId, m: messageId, n: index }, expires)}`;
}

/** The bytes behind a signed link, or null when the link is bad, expired or the file is gone. */
export async function openSignedAttachment(services: Pick<Services, 'urlSigner' | 'db' | 'files'>, token: string) {
  const claims = services.urlSigner.verify(token);
  if (!claims || typeof claims.a !== 'number' || typeof claims.m !== 'string' || !messageId.safeParse(claims.m).success || typeof claims.n !== 'number') return null;
  const row = await read({ db: services.db, accountId: claims.a }, (trx) =>
    trx('vendor_messages').where({ account_id: claims.a, id: claims.m, direction: 'from_vendor' }).first('attachments'),
  );
  const attachment = (row?.attachments as unknown[] | undefined)?.[claims.n as number];
  if (!isStored(attachment)) return null;
  try {
    return { stream: await services.files.open(attachment.storage_key), attachment };
  } catch {
    return null;
  }
}

/** RFC 6266 / 5987: an ASCII fallback and the exact UTF-8 name. */
function disposition(type: 'inline' | 'attachment', filename: string) {
  const ascii = filename.replace(/[^\x20-\x7e]/g, '_').replace(/[\\"]/g, '_');
  return `${type}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`;
}

/** Sends a message's stored file behind a signed link (vendor and client portal threads alike). */
export async function sendAttachment(res: Response, file: { stream: Readable; attachment: Pick<StoredAttachment, 'content_type' | 'filename' | 'size'> }) {
  const { content_type: type, filename, size } = file.attachment;
  const showable = type.startsWith('image/') || type === 'application/pdf';
  res.setHeader('Content-Type', type);
  res.setHeader('Content-Length', String(size));
  res.setHeader('Content-Disposition', disposition(showable ? 'inline' : 'attachment', filename));
  res.setHeader('Cache-Control', 'private, max-age=3600');
  // Served bytes are never a page: no scripts, no plugins, even if a browser tried to render them.
  res.setHeader('Content-Security-Policy', "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox");
  res.setHeader('X-Content-Type-Options', 'nosniff');
  // pipeline, not pipe: a client that goes away closes the file (or connection) too.
  await pipeline(file.stream, res).catch(() => undefined);
}
