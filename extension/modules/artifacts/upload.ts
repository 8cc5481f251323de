// Receives one uploaded file from a multipart/form-data request (field `file`) into a private
// temporary file: streamed (never held in memory), hashed, size-limited, and typed from its
// first bytes, not from its name or the browser's say-so. Anything not on the list is refused.
import { createHash, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import busboy from 'busboy';
import type { Request } from 'express';
import { fileTypeFromBuffer } from 'file-type';
import { HttpError, badRequest } from '../../http/errors.ts';

/** What may be uploaded, by sniffed type: photos get thumbnails, documents are kept as they are. */
export const acceptedTypes: Record<string, 'photo' | 'document'> = {
  'image/jpeg': 'photo',
  'image/png': 'photo',
  'image/webp': 'photo',
  'image/gif': 'photo',
  'image/heic': 'photo',
  'image/heif': 'photo',
  'application/pdf': 'document',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': 'document',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': 'document',
};

export interface ReceivedFile {
  /** The temporary file; the caller stores it and removes it. */
  path: string;
  filename: string;
  contentType: string;
  kind: 'photo' | 'document';
  size: number;
  sha256: string;
}

/** enough bytes for file-type to recognise every format it knows */
export const sniffBytes = 4100;

/** A name safe to show and to put in a Content-Disposition header: no paths, no control characters. */
export function cleanFilename(name: string | undefined) {
  const base = (name ?? '').split(/[\\/]/).pop() ?? '';
  const cleaned = base.replace(/[\u0000-\u001f\u007f"]/g, '').trim().slice(0, 200);
  return cleaned || 'upload';
}

/** The accepted type of a file from its first bytes (up to sniffBytes); 415 for anything else. */
export async function sniff(head: Buffer) {
  const detected = await fileTypeFromBuffer(head);
  const kind = detected && acceptedTypes[detected.mime];
  if (!detected || !kind) {
    throw new HttpError(415, 'file_type_not_allowed', `This kind of file is not accepted${detected ? ` (${detected.mime})` : ''}; send a photo (JPEG, PNG, WebP, GIF, HEIC) or a PDF, Word or Excel document`, {
      detected: detected?.mime ?? null,
      accepted: Object.keys(acceptedTypes),
    });
  }
  return { contentType: detected.mime, kind };
}

/**
 * Reads the file part to the end whatever happens (so the request is fully consumed and the
 * connection stays usable), writing it only once its type is known to be acceptable. On any
 * failure nothing is left behind: the temporary file is closed and removed.
 */
export async function spool(stream: Readable & { truncated?: boolean }, filename: string, tmpDir: string, maxBytes: number): Promise<ReceivedFile> {
  const tmp = path.join(tmpDir, randomUUID());
  const hash = createHash('sha256');
  let size = 0;
  let head: Buffer[] = [];
  let headLength = 0;
  let out: fs.WriteStream | null = null;
  let type: Awaited<ReturnType<typeof sniff>> | null = null;
  let failure: unknown = null;
  const write = async (file: fs.WriteStream, chunk: Buffer) => {
    if (!file.write(chunk)) await once(file, 'drain'); // rejects if the stream errors meanwhile
  };
  const open = async () => {
    type = await sniff(Buffer.concat(head));
    const file = fs.createWriteStream(tmp, { flags: 'wx', mode: 0o600 });
    file.on('error', (err) => (failure ??= err)); // a disk error (ENOSPC) fails this upload, not the process
    out = file;
    for (const chunk of head) await write(file, chunk);
    head = [];
    return file;
  };
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      if (failure) continue; // keep draining
      try {
        size += chunk.length;
        hash.update(chunk);
        if (out) await write(out, chunk);
        else {
          head.push(chunk);
          headLength += chunk.length;
          if (headLength >= sniffBytes) await open();
        }
      } catch (err) {
        failure ??= err;
      }
    }
    if (failure) throw failure;
    if (stream.truncated) {
      throw new HttpError(413, 'file_too_large', `The file is larger than ${Math.round(maxBytes / (1024 * 1024))} MB`, { max_bytes: maxBytes });
    }
    if (size === 0) throw badRequest('empty_file', 'The file is empty');
    const file = out ?? (await open());
    file.end();
    await once(file, 'finish');
    if (failure) throw failure;
    return { path: tmp, filename, contentType: type!.contentType, kind: type!.kind, size, sha256: hash.digest('hex') };
  } catch (err) {
    (out as fs.WriteStream | null)?.destroy();
    await fs.promises.rm(tmp, { force: true });
    throw err;
  }
}

export interface ReceivedForm {
  files: ReceivedFile[];
  fields: Record<string, string>;
  /** More `file` parts came than `maxFiles`: the extra ones were read and dropped. */
  tooMany: boolean;
}

/**
 * Reads a multipart/form-data request: its text fields and up to `maxFiles` parts named `fileField` (`file` by default),
 * each spooled to a private temporary file (typed from its bytes, size-limited). Other file parts
 * are read and dropped. When anything fails, every file received is removed before the error.
 */
export async function receiveForm(req: Request, options: { tmpDir: string; maxBytes: number; maxFiles?: number; fieldSize?: number; fileField?: string }): Promise<ReceivedForm> {
  const { tmpDir, maxBytes, maxFiles = 1, fieldSize = 4096, fileField = 'file' } = options;
  await fs.promises.mkdir(tmpDir, { recursive: true, mode: 0o700 });
  let parser: busboy.Busboy;
  try {
    parser = busboy({ headers: req.headers, limits: { files: maxFiles + 1, fileSize: maxBytes, fields: 10, fieldSize, parts: maxFiles + 13 } });
  } catch {
    throw badRequest('malformed_upload', 'The multipart request could not be read');
  }
  const fields: Record<string, string> = {};
  const received: Array<Promise<ReceivedFile>> = [];
  let tooMany = false;
  const parsed = new Promise<void>((resolve, reject) => {
    parser.on('field', (name, value) => {
      fields[name] = value;
    });
    parser.on('file', (field, stream, info) => {
      if (field !== fileField || received.length >= maxFiles) {
        if (field === fileField) tooMany = true;
        stream.resume();
        return;
      }
      const file = spool(stream, cleanFilename(info.filename), tmpDir, maxBytes);
      file.catch(() => undefined); // settled below
      received.push(file);
    });
    parser.on('filesLimit', () => (tooMany = true));
    parser.on('close', resolve);
    parser.on('error', () => reject(badRequest('malformed_upload', 'The multipart request could not be read')));
  });
  // pipeline destroys the parser when the client goes away, which ends the file streams with an error.
  const piped = pipeline(req, parser).catch(() => {
    throw badRequest('upload_aborted', 'The upload was interrupted or malformed');
  });
  const parsing = await Promise.all([parsed, piped]).then(
    () => null,
    (err: unknown) => ({ err }),
  );
  // Every file part is settled (kept or removed) before answering: none outlives a failed request.
  const results = await Promise.allSettled(received);
  const files = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const refused = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (parsing || refused) {
    await dropReceived(files);
    throw parsing ? parsing.err : refused!.reason;
  }
  return { files, fields, tooMany };
}

/** Removes received files from the temporary folder. */
export async function dropReceived(files: ReceivedFile[]) {
  for (const file of files) await fs.promises.rm(file.path, { force: true }).catch(() => undefined);
}

/** One file in a field named `file` (a job file). */
export async function receiveFile(req: Request, { tmpDir, maxBytes }: { tmpDir: string; maxBytes: number }): Promise<ReceivedFile> {
  if (!req.is('multipart/form-data')) {
    throw new HttpError(415, 'unsupported_media_type', 'Send the file as multipart/form-data in a field named "file"');
  }
  const { files } = await receiveForm(req, { tmpDir, maxBytes });
  if (!files[0]) throw badRequest('file_required', 'Send the file in a multipart field named "file"');
  return files[0];
}
