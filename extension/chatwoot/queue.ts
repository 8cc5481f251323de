// The Chatwoot sync's queue work: the scheduled incremental sync that heals the caches from
// Chatwoot's API (webhooks Chatwoot lost are never sent again). It runs through trackSweep, so a
// failing account is logged and counted (GET /admin/system) and the others are still synced.
import type { Knex } from 'knex';
import { trackSweep } from '../modules/system/sweeps.ts';
import { queues } from '../queue/names.ts';
import type { QueueWork } from '../queue/work.ts';
import type { Sealer } from '../security/crypto.ts';
import { defaultRequestsPerMinute, runScheduledSync } from './sync.ts';

export interface ChatwootSyncOptions {
  db: Knex;
  /** Opens the Chatwoot tokens the sync uses. */
  sealer: Sealer;
  timeoutMs: number;
  /** Every N minutes (0: not scheduled, and a schedule set before is removed). */
  everyMinutes?: number;
  /** At most this many Chatwoot requests a minute. */
  requestsPerMinute?: number;
}

export function chatwootQueueWork({ db, sealer, timeoutMs, everyMinutes = 0, requestsPerMinute = defaultRequestsPerMinute }: ChatwootSyncOptions): QueueWork[] {
  const sync: QueueWork = {
    // One run at a time ('stately'); a run that fails is not retried: the next one starts from the same point.
    name: queues.chatwootSync,
    options: { policy: 'stately', retryLimit: 0, expireInSeconds: 4 * 3600 },
    schedule: everyMinutes > 0 ? (everyMinutes >= 60 ? '0 * * * *' : `*/${everyMinutes} * * * *`) : null,
    async handle(_jobs, { logger }) {
      await trackSweep({ db, logger }, queues.chatwootSync, (sweep) => runScheduledSync(db, sealer, { timeoutMs, requestsPerMinute, logger, sweep }));
    },
  };
  return [sync];
}
