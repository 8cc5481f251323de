import type PgBoss from 'pg-boss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withAccountForTests as withAccount } from '../../extension/db/tenant.ts';
import { createLogger } from '../../extension/logger.ts';
import { callsQueueWork } from '../../extension/modules/calls/queue.ts';
import { chatwootQueueWork } from '../../extension/chatwoot/queue.ts';
import { jobsQueueWork } from '../../extension/modules/jobs/queue.ts';
import { tasksQueueWork } from '../../extension/modules/tasks/queue.ts';
import { queues, startQueue } from '../../extension/queue/index.ts';
import { webhookQueueWork } from '../../webhooks/queue.ts';
import { startFakeChatwoot, type FakeChatwoot } from '../fakes/chatwoot.ts';
import { chatwootDelivery, contactEvent } from '../fakes/chatwoot-webhooks.ts';
import { apiAs } from '../helpers/api.ts';
import { createTestApp, type TestApp } from '../helpers/app.ts';
import { connectInstallation, signInAgent } from '../helpers/identity.ts';

let t: TestApp;
let chatwoot: FakeChatwoot;
let boss: PgBoss;
beforeAll(async () => {
  t = await createTestApp();
  chatwoot = await startFakeChatwoot();
  await connectInstallation(t, chatwoot, [1]);
  // A call is settled one second after its final status (20 s in production), so the test sees the settling check run.
  const calls = { db: t.db.knex, sealer: t.services.sealer, urlSigner: t.services.urlSigner, chatwootTimeoutMs: 2000, publicUrl: t.config.PUBLIC_URL, settleSeconds: 1 };
  boss = await startQueue({
    url: t.db.url,
    schema: 'onelink',
    logger: createLogger({ LOG_LEVEL: 'silent', NODE_ENV: 'test' }),
    modules: [
      ...tasksQueueWork(t.db.knex),
      ...jobsQueueWork(t.db.knex),
      ...chatwootQueueWork({ db: t.db.knex, sealer: t.services.sealer, timeoutMs: 2000 }),
      ...webhookQueueWork(t.db.knex, calls),
      ...callsQueueWork(calls),
    ],
    pollingIntervalSeconds: 0.5,
  });
});
afterAll(async () => {
  await boss.stop({ graceful: false, wait: true });
  await chatwoot.close();
  await t.close();
});

