// File storage: one contract, two drivers. The local disk and an S3-compatible bucket (a real
// s3rver, never a mocked client) must both keep bytes exactly, say ENOENT for a missing key,
// remove idempotently, refuse keys that could escape, honour the bucket prefix and never show a
// half-written file. Then the app itself on S3: a job file uploaded through the real route comes
// back byte for byte through its signed link and lives in the bucket, not on the disk.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import sharp from 'sharp';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../extension/config.ts';
import { createFileStorage, type FileStorage } from '../../extension/storage/index.ts';
import { createS3Client, s3Storage } from '../../extension/storage/s3.ts';
import { apiAs, fetchSignedLink } from '../helpers/api.ts';
import { signInAgent } from '../helpers/identity.ts';
import { startS3, type TestS3 } from '../helpers/s3.ts';
import { useWorld } from '../helpers/world.ts';

interface Driver {
  storage: FileStorage;
  /** Where the driver really put things: paths under the folder, or keys in the bucket. */
  stored(): Promise<string[]>;
  /** The location `key` must land at. */
  locationOf(key: string): string;
  close(): Promise<void>;
}

function filesUnder(root: string) {
  if (!fs.existsSync(root)) return [];
  return fs.readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(root, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
    .sort();
}

async function localDriver(): Promise<Driver> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'onelink-storage-'));
  return {
    storage: createFileStorage(loadConfig({ ONELINK_FILES_DIR: root })),
    stored: async () => filesUnder(root),
    locationOf: (key) => key,
    close: async () => fs.rmSync(root, { recursive: true, force: true }),
  };
}

async function s3Driver(): Promise<Driver> {
  const s3 = await startS3({ prefix: 'tenants/files/' });
  const config = loadConfig({ ...s3.env, ONELINK_FILES_DIR: path.join(os.tmpdir(), 'onelink-storage-unused') });
  return {
    storage: createFileStorage(config),
    stored: () => s3.keys(),
    locationOf: (key) => `tenants/files/${key}`,
    close: () => s3.close(),
  };
}

/** `size` random bytes handed over in 64 KB chunks, as a file stream would, with their SHA-256. */
function randomSource(size: number) {
  const data = randomBytes(size);
  const chunks = function* () {
    for (let at = 0; at < size; at += 64 * 1024) yield data.subarray(at, at + 64 * 1024);
  };
  return { stream: Readable.from(chunks(), { objectMode: false }), sha256: createHash('sha256').update(data).digest('hex'), size };
}

/** A source that sends `before` bytes, then fails as a broken disk or connection would. */
function failingSource(before: number) {
  const chunks = async function* () {
    for (let sent = 0; sent < before; sent += 256 * 1024) yield randomBytes(256 * 1024);
    throw new Error('the source broke midway');
  };
  return Readable.from(chunks(), { objectMode: false });
}

async function digestOf(stream: Readable) {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { sha256: hash.digest('hex'), size };
}

