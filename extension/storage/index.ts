// Where uploaded files live. Callers see keys and streams only, so another driver (object
// storage) can replace the local disk without touching them. Keys are ours (account/job/file
// ids), never user input, and never appear in a URL.
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Config } from '../config.ts';
import type { FileStorage } from './file-storage.ts';
import { createS3Client, s3Storage } from './s3.ts';

export type { FileStorage };

const safeKey = /^[A-Za-z0-9_-]+(\/[A-Za-z0-9_.-]+)*$/;

/** Throws for a key that could leave its folder (on disk) or its prefix (in a bucket). */
function assertSafeKey(key: string) {
  if (!safeKey.test(key) || key.includes('..')) throw new Error(`Unsafe storage key: ${key}`);
}

/** Files on the local disk under `root` (by default ./.data/files). */
export function localDiskStorage(root: string): FileStorage {
  const pathOf = (key: string) => {
    assertSafeKey(key);
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

/** The same storage, refusing unsafe keys before they reach it. */
function withSafeKeys(storage: FileStorage): FileStorage {
  return {
    async put(key, source) {
      try {
        assertSafeKey(key);
      } catch (err) {
        source.destroy();
        throw err;
      }
      return storage.put(key, source);
    },
    async open(key) {
      assertSafeKey(key);
      return storage.open(key);
    },
    async remove(key) {
      assertSafeKey(key);
      return storage.remove(key);
    },
  };
}

export type StorageConfig = Pick<
  Config,
  | 'filesDir'
  | 'ONELINK_S3_BUCKET'
  | 'ONELINK_S3_REGION'
  | 'ONELINK_S3_ENDPOINT'
  | 'ONELINK_S3_ACCESS_KEY_ID'
  | 'ONELINK_S3_SECRET_ACCESS_KEY'
  | 'ONELINK_S3_FORCE_PATH_STYLE'
  | 'ONELINK_S3_PREFIX'
>;

/** The storage the configuration asks for: the S3 bucket when ONELINK_S3_BUCKET is set, else the local files folder. */
export function createFileStorage(config: StorageConfig): FileStorage {
  if (!config.ONELINK_S3_BUCKET) return localDiskStorage(config.filesDir);
  return withSafeKeys(s3Storage(createS3Client(config), config.ONELINK_S3_BUCKET, config.ONELINK_S3_PREFIX));
}

/** Where files are kept, for the start-up log line (no credentials). */
export function describeFileStorage(config: StorageConfig) {
  return config.ONELINK_S3_BUCKET
    ? { storage: 's3', bucket: config.ONELINK_S3_BUCKET, prefix: config.ONELINK_S3_PREFIX, endpoint: config.ONELINK_S3_ENDPOINT ?? 'aws' }
    : { storage: 'local', dir: config.filesDir };
}
