// The job queue (pg-boss, in Postgres): Chatwoot deliveries, recurring sweeps; Chatwoot/Twilio
// calls later. Workers run inside the server process unless ONELINK_WORKER=false (then another
// process works the same queue). pg-boss keeps its tables in its own schema.
import type { Knex } from 'knex';
import PgBoss from 'pg-boss';
import { maxAttempts, processDelivery, stalledDeliveries } from '../../webhooks/chatwoot/process.ts';
import { maxTwilioAttempts, processTwilioDelivery, settleCall, type TwilioDeps } from '../../webhooks/twilio/process.ts';
import type { Logger } from '../logger.ts';
import { emitSlaEvents } from '../modules/jobs/service.ts';
import { emitTaskReminders } from '../modules/tasks/service.ts';
import { defaultRequestsPerMinute, runScheduledSync } from '../chatwoot/sync.ts';
import { queues } from './names.ts';

export { queues };

export interface QueueOptions {
  url: string;
  schema: string;
  db: Knex;
  logger: Logger;
  /** What processing Twilio callbacks needs beyond the database. */
  twilio: Omit<TwilioDeps, 'db' | 'jobs'>;
  work?: boolean;
  pollingIntervalSeconds?: number;
  /** The incremental Chatwoot sync: every N minutes (0, or not given: not scheduled), at most this many requests a minute. */
  chatwootSync?: { everyMinutes: number; requestsPerMinute: number };
}

export async function startQueue({ url, schema, db, logger, twilio, work = true, pollingIntervalSeconds = 2, chatwootSync = { everyMinutes: 0, requestsPerMinute: defaultRequestsPerMinute } }: QueueOptions): Promise<PgBoss> {
  const boss = new PgBoss({ connectionString: url, schema: `${schema}_queue`, application_name: 'onelink-queue' });
  boss.on('error', (err) => logger.error({ err }, 'queue error'));
  await boss.start();
  await boss.createQueue(queues.taskReminders);
  await boss.createQueue(queues.jobSla);
  await boss.createQueue(queues.stalledDeliveries);
  await boss.createQueue(queues.chatwootDelivery, { name: queues.chatwootDelivery, retryLimit: maxAttempts, retryDelay: 1, retryBackoff: true });
  await boss.createQueue(queues.twilioEvent, { name: queues.twilioEvent, retryLimit: maxTwilioAttempts, retryDelay: 2, retryBackoff: true });
  await boss.createQueue(queues.twilioSettle, { name: queues.twilioSettle, retryLimit: 5, retryDelay: 10, retryBackoff: true });
  // Every minute; the sweeps are idempotent, so an extra or overlapping run changes nothing.
  await boss.schedule(queues.taskReminders, '* * * * *');
  await boss.schedule(queues.jobSla, '* * * * *');
  await boss.schedule(queues.stalledDeliveries, '* * * * *');
  // Heals the caches from Chatwoot's API (webhooks Chatwoot lost are never sent again). One run at
  // a time ('stately'); a run that fails is not retried: the next one starts from the same point.
  await boss.createQueue(queues.chatwootSync, { name: queues.chatwootSync, policy: 'stately', retryLimit: 0, expireInSeconds: 4 * 3600 });
  if (chatwootSync.everyMinutes > 0) await boss.schedule(queues.chatwootSync, chatwootSync.everyMinutes >= 60 ? '0 * * * *' : `*/${chatwootSync.everyMinutes} * * * *`);
  else await boss.unschedule(queues.chatwootSync);
  if (!work) return boss;

  await boss.work(queues.taskReminders, { pollingIntervalSeconds }, async () => {
    const emitted = await emitTaskReminders(db);
    if (emitted) logger.info({ emitted }, 'task reminders emitted');
  });
  await boss.work(queues.jobSla, { pollingIntervalSeconds }, async () => {
    const emitted = await emitSlaEvents(db);
    if (emitted) logger.info({ emitted }, 'job SLA events emitted');
  });
  await boss.work(queues.stalledDeliveries, { pollingIntervalSeconds }, async () => {
    for (const { id: deliveryId, source } of await stalledDeliveries(db)) {
      await boss.send(source === 'twilio' ? queues.twilioEvent : queues.chatwootDelivery, { deliveryId }, { singletonKey: deliveryId });
    }
  });
  // Deliveries are short: several workers poll often so a webhook is processed within a fraction of a second.
  await boss.work<{ deliveryId: string }>(queues.chatwootDelivery, { pollingIntervalSeconds: 0.5, batchSize: 20 }, async (jobs) => {
    for (const job of jobs) {
      const outcome = await processDelivery(db, job.data.deliveryId);
      if (outcome === 'failed' || outcome === 'dead') logger.warn({ deliveryId: job.data.deliveryId, outcome }, 'Chatwoot delivery not processed');
    }
  });
  // Retries of Twilio callbacks (the delivery worker takes them first), and the delayed check of
  // calls whose outcome could still change when their last callback came.
  const twilioDeps = { db, ...twilio, jobs: { send: (name: string, data: object, options?: { startAfter?: number }) => boss.send(name, data, options ?? {}) } };
  await boss.work<{ deliveryId: string }>(queues.twilioEvent, { pollingIntervalSeconds: 0.5 }, async ([job]) => {
    const outcome = await processTwilioDelivery(twilioDeps, job!.data.deliveryId);
    if (outcome === 'failed' || outcome === 'dead') logger.warn({ deliveryId: job!.data.deliveryId, outcome }, 'Twilio callback not processed');
  });
  await boss.work(queues.chatwootSync, { pollingIntervalSeconds }, async () => {
    await runScheduledSync(db, twilio.sealer, { timeoutMs: twilio.chatwootTimeoutMs, requestsPerMinute: chatwootSync.requestsPerMinute, logger });
  });
  await boss.work<{ accountId: number; callId: string }>(queues.twilioSettle, { pollingIntervalSeconds: 1 }, async ([job]) => {
    await settleCall(twilioDeps, job!.data.accountId, job!.data.callId);
  });
  return boss;
}
