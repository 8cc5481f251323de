// npm run bench:uploads — a 10 MB file into a job, on the embedded Postgres, at loopback speed:
//   through tus (tus-js-client: POST, then one PATCH with the bytes; finishing sniffs, hashes and
//   stores it as a job artifact), next to a plain streamed multipart POST of the same bytes to the
//   artifacts route, in the same run and interleaved. Both are PDFs (no thumbnail), so both
//   paths do the same work after receiving. Figures: server-side time (from the arrival of each
//   request to the end of its answer, summed over the upload's requests), end-to-end time seen by
//   the client, MB/s of both, and the ratio tus / plain; target ≥ 50 MB/s server-side for tus. The
//   tus creation request (authentication, the job check, the upload's record) is shown on its own:
//   it is the fixed cost tus adds, so the ratio rises with the file's size.
// BENCH_RUNS changes the number of measured uploads of each kind (default 8); BENCH_MB the size (default 10).
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Upload } from 'tus-js-client';
import webpush from 'web-push';
import { createApp } from '../../extension/app.ts';
import { issueToken } from '../../extension/auth/tokens.ts';
import { loadConfig } from '../../extension/config.ts';
import { createLogger } from '../../extension/logger.ts';
import { createChannels } from '../../extension/notifications/channels/index.ts';
import { createSealer, createUrlSigner } from '../../extension/security/crypto.ts';
import { noScanner, type Services } from '../../extension/services.ts';
import { localDiskStorage } from '../../extension/storage/index.ts';
import { benchDatabase, percentile, seedAccounts } from './harness.ts';

const runs = Number(process.env.BENCH_RUNS ?? 8);
const megabytes = Number(process.env.BENCH_MB ?? 10);
const size = megabytes * 1024 * 1024;
const targetMBps = 50;

const mbps = (ms: number) => size / (1024 * 1024) / (ms / 1000);
const fmt = (n: number, digits = 1) => n.toFixed(digits);

