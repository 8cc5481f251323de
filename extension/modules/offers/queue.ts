// The offers module's queue work: every minute, open offers past their answer-by time lapse (and go
// on to the next suggested vendor when the account wants it), through trackSweep like every sweep.
import type { Knex } from 'knex';
import type { QueueWork } from '../../queue/work.ts';
import { minuteSweep, sumOverAccounts, type AccountPart } from '../system/sweeps.ts';
import { offerProcess, sweepAccountOffers } from './service.ts';

export const offerSweepQueue = 'job-offers';

/** Lapses (or withdraws) the open offers due at `now` in every account; returns how many closed. */
export function lapseOffers(db: Knex, now = new Date(), forAccount?: AccountPart): Promise<number> {
  return sumOverAccounts(db, { process: offerProcess, describe: 'The offer sweep' }, (trx, accountId, audit) => sweepAccountOffers(trx, accountId, audit, now), forAccount);
}

export function offersQueueWork(db: Knex): QueueWork[] {
  return [minuteSweep(db, offerSweepQueue, lapseOffers, 'job offers lapsed or withdrawn')];
}
