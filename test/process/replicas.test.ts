// Several processes on one Postgres, as behind a load balancer without sticky sessions: two web
// replicas (ONELINK_WORKER=false) and one worker (ONELINK_WORKER=only). A session made on one
// replica works on the other; a page streaming events from one hears a change written through the
// other; the sign-in limit holds across both; webhooks acknowledged by the web replicas are
// processed once, by the worker; the worker answers health checks and nothing else.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import webpush from 'web-push';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSealer } from '../../extension/security/crypto.ts';
import { startFakeChatwoot, type FakeChatwoot } from '../fakes/chatwoot.ts';
import { chatwootDelivery, contactEvent } from '../fakes/chatwoot-webhooks.ts';
import { freePort } from '../helpers/ports.ts';
import { spawnIn, spawnServer, waitForReady, type Spawned } from '../helpers/processes.ts';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'onelink-replicas-'));
const key = randomBytes(32);
const secret = 'whsec-replicas-0123456789';
let chatwoot: FakeChatwoot;
let databaseUrl: string;
/** The test's own look at the rows: as the superuser, which row-level security does not limit. */
let superuserUrl: string;
let webhookPath: string;
const base = { web1: '', web2: '', worker: '' };
const running: Spawned[] = [];

beforeAll(async () => {
  chatwoot = await startFakeChatwoot();
  chatwoot.addAgent({ id: 1, name: 'Admin', email: 'admin@example.com', token: 'admin-token', accounts: [{ id: 1, name: 'Acme', role: 'administrator' }] });
  const vapid = webpush.generateVAPIDKeys();
  const [pgPort, port1, port2, portWorker] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  // Every replica shares the secrets (sessions, stream tokens and sealed tokens must read the same everywhere).
  const shared = {
    ONELINK_DATA_DIR: dataDir,
    ONELINK_EMBEDDED_PG_PORT: String(pgPort),
    ONELINK_ENCRYPTION_KEY: key.toString('base64'),
    ONELINK_VAPID_PUBLIC_KEY: vapid.publicKey,
    ONELINK_VAPID_PRIVATE_KEY: vapid.privateKey,
    ONELINK_VAPID_SUBJECT: 'mailto:ops@onelink.test',
    ONELINK_SIGN_IN_ATTEMPTS_PER_MINUTE: '4',
    LOG_LEVEL: 'warn',
    HOST: '127.0.0.1',
  };
  const at = (port: number) => ({ PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}` });
  base.web1 = `http://127.0.0.1:${port1}`;
  base.web2 = `http://127.0.0.1:${port2}`;
  base.worker = `http://127.0.0.1:${portWorker}`;

  // The first replica starts the embedded Postgres; the others connect to it as any replica would to a shared one.
  const web1 = spawnServer({ ...shared, ...at(port1), ONELINK_WORKER: 'false' });
  running.push(web1);
  await waitForReady(base.web1, web1);
  const password = encodeURIComponent(fs.readFileSync(path.join(dataDir, 'postgres.password'), 'utf8').trim());
  databaseUrl = `postgres://onelink:${password}@127.0.0.1:${pgPort}/onelink`;
  superuserUrl = `postgres://postgres:${password}@127.0.0.1:${pgPort}/onelink`;
  const web2 = spawnServer({ ...shared, ...at(port2), DATABASE_URL: databaseUrl, ONELINK_WORKER: 'false' });
  const worker = spawnServer({ ...shared, ...at(portWorker), DATABASE_URL: databaseUrl, ONELINK_WORKER: 'only' });
  running.push(web2, worker);
  const cli = spawnIn('npm', ['run', '--silent', 'onelink', '--', 'installation', 'add', '--chatwoot-url', chatwoot.url, '--token', 'admin-token'], { ...shared, ...at(port1), DATABASE_URL: databaseUrl });
  await Promise.all([waitForReady(base.web2, web2), waitForReady(base.worker, worker), cli.exited]);
  expect((await cli.exited).code, cli.output()).toBe(0);
  webhookPath = new URL(/Webhook URL for this Chatwoot: (\S+)/.exec(cli.output())![1]!).pathname;
  // Signed deliveries: the installation's secret, sealed with the shared key.
  await database((c) => c.query('update onelink.installations set webhook_secret_sealed = $1', [createSealer(key).seal(secret)]));
}, 90_000);

afterAll(async () => {
  // The replica that owns the embedded Postgres stops last.
  for (const spawned of [...running].reverse()) {
    if (spawned.child.exitCode === null) spawned.child.kill('SIGTERM');
    await spawned.exited;
  }
  await chatwoot?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
}, 60_000);

async function database<T>(work: (client: pg.Client) => Promise<T>) {
  const client = new pg.Client({ connectionString: superuserUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

const json = (method: string, body: unknown, token?: string): RequestInit => ({
  method,
  headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
  body: JSON.stringify(body),
});

/** An event stream read in the background: what has arrived so far, and a way to stop it. */
async function openStream(url: string) {
  const controller = new AbortController();
  const res = await fetch(url, { signal: controller.signal });
  expect(res.status).toBe(200);
  let received = '';
  const decoder = new TextDecoder();
  const reader = res.body!.getReader();
  void (async () => {
    for (let read = await reader.read(); !read.done; read = await reader.read()) received += decoder.decode(read.value, { stream: true });
  })().catch(() => undefined);
  return { text: () => received, close: () => controller.abort() };
}

describe('two web replicas and a worker on one Postgres', () => {
  it('share sessions, live changes and the sign-in limit; the worker processes each webhook once and serves only health checks', { timeout: 45_000 }, async () => {
    // A session made on replica 1 works on replica 2.
    const signIn = await fetch(`${base.web1}/api/v1/auth/chatwoot`, json('POST', { access_token: 'admin-token', chatwoot_url: chatwoot.url, account_id: 1 }));
    expect(signIn.status).toBe(201);
    const { token } = ((await signIn.json()) as { data: { token: string } }).data;
    const me = await fetch(`${base.web2}/api/v1/me`, { headers: { Authorization: `Bearer ${token}` } });
    expect(me.status).toBe(200);

    // A page streaming from replica 2 hears a change written through replica 1.
    const streamToken = ((await (await fetch(`${base.web2}/api/v1/events/token`, json('POST', {}, token))).json()) as { data: { token: string } }).data.token;
    const stream = await openStream(`${base.web2}/api/v1/events/stream?token=${encodeURIComponent(streamToken)}`);
    try {
      await expect.poll(() => stream.text(), { timeout: 5000, interval: 50 }).toContain('event: ready');
      const before = stream.text().length;
      expect((await fetch(`${base.web1}/api/v1/tasks`, json('POST', { title: 'Call the customer back' }, token))).status).toBe(201);
      await expect.poll(() => stream.text().slice(before), { timeout: 5000, interval: 50 }).toContain('event: change');
    } finally {
      stream.close();
    }

    // The sign-in limit (4 a minute per address) holds across both replicas, not 4 on each.
    const guess = (url: string) => fetch(`${url}/api/v1/portal/sessions`, json('POST', { token: 'olm_1_guessing-a-token' }));
    const statuses: number[] = [];
    for (const url of [base.web1, base.web2, base.web1, base.web2]) statuses.push((await guess(url)).status);
    expect(statuses).toEqual([401, 401, 401, 401]);
    for (const url of [base.web1, base.web2]) {
      const refused = await guess(url);
      expect(refused.status).toBe(429);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('rate_limited');
    }

    // Signed webhooks acknowledged by either web replica (each sent to both: the second is a duplicate)
    // are processed once, by the worker (web replicas do not process).
    for (let id = 1; id <= 10; id++) {
      const delivery = chatwootDelivery(contactEvent('contact_created', { id: 8000 + id, name: `Contact ${id}` }), { secret });
      const send = (url: string) => fetch(`${url}${webhookPath}`, { method: 'POST', headers: delivery.headers, body: delivery.body });
      const [first, second] = id % 2 ? [base.web1, base.web2] : [base.web2, base.web1];
      expect((await send(first)).status).toBe(202);
      expect(((await (await send(second)).json()) as { data: { duplicate?: boolean } }).data.duplicate).toBe(true);
    }
    await expect
      .poll(() => database(async (c) => (await c.query(`select count(*)::int as n from onelink.chatwoot_contacts where chatwoot_contact_id between 8001 and 8010`)).rows[0].n), { timeout: 15_000, interval: 200 })
      .toBe(10);
    const deliveries = await database(async (c) => (await c.query(`select status, attempts, count(*)::int as n from onelink.webhook_deliveries group by status, attempts`)).rows);
    expect(deliveries).toEqual([{ status: 'processed', attempts: 1, n: 10 }]);

    // The worker answers its health checks, and 404 in the envelope to everything else.
    expect((await fetch(`${base.worker}/health/live`)).status).toBe(200);
    const ready = await fetch(`${base.worker}/health/ready`);
    expect([ready.status, ((await ready.json()) as { data: { status: string } }).data.status]).toEqual([200, 'ready']);
    for (const [method, url] of [['GET', '/api/v1/me'], ['GET', '/'], ['POST', webhookPath], ['GET', '/api/v1/status']]) {
      const res = await fetch(`${base.worker}${url}`, { method, headers: { Authorization: `Bearer ${token}` } });
      expect([url, res.status]).toEqual([url, 404]);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('route_not_found');
    }
  });
});
