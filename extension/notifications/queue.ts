// The notifications module's scheduled work: the daily digest (checked every 15 minutes, raised
// once per person and local day) and the vendor document expiry alerts (hourly). Both go through
// trackSweep, so an account whose part fails is logged and shown to its admins.
import type { Knex } from 'knex';
import { raiseDocumentAlerts } from '../modules/vendors/expiry.ts';
import { scheduledSweep } from '../modules/system/sweeps.ts';
import { queues } from '../queue/names.ts';
import type { QueueWork } from '../queue/work.ts';
import { raiseDigests } from './digest.ts';

export function notificationsQueueWork(db: Knex): QueueWork[] {
  return [
    scheduledSweep(db, queues.notificationDigest, '*/15 * * * *', raiseDigests, 'daily digests raised'),
    scheduledSweep(db, queues.vendorDocumentAlerts, '5 * * * *', raiseDocumentAlerts, 'document expiry alerts raised'),
  ];
}
