// The tasks module's queue work: the minute sweep that announces tasks coming due and overdue,
// through trackSweep (each account's failure is logged and counted for GET /admin/system; the
// others still get their reminders).
import type { Knex } from 'knex';
import { queues } from '../../queue/names.ts';
import type { QueueWork } from '../../queue/work.ts';
import { minuteSweep } from '../system/sweeps.ts';
import { emitTaskReminders } from './service.ts';

export function tasksQueueWork(db: Knex): QueueWork[] {
  return [minuteSweep(db, queues.taskReminders, emitTaskReminders, 'task reminders emitted')];
}
