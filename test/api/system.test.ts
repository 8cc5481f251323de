// Sweeps fail loudly: a sweep that throws is logged with its account, shows in GET /admin/system
// (to that account's admins only), and the next run still runs.
import { Writable } from 'node:stream';
import pino from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { trackSweep } from '../../extension/modules/system/sweeps.ts';
import { startQueue } from '../../extension/queue/index.ts';
import { jobsQueueWork } from '../../extension/modules/jobs/queue.ts';
import { queues } from '../../extension/queue/names.ts';
import type { FakeChatwoot } from '../fakes/chatwoot.ts';
import { apiAs } from '../helpers/api.ts';
import type { TestApp } from '../helpers/app.ts';
import { signInAgent, type SignedIn } from '../helpers/identity.ts';
import { useWorld } from '../helpers/world.ts';

const world = useWorld([1, 2]);
let t: TestApp;
let chatwoot: FakeChatwoot;
let adminA: SignedIn;
let adminB: SignedIn;
let agentA: SignedIn;

/** A logger whose lines the test can read. */
function capturingLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

interface SweepView { sweep: string; last_run_at: string; last_success_at: string | null; failing: boolean; last_error: string | null; last_error_at: string | null; failures: number }
const systemOf = async (admin: SignedIn) => {
  const res = await apiAs(t, admin.token).get('/admin/system');
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.data as { sweeps: SweepView[]; backlog: { webhook_deliveries: Record<string, number>; outbox: Record<string, number> } };
};
const sweepOf = async (admin: SignedIn, name: string) => (await systemOf(admin)).sweeps.find((s) => s.sweep === name);

beforeAll(async () => {
  ({ t, chatwoot } = world);
  adminA = await signInAgent(t, chatwoot, 1, 'administrator', 'Admin A');
  adminB = await signInAgent(t, chatwoot, 2, 'administrator', 'Admin B');
  agentA = await signInAgent(t, chatwoot, 1, 'agent', 'Agent A');
  expect((await apiAs(t, adminA.token).patch('/admin/capabilities', { profile: 'construction' })).status).toBe(200);
});

