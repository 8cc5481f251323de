// Runs write-backs as soon as they are committed (LISTEN onelink_outbox, sent by a trigger),
// and sweeps every 30 s for retries whose backoff has passed (the `chatwoot-outbox` sweep, tracked
// like every sweep: an account whose drain fails is logged and shown to its admins). One drain at
// a time per account (see queue/account-worker.ts).
import type { Knex } from 'knex';
import type { Logger } from '../logger.ts';
import { startAccountWorker, type AccountWorker } from '../queue/account-worker.ts';
import type { Sealer } from '../security/crypto.ts';
import type { FileStorage } from '../storage/index.ts';
import { accountsWithDueWriteBacks, drainOutbox } from './outbox.ts';

export const outboxSweep = 'chatwoot-outbox';

export type OutboxWorker = AccountWorker;

export function startOutboxWorker(options: { url: string; db: Knex; sealer: Sealer; logger: Logger; timeoutMs: number; sweepMs?: number; files?: FileStorage }): Promise<OutboxWorker> {
  const { db, sealer, timeoutMs } = options;
  return startAccountWorker({
    url: options.url,
    db,
    logger: options.logger,
    channel: 'onelink_outbox',
    sweep: outboxSweep,
    sweepMs: options.sweepMs ?? 30_000,
    run: (accountId) => drainOutbox(db, sealer, accountId, timeoutMs, options.files),
    dueAccounts: () => accountsWithDueWriteBacks(db),
    failure: 'write-back drain failed',
  });
}
