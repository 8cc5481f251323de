// The notifications module's scheduled work: the daily digest (checked every 15 minutes, raised
// once per person and local day) and the vendor document expiry alerts (hourly). Both go through
// trackSweep, so an account whose part fails is logged and shown to its admins.
import type { Knex } from 'knex';
import { raiseDocumentAlerts } from '../modules/vendors/expiry.ts';
import { trackSweep, type AccountPart } from '../modules/system/sweeps.ts';
import { queues } from '../queue/names.ts';
import type { QueueWork } from '../queue/work.ts';
import { raiseDigests } from './digest.ts';

function sweep(db: Knex, name: string, schedule: string, raise: (db: Knex, now: Date, forAccount: AccountPart) => Promise<number>, raised: string): QueueWork {
  return {
    name,
    schedule,
    async handle(_jobs, { logger }) {
      await trackSweep({ db, logger }, name, async (run) => {
        const count = await raise(db, new Date(), run.forAccount);
        if (count) logger.info({ raised: count }, raised);
      });
    },
  };
}

export function notificationsQueueWork(db: Knex): QueueWork[] {
  return [
    sweep(db, queues.notificationDigest, '*/15 * * * *', raiseDigests, 'daily digests raised'),
    sweep(db, queues.vendorDocumentAlerts, '5 * * * *', raiseDocumentAlerts, 'document expiry alerts raised'),
  ];
}
