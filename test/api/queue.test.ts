import type PgBoss from 'pg-boss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withAccount } from '../../extension/db/tenant.ts';
import { createLogger } from '../../extension/logger.ts';
import { queues, startQueue } from '../../extension/queue/index.ts';
import { startFakeChatwoot, type FakeChatwoot } from '../fakes/chatwoot.ts';
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
  boss = await startQueue({
    url: t.db.url,
    schema: 'onelink',
    db: t.db.knex,
    logger: createLogger({ LOG_LEVEL: 'silent', NODE_ENV: 'test' }),
    twilio: { sealer: t.services.sealer, urlSigner: t.services.urlSigner, chatwootTimeoutMs: 2000, publicUrl: t.config.PUBLIC_URL },
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
});
