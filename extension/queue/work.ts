// What a module puts on the job queue: one queue per kind of work, how it retries, an optional
// schedule, and the handler. Modules export their own list (webhooks/queue.ts,
// modules/calls/queue.ts, …); the queue start registers them all the same way, so the queue
// itself knows no module and no module's code path runs through it.
import type PgBoss from 'pg-boss';
import type { Logger } from '../logger.ts';
import type { JobSender } from './names.ts';

/** What a handler is given besides its jobs: a way to put more work on the queue, and the log. */
export interface QueueRun extends JobSender {
  logger: Logger;
}

export interface QueueWork<Data extends object = object> {
  /** The queue's name (see names.ts: senders use the same names). */
  name: string;
  /** How pg-boss retries, expires and serialises this queue's jobs. */
  options?: Omit<PgBoss.Queue, 'name'>;
  /**
   * A sweep's cron schedule (runs are idempotent, so an extra or overlapping one changes nothing);
   * `null` removes a schedule set before (the setting was turned off); absent: the queue only runs
   * what is sent to it.
   */
  schedule?: string | null;
  /** How often this process asks for jobs (default: the queue start's interval). */
  pollingIntervalSeconds?: number;
  /** How many jobs one call of the handler gets (default 1). */
  batchSize?: number;
  /** Does the work; throwing hands the jobs back to pg-boss, which retries them as `options` say. */
  handle(jobs: Data[], run: QueueRun): Promise<void>;
}
