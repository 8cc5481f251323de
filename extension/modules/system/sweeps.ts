// Every scheduled job (SLA sweep, task reminders, Chatwoot sync, stalled deliveries, write-back
// retries, …) runs through trackSweep, so a broken one is loud: its failure is logged with the
// account, counted, and shown to admins in GET /api/v1/admin/system; and it never stops the next
// run (trackSweep does not throw: the schedule runs the sweep again, and that run starts clean).
//
// A sweep that works account by account runs each account's part through `run.forAccount` (or
// `run.eachAccount`): one account's failure is recorded for that account and the others go on.
// An error outside any account's part fails the run as a whole; admins see that it happened, and
// the server log has its text (it may concern any account).
import type { Knex } from 'knex';
import { read, systemContext, write, type Audit } from '../../db/tenant.ts';
import type { Logger } from '../../logger.ts';
import type { QueueWork } from '../../queue/work.ts';

export interface SweepRun {
  logger: Logger;
  /** Runs one account's part: a failure is logged with the account and recorded for it; returns undefined then. */
  forAccount<T>(accountId: number, work: () => Promise<T>): Promise<T | undefined>;
  /** Runs `work` for every account, one after another, each through forAccount. */
  eachAccount(work: (accountId: number) => Promise<unknown>): Promise<void>;
  /** Records a failure of one account's part that the sweep caught itself (logged with the account). */
  accountFailed(accountId: number, err: unknown): Promise<void>;
}

export interface SweepOutcome {
  /** False when the run failed outside any account's part. */
  ok: boolean;
  failedAccounts: number[];
}

export interface SweepDeps {
  db: Knex;
  logger: Logger;
}

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err)).slice(0, 1000);

/** Runs one sweep, recording it in sweep_runs (and failures per account); never throws. */
export async function trackSweep(deps: SweepDeps, sweep: string, work: (run: SweepRun) => Promise<unknown>): Promise<SweepOutcome> {
  const { db } = deps;
  const logger = deps.logger.child({ sweep });
  const failedAccounts: number[] = [];
  // Bookkeeping must not turn a good run into a failed one: its own errors are logged and dropped.
  const note = (what: string, promise: Promise<unknown>) => promise.catch((err: unknown) => logger.error({ err }, `could not record ${what}`));

  await note(
    'the start of a sweep run',
    db.raw(
      `insert into sweep_runs (sweep, last_run_at, runs) values (?, now(), 1)
       on conflict (sweep) do update set last_run_at = now(), runs = sweep_runs.runs + 1`,
      [sweep],
    ),
  );

  const accountFailed = async (accountId: number, err: unknown) => {
    failedAccounts.push(accountId);
    logger.error({ err, accountId }, 'sweep failed for an account');
    await note('an account’s sweep failure', recordAccountFailure(db, sweep, accountId, errorText(err)));
  };
  const forAccount = async <T>(accountId: number, part: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await part();
    } catch (err) {
      await accountFailed(accountId, err);
      return undefined;
    }
  };
  const run: SweepRun = {
    logger,
    forAccount,
    accountFailed,
    async eachAccount(part) {
      const accounts: number[] = await db('accounts').orderBy('account_id').pluck('account_id');
      for (const accountId of accounts) await forAccount(accountId, () => part(accountId));
    },
  };

  let failure: unknown = null;
  try {
    await work(run);
  } catch (err) {
    failure = err ?? new Error('the sweep failed without an error');
    logger.error({ err }, 'sweep failed');
  }

  await note(
    'the end of a sweep run',
    db.raw(
      `update sweep_runs
          set last_finished_at = now(),
              last_success_at = case when :failed then last_success_at else now() end,
              last_error = case when :failed then :error else last_error end,
              last_error_at = case when :failed then now() else last_error_at end,
              failures = failures + case when :failed then 1 else 0 end,
              consecutive_failures = case when :failed then consecutive_failures + 1 else 0 end,
              account_failures = account_failures + :accountFailures,
              last_failed_accounts = :failedAccounts::bigint[]
        where sweep = :sweep`,
      {
        sweep,
        failed: failure !== null,
        error: failure === null ? null : errorText(failure),
        accountFailures: failedAccounts.length,
        failedAccounts: `{${[...new Set(failedAccounts)].join(',')}}`,
      },
    ),
  );
  return { ok: failure === null, failedAccounts };
}