async function main() {
  const database = await benchDatabase();
  const filesDir = fs.mkdtempSync(path.join(os.tmpdir(), 'onelink-bench-files-'));
  const key = randomBytes(32);
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: database.url,
    ONELINK_ENCRYPTION_KEY: key.toString('base64'),
    ONELINK_FILES_DIR: filesDir,
    ONELINK_UPLOAD_MAX_MB: String(Math.max(25, megabytes + 1)),
  });
  const sealer = createSealer(key);
  const vapid = { ...webpush.generateVAPIDKeys(), subject: 'mailto:bench@onelink.test' };
  const services: Services = {
    db: database.db,
    sealer,
    config,
    auth: { db: database.db, sealer, sessionTtlHours: 24, reverifyMinutes: 15, chatwootTimeoutMs: 2000 },
    jobs: { send: async () => undefined },
    files: localDiskStorage(config.filesDir),
    scanFile: noScanner,
    urlSigner: createUrlSigner(key),
    notifications: { senders: createChannels({ db: database.db, sealer, config, vapid }).senders, vapidPublicKey: vapid.publicKey },
  };

  // One account with a vendor, its owner signed in, and a job given to the vendor.
  let token = '';
  let jobId = '';
  await seedAccounts(database.db, 1, async (trx, accountId) => {
    const [vendor] = await trx('vendors').insert({ account_id: accountId, name: 'Bench Roofing', time_zone: 'Europe/London' }).returning('id');
    const [job] = await trx('jobs')
      .insert({ account_id: accountId, number: 1, status: 'assigned', priority: 'normal', source: 'call', summary: 'Roof survey', vendor_id: vendor.id, created_by_type: 'system', created_by_id: 'bench' })
      .returning('id');
    const [user] = await trx('portal_users').insert({ account_id: accountId, kind: 'vendor', vendor_id: vendor.id, vendor_role: 'owner', name: 'Bench Owner' }).returning('id');
    const issued = issueToken('session', accountId);
    await trx('sessions').insert({ account_id: accountId, subject_type: 'portal_user', subject_id: user.id, token_hash: issued.hash, expires_at: new Date(Date.now() + 3600_000) });
    token = issued.token;
    jobId = job.id;
  });

  const app = createApp({ services, logger: createLogger(config), databaseMode: 'external' });
  const server = http.createServer(app);
  // Server-side time of each request: from its arrival to the end of its answer.
  const serverMs: number[] = [];
  server.on('request', (_req: http.IncomingMessage, res: http.ServerResponse) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => serverMs.push(Number(process.hrtime.bigint() - started) / 1e6));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const file = Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(size - 9)]);

  /** Server time summed over the requests `work` makes, and the client's end-to-end time. */
  async function timed(work: () => Promise<string>) {
    serverMs.length = 0;
    const started = process.hrtime.bigint();
    const artifactId = await work();
    const total = Number(process.hrtime.bigint() - started) / 1e6;
    await new Promise((r) => setImmediate(r)); // the last 'finish' event
    if (!artifactId) throw new Error('no artifact');
    return { server: serverMs.reduce((a, b) => a + b, 0), total, requests: serverMs.length, first: serverMs[0]! };
  }

  const viaTus = () =>
    timed(
      () =>
        new Promise<string>((resolve, reject) => {
          new Upload(file, {
            endpoint: `${base}/api/v1/uploads`,
            headers: { Authorization: `Bearer ${token}` },
            metadata: { job_id: jobId, client_id: randomUUID(), filename: 'survey.pdf', filetype: 'application/pdf' },
            retryDelays: [],
            onSuccess: ({ lastResponse }) => resolve(lastResponse.getHeader('Onelink-Artifact-Id') ?? ''),
            onError: reject,
          }).start();
        }),
    );

  // A plain multipart POST, streamed in 64 KB writes as a browser's form upload would be.
  const viaMultipart = () =>
    timed(
      () =>
        new Promise<string>((resolve, reject) => {
          const boundary = `bench-${randomUUID()}`;
          const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="survey.pdf"\r\nContent-Type: application/pdf\r\n\r\n`);
          const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
          const req = http.request(
            `${base}/api/v1/jobs/${jobId}/artifacts`,
            { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': `multipart/form-data; boundary=${boundary}`, 'Content-Length': head.length + file.length + tail.length } },
            (res) => {
              const chunks: Buffer[] = [];
              res.on('data', (c: Buffer) => chunks.push(c));
              res.on('end', () => {
                if (res.statusCode !== 201) return reject(new Error(`multipart upload answered ${res.statusCode}: ${Buffer.concat(chunks).toString()}`));
                resolve((JSON.parse(Buffer.concat(chunks).toString()) as { data: { id: string } }).data.id);
              });
            },
          );
          req.on('error', reject);
          void (async () => {
            req.write(head);
            for (let at = 0; at < file.length; at += 64 * 1024) {
              if (!req.write(file.subarray(at, at + 64 * 1024))) await new Promise((r) => req.once('drain', r));
            }
            req.end(tail);
          })();
        }),
    );

  try {
    await viaTus(); // warm-up: module loading, first connections, the upload folder
    await viaMultipart();
    const tus: Array<Awaited<ReturnType<typeof viaTus>>> = [];
    const plain: Array<Awaited<ReturnType<typeof viaMultipart>>> = [];
    for (let i = 0; i < runs; i++) {
      tus.push(await viaTus());
      plain.push(await viaMultipart());
    }
    const median = (values: number[]) => percentile([...values].sort((a, b) => a - b), 50);
    const rows = [
      { upload: `tus (tus-js-client, ${tus[0]!.requests} requests)`, samples: runs, server: median(tus.map((r) => r.server)), creation: median(tus.map((r) => r.first)), total: median(tus.map((r) => r.total)), target: true },
      { upload: 'plain multipart POST, streamed', samples: runs, server: median(plain.map((r) => r.server)), creation: null, total: median(plain.map((r) => r.total)), target: false },
    ];
    console.log(`\nUploads: a ${megabytes} MB PDF into a job as a vendor, loopback, medians of ${runs} interleaved runs`);
    console.table(
      rows.map((r) => ({
        upload: r.upload,
        samples: r.samples,
        'server ms': fmt(r.server),
        'server MB/s': fmt(mbps(r.server)),
        'of which creation ms': r.creation === null ? '' : fmt(r.creation),
        'end-to-end ms': fmt(r.total),
        'end-to-end MB/s': fmt(mbps(r.total)),
        'target server MB/s': r.target ? `≥ ${targetMBps}` : '',
        met: r.target ? (mbps(r.server) >= targetMBps ? 'yes' : 'NO') : '',
      })),
    );
    const ratio = mbps(rows[0]!.server) / mbps(rows[1]!.server);
    console.log(`tus / plain POST, server-side throughput: ${fmt(ratio, 2)} (end-to-end: ${fmt(mbps(rows[0]!.total) / mbps(rows[1]!.total), 2)})`);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await new Promise((resolve) => setTimeout(resolve, 500)); // the last change announcement (sent 200 ms after its write)
    await database.close();
    fs.rmSync(filesDir, { recursive: true, force: true });
  }
}

await main();
