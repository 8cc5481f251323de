// The notification worker: wakes when an event commits (LISTEN onelink_notify, sent after the commit
// by the unit of work, so it hears every process), fans the account's events out and sends what is
// due; a sweep every 10 s picks up retries, escalations, quiet hours that ended and anything left
// from before a restart (tracked like every sweep). One run at a time per account.
import type { Knex } from 'knex';
import pg from 'pg';
import type { Logger } from '../logger.ts';
import { trackSweep } from '../modules/system/sweeps.ts';
import type { ChannelSenders } from './channels/types.ts';
import { accountsWithDueDeliveries, drainDeliveries } from './deliver.ts';
import { accountsWithPendingEvents, fanOutEvents, type FanOutDeps } from './fanout.ts';
import { wakeChannel } from './raise.ts';

export const notificationSweep = 'notifications';

export interface NotificationWorker { stop(): Promise<void> }

/** One account's turn: fan out its events, then send what is due. */
export async function runNotifications(db: Knex, accountId: number, senders: ChannelSenders, deps: FanOutDeps) {
  await fanOutEvents(db, accountId, deps);
  await drainDeliveries(db, accountId, senders);
}

export async function startNotificationWorker(options: { url: string; db: Knex; logger: Logger; senders: ChannelSenders; fanOut: FanOutDeps; sweepMs?: number }): Promise<NotificationWorker> {
  const { db, logger, senders, fanOut } = options;
  const running = new Map<number, Promise<void>>();
  const again = new Set<number>();
  let stopped = false;

  const run = (accountId: number): Promise<void> => {
    if (stopped) return Promise.resolve();
    const current = running.get(accountId);
    if (current) {
      again.add(accountId);
      return current;
    }
    const next = runNotifications(db, accountId, senders, fanOut).finally(() => {
      running.delete(accountId);
      if (again.delete(accountId)) kick(accountId);
    });
    running.set(accountId, next);
    return next;
  };
  const kick = (accountId: number) => void run(accountId).catch((err: unknown) => logger.error({ err, accountId }, 'sending notifications failed; the sweep tries again'));

  const listener = new pg.Client({ connectionString: options.url, application_name: 'onelink-notify' });
  await listener.connect();
  listener.on('notification', (message) => kick(Number(message.payload)));
  listener.on('error', (err) => logger.error({ err }, 'notification listener failed; the sweep keeps notifications going'));
  await listener.query(`listen ${wakeChannel}`);

  const sweep = () =>
    trackSweep({ db, logger }, notificationSweep, async (sweepRun) => {
      const accounts = new Set([...(await accountsWithPendingEvents(db)), ...(await accountsWithDueDeliveries(db))]);
      await Promise.all([...accounts].map((accountId) => sweepRun.forAccount(accountId, () => run(accountId))));
    });
  const timer = setInterval(() => void sweep(), options.sweepMs ?? 10_000);
  void sweep(); // events and deliveries left from before a restart

  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await listener.end().catch(() => undefined);
      await Promise.allSettled(running.values());
    },
  };
}
