// A worker that does one account's work as soon as it is announced (LISTEN on a channel whose
// payload is the account id, so it hears every process) and sweeps on a timer for work that is due
// later or was left from before a restart (tracked like every sweep: an account whose run fails is
// logged and shown to its admins). One run at a time per account; an announcement during a run
// makes it run once more. The Chatwoot outbox and the notifications both run on it.
import type { Knex } from 'knex';
import { startListener } from '../db/listener.ts';
import type { Logger } from '../logger.ts';
import { trackSweep } from '../modules/system/sweeps.ts';

export interface AccountWorker { stop(): Promise<void> }

export interface AccountWorkerOptions {
  url: string;
  db: Knex;
  logger: Logger;
  /** The NOTIFY channel announcing an account's new work. */
  channel: string;
  /** The sweep's name (sweep_runs) and the listener's application name. */
  sweep: string;
  sweepMs: number;
  /** Does an account's work; rejects when it fails (the sweep tries again). */
  run(accountId: number): Promise<unknown>;
  /** The accounts with work due now (the sweep's list). */
  dueAccounts(): Promise<number[]>;
  /** What the log says when a run announced by the channel fails. */
  failure: string;
}

export async function startAccountWorker(options: AccountWorkerOptions): Promise<AccountWorker> {
  const { db, logger } = options;
  const running = new Map<number, Promise<void>>();
  const again = new Set<number>();
  let stopped = false;

  /** Runs an account (or joins the run going on, which then runs once more); rejects when it fails. */
  const run = (accountId: number): Promise<void> => {
    if (stopped) return Promise.resolve();
    const current = running.get(accountId);
    if (current) {
      again.add(accountId);
      return current;
    }
    const next = options
      .run(accountId)
      .then(() => undefined)
      .finally(() => {
        running.delete(accountId);
        if (again.delete(accountId)) kick(accountId);
      });
    running.set(accountId, next);
    return next;
  };
  const kick = (accountId: number) => void run(accountId).catch((err: unknown) => logger.error({ err, accountId }, options.failure));

  const sweep = () =>
    trackSweep({ db, logger }, options.sweep, async (sweepRun) => {
      const due = await options.dueAccounts();
      await Promise.all(due.map((accountId) => sweepRun.forAccount(accountId, () => run(accountId))));
    });
  // After a lost connection (Postgres restarted) it listens again and sweeps for what was announced meanwhile.
  const listener = await startListener({
    url: options.url,
    applicationName: `onelink-${options.sweep}`,
    channel: options.channel,
    logger,
    onNotification: (payload) => kick(Number(payload)),
    onReconnected: () => void sweep(),
  });
  const timer = setInterval(() => void sweep(), options.sweepMs);
  void sweep(); // work left from before a restart

  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await listener.stop();
      await Promise.allSettled(running.values());
    },
  };
}
