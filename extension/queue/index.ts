// The job queue (pg-boss, in Postgres): recurring sweeps, retries of webhook deliveries, the
// delayed checks of calls. Each module brings its own queue work (see work.ts: tasks/queue.ts,
// jobs/queue.ts, chatwoot/queue.ts, calls/queue.ts, webhooks/queue.ts); the server assembles the
// list and hands it to startQueue, which registers them all the same way and knows no module.
// Workers run inside the server process unless ONELINK_WORKER=false (then another process, e.g. one
// started with ONELINK_WORKER=only, works the same queue; pg-boss hands each job to one of them).
// pg-boss keeps its tables in its own schema.
import pg from 'pg';
import PgBoss from 'pg-boss';
import type { Logger } from '../logger.ts';
import { queues } from './names.ts';
import type { QueueRun, QueueWork } from './work.ts';

export { queues };
export type { QueueRun, QueueWork };

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
  await withSetupLock(url, schema, async () => {
    await boss.start();
    for (const { name, options, schedule } of modules) {
      await boss.createQueue(name, { ...options, name });
      if (schedule) await boss.schedule(name, schedule);
      else if (schedule === null) await boss.unschedule(name);
    }
  });
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

/**
 * Processes starting together on a fresh database would each create pg-boss's tables and every
 * queue's partition at once, and Postgres can answer one of them "deadlock detected": they take
 * turns on a session advisory lock instead (as migrations do), on a connection of its own.
 */
async function withSetupLock(url: string, schema: string, work: () => Promise<void>) {
  const client = new pg.Client({ connectionString: url, application_name: 'onelink-queue-setup' });
  await client.connect();
  const key = `onelink_queue_setup:${schema}`;
  try {
    await client.query('select pg_advisory_lock(hashtext($1))', [key]);
    await work();
  } finally {
    await client.query('select pg_advisory_unlock(hashtext($1))', [key]).catch(() => undefined);
    await client.end().catch(() => undefined);
  }
}
