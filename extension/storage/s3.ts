// Files in an S3-compatible bucket (AWS S3, MinIO, Ceph, R2 …), so that every replica reads and
// writes the same files without a shared disk. Bytes stream both ways: an upload is sent in
// 5 MB parts as it is read, a download is handed on as the response arrives.
import { GetObjectCommand, DeleteObjectCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { Readable } from 'node:stream';
import type { Config } from '../config.ts';
import type { FileStorage } from './file-storage.ts';

// The SDK warns once per client on Node 20; we support Node 20 on purpose. Read when a client is made.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export type S3Settings = Pick<
  Config,
  'ONELINK_S3_REGION' | 'ONELINK_S3_ENDPOINT' | 'ONELINK_S3_ACCESS_KEY_ID' | 'ONELINK_S3_SECRET_ACCESS_KEY' | 'ONELINK_S3_FORCE_PATH_STYLE'
>;

/** Smallest part S3 accepts; also how much of one upload is held in memory per part in flight. */
const partSize = 5 * 1024 * 1024;

// A hung endpoint must fail the request, not hold it (and its caller) forever: a few seconds to
// connect, a minute for an answer to start (a part upload included), two minutes of silence mid-stream.
const defaultTimeouts = { connectionTimeout: 5_000, requestTimeout: 60_000, socketTimeout: 120_000 };

export function createS3Client(settings: S3Settings, timeouts: typeof defaultTimeouts = defaultTimeouts): S3Client {
  const options: S3ClientConfig = {
    region: settings.ONELINK_S3_REGION,
    endpoint: settings.ONELINK_S3_ENDPOINT,
    forcePathStyle: settings.ONELINK_S3_FORCE_PATH_STYLE,
    // Checksums only where S3 demands them: with the default (always), several S3-compatible
    // servers keep the aws-chunked framing inside the stored object.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // Each download holds a connection for as long as its reader takes; the SDK's 50 would let a
    // few dozen slow phones stall every other file operation of the process.
    requestHandler: { ...timeouts, throwOnRequestTimeout: true, httpAgent: { maxSockets: 256 }, httpsAgent: { maxSockets: 256 } },
  };
  // Unset keys leave the SDK's own chain (environment, instance role, web identity) to find credentials.
  if (settings.ONELINK_S3_ACCESS_KEY_ID && settings.ONELINK_S3_SECRET_ACCESS_KEY) {
    options.credentials = { accessKeyId: settings.ONELINK_S3_ACCESS_KEY_ID, secretAccessKey: settings.ONELINK_S3_SECRET_ACCESS_KEY };
  }
  return new S3Client(options);
}

/** A missing object, whichever way the server says so, as the ENOENT callers already handle. */
function missingAsEnoent(err: unknown, key: string): unknown {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  const missing = e?.name === 'NoSuchKey' || (e?.$metadata?.httpStatusCode === 404 && e.name !== 'NoSuchBucket');
  return missing ? Object.assign(new Error(`No stored file under ${key}`), { code: 'ENOENT' }) : err;
}

/**
 * The bucket as FileStorage. Keys are used as given (after the prefix): use createFileStorage,
 * which refuses unsafe keys before they reach here.
 */
export function s3Storage(client: S3Client, bucket: string, prefix = ''): FileStorage {
  const objectKey = (key: string) => `${prefix}${key}`;
  return {
    async put(key, source) {
      const upload = new Upload({
        client,
        params: { Bucket: bucket, Key: objectKey(key), Body: source },
        partSize,
        queueSize: 2,
        // A failed upload is aborted: its parts are dropped and no object appears under the key.
        leavePartsOnError: false,
      });
      try {
        await upload.done();
      } finally {
        // An error on the far side ends the upload, not our reading of the source: release it.
        if (!source.destroyed) source.destroy();
      }
    },
    async open(key) {
      try {
        const answer = await client.send(new GetObjectCommand({ Bucket: bucket, Key: objectKey(key) }));
        return answer.Body as Readable;
      } catch (err) {
        throw missingAsEnoent(err, key);
      }
    },
    async remove(key) {
      // S3 answers 204 for a key that is not there: removing is idempotent already.
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: objectKey(key) }));
    },
    // No openBlob: a Blob read lazily from S3 is not possible without a local copy; callers fall back to open().
  };
}