/** The account's failure, kept as the account's own data (row-level security). */
async function recordAccountFailure(db: Knex, sweep: string, accountId: number, error: string) {
  await write(await systemContext(db, accountId, `sweep:${sweep}`), async (trx, audit) => {
    await trx.raw(
      `insert into sweep_account_failures (account_id, sweep, last_error, last_error_at, failures) values (?, ?, ?, now(), 1)
       on conflict (account_id, sweep) do update set last_error = excluded.last_error, last_error_at = now(),
              failures = sweep_account_failures.failures + 1`,
      [accountId, sweep, error],
    );
    audit.bookkeeping('sweep_account_failures');
  });
}

/**
 * The accounts for which `hasWork` finds a row (a sweep's work list). Each account is asked in its
 * own read: row-level security shows a query one account at a time.
 */
export async function accountsWithWork(db: Knex, hasWork: (trx: Knex.Transaction, accountId: number) => Knex.QueryBuilder): Promise<number[]> {
  const accounts: number[] = await db('accounts').orderBy('account_id').pluck('account_id');
  const found: number[] = [];
  for (const accountId of accounts) if (await read({ db, accountId }, (trx) => hasWork(trx, accountId).first())) found.push(accountId);
  return found;
}

/** Runs one account's part of a sweep; the scheduler's runner (`SweepRun.forAccount`) records a failure per account. */
export type AccountPart = <T>(accountId: number, work: () => Promise<T>) => Promise<T | undefined>;

/**
 * Runs `work` for every account, each in its own write as the system process `process`, and adds
 * up what the parts return. With the scheduler's `forAccount`, each account's failure is recorded
 * there and the others go on. Without it, one account's failure still does not stop the others,
 * and the failures are thrown together at the end: nothing is swallowed (the next run tries again).
 */
export async function sumOverAccounts(
  db: Knex,
  sweep: { process: string; describe: string },
  work: (trx: Knex.Transaction, accountId: number, audit: Audit) => Promise<number>,
  forAccount?: AccountPart,
): Promise<number> {
  const accounts: number[] = await db('accounts').orderBy('account_id').pluck('account_id');
  let total = 0;
  const failures: Array<{ accountId: number; error: unknown }> = [];
  for (const accountId of accounts) {
    const part = async () => write(await systemContext(db, accountId, sweep.process), (trx, audit) => work(trx, accountId, audit));
    if (forAccount) {
      total += (await forAccount(accountId, part)) ?? 0;
      continue;
    }
    try {
      total += await part();
    } catch (error) {
      failures.push({ accountId, error });
    }
  }
  if (failures.length) {
    const messages = failures.map((f) => `account ${f.accountId}: ${(f.error as Error)?.message ?? String(f.error)}`);
    throw new AggregateError(failures.map((f) => f.error), `${sweep.describe} failed for ${failures.length} account(s): ${messages.join('; ')}`);
  }
  return total;
}

/**
 * Queue work for a sweep that runs on `schedule` (cron) over every account through trackSweep
 * (each account's failure recorded for it, the others still swept), logging how many events it emitted.
 */
export function scheduledSweep(
  db: Knex,
  queue: string,
  schedule: string,
  emit: (db: Knex, now: Date, forAccount: AccountPart) => Promise<number>,
  emitted: string,
): QueueWork {
  return {
    name: queue,
    schedule,
    async handle(_jobs, { logger }) {
      await trackSweep({ db, logger }, queue, async (sweep) => {
        const count = await emit(db, new Date(), sweep.forAccount);
        if (count) logger.info({ emitted: count }, emitted);
      });
    },
  };
}

/** A scheduled sweep that runs every minute. */
export function minuteSweep(db: Knex, queue: string, emit: (db: Knex, now: Date, forAccount: AccountPart) => Promise<number>, emitted: string): QueueWork {
  return scheduledSweep(db, queue, '* * * * *', emit, emitted);
}
