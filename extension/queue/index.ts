// The job queue (pg-boss, in Postgres): recurring sweeps, retries of webhook deliveries, the
// delayed checks of calls. Each module brings its own queue work (see work.ts); the server hands
// the lists to startQueue, which registers them all the same way. Workers run inside the server
// process unless ONELINK_WORKER=false (then another process works the same queue). pg-boss keeps
// its tables in its own schema.
import type { Knex } from 'knex';
import PgBoss from 'pg-boss';
import type { Logger } from '../logger.ts';
import { emitSlaEvents } from '../modules/jobs/service.ts';
import { emitTaskReminders } from '../modules/tasks/service.ts';
import { defaultRequestsPerMinute, runScheduledSync } from '../chatwoot/sync.ts';
import type { Sealer } from '../security/crypto.ts';
import { trackSweep } from '../modules/system/sweeps.ts';
import { queues } from './names.ts';
import type { QueueRun, QueueWork } from './work.ts';

export { queues };
export type { QueueRun, QueueWork };

export interface SweepOptions {
  db: Knex;
  /** Opens the Chatwoot tokens the sync uses. */
  sealer: Sealer;
  chatwootTimeoutMs: number;
  /** The incremental Chatwoot sync: every N minutes (0, or not given: not scheduled), at most this many requests a minute. */
  chatwootSync?: { everyMinutes: number; requestsPerMinute: number };
}

/** The minute sweeps of tasks and jobs, and the scheduled Chatwoot sync. */
export function sweeps({ db, sealer, chatwootTimeoutMs, chatwootSync = { everyMinutes: 0, requestsPerMinute: defaultRequestsPerMinute } }: SweepOptions): QueueWork[] {
  const every = chatwootSync.everyMinutes;
  return [
    {
      name: queues.taskReminders,
      schedule: '* * * * *',
      async handle(_jobs, { logger }) {
        await trackSweep({ db, logger }, queues.taskReminders, async (sweep) => {
          const emitted = await emitTaskReminders(db, new Date(), sweep.forAccount);
          if (emitted) logger.info({ emitted }, 'task reminders emitted');
        });
      },
    },
    {
      name: queues.jobSla,
      schedule: '* * * * *',
      async handle(_jobs, { logger }) {
        await trackSweep({ db, logger }, queues.jobSla, async (sweep) => {
          const emitted = await emitSlaEvents(db, new Date(), sweep.forAccount);
          if (emitted) logger.info({ emitted }, 'job SLA events emitted');
        });
      },
    },
    {
      // Heals the caches from Chatwoot's API (webhooks Chatwoot lost are never sent again). One run
      // at a time ('stately'); a run that fails is not retried: the next one starts from the same point.
      name: queues.chatwootSync,
      options: { policy: 'stately', retryLimit: 0, expireInSeconds: 4 * 3600 },
      schedule: every > 0 ? (every >= 60 ? '0 * * * *' : `*/${every} * * * *`) : null,
      async handle(_jobs, { logger }) {
        await trackSweep({ db, logger }, queues.chatwootSync, (sweep) =>
          runScheduledSync(db, sealer, { timeoutMs: chatwootTimeoutMs, requestsPerMinute: chatwootSync.requestsPerMinute, logger, sweep }),
        );
      },
    },
  ];
}

export interface QueueOptions {
  url: string;
  schema: string;
  logger: Logger;
  /** Every module's queue work: created and scheduled in any process, worked only when `work`. */
  modules: QueueWork[];
  work?: boolean;
  pollingIntervalSeconds?: number;
}

export async function startQueue({ url, schema, logger, modules, work = true, pollingIntervalSeconds = 2 }: QueueOptions): Promise<PgBoss> {
  const boss = new PgBoss({ connectionString: url, schema: `${schema}_queue`, application_name: 'onelink-queue' });
  boss.on('error', (err) => logger.error({ err }, 'queue error'));
  await boss.start();
  for (const { name, options, schedule } of modules) {
    await boss.createQueue(name, { ...options, name });
    if (schedule) await boss.schedule(name, schedule);
    else if (schedule === null) await boss.unschedule(name);
  }
  if (!work) return boss;

  const run: QueueRun = { logger, send: (name, data, options) => boss.send(name, data, options ?? {}) };
  for (const queue of modules) {
    const polling = { pollingIntervalSeconds: queue.pollingIntervalSeconds ?? pollingIntervalSeconds, batchSize: queue.batchSize ?? 1 };
    await boss.work<object>(queue.name, polling, async (jobs) => {
      const data = jobs.map((job) => job.data);
      try {
        await queue.handle(data, run);
      } catch (err) {
        // pg-boss retries the jobs as the queue's options say; the failure is never silent.
        const accounts = [...new Set(data.map((d) => (d as { accountId?: unknown }).accountId).filter((id) => typeof id === 'number'))];
        logger.error({ err, queue: queue.name, ...(accounts.length ? { accountIds: accounts } : {}) }, 'queue work failed; it will be retried as the queue allows');
        throw err;
      }
    });
  }
  return boss;
}
