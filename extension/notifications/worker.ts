// The notification worker: wakes when an event commits (LISTEN onelink_notify, sent after the commit
// by the unit of work, so it hears every process), fans the account's events out and sends what is
// due; a sweep every 10 s picks up retries, escalations, quiet hours that ended and anything left
// from before a restart (tracked like every sweep). One run at a time per account (see
// queue/account-worker.ts).
import type { Knex } from 'knex';
import type { Logger } from '../logger.ts';
import { startAccountWorker, type AccountWorker } from '../queue/account-worker.ts';
import type { ChannelSenders } from './channels/types.ts';
import { accountsWithDueDeliveries, drainDeliveries } from './deliver.ts';
import { accountsWithPendingEvents, fanOutEvents, type FanOutDeps } from './fanout.ts';
import { wakeChannel } from './raise.ts';

export const notificationSweep = 'notifications';

export type NotificationWorker = AccountWorker;

/** One account's turn: fan out its events, then send what is due. */
export async function runNotifications(db: Knex, accountId: number, senders: ChannelSenders, deps: FanOutDeps) {
  await fanOutEvents(db, accountId, deps);
  await drainDeliveries(db, accountId, senders);
}

export function startNotificationWorker(options: { url: string; db: Knex; logger: Logger; senders: ChannelSenders; fanOut: FanOutDeps; sweepMs?: number }): Promise<NotificationWorker> {
  const { db, senders, fanOut } = options;
  return startAccountWorker({
    url: options.url,
    db,
    logger: options.logger,
    channel: wakeChannel,
    sweep: notificationSweep,
    sweepMs: options.sweepMs ?? 10_000,
    run: (accountId) => runNotifications(db, accountId, senders, fanOut),
    dueAccounts: async () => [...new Set([...(await accountsWithPendingEvents(db)), ...(await accountsWithDueDeliveries(db))])],
    failure: 'sending notifications failed; the sweep tries again',
  });
}
