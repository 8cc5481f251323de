// The notifications outbox across a crash: an event is committed with the change that raised it, so
// a server killed outright after the commit and before anything was sent still sends it after a
// restart — once, and not again on the next restart. The server runs as its own process on this
// file's database; e-mail goes over SMTP to a real SMTP server (smtp-server) in the test.
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { SMTPServer } from 'smtp-server';
import webpush from 'web-push';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withAccountForTests as withAccount } from '../../extension/db/tenant.ts';
import { signInAgent, type SignedIn } from '../helpers/identity.ts';
import { freePort } from '../helpers/ports.ts';
import { spawnServer, waitForReady, type Spawned } from '../helpers/processes.ts';
import { useWorld } from '../helpers/world.ts';

interface Mail { to: string[]; deliveryId: string | null }
/** Mails the SMTP server accepted. */
const mails: Mail[] = [];
/** While set, the server takes a mail's data but never answers it (a send in flight). */
let stall = false;
const stalled: Mail[] = [];
const smtp = new SMTPServer({
  disabledCommands: ['STARTTLS'],
  authOptional: true,
  disableReverseLookup: true,
  logger: false,
  onData(stream, session, callback) {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const mail = { to: session.envelope.rcptTo.map((r) => r.address), deliveryId: /^X-Onelink-Delivery:\s*(\S+)/im.exec(raw)?.[1] ?? null };
      if (stall) return void stalled.push(mail);
      mails.push(mail);
      callback(null, 'Queued');
    });
  },
});
// A client killed mid-session resets its connection: expected here, not a failure of the test.
smtp.on('error', () => undefined);

const world = useWorld([1]);
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'onelink-notify-crash-'));
let env: Record<string, string>;
let base: string;
let admin: SignedIn;
let owner: SignedIn;

beforeAll(async () => {
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const vapid = webpush.generateVAPIDKeys();
  env = {
    DATABASE_URL: world.t.db.url,
    PORT: String(port),
    HOST: '127.0.0.1',
    PUBLIC_URL: base,
    ONELINK_DATA_DIR: dataDir,
    // The key the installation's Chatwoot token was sealed with.
    ONELINK_ENCRYPTION_KEY: world.t.config.ONELINK_ENCRYPTION_KEY!,
    ONELINK_VAPID_PUBLIC_KEY: vapid.publicKey,
    ONELINK_VAPID_PRIVATE_KEY: vapid.privateKey,
    ONELINK_VAPID_SUBJECT: 'mailto:tests@onelink.test',
    SMTP_URL: `smtp://127.0.0.1:${(smtp.server.address() as AddressInfo).port}?ignoreTLS=true`,
    ONELINK_EMAIL_FROM: 'Onelink <alerts@onelink.test>',
    LOG_LEVEL: 'warn',
  };
  admin = await signInAgent(world.t, world.chatwoot, 1, 'administrator');
  owner = await signInAgent(world.t, world.chatwoot, 1, 'agent', 'Olivia Owner');
}, 120_000);
afterAll(async () => {
  await new Promise<void>((resolve) => smtp.close(resolve));
  fs.rmSync(dataDir, { recursive: true, force: true });
});

