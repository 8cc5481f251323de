// Where uploaded files live. Callers see keys and streams only, so another driver (object
// storage) can replace the local disk without touching them. Keys are ours (account/job/file
// ids), never user input, and never appear in a URL.
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
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

const safeKey = /^[A-Za-z0-9_-]+(\/[A-Za-z0-9_.-]+)*$/;

/** Files on the local disk under `root` (by default ./.data/files). */
export function localDiskStorage(root: string): FileStorage {
  const pathOf = (key: string) => {
    if (!safeKey.test(key) || key.includes('..')) throw new Error(`Unsafe storage key: ${key}`);
    return path.join(root, key);
  };
  return {
    async put(key, source) {
      const target = pathOf(key);
      await fs.promises.mkdir(path.dirname(target), { recursive: true });
      // Written beside the target, then renamed: a reader never sees half a file.
      const partial = `${target}.partial`;
      try {
        await pipeline(source, fs.createWriteStream(partial, { flags: 'wx', mode: 0o600 }));
        await fs.promises.rename(partial, target);
      } catch (err) {
        await fs.promises.rm(partial, { force: true });
        throw err;
      }
    },
    async open(key) {
      const file = pathOf(key);
      await fs.promises.access(file, fs.constants.R_OK);
      return fs.createReadStream(file);
    },
    async remove(key) {
      await fs.promises.rm(pathOf(key), { force: true });
    },
    async openBlob(key, type) {
      const file = pathOf(key);
      // openAsBlob finds a missing file only when the Blob is read: answer ENOENT now, as open() does.
      await fs.promises.access(file, fs.constants.R_OK);
      return fs.openAsBlob(file, type ? { type } : undefined);
    },
  };
}
