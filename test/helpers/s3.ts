// A real S3-compatible server (s3rver) for a test file: on 127.0.0.1, a free port, its objects
// in a temporary folder, one bucket made before the first request. Never a mocked client.
import { HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import S3rver from 's3rver';
import { createS3Client } from '../../extension/storage/s3.ts';

export interface TestS3 {
  bucket: string;
  endpoint: string;
  /** The ONELINK_S3_* variables that point Onelink at this server. */
  env: Record<string, string>;
  /** Every key in the bucket (prefix included), sorted. */
  keys(): Promise<string[]>;
  /** Whether the bucket holds `key` (prefix included). */
  has(key: string): Promise<boolean>;
  close(): Promise<void>;
}

export async function startS3(options: { bucket?: string; prefix?: string } = {}): Promise<TestS3> {
  const bucket = options.bucket ?? 'onelink-test';
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'onelink-s3-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: [{ name: bucket, configs: [] }] });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  // s3rver accepts any signature; these only have to be present.
  const env = {
    ONELINK_S3_BUCKET: bucket,
    ONELINK_S3_ENDPOINT: endpoint,
    ONELINK_S3_REGION: 'us-east-1',
    ONELINK_S3_ACCESS_KEY_ID: 'S3RVER',
    ONELINK_S3_SECRET_ACCESS_KEY: 'S3RVER',
    ONELINK_S3_FORCE_PATH_STYLE: 'true',
    ONELINK_S3_PREFIX: options.prefix ?? '',
  };
  const client = createS3Client({
    ONELINK_S3_REGION: env.ONELINK_S3_REGION,
    ONELINK_S3_ENDPOINT: endpoint,
    ONELINK_S3_ACCESS_KEY_ID: env.ONELINK_S3_ACCESS_KEY_ID,
    ONELINK_S3_SECRET_ACCESS_KEY: env.ONELINK_S3_SECRET_ACCESS_KEY,
    ONELINK_S3_FORCE_PATH_STYLE: true,
  });
  return {
    bucket,
    endpoint,
    env,
    async keys() {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
        keys.push(...(page.Contents ?? []).map((o) => o.Key!));
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return keys.sort();
    },
    async has(key) {
      try {
        await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        return true;
      } catch (err) {
        if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
        throw err;
      }
    },
    async close() {
      client.destroy();
      await server.close();
      fs.rmSync(directory, { recursive: true, force: true });
    },
  };
}