describe('the job queue', () => {
  it('schedules the reminder sweep every minute and runs it from the queue', async () => {
    const schedules = await boss.getSchedules();
    expect(schedules).toContainEqual(expect.objectContaining({ name: queues.taskReminders, cron: '* * * * *' }));

    const agent = await signInAgent(t, chatwoot, 1, 'agent');
    const task = (await apiAs(t, agent.token).post('/tasks', { title: 'Due soon', due_at: new Date(Date.now() + 10 * 60_000) })).body.data;
    await boss.send(queues.taskReminders, {});
    await expect
      .poll(
        () => withAccount(t.db.knex, agent.accountId, { readOnly: true }, (trx) => trx('task_reminders').where({ task_id: task.id }).select('threshold')),
        { timeout: 15_000, interval: 250 },
      )
      .toEqual([{ threshold: 'due_soon' }]);
  });

  it('schedules the job SLA sweep every minute and runs it from the queue', async () => {
    expect(await boss.getSchedules()).toContainEqual(expect.objectContaining({ name: queues.jobSla, cron: '* * * * *' }));
    const admin = await signInAgent(t, chatwoot, 1, 'administrator');
    expect((await apiAs(t, admin.token).patch('/admin/capabilities', { profile: 'construction' })).status).toBe(200);
    const job = (await apiAs(t, admin.token).post('/jobs', { summary: 'Overdue', sla_due_at: new Date(Date.now() - 60_000) })).body.data;
    await boss.send(queues.jobSla, {});
    await expect
      .poll(
        () => withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) => trx('job_sla_events').where({ job_id: job.id }).select('threshold')),
        { timeout: 15_000, interval: 250 },
      )
      .toEqual([{ threshold: 'breached' }]);
  });

  it('registers every module’s queues and schedules, and the stalled-delivery sweep hands a forgotten delivery to its retry queue', async () => {
    const names = (await boss.getQueues()).map((q) => q.name);
    expect(names).toEqual(expect.arrayContaining([queues.chatwootDelivery, queues.twilioEvent, queues.twilioSettle, queues.stalledDeliveries, queues.chatwootSync]));
    expect((await boss.getQueue(queues.twilioEvent))?.retryLimit).toBe(12);
    const schedules = await boss.getSchedules();
    expect(schedules).toContainEqual(expect.objectContaining({ name: queues.stalledDeliveries, cron: '* * * * *' }));
    // The sync is scheduled only when told how often.
    expect(schedules.map((s) => s.name)).not.toContain(queues.chatwootSync);

    // A Chatwoot delivery stored a minute ago that no worker took (a crash between commit and nudge).
    const installation = await t.db.knex('installations').first('id');
    const delivery = chatwootDelivery(contactEvent('contact_created', { id: 4242, name: 'Forgotten' }));
    const [row] = await t.db
      .knex('webhook_deliveries')
      .insert({ installation_id: installation.id, source: 'chatwoot', dedupe_key: 'forgotten-1', headers: {}, body: delivery.body, status: 'received', received_at: new Date(Date.now() - 60_000) })
      .returning('id');
    // And two claimed mid-processing a minute ago: one by a session that is gone (its worker died),
    // one by a session still alive (a slow worker, left to finish).
    const claimed = (key: string, pid: unknown, name: string) =>
      t.db
        .knex('webhook_deliveries')
        .insert({ installation_id: installation.id, source: 'chatwoot', dedupe_key: key, headers: {}, body: chatwootDelivery(contactEvent('contact_created', { id: key === 'dead-claim' ? 4243 : 4244, name })).body, status: 'processing', received_at: new Date(Date.now() - 60_000), claimed_at: new Date(Date.now() - 60_000), claimed_by: pid })
        .returning('id');
    const [deadClaim] = await claimed('dead-claim', 2_000_000_000, 'Orphaned');
    const [liveClaim] = await claimed('live-claim', t.db.knex.raw('pg_backend_pid()'), 'Still busy');
    await boss.send(queues.stalledDeliveries, {});
    await expect.poll(async () => (await t.db.knex('webhook_deliveries').where({ id: row.id }).first('status')).status, { timeout: 15_000, interval: 250 }).toBe('processed');
    await expect.poll(async () => (await t.db.knex('webhook_deliveries').where({ id: deadClaim.id }).first('status')).status, { timeout: 15_000, interval: 250 }).toBe('processed');
    expect((await t.db.knex('webhook_deliveries').where({ id: liveClaim.id }).first('status')).status).toBe('processing');
    const account = await t.db.knex('accounts').where({ chatwoot_account_id: 1 }).first('account_id');
    expect(await withAccount(t.db.knex, account.account_id, { readOnly: true }, (trx) => trx('chatwoot_contacts').where({ chatwoot_contact_id: 4242 }).first('name'))).toEqual({ name: 'Forgotten' });
    // Tracked like every sweep (shown to admins in /admin/system).
    expect(await t.db.knex('sweep_runs').where({ sweep: queues.stalledDeliveries }).first('runs')).toMatchObject({ runs: expect.any(Number) });
  });

  it('retries Twilio callbacks from the queue and runs the delayed settling check, which opens a missed call’s follow-ups', async () => {
    const admin = await signInAgent(t, chatwoot, 1, 'administrator');
    expect((await apiAs(t, admin.token).patch('/admin/capabilities', { profile: 'construction' })).status).toBe(200);
    await withAccount(t.db.knex, admin.accountId, { readOnly: false }, (trx) =>
      trx('twilio_settings').insert({
        account_id: admin.accountId,
        account_sid: `AC${'1'.repeat(32)}`,
        auth_token_sealed: t.services.sealer.seal('token'),
        webhook_token: 'queue-test-token-0123456789',
        forward_to: ['+14155550100'],
        voicemail_enabled: true, // a voicemail could still come: the call waits to be settled
        create_job_on: 'missed',
      }),
    );
    const installation = await t.db.knex('installations').first('id');
    const sid = `CA${'2'.repeat(32)}`;
    const callback = (event: string, fields: Record<string, string>) => ({
      installation_id: installation.id,
      account_id: admin.accountId,
      source: 'twilio',
      dedupe_key: `${admin.accountId}:${sid}:${event}:x`,
      event: `twilio.${event}`,
      headers: {},
      body: new URLSearchParams({ CallSid: sid, From: '+14155550142', To: '+14155550199', Direction: 'inbound', ...fields }).toString(),
      status: 'received',
    });
    const rows = await t.db
      .knex('webhook_deliveries')
      .insert([callback('dial', { CallStatus: 'in-progress', DialCallStatus: 'no-answer' }), callback('status', { CallStatus: 'completed', CallDuration: '15' })])
      .returning('id');
    for (const { id } of rows) await boss.send(queues.twilioEvent, { deliveryId: id });
    const call = () => withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) => trx('calls').where({ call_sid: sid }).first('status', 'job_id', 'callback_task_id'));
    await expect.poll(async () => (await t.db.knex('webhook_deliveries').whereIn('id', rows.map((r) => r.id)).pluck('status')).sort(), { timeout: 15_000, interval: 250 }).toEqual(['processed', 'processed']);
    // Settled only by the check queued for a second later: then the task and the job open.
    await expect.poll(async () => (await call())?.job_id ?? null, { timeout: 15_000, interval: 250 }).not.toBeNull();
    expect(await call()).toMatchObject({ status: 'missed', callback_task_id: expect.any(String) });
  });
});

describe('starting the queue', () => {
  it('lets processes that start together on a fresh database take turns creating its tables and queues', async () => {
    const logger = createLogger({ LOG_LEVEL: 'silent', NODE_ENV: 'test' });
    // A schema of its own: pg-boss creates everything from nothing, in three processes' worth of starts at once.
    const modules = [...tasksQueueWork(t.db.knex), ...jobsQueueWork(t.db.knex)];
    const started = await Promise.all([1, 2, 3].map(() => startQueue({ url: t.db.url, schema: 'fresh_start', logger, modules, work: false })));
    try {
      const created = await t.db.knex.raw(`select name from fresh_start_queue.queue`);
      expect(created.rows.map((r: { name: string }) => r.name)).toEqual(expect.arrayContaining(modules.map((m) => m.name)));
    } finally {
      for (const boss of started) await boss.stop({ graceful: false, wait: true });
    }
  });
});
