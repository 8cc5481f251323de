// What every storage driver offers (local disk in index.ts, S3-compatible in s3.ts).
import type { Readable } from 'node:stream';

export interface FileStorage {
  /** Stores the stream's bytes under `key`, replacing nothing: keys are unique. */
  put(key: string, source: Readable): Promise<void>;
  /** The bytes under `key`; rejects with code ENOENT when there are none. */
  open(key: string): Promise<Readable>;
  /** Removes `key`; missing keys are fine. */
  remove(key: string): Promise<void>;
  /** The bytes under `key` as a Blob read only when consumed (never copied into memory); rejects with code ENOENT when there are none. */
  openBlob?(key: string, type?: string): Promise<Blob>;
}