describe('GET /admin/system', () => {
  it('is for admins: an agent is refused', async () => {
    expect((await apiAs(t, agentA.token).get('/admin/system')).status).toBe(403);
  });

  it('shows an account’s sweep failure to that account, logs it with the account, and the next run runs clean', async () => {
    const { logger, lines } = capturingLogger();
    const deps = { db: t.db.knex, logger };
    let parts = 0;
    const failing = await trackSweep(deps, 'test-sweep', async (run) => {
      await run.eachAccount(async (accountId) => {
        parts++;
        if (accountId === adminA.accountId) throw new Error('the radiator table is on fire');
      });
    });
    expect(failing).toEqual({ ok: true, failedAccounts: [adminA.accountId] });
    expect(parts).toBeGreaterThanOrEqual(2); // B's part ran after A's failed

    const logged = lines.find((l) => l.msg === 'sweep failed for an account');
    expect(logged).toMatchObject({ level: 50, sweep: 'test-sweep', accountId: adminA.accountId, err: { message: 'the radiator table is on fire' } });

    const ofA = await sweepOf(adminA, 'test-sweep');
    expect(ofA).toMatchObject({ failing: true, last_error: 'the radiator table is on fire', failures: 1 });
    expect(ofA!.last_error_at).toBeTruthy();
    // B's admin sees the sweep running fine for B, and nothing of A's error.
    expect(await sweepOf(adminB, 'test-sweep')).toMatchObject({ failing: false, last_error: null, failures: 0 });

    const next = await trackSweep(deps, 'test-sweep', (run) => run.eachAccount(async () => undefined));
    expect(next).toEqual({ ok: true, failedAccounts: [] });
    const after = await sweepOf(adminA, 'test-sweep');
    expect(after).toMatchObject({ failing: false, failures: 1, last_error: 'the radiator table is on fire' });
    expect(new Date(after!.last_run_at).getTime()).toBeGreaterThan(new Date(ofA!.last_run_at).getTime());
  });

  it('shows a run that failed as a whole to every account without its text, which only the log has', async () => {
    const { logger, lines } = capturingLogger();
    const outcome = await trackSweep({ db: t.db.knex, logger }, 'broken-sweep', async () => {
      throw new Error('duplicate key (account_id, number)=(7, 12)');
    });
    expect(outcome).toEqual({ ok: false, failedAccounts: [] });
    expect(lines.find((l) => l.msg === 'sweep failed')).toMatchObject({ sweep: 'broken-sweep', err: { message: 'duplicate key (account_id, number)=(7, 12)' } });
    for (const admin of [adminA, adminB]) {
      const view = await sweepOf(admin, 'broken-sweep');
      expect(view).toMatchObject({ failing: true, failures: 1, last_success_at: null });
      expect(view!.last_error).toMatch(/outside any account/);
      expect(view!.last_error).not.toContain('account_id');
    }
    await trackSweep({ db: t.db.knex, logger }, 'broken-sweep', async () => undefined);
    const healed = await sweepOf(adminA, 'broken-sweep');
    expect(healed).toMatchObject({ failing: false, failures: 1 });
    expect(healed!.last_success_at).toBeTruthy();
  });

  it('tracks the real SLA sweep of the queue: a failing run shows, the next one emits the breach', async () => {
    const asAgent = apiAs(t, agentA.token);
    const job = await asAgent.post('/jobs', { summary: 'Boiler out', sla_due_at: new Date(Date.now() - 60_000).toISOString() });
    expect(job.status, JSON.stringify(job.body)).toBe(201);
    const sla = jobsQueueWork(t.db.knex).find((q) => q.name === queues.jobSla)!;
    const { logger, lines } = capturingLogger();
    const run = { logger, send: async () => undefined };

    // Break the sweep's table for this account only, the way a bad migration or a full disk would.
    await t.db.knex.raw(`create function refuse_sla_event() returns trigger language plpgsql as $$
      begin raise exception 'job_sla_events refused for the test'; end $$`);
    await t.db.knex.raw(`create trigger refuse_sla_event before insert on job_sla_events for each row when (new.account_id = ${adminA.accountId}) execute function refuse_sla_event()`);
    try {
      await expect(sla.handle([], run)).resolves.toBeUndefined(); // the queue never sees the failure as a crash
    } finally {
      await t.db.knex.raw(`drop trigger refuse_sla_event on job_sla_events; drop function refuse_sla_event()`);
    }
    expect(lines.find((l) => l.level === 50 && l.sweep === queues.jobSla)).toMatchObject({ accountId: adminA.accountId, err: { message: expect.stringContaining('job_sla_events refused for the test') } });
    const failed = await sweepOf(adminA, queues.jobSla);
    expect(failed).toMatchObject({ failing: true, last_error: expect.stringContaining('job_sla_events refused for the test') });
    expect(failed!.failures).toBeGreaterThanOrEqual(1);
    // Account B's part ran and is fine; B's admin sees nothing of A's failure.
    expect(await sweepOf(adminB, queues.jobSla)).toMatchObject({ failing: false, last_error: null });
    expect((await asAgent.get(`/jobs/${job.body.data.id}`)).body.data.events.map((e: { kind: string }) => e.kind)).toEqual(['created']);

    await sla.handle([], run);
    expect(await sweepOf(adminA, queues.jobSla)).toMatchObject({ failing: false });
    expect((await asAgent.get(`/jobs/${job.body.data.id}`)).body.data.events.map((e: { kind: string }) => e.kind)).toEqual(['created', 'sla_breached']);
  });

  it('logs queue work that throws with its queue and account, and pg-boss runs it again', async () => {
    const { logger, lines } = capturingLogger();
    let attempts = 0;
    const boss = await startQueue({
      url: t.db.url,
      schema: 'onelink',
      logger,
      pollingIntervalSeconds: 0.5,
      modules: [
        {
          name: 'always-fails-once',
          options: { retryLimit: 1, retryDelay: 0 },
          async handle() {
            attempts++;
            if (attempts === 1) throw new Error('settling check could not reach the database');
          },
        },
      ],
    });
    try {
      await boss.send('always-fails-once', { accountId: adminA.accountId, callId: 'c-1' });
      await expect.poll(() => attempts, { timeout: 15_000 }).toBe(2);
    } finally {
      await boss.stop({ graceful: false, wait: true });
    }
    expect(lines.find((l) => l.msg?.toString().startsWith('queue work failed'))).toMatchObject({
      level: 50,
      queue: 'always-fails-once',
      accountIds: [adminA.accountId],
      err: { message: 'settling check could not reach the database' },
    });
  });

  it('counts the account’s backlogs: deliveries by status, write-backs waiting', async () => {
    const installation = (await t.db.knex('accounts').where({ account_id: adminA.accountId }).first('installation_id')).installation_id as string;
    const delivery = (status: string, accountId: number | null, n: number) => ({
      installation_id: installation,
      source: 'chatwoot',
      dedupe_key: `system-test-${status}-${accountId}-${n}`,
      account_id: accountId,
      headers: '{}',
      body: '{}',
      status,
    });
    await t.db.knex('webhook_deliveries').insert([
      delivery('received', adminA.accountId, 1),
      delivery('retrying', adminA.accountId, 1),
      delivery('dead', adminA.accountId, 1),
      delivery('dead', adminA.accountId, 2),
      delivery('dead', adminB.accountId, 1),
      delivery('received', null, 1),
    ]);
    const ofA = (await systemOf(adminA)).backlog;
    expect(ofA.webhook_deliveries).toEqual({ pending: 1, retrying: 1, failed: 0, dead: 2, unattributed: 1 });
    expect(ofA.outbox).toEqual({ pending: 0, dead: 0 });
    expect((await systemOf(adminB)).backlog.webhook_deliveries).toMatchObject({ pending: 0, retrying: 0, dead: 1 });
  });
});
