// Where resumable uploads wait while they arrive: a private folder beside the stored files
// (<files dir>/.uploads), one data file and one JSON record per upload, as @tus/file-store keeps
// them. A finished upload's bytes move into the artifact storage and its data file is emptied; its
// record stays (naming the artifact) so a device that missed the answer still learns it. Every
// upload, finished or not, is swept a day after it was created.
import { createHash, type Hash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FileStore } from '@tus/file-store';
import { ERRORS, Metadata, type Upload } from '@tus/server';
import type { Config } from '../config.ts';
import { artifactKey } from './metadata.ts';

/** tus answers 410 for an unfinished upload this old; the sweep then removes it. */
export const uploadExpiryMs = 24 * 3600_000;

/** The ids tus gives uploads (16 random bytes in hex); nothing else names a file here. */
export const uploadIdPattern = /^[0-9a-f]{32}$/;

export function uploadsDir(config: Pick<Config, 'filesDir'>) {
  return path.join(config.filesDir, '.uploads');
}

/** ONELINK_UPLOAD_MAX_BYTES, else the multipart limit ONELINK_UPLOAD_MAX_MB. */
export function uploadMaxBytes(config: Pick<Config, 'ONELINK_UPLOAD_MAX_BYTES' | 'ONELINK_UPLOAD_MAX_MB'>) {
  return config.ONELINK_UPLOAD_MAX_BYTES ?? config.ONELINK_UPLOAD_MAX_MB * 1024 * 1024;
}

/**
 * @tus/file-store, hashing the bytes as they are written: an upload sent in order within this
 * process is finished without reading it again (the usual case); any other (a restart, a write
 * that failed) is hashed from the file. Writes go out in up to 1 MB batches.
 */
export class UploadStore extends FileStore {
  private readonly hashes = new Map<string, { hash: Hash; offset: number }>();

  override async write(readable: Readable, id: string, offset: number): Promise<number> {
    if (!uploadIdPattern.test(id)) throw ERRORS.FILE_NOT_FOUND;
    const running = this.hashes.get(id);
    this.hashes.delete(id);
    const hash = offset === 0 ? createHash('sha256') : running?.offset === offset ? running.hash : null;
    let received = 0;
    const counting = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        received += chunk.length;
        hash?.update(chunk);
        done(null, chunk);
      },
    });
    try {
      await pipeline(readable, counting, fs.createWriteStream(path.join(this.directory, id), { flags: 'r+', start: offset, highWaterMark: 1024 * 1024 }));
    } catch {
      throw ERRORS.FILE_WRITE_ERROR;
    }
    if (hash) this.hashes.set(id, { hash, offset: offset + received });
    return offset + received;
  }

  override async remove(id: string) {
    this.forget(id);
    await super.remove(id);
  }

  /** Drops what is kept in memory for an upload (removed or swept). */
  forget(id: string) {
    this.hashes.delete(id);
  }

  /** The SHA-256 of an upload's first `size` bytes if they were hashed on arrival; forgets it either way. */
  takeDigest(id: string, size: number) {
    const running = this.hashes.get(id);
    this.hashes.delete(id);
    return running?.offset === size ? running.hash.digest('hex') : null;
  }
}

export function createUploadStore(dir: string) {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  return new UploadStore({ directory: dir, expirationPeriodInMilliseconds: uploadExpiryMs });
}

export interface UploadState {
  id: string;
  size: number;
  /** Bytes received so far (the data file's length); the size once finished. */
  offset: number;
  metadata: Record<string, string | null>;
  creationDate: string | undefined;
  /** The data file, while there is one. */
  file: string;
  artifactId: string | null;
}

/** An upload's record and progress, or null when there is none. */
export async function loadUpload(store: UploadStore, dir: string, id: string): Promise<UploadState | null> {
  if (!uploadIdPattern.test(id)) return null;
  const record = (await store.configstore.get(id)) as Upload | undefined;
  if (!record || typeof record.size !== 'number') return null;
  const metadata = record.metadata ?? {};
  const artifactId = metadata[artifactKey] ?? null;
  const file = path.join(dir, id);
  let offset = record.size;
  if (!artifactId) {
    const stat = await fs.promises.stat(file).catch(() => null);
    if (!stat) return null;
    offset = stat.size;
  }
  return { id, size: record.size, offset, metadata, creationDate: record.creation_date, file, artifactId };
}

/**
 * Records the artifact a finished upload became, then lets its bytes go. The data file is
 * emptied rather than removed: tus still looks at it while answering a creation request that
 * carried the whole file; the sweep removes it with the record.
 */
export async function markFinished(store: UploadStore, upload: UploadState, artifactId: string) {
  const record = (await store.configstore.get(upload.id)) as Upload | undefined;
  if (record) {
    record.metadata = { ...record.metadata, [artifactKey]: artifactId };
    await store.configstore.set(upload.id, record);
  }
  await fs.promises.truncate(upload.file, 0).catch(() => undefined);
}

/** Removes an upload entirely (a refused file). */
export async function removeUpload(dir: string, id: string) {
  if (!uploadIdPattern.test(id)) return;
  await fs.promises.rm(path.join(dir, id), { force: true });
  await fs.promises.rm(path.join(dir, `${id}.json`), { force: true });
}

/** The metadata as tus echoes it, without the keys the server keeps for itself. */
export function echoedMetadata(metadata: Record<string, string | null>) {
  return Metadata.stringify(Object.fromEntries(Object.entries(metadata).filter(([key]) => !key.startsWith('onelink_'))));
}

/**
 * Removes uploads created more than a day ago (finished or abandoned), and stray data files as
 * old with no record. Answers how many uploads went.
 */
export async function sweepUploads(dir: string, now = Date.now(), forget: (id: string) => void = () => undefined) {
  const names = await fs.promises.readdir(dir).catch(() => [] as string[]);
  const records = new Set(names.filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -'.json'.length)));
  let removed = 0;
  for (const id of records) {
    if (!uploadIdPattern.test(id)) continue;
    let created = Number.NaN;
    try {
      const record = JSON.parse(await fs.promises.readFile(path.join(dir, `${id}.json`), 'utf8')) as { creation_date?: string };
      created = Date.parse(record.creation_date ?? '');
    } catch {
      // unreadable: judged by the file's age below
    }
    if (Number.isNaN(created)) created = (await fs.promises.stat(path.join(dir, `${id}.json`)).catch(() => null))?.mtimeMs ?? now;
    if (now - created > uploadExpiryMs) {
      await removeUpload(dir, id);
      forget(id);
      removed++;
    }
  }
  for (const name of names) {
    if (!uploadIdPattern.test(name) || records.has(name)) continue;
    const stat = await fs.promises.stat(path.join(dir, name)).catch(() => null);
    if (stat && now - stat.mtimeMs > uploadExpiryMs) {
      await fs.promises.rm(path.join(dir, name), { force: true });
      forget(name);
      removed++;
    }
  }
  return removed;
}
