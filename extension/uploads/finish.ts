// A finished upload becomes a job artifact: its type is read from its bytes (not from the name
// or the device's say-so), then the artifacts service stores it exactly as a multipart upload,
// once per (job, client id). A refusal (a type not accepted, a job no longer theirs) removes the
// upload; a failure on our side keeps the bytes, and the next HEAD or PATCH tries again.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import type { RequestContext } from '../context.ts';
import { HttpError, httpErrorFrom } from '../http/errors.ts';
import type { Logger } from '../logger.ts';
import { storeReceivedArtifact } from '../modules/artifacts/service.ts';
import { cleanFilename, sniff, sniffBytes, type ReceivedFile } from '../modules/artifacts/upload.ts';
import type { Services } from '../services.ts';
import { sameAsKey } from './metadata.ts';
import { markFinished, removeUpload, type UploadState, type UploadStore } from './store.ts';

export type FinishOutcome =
  | { ok: true; artifactId: string; created: boolean }
  | { ok: false; status: number; code: string; message: string; details: unknown };

/** The received file as the artifacts service takes it: sniffed type, size and SHA-256 (hashed on arrival, or now). */
async function inspect(file: string, filename: string, digest: string | null): Promise<ReceivedFile> {
  const handle = await fs.promises.open(file, 'r');
  let head: Buffer;
  try {
    const buffer = Buffer.alloc(sniffBytes);
    const { bytesRead } = await handle.read(buffer, 0, sniffBytes, 0);
    head = buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
  const type = await sniff(head); // 415 for a type not on the list
  if (digest) return { path: file, filename, contentType: type.contentType, kind: type.kind, size: (await fs.promises.stat(file)).size, sha256: digest };
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { path: file, filename, contentType: type.contentType, kind: type.kind, size, sha256: hash.digest('hex') };
}

export async function finishUpload(services: Services, ctx: RequestContext, store: UploadStore, dir: string, upload: UploadState, log?: Logger): Promise<FinishOutcome> {
  const meta = upload.metadata;
  try {
    // A file the device had already sent (known when this upload was created): the bytes are not needed.
    const sameAs = meta[sameAsKey];
    if (sameAs) {
      store.forget(upload.id);
      await markFinished(store, upload, sameAs);
      return { ok: true, artifactId: sameAs, created: false };
    }
    const received = await inspect(upload.file, cleanFilename(meta.filename ?? undefined), store.takeDigest(upload.id, upload.size));
    const { artifact, created } = await storeReceivedArtifact(services, ctx, meta.job_id!, received, {
      tag: meta.tag ?? null,
      clientId: meta.client_id ?? null,
      takenAt: meta.taken_at ? new Date(meta.taken_at) : null,
      // Checked when the upload was created (metadata.ts); the account's setting decides whether it is kept.
      location: meta.taken_lat && meta.taken_lng ? { lat: Number(meta.taken_lat), lng: Number(meta.taken_lng), accuracyM: meta.taken_accuracy_m ? Number(meta.taken_accuracy_m) : null } : null,
    });
    if (!created && (artifact as { sha256?: unknown }).sha256 !== received.sha256) {
      log?.warn({ uploadId: upload.id, artifactId: artifact.id }, 'a file sent again under the same client id differs from the one kept; the first is kept');
    }
    await markFinished(store, upload, artifact.id);
    return { ok: true, artifactId: artifact.id, created };
  } catch (err) {
    const known = err instanceof HttpError ? err : httpErrorFrom(err);
    if (known && known.status < 500) {
      store.forget(upload.id);
      await removeUpload(dir, upload.id);
      return { ok: false, status: known.status, code: known.code, message: known.message, details: known.details ?? null };
    }
    log?.error({ err, uploadId: upload.id }, 'a finished upload could not be stored; it is kept for the next attempt');
    return { ok: false, status: 500, code: 'internal_error', message: 'The file arrived but could not be stored yet; ask again (HEAD) to retry', details: null };
  }
}
