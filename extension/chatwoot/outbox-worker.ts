// Runs write-backs as soon as they are committed (LISTEN onelink_outbox, sent by a trigger),
// and sweeps every 30 s for retries whose backoff has passed (the `chatwoot-outbox` sweep, tracked
// like every sweep: an account whose drain fails is logged and shown to its admins). One drain at
// a time per account.
import type { Knex } from 'knex';
import pg from 'pg';
import type { Logger } from '../logger.ts';
import type { Sealer } from '../security/crypto.ts';
import { trackSweep } from '../modules/system/sweeps.ts';
import { accountsWithDueWriteBacks, drainOutbox } from './outbox.ts';

export const outboxSweep = 'chatwoot-outbox';

export interface OutboxWorker { stop(): Promise<void> }

export async function startOutboxWorker(options: { url: string; db: Knex; sealer: Sealer; logger: Logger; timeoutMs: number; sweepMs?: number }): Promise<OutboxWorker> {
  const { db, sealer, logger, timeoutMs } = options;
  const draining = new Map<number, Promise<void>>();
  const again = new Set<number>();
  let stopped = false;

  /** Drains an account (or joins the drain running, which then runs once more); rejects when it fails. */
  const drain = (accountId: number): Promise<void> => {
    if (stopped) return Promise.resolve();
    const running = draining.get(accountId);
    if (running) {
      again.add(accountId);
      return running;
    }
    const run = drainOutbox(db, sealer, accountId, timeoutMs)
      .then(() => undefined)
      .finally(() => {
        draining.delete(accountId);
        if (again.delete(accountId)) kick(accountId);
      });
    draining.set(accountId, run);
    return run;
  };
  const kick = (accountId: number) => void drain(accountId).catch((err: unknown) => logger.error({ err, accountId }, 'write-back drain failed'));

  const listener = new pg.Client({ connectionString: options.url, application_name: 'onelink-outbox' });
  await listener.connect();
  listener.on('notification', (message) => kick(Number(message.payload)));
  listener.on('error', (err) => logger.error({ err }, 'outbox listener failed; the sweep keeps write-backs going'));
  await listener.query('listen onelink_outbox');

  const sweep = () =>
    trackSweep({ db, logger }, outboxSweep, async (run) => {
      const due = await accountsWithDueWriteBacks(db);
      await Promise.all(due.map((accountId) => run.forAccount(accountId, () => drain(accountId))));
    });
  const timer = setInterval(() => void sweep(), options.sweepMs ?? 30_000);
  void sweep(); // write-backs left over from before a restart

  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await listener.end().catch(() => undefined);
      await Promise.allSettled(draining.values());
    },
  };
}
