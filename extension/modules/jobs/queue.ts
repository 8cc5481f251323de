// The jobs module's queue work: the minute sweep that records SLA warnings and breaches, through
// trackSweep (each account's failure is logged and counted for GET /admin/system; the others are
// still swept).
import type { Knex } from 'knex';
import { queues } from '../../queue/names.ts';
import type { QueueWork } from '../../queue/work.ts';
import { minuteSweep } from '../system/sweeps.ts';
import { emitSlaEvents } from './sla.ts';

export function jobsQueueWork(db: Knex): QueueWork[] {
  return [minuteSweep(db, queues.jobSla, emitSlaEvents, 'job SLA events emitted')];
}
