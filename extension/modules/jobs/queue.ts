// The jobs module's queue work: the minute sweep that records SLA warnings and breaches. It runs
// through trackSweep, so each account's failure is logged and counted (GET /admin/system) and the
// other accounts are still swept.
import type { Knex } from 'knex';
import { queues } from '../../queue/names.ts';
import type { QueueWork } from '../../queue/work.ts';
import { trackSweep } from '../system/sweeps.ts';
import { emitSlaEvents } from './sla.ts';

export function jobsQueueWork(db: Knex): QueueWork[] {
  const sla: QueueWork = {
    name: queues.jobSla,
    schedule: '* * * * *',
    async handle(_jobs, { logger }) {
      await trackSweep({ db, logger }, queues.jobSla, async (sweep) => {
        const emitted = await emitSlaEvents(db, new Date(), sweep.forAccount);
        if (emitted) logger.info({ emitted }, 'job SLA events emitted');
      });
    },
  };
  return [sla];
}
