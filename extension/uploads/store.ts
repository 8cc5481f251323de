// Where resumable uploads wait while they arrive: a private folder beside the stored files
// (<files dir>/.uploads), one data file and one JSON record per upload, as @tus/file-store keeps
// them. A finished upload's bytes move into the artifact storage and its data file is emptied; its
// record stays (naming the artifact) so a device that missed the answer still learns it. Every
// upload, finished or not, is swept a day after it was created. The store also keeps, in memory,
// the unfinished uploads and their declared sizes (read back from the records after a restart),
// so that a person's open uploads and an account's bytes in flight can be capped, and it reads an
// upload's first bytes as soon as they are in, so a file of the wrong type is dropped early.
import { createHash, randomUUID, type Hash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FileStore } from '@tus/file-store';
import { ERRORS, Metadata, type Upload } from '@tus/server';
import type { Config } from '../config.ts';
import { artifactKey, ownerKey, sameAsKey } from './metadata.ts';

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
 * Judges an upload's first bytes (the first `bytes` of the file, or all of a smaller one); rejects
 * with the answer tus sends (`{ status_code, body }`) to refuse the file.
 */
export interface HeadCheck {
  bytes: number;
  check: (head: Buffer) => Promise<void>;
}

/** Limits on unfinished uploads, counted at creation from their declared sizes. */
export interface OpenLimits {
  perOwner: number;
  bytesPerAccount: number;
}

interface OpenUpload {
  /** ownerKey's value: `<account>:<actor type>:<actor id>`. */
  owner: string;
  size: number;
  createdAt: number;
}

const accountOf = (owner: string) => owner.slice(0, owner.indexOf(':') + 1);

/**
 * @tus/file-store, hashing the bytes as they are written: an upload sent in order within this
 * process is finished without reading it again (the usual case); any other (a restart, a write
 * that failed) is hashed from the file. Writes go out in up to 1 MB batches.
 */
export class UploadStore extends FileStore {
  private readonly hashes = new Map<string, { hash: Hash; offset: number }>();
  /** Unfinished uploads by id, and creations in progress by a reservation key. */
  private readonly open = new Map<string, OpenUpload>();
  private loaded: Promise<void> | null = null;

  constructor(directory: string, private readonly headCheck?: HeadCheck) {
    super({ directory, expirationPeriodInMilliseconds: uploadExpiryMs });
  }

