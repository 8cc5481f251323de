// Nothing Chatwoot delivered and we acknowledged is lost: not when the web process dies right
// after acknowledging, and not when processing happens in another process later.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeChatwoot, type FakeChatwoot } from '../fakes/chatwoot.ts';
import { chatwootDelivery, contactEvent } from '../fakes/chatwoot-webhooks.ts';
import { freePort } from '../helpers/ports.ts';
import { spawnIn, spawnServer, waitForReady } from '../helpers/processes.ts';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'onelink-webhooks-'));
let chatwoot: FakeChatwoot;
let env: Record<string, string>;
let webhookPath: string;

beforeAll(async () => {
  chatwoot = await startFakeChatwoot();
  chatwoot.addAgent({ id: 1, name: 'Admin', email: 'admin@example.com', token: 'admin-token', accounts: [{ id: 1, name: 'Acme', role: 'administrator' }] });
  const port = await freePort();
  env = { ONELINK_DATA_DIR: dataDir, PORT: String(port), ONELINK_EMBEDDED_PG_PORT: String(await freePort()), PUBLIC_URL: `http://127.0.0.1:${port}` };
  const cli = spawnIn('npm', ['run', '--silent', 'onelink', '--', 'installation', 'add', '--chatwoot-url', chatwoot.url, '--token', 'admin-token'], env);
  expect((await cli.exited).code, cli.output()).toBe(0);
  webhookPath = new URL(/Webhook URL for this Chatwoot: (\S+)/.exec(cli.output())![1]!).pathname;
}, 120_000);
afterAll(async () => {
  await chatwoot.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

async function database<T>(work: (client: pg.Client) => Promise<T>) {
  const password = encodeURIComponent(fs.readFileSync(path.join(dataDir, 'postgres.password'), 'utf8').trim());
  const client = new pg.Client({ connectionString: `postgres://postgres:${password}@127.0.0.1:${env.ONELINK_EMBEDDED_PG_PORT}/onelink` });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

describe('webhook deliveries survive a crash', () => {
  it('processes, after a restart, every delivery acknowledged by a web process killed with SIGKILL', { timeout: 120_000 }, async () => {
    const base = `http://127.0.0.1:${env.PORT}`;
    // A web-only process: it acknowledges and queues, but does not process.
    const web = spawnServer({ ...env, ONELINK_WORKER: 'false' });
    await waitForReady(base, web);
    const statuses = [];
    for (let id = 1; id <= 20; id++) {
      const delivery = chatwootDelivery(contactEvent('contact_created', { id: 7000 + id, name: `Contact ${id}` }));
      statuses.push((await fetch(`${base}${webhookPath}`, { method: 'POST', headers: delivery.headers, body: delivery.body })).status);
    }
    expect(statuses).toEqual(Array(20).fill(202));
    web.child.kill('SIGKILL');
    await web.exited;
    expect(await database(async (c) => (await c.query(`select count(*)::int as n from onelink.webhook_deliveries where status = 'received'`)).rows[0].n)).toBe(20);

    const worker = spawnServer(env);
    await waitForReady(base, worker);
    await expect
      .poll(() => database(async (c) => (await c.query(`select count(*)::int as n from onelink.chatwoot_contacts where chatwoot_contact_id between 7001 and 7020`)).rows[0].n), {
        timeout: 30_000,
        interval: 250,
      })
      .toBe(20);
    expect(await database(async (c) => (await c.query(`select status, count(*)::int as n from onelink.webhook_deliveries group by status`)).rows)).toEqual([{ status: 'processed', n: 20 }]);
    worker.child.kill('SIGTERM');
    expect((await worker.exited).code).toBe(0);
  });
});