async function api(method: string, route: string, body?: object) {
  const res = await fetch(`${base}/api/v1${route}`, {
    method,
    headers: { Authorization: `Bearer ${admin.token}`, 'Content-Type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: (await res.json()) as { data: Record<string, unknown> } };
}

const inAccount = <T>(work: Parameters<typeof withAccount<T>>[3]) => withAccount(world.t.db.knex, admin.accountId, { readOnly: true }, work);
const deliveriesOfJob = (jobId: string) =>
  inAccount((trx) =>
    trx('notification_deliveries as d')
      .join('notification_events as e', (on) => on.on('e.account_id', 'd.account_id').andOn('e.id', 'd.event_id'))
      .where({ 'd.account_id': admin.accountId, 'e.resource_id': jobId })
      .select('d.id', 'd.channel', 'd.status', 'd.attempts', trx.raw('d.next_attempt_at > now() as leased')),
  ) as Promise<Array<{ id: string; channel: string; status: string; attempts: number; leased: boolean }>>;
const deliveries = () =>
  inAccount((trx) => trx('notification_deliveries').where({ account_id: admin.accountId }).orderBy('created_at').select('id', 'event', 'channel', 'address', 'status', 'attempts')) as Promise<
    Array<{ id: string; event: string; channel: string; address: string; status: string; attempts: number }>
  >;

/** Starts the server and waits until a notification sweep that began after the start has finished. */
async function startAndSweep(): Promise<Spawned> {
  const startedAt = new Date(Date.now() - 1);
  const server = spawnServer(env);
  await waitForReady(base, server);
  await expect
    .poll(
      async () => {
        const run = await world.t.db.knex('sweep_runs').where({ sweep: 'notifications' }).first('last_run_at', 'last_finished_at');
        return Boolean(run && run.last_run_at > startedAt && run.last_finished_at >= run.last_run_at);
      },
      { timeout: 30_000, interval: 200 },
    )
    .toBe(true);
  return server;
}

async function stop(server: Spawned) {
  server.child.kill('SIGTERM');
  expect((await server.exited).code, server.output()).toBe(0);
}

describe('the notifications outbox survives a process kill', () => {
  it('SIGKILL between commit and send → sent once after restart, and nothing more on the next restart', { timeout: 180_000 }, async () => {
    // A web-only process: it takes the change and commits its event, and sends nothing.
    const web = spawnServer({ ...env, ONELINK_WORKER: 'false' });
    await waitForReady(base, web);
    expect((await api('PATCH', '/admin/capabilities', { profile: 'construction' })).status).toBe(200);
    const created = await api('POST', '/jobs', { summary: 'Boiler leaks in the cellar' });
    expect(created.status).toBe(201);
    const job = created.body.data as { id: string; version: number };
    const assigned = await api('PATCH', `/jobs/${job.id}`, { owner_id: owner.userId, version: job.version });
    expect(assigned.status).toBe(200);

    // Committed: the event is there, not fanned out; no delivery exists and no mail went out.
    const pending = await inAccount((trx) => trx('notification_events').where({ account_id: admin.accountId, event: 'staff.job_assigned_to_me' }).select('resource_id', 'fanned_out_at'));
    expect(pending).toEqual([{ resource_id: job.id, fanned_out_at: null }]);
    expect(await deliveries()).toEqual([]);
    web.child.kill('SIGKILL');
    expect((await web.exited).signal).toBe('SIGKILL');
    expect(mails).toEqual([]);

    // Restarted with the worker: the start-up sweep fans the event out and sends the e-mail.
    const worker = spawnServer(env);
    await waitForReady(base, worker);
    await expect.poll(async () => (await deliveries()).map((d) => d.status), { timeout: 30_000, interval: 200 }).toEqual(['sent']);
    const [delivery] = await deliveries();
    expect(delivery).toMatchObject({ event: 'staff.job_assigned_to_me', channel: 'email', address: `agent${owner.agentId}@example.com`, status: 'sent', attempts: 1 });
    expect(mails).toEqual([{ to: [`agent${owner.agentId}@example.com`], deliveryId: delivery!.id }]);
    await stop(worker);

    // Another restart, with a full sweep run: nothing is sent again.
    const again = await startAndSweep();
    expect(mails).toHaveLength(1);
    expect(await deliveries()).toEqual([delivery]);
    await stop(again);
  });

  it('a worker killed while the e-mail is in flight leaves the delivery leased; once the lease runs out it is sent once', { timeout: 180_000 }, async () => {
    const server = spawnServer(env);
    await waitForReady(base, server);
    const created = await api('POST', '/jobs', { summary: 'Radiator cold upstairs' });
    expect(created.status).toBe(201);
    const job = created.body.data as { id: string; version: number };
    stall = true;
    expect((await api('PATCH', `/jobs/${job.id}`, { owner_id: owner.userId, version: job.version })).status).toBe(200);

    // The worker claims the delivery and hands the mail over; the SMTP server has it but has not answered.
    await expect.poll(() => stalled.length, { timeout: 30_000, interval: 100 }).toBe(1);
    server.child.kill('SIGKILL');
    await server.exited;
    stall = false;
    const [claimed] = await deliveriesOfJob(job.id);
    expect(claimed).toMatchObject({ channel: 'email', status: 'pending', attempts: 1, leased: true });
    expect(stalled[0]!.deliveryId).toBe(claimed!.id);

    // After a restart the lease still holds it: a full sweep sends nothing.
    const restarted = await startAndSweep();
    expect(mails.filter((m) => m.deliveryId === claimed!.id)).toEqual([]);
    expect((await deliveriesOfJob(job.id))[0]).toMatchObject({ status: 'pending', attempts: 1, leased: true });

    // The lease runs out (moved to now rather than waited for): the next sweep sends it, once.
    await withAccount(world.t.db.knex, admin.accountId, { readOnly: false }, (trx) =>
      trx('notification_deliveries').where({ account_id: admin.accountId, id: claimed!.id }).update({ next_attempt_at: trx.fn.now() }),
    );
    await expect.poll(async () => (await deliveriesOfJob(job.id))[0]!.status, { timeout: 30_000, interval: 200 }).toBe('sent');
    expect(mails.filter((m) => m.deliveryId === claimed!.id)).toEqual([{ to: [`agent${owner.agentId}@example.com`], deliveryId: claimed!.id }]);
    expect((await deliveriesOfJob(job.id))[0]).toMatchObject({ status: 'sent', attempts: 2 });
    await stop(restarted);
  });
});