  override async write(readable: Readable, id: string, offset: number): Promise<number> {
    if (!uploadIdPattern.test(id)) throw ERRORS.FILE_NOT_FOUND;
    const running = this.hashes.get(id);
    this.hashes.delete(id);
    const hash = offset === 0 ? createHash('sha256') : running?.offset === offset ? running.hash : null;
    const head = await this.headSoFar(id, offset);
    const headCheck = this.headCheck;
    let refusal: unknown = null;
    let received = 0;
    const counting = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        // Refused: the rest of the request is read (so the answer reaches the device) and dropped.
        if (refusal) return done();
        received += chunk.length;
        hash?.update(chunk);
        if (!head || !headCheck || head.length >= head.need) return done(null, chunk);
        head.parts.push(chunk.subarray(0, head.need - head.length));
        head.length = Math.min(head.need, head.length + chunk.length);
        if (head.length < head.need) return done(null, chunk);
        headCheck.check(Buffer.concat(head.parts)).then(
          () => done(null, chunk),
          (err: unknown) => {
            refusal = err;
            done();
          },
        );
      },
    });
    try {
      await pipeline(readable, counting, fs.createWriteStream(path.join(this.directory, id), { flags: 'r+', start: offset, highWaterMark: 1024 * 1024 }));
    } catch {
      if (!refusal) throw ERRORS.FILE_WRITE_ERROR;
    }
    if (refusal) {
      await this.remove(id).catch(() => undefined);
      throw refusal;
    }
    if (hash) this.hashes.set(id, { hash, offset: offset + received });
    return offset + received;
  }

  /**
   * The bytes of an upload before `offset` that its type is read from, while they do not all
   * sit in the file yet; null once they do, or when nothing is to be checked (a file the device
   * had already sent is not kept).
   */
  private async headSoFar(id: string, offset: number) {
    if (!this.headCheck || offset >= this.headCheck.bytes) return null;
    const record = (await this.configstore.get(id)) as Upload | undefined;
    if (!record || typeof record.size !== 'number' || record.metadata?.[sameAsKey]) return null;
    const need = Math.min(this.headCheck.bytes, record.size);
    if (offset >= need) return null;
    const before = Buffer.alloc(offset);
    if (offset > 0) {
      const handle = await fs.promises.open(path.join(this.directory, id), 'r');
      try {
        await handle.read(before, 0, offset, 0);
      } finally {
        await handle.close();
      }
    }
    return { need, parts: [before] as Buffer[], length: offset };
  }

  override async remove(id: string) {
    this.forget(id);
    await super.remove(id);
  }

  /** Drops what is kept in memory for an upload (finished, removed or swept). */
  forget(id: string) {
    this.hashes.delete(id);
    this.open.delete(id);
  }

  /** Reads back the unfinished uploads kept on disk (from before a restart), once. */
  loadOpen() {
    this.loaded ??= (async () => {
      const names = await fs.promises.readdir(this.directory).catch(() => [] as string[]);
      for (const name of names) {
        const id = name.slice(0, -'.json'.length);
        if (!name.endsWith('.json') || !uploadIdPattern.test(id) || this.open.has(id)) continue;
        const record = (await this.configstore.get(id).catch(() => undefined)) as Upload | undefined;
        const owner = record?.metadata?.[ownerKey];
        if (!record || !owner || record.metadata?.[artifactKey] || typeof record.size !== 'number') continue;
        this.open.set(id, { owner, size: record.size, createdAt: Date.parse(record.creation_date ?? '') || Date.now() });
      }
    })();
    return this.loaded;
  }

  /**
   * Holds a place for an upload about to be created, unless its owner already has `perOwner`
   * unfinished uploads or their account's unfinished uploads would pass `bytesPerAccount`
   * (expired ones, which take no more bytes, do not count). Answers the reservation's key, which
   * claim() turns into the upload's id. Each decision is taken without a pause, so two creations
   * at once cannot both take the last place; a refusal is first checked against the records on
   * disk (an upload removed behind the store's back no longer counts).
   */
  async reserve(owner: string, size: number, limits: OpenLimits): Promise<{ key: string } | { refused: 'uploads' | 'bytes' }> {
    await this.loadOpen();
    const first = this.tryReserve(owner, size, limits);
    if ('key' in first) return first;
    const account = accountOf(owner);
    for (const [id, upload] of [...this.open]) {
      if (!uploadIdPattern.test(id) || accountOf(upload.owner) !== account) continue;
      const kept = await fs.promises.access(path.join(this.directory, `${id}.json`)).then(() => true, () => false);
      if (!kept) this.open.delete(id);
    }
    return this.tryReserve(owner, size, limits);
  }

  private tryReserve(owner: string, size: number, limits: OpenLimits, now = Date.now()): { key: string } | { refused: 'uploads' | 'bytes' } {
    let mine = 0;
    let bytes = 0;
    const account = accountOf(owner);
    for (const upload of this.open.values()) {
      if (now - upload.createdAt > uploadExpiryMs) continue;
      if (upload.owner === owner) mine++;
      if (accountOf(upload.owner) === account) bytes += upload.size;
    }
    if (mine >= limits.perOwner) return { refused: 'uploads' };
    if (bytes + size > limits.bytesPerAccount) return { refused: 'bytes' };
    const key = `reserved:${randomUUID()}`;
    this.open.set(key, { owner, size, createdAt: now });
    return { key };
  }

  /** The upload a reservation was for now exists under `id`. */
  claim(key: string, id: string) {
    const held = this.open.get(key);
    if (!held) return;
    this.open.delete(key);
    this.open.set(id, held);
  }

  /** Gives a reservation back (the creation failed, or was claimed: then nothing happens). */
  release(key: string) {
    this.open.delete(key);
  }

  /** The SHA-256 of an upload's first `size` bytes if they were hashed on arrival; forgets it either way. */
  takeDigest(id: string, size: number) {
    const running = this.hashes.get(id);
    this.hashes.delete(id);
    return running?.offset === size ? running.hash.digest('hex') : null;
  }
}

export function createUploadStore(dir: string, headCheck?: HeadCheck) {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  return new UploadStore(dir, headCheck);
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
  store.forget(upload.id);
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
