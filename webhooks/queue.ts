// The webhooks' queue work. The delivery worker (worker.ts) processes deliveries as they are
// stored; the queue retries, with backoff, those that failed for now, and a minute sweep hands
// out again what a crash left behind (stored but never processed, or stuck mid-processing).
import type { Knex } from 'knex';
import { trackSweep } from '../extension/modules/system/sweeps.ts';
import { queues } from '../extension/queue/names.ts';
import type { QueueWork } from '../extension/queue/work.ts';
import { maxAttempts, processDelivery } from './chatwoot/process.ts';
import type { CallsDeps } from '../extension/modules/calls/workflow.ts';
import { maxTwilioAttempts, processTwilioDelivery } from './twilio/process.ts';

/** The queue that retries each source's deliveries. */
const retryQueueOf: Record<string, string> = { chatwoot: queues.chatwootDelivery, twilio: queues.twilioEvent };

/** Deliveries accepted but never handed to the queue (a crash between commit and enqueue), or stuck mid-processing. */
export async function stalledDeliveries(db: Knex): Promise<Array<{ id: string; source: string }>> {
  // A worker that died mid-delivery: hand it out again once the database session that claimed it is
  // gone (a dead process has no sessions; 30 s leaves a live one time to finish with another
  // connection of its pool), or after 5 minutes whatever happened. Deliveries waiting to be retried
  // are the queue's (it retries them with backoff); sending them again here would multiply the attempts.
  await db.raw(
    `update webhook_deliveries set status = 'received'
      where status = 'processing'
        and (coalesce(claimed_at, received_at) < now() - interval '5 minutes'
             or (claimed_at < now() - interval '30 seconds' and claimed_by not in (select pid from pg_stat_activity where pid is not null)))`,
  );
  return db('webhook_deliveries')
    .where({ status: 'received' })
    .andWhere('received_at', '<', db.raw(`now() - interval '30 seconds'`))
    .orderBy('received_at')
    .limit(1000)
    .select('id', 'source');
}

/** `twilio`: what processing Twilio callbacks needs (the calls workflow's dependencies, without the queue, which each run brings). */
export function webhookQueueWork(db: Knex, twilio: Omit<CallsDeps, 'db' | 'jobs'>): QueueWork[] {
  const chatwootRetries: QueueWork<{ deliveryId: string }> = {
    name: queues.chatwootDelivery,
    options: { retryLimit: maxAttempts, retryDelay: 1, retryBackoff: true },
    // Deliveries are short: several at a time, polled often, so a retry is processed within a second.
    pollingIntervalSeconds: 0.5,
    batchSize: 20,
    async handle(jobs, { logger }) {
      for (const { deliveryId } of jobs) {
        const outcome = await processDelivery(db, deliveryId);
        if (outcome === 'failed' || outcome === 'dead') logger.warn({ deliveryId, outcome }, 'Chatwoot delivery not processed');
      }
    },
  };
  const twilioRetries: QueueWork<{ deliveryId: string }> = {
    name: queues.twilioEvent,
    options: { retryLimit: maxTwilioAttempts, retryDelay: 2, retryBackoff: true },
    // Several at a time, like Chatwoot's: one at a time kept up with only two callbacks a second.
    pollingIntervalSeconds: 0.5,
    batchSize: 20,
    async handle(jobs, run) {
      let retry: unknown;
      for (const { deliveryId } of jobs) {
        try {
          // The run's queue schedules the settling check of a call whose outcome may still change.
          const outcome = await processTwilioDelivery({ db, ...twilio, jobs: run }, deliveryId);
          if (outcome === 'failed' || outcome === 'dead') run.logger.warn({ deliveryId, outcome }, 'Twilio callback not processed');
        } catch (err) {
          retry ??= err; // the others still go now; the batch is retried, and what was done is skipped then
        }
      }
      if (retry) throw retry;
    },
  };
  const stalledSweep: QueueWork = {
    name: queues.stalledDeliveries,
    schedule: '* * * * *',
    async handle(_jobs, run) {
      // Tracked like every sweep: a failing run is logged, counted and shown to admins.
      await trackSweep({ db, logger: run.logger }, queues.stalledDeliveries, async () => {
        for (const { id: deliveryId, source } of await stalledDeliveries(db)) {
          const queue = retryQueueOf[source];
          if (queue) await run.send(queue, { deliveryId }, { singletonKey: deliveryId });
        }
      });
    },
  };
  return [chatwootRetries, twilioRetries, stalledSweep];
}
