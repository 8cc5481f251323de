// Processes Chatwoot deliveries as they are stored (LISTEN onelink_delivery), a few at a time.
// A delivery that fails transiently goes to the job queue, which retries it with backoff;
// the queue's sweep also picks up anything a crash left behind.
import type { Knex } from 'knex';
import pg from 'pg';
import type { Logger } from '../../extension/logger.ts';
import { queues, type JobSender } from '../../extension/queue/names.ts';
import { processDeliveries } from './process.ts';

export interface DeliveryWorker { stop(): Promise<void> }

export async function startDeliveryWorker(options: { url: string; db: Knex; jobs: JobSender; logger: Logger; concurrency?: number }): Promise<DeliveryWorker> {
  const { db, jobs, logger } = options;
  const concurrency = options.concurrency ?? 2;
  const waiting: string[] = [];
  const running = new Set<Promise<void>>();
  let stopped = false;

  const batchSize = 100;
  const pump = () => {
    while (!stopped && running.size < concurrency && waiting.length) {
      const batch = waiting.splice(0, batchSize);
      const run = processDeliveries(db, batch)
        .then(async (outcomes) => {
          for (const [deliveryId, outcome] of outcomes) {
            if (outcome === 'retry') await jobs.send(queues.chatwootDelivery, { deliveryId }).catch(() => undefined);
            else if (outcome === 'failed' || outcome === 'dead') logger.warn({ deliveryId, outcome }, 'Chatwoot delivery not processed');
          }
        })
        .catch(async (err: unknown) => {
          logger.warn({ err }, 'a batch of Chatwoot deliveries will be retried');
          for (const deliveryId of batch) await jobs.send(queues.chatwootDelivery, { deliveryId }).catch(() => undefined);
        })
        .finally(() => {
          running.delete(run);
          pump();
        });
      running.add(run);
    }
  };

  const listener = new pg.Client({ connectionString: options.url, application_name: 'onelink-deliveries' });
  await listener.connect();
  listener.on('notification', (message) => {
    if (message.payload) waiting.push(message.payload);
    pump();
  });
  listener.on('error', (err) => logger.error({ err }, 'delivery listener failed; the queue sweep keeps deliveries going'));
  await listener.query('listen onelink_delivery');
  // Whatever was stored while no worker listened (a restart, a crash) is taken up now.
  const backlog: string[] = await db('webhook_deliveries').where({ status: 'received' }).orderBy('received_at').limit(10_000).pluck('id');
  waiting.push(...backlog);
  pump();

  return {
    async stop() {
      stopped = true;
      await listener.end().catch(() => undefined);
      await Promise.allSettled(running);
    },
  };
}