describe.each([
  ['the local disk', localDriver],
  ['an S3-compatible bucket', s3Driver],
])('file storage on %s', (_name, start) => {
  let driver: Driver;
  let storage: FileStorage;
  beforeAll(async () => {
    driver = await start();
    storage = driver.storage;
  });
  afterAll(() => driver.close());

  it('gives back a multi-megabyte binary byte for byte (several upload parts on S3)', async () => {
    const source = randomSource(12 * 1024 * 1024 + 123);
    await storage.put('1/job-a/photo-1', source.stream);
    expect(await digestOf(await storage.open('1/job-a/photo-1'))).toEqual({ sha256: source.sha256, size: source.size });
    // Twice: a stored file is read as often as it is linked.
    expect((await digestOf(await storage.open('1/job-a/photo-1'))).sha256).toBe(source.sha256);
  });

  it('keeps each file where it belongs: under its key, below the configured prefix', async () => {
    await storage.put('7/job-b/doc.thumb.webp', Readable.from([Buffer.from('thumbnail')]));
    expect(await driver.stored()).toContain(driver.locationOf('7/job-b/doc.thumb.webp'));
    expect((await driver.stored()).every((where) => where.startsWith(driver.locationOf('')))).toBe(true);
  });

  it('answers ENOENT for a key that holds nothing', async () => {
    await expect(storage.open('1/job-a/never-stored')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('removes idempotently: twice, or a key never stored, is fine', async () => {
    await storage.put('1/job-c/gone', Readable.from([Buffer.from('short-lived')]));
    await storage.remove('1/job-c/gone');
    await storage.remove('1/job-c/gone');
    await storage.remove('1/job-c/never-there');
    await expect(storage.open('1/job-c/gone')).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await driver.stored()).not.toContain(driver.locationOf('1/job-c/gone'));
  });

  it('refuses keys that could leave their place, for every operation, storing nothing', async () => {
    const before = await driver.stored();
    for (const key of ['../outside', '1/../../etc/passwd', '/absolute', '1//double', '1/trailing/', '', '.hidden', '1/a b', '1/job\\x']) {
      await expect(storage.put(key, Readable.from([Buffer.from('x')])), key).rejects.toThrow(/Unsafe storage key/);
      await expect(storage.open(key), key).rejects.toThrow(/Unsafe storage key/);
      await expect(storage.remove(key), key).rejects.toThrow(/Unsafe storage key/);
    }
    expect(await driver.stored()).toEqual(before);
  });

  it('shows nothing under a key whose upload failed midway, small or past the first part', async () => {
    const before = await driver.stored();
    await expect(storage.put('1/job-d/broken-small', failingSource(512 * 1024))).rejects.toThrow();
    await expect(storage.put('1/job-d/broken-large', failingSource(7 * 1024 * 1024))).rejects.toThrow();
    await expect(storage.open('1/job-d/broken-small')).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(storage.open('1/job-d/broken-large')).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await driver.stored()).toEqual(before);
  });
});

describe('S3 settings', () => {
  it('refuses one S3 key without the other, in one line naming the missing one', () => {
    expect(() => loadConfig({ ONELINK_S3_BUCKET: 'files', ONELINK_S3_ACCESS_KEY_ID: 'AKIA123' })).toThrow(ConfigError);
    expect(() => loadConfig({ ONELINK_S3_BUCKET: 'files', ONELINK_S3_ACCESS_KEY_ID: 'AKIA123' })).toThrow(/ONELINK_S3_SECRET_ACCESS_KEY must be set together with ONELINK_S3_ACCESS_KEY_ID/);
    expect(() => loadConfig({ ONELINK_S3_SECRET_ACCESS_KEY: 'secret' })).toThrow(/ONELINK_S3_ACCESS_KEY_ID must be set together/);
    expect(() => loadConfig({ ONELINK_S3_ACCESS_KEY_ID: 'AKIA123', ONELINK_S3_SECRET_ACCESS_KEY: 'secret' })).not.toThrow();
  });

  it('gives up on an endpoint that accepts connections but never answers', async () => {
    // A socket that swallows every request: what a hung S3 looks like from here.
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => void sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as net.AddressInfo;
    const client = createS3Client(
      { ONELINK_S3_REGION: 'us-east-1', ONELINK_S3_ENDPOINT: `http://127.0.0.1:${port}`, ONELINK_S3_ACCESS_KEY_ID: 'k', ONELINK_S3_SECRET_ACCESS_KEY: 's', ONELINK_S3_FORCE_PATH_STYLE: true },
      { connectionTimeout: 200, requestTimeout: 300, socketTimeout: 300 },
    );
    try {
      const started = Date.now();
      await expect(s3Storage(client, 'files').open('1/job/file')).rejects.toMatchObject({ name: 'TimeoutError' });
      expect(Date.now() - started).toBeLessThan(5_000); // the SDK's retries included
    } finally {
      client.destroy();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});

describe('the app with its files in S3', () => {
  const world = useWorld([1], { storage: 's3' });

  it('stores an uploaded job photo and its preview in the bucket, and serves both through signed links', async () => {
    const { t, chatwoot } = world;
    const s3 = t.s3 as TestS3;
    const admin = await signInAgent(t, chatwoot, 1, 'administrator');
    await apiAs(t, admin.token).patch('/admin/capabilities', { profile: 'construction' });
    const agent = await signInAgent(t, chatwoot, 1, 'agent');
    const jobId = (await apiAs(t, agent.token).post('/jobs', { summary: 'Leaking pipe', chatwoot_contact_id: 8200 })).body.data.id as string;
    // Noise keeps the JPEG large (about 2 MB), so the bytes really stream.
    const noise = randomBytes(1000 * 700 * 3);
    const photo = await sharp(noise, { raw: { width: 1000, height: 700, channels: 3 } }).jpeg({ quality: 95 }).toBuffer();

    const res = await request(t.app).post(`/api/v1/jobs/${jobId}/artifacts`).set('Authorization', `Bearer ${agent.token}`).attach('file', photo, 'pipe.jpg');
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const artifact = res.body.data as { id: string; url: string; thumbnail_url: string };

    const original = await fetchSignedLink(t, artifact.url);
    expect(original.status).toBe(200);
    expect(createHash('sha256').update(original.body as Buffer).digest('hex')).toBe(createHash('sha256').update(photo).digest('hex'));
    const thumbnail = await fetchSignedLink(t, artifact.thumbnail_url);
    expect([thumbnail.status, thumbnail.headers['content-type']]).toEqual([200, 'image/webp']);

    const key = `${admin.accountId}/${jobId}/${artifact.id}`;
    expect(await s3.keys()).toEqual([key, `${key}.thumb.webp`]);
    expect(filesUnder(t.config.filesDir)).toEqual([]); // nothing kept on this replica's disk
  });
});
