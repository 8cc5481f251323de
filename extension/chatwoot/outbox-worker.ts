// Runs write-backs as soon as they are committed (LISTEN onelink_outbox, sent by a trigger),
// and sweeps every 30 s for retries whose backoff has passed. One drain at a time per account.
import type { Knex } from 'knex';
import pg from 'pg';
import type { Logger } from '../logger.ts';
import type { Sealer } from '../security/crypto.ts';
import { accountsWithDueWriteBacks, drainOutbox } from './outbox.ts';

export interface OutboxWorker { stop(): Promise<void> }

export async function startOutboxWorker(options: { url: string; db: Knex; sealer: Sealer; logger: Logger; timeoutMs: number; sweepMs?: number }): Promise<OutboxWorker> {
  const { db, sealer, logger, timeoutMs } = options;
  const draining = new Map<number, Promise<void>>();
  const again = new Set<number>();
  let stopped = false;

  const kick = (accountId: number) => {
    if (stopped) return;
    if (draining.has(accountId)) {
      again.add(accountId); // a drain is running: run once more when it ends
      return;
    }
    const run = drainOutbox(db, sealer, accountId, timeoutMs)
      .catch((err: unknown) => logger.error({ err, accountId }, 'write-back drain failed'))
      .then(() => {
        draining.delete(accountId);
        if (again.delete(accountId)) kick(accountId);
      });
    draining.set(accountId, run);
  };

  const listener = new pg.Client({ connectionString: options.url, application_name: 'onelink-outbox' });
  await listener.connect();
  listener.on('notification', (message) => kick(Number(message.payload)));
  listener.on('error', (err) => logger.error({ err }, 'outbox listener failed; the sweep keeps write-backs going'));
  await listener.query('listen onelink_outbox');

  const sweep = async () => {
    for (const accountId of await accountsWithDueWriteBacks(db).catch(() => [] as number[])) kick(accountId);
  };
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
