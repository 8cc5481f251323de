// Processes Chatwoot deliveries as they are stored: woken by a NOTIFY from the receiver (or at
// start), it drains every pending delivery in batches.
// A delivery that fails transiently goes to the job queue, which retries it with backoff;
// the queue's sweep also picks up anything a crash left behind.
import type { Knex } from 'knex';
import pg from 'pg';
import type { Logger } from '../../extension/logger.ts';
import { queues, type JobSender } from '../../extension/queue/names.ts';
import { deliveryChannel } from './nudge.ts';
import { processDeliveries } from './process.ts';

export interface DeliveryWorker { stop(): Promise<void> }

export async function startDeliveryWorker(options: { url: string; db: Knex; jobs: JobSender; logger: Logger; batchSize?: number }): Promise<DeliveryWorker> {
  const { db, jobs, logger } = options;
  const batchSize = options.batchSize ?? 200;
  let stopped = false;
  let running: Promise<void> | undefined;
  let wokenAgain = false;

  /** Takes every stored, unprocessed delivery, a batch at a time, until none is left. */
  const drain = async () => {
    for (;;) {
      const ids: string[] = await db('webhook_deliveries').where({ status: 'received' }).orderBy('received_at').limit(batchSize).pluck('id');
      if (!ids.length || stopped) return;
      try {
        for (const [deliveryId, outcome] of await processDeliveries(db, ids)) {
          if (outcome === 'retry') await jobs.send(queues.chatwootDelivery, { deliveryId }).catch(() => undefined);
          else if (outcome === 'failed' || outcome === 'dead') logger.warn({ deliveryId, outcome }, 'Chatwoot delivery not processed');
        }
      } catch (err) {
        logger.warn({ err }, 'a batch of Chatwoot deliveries failed; the queue will retry it');
        for (const deliveryId of ids) await jobs.send(queues.chatwootDelivery, { deliveryId }).catch(() => undefined);
        return;
      }
    }
  };
  const wake = () => {
    if (stopped) return;
    if (running) {
      wokenAgain = true;
      return;
    }
    running = drain()
      .catch((err: unknown) => logger.error({ err }, 'delivery worker failed'))
      .finally(() => {
        running = undefined;
        if (wokenAgain) {
          wokenAgain = false;
          wake();
        }
      });
  };

  const listener = new pg.Client({ connectionString: options.url, application_name: 'onelink-deliveries' });
  await listener.connect();
  listener.on('notification', wake);
  listener.on('error', (err) => logger.error({ err }, 'delivery listener failed; the queue sweep keeps deliveries going'));
  await listener.query(`listen ${deliveryChannel}`);
  wake(); // whatever was stored while no worker listened (a restart, a crash)

  return {
    async stop() {
      stopped = true;
      await listener.end().catch(() => undefined);
      await running;
    },
  };
}
