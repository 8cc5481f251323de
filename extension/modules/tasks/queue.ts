// The tasks module's queue work: the minute sweep that announces tasks coming due and overdue.
// It runs through trackSweep, so each account's failure is logged and counted (GET /admin/system)
// and the other accounts still get their reminders.
import type { Knex } from 'knex';
import { queues } from '../../queue/names.ts';
import type { QueueWork } from '../../queue/work.ts';
import { trackSweep } from '../system/sweeps.ts';
import { emitTaskReminders } from './service.ts';

export function tasksQueueWork(db: Knex): QueueWork[] {
  const reminders: QueueWork = {
    name: queues.taskReminders,
    schedule: '* * * * *',
    async handle(_jobs, { logger }) {
      await trackSweep({ db, logger }, queues.taskReminders, async (sweep) => {
        const emitted = await emitTaskReminders(db, new Date(), sweep.forAccount);
        if (emitted) logger.info({ emitted }, 'task reminders emitted');
      });
    },
  };
  return [reminders];
}
