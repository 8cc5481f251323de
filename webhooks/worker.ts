// Processes stored webhook deliveries as they arrive: woken by a NOTIFY from a receiver (or at
// start), it drains every pending delivery of each source, oldest first, a batch at a time.
// A delivery that fails transiently goes to its source's queue, which retries it with backoff;
// the queue's sweep also picks up anything a crash left behind.
import type { Knex } from 'knex';
import { startListener } from '../extension/db/listener.ts';
import type { Logger } from '../extension/logger.ts';
import type { JobSender } from '../extension/queue/names.ts';
import { deliveryChannel } from './nudge.ts';

export type DeliveryOutcome = 'processed' | 'ignored' | 'skipped' | 'failed' | 'dead' | 'retry';

export interface DeliverySource {
  /** webhook_deliveries.source */
  source: string;
  /** The queue that retries this source's deliveries. */
  retryQueue: string;
  process(deliveryIds: string[]): Promise<Map<string, DeliveryOutcome>>;
}

export interface DeliveryWorker { stop(): Promise<void> }

export async function startDeliveryWorker(options: {
  url: string;
  db: Knex;
  jobs: JobSender;
  logger: Logger;
  sources: DeliverySource[];
  batchSize?: number;
}): Promise<DeliveryWorker> {
  const { db, jobs, logger, sources } = options;
  const batchSize = options.batchSize ?? 200;
  let stopped = false;
  let running: Promise<void> | undefined;
  let wokenAgain = false;

  /** Takes every stored, unprocessed delivery of one source, a batch at a time, until none is left. */
  const drainSource = async ({ source, retryQueue, process }: DeliverySource) => {
    const tried = new Set<string>();
    for (;;) {
      const ids: string[] = await db('webhook_deliveries').where({ status: 'received', source }).orderBy('received_at').limit(batchSize).pluck('id');
      // A batch that makes no progress (nothing could even be claimed) is left to the queue.
      if (!ids.length || stopped || ids.every((id) => tried.has(id))) return;
      for (const id of ids) tried.add(id);
      try {
        for (const [deliveryId, outcome] of await process(ids)) {
          if (outcome === 'retry') await jobs.send(retryQueue, { deliveryId }).catch(() => undefined);
          else if (outcome === 'failed' || outcome === 'dead') logger.warn({ deliveryId, source, outcome }, 'webhook delivery not processed');
        }
      } catch (err) {
        logger.warn({ err, source }, 'a batch of webhook deliveries failed; the queue will retry it');
        for (const deliveryId of ids) await jobs.send(retryQueue, { deliveryId }).catch(() => undefined);
        return;
      }
    }
  };
  const drain = async () => {
    for (const source of sources) await drainSource(source);
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

  // After a lost connection (Postgres restarted) it listens again and drains what arrived meanwhile.
  const listener = await startListener({ url: options.url, applicationName: 'onelink-deliveries', channel: deliveryChannel, logger, onNotification: wake, onReconnected: wake });
  wake(); // whatever was stored while no worker listened (a restart, a crash)

  return {
    async stop() {
      stopped = true;
      await listener.stop();
      await running;
    },
  };
}
