// What an admin sees of the machinery behind their account: each sweep's last run and failures, and
// the backlogs (webhook deliveries waiting, retrying or dead; write-backs to Chatwoot waiting).
// Tenancy: sweep_runs holds no account's data (an error raised outside any account shows only as
// "failed", its text stays in the server log); an account's own failures and backlogs are counted
// for that account only. Deliveries are kept per installation and learn their account when
// processed, so "unattributed" counts the deliveries of this account's installation not yet read;
// no count spans other installations.
import type { RequestContext } from '../../context.ts';
import { read } from '../../db/tenant.ts';

export interface SweepStatus {
  sweep: string;
  last_run_at: Date;
  last_finished_at: Date | null;
  /** The last run that finished without failing outside an account's part. */
  last_success_at: Date | null;
  /** The last finished run failed as a whole, or failed for this account. */
  failing: boolean;
  last_error: string | null;
  last_error_at: Date | null;
  /** Failed runs plus failures of this account's part, since the sweep first ran. */
  failures: number;
}

interface SweepRow {
  sweep: string;
  last_run_at: Date;
  last_finished_at: Date | null;
  last_success_at: Date | null;
  last_error: string | null;
  last_error_at: Date | null;
  failures: number;
  consecutive_failures: number;
  last_failed_accounts: Array<string | number>;
}

const wholeRunFailed = 'The run failed outside any account’s part; the server log has the error';

export async function systemStatus(ctx: RequestContext) {
  const runs = (await ctx.db('sweep_runs').orderBy('sweep').select()) as SweepRow[];
  const ours = await read(ctx, async (trx) => ({
    failures: (await trx('sweep_account_failures').where({ account_id: ctx.accountId }).select('sweep', 'last_error', 'last_error_at', 'failures')) as Array<{
      sweep: string;
      last_error: string;
      last_error_at: Date;
      failures: number;
    }>,
    outbox: (await trx('chatwoot_outbox').where({ account_id: ctx.accountId }).whereIn('status', ['pending', 'dead']).groupBy('status').select('status').count('* as n')) as Array<{
      status: string;
      n: string | number;
    }>,
  }));

  const sweeps: SweepStatus[] = runs.map((run) => {
    const mine = ours.failures.find((f) => f.sweep === run.sweep);
    const failedForUs = run.last_failed_accounts.map(Number).includes(ctx.accountId);
    const globalIsLater = run.last_error_at && (!mine || run.last_error_at > mine.last_error_at);
    return {
      sweep: run.sweep,
      last_run_at: run.last_run_at,
      last_finished_at: run.last_finished_at,
      last_success_at: run.last_success_at,
      failing: run.consecutive_failures > 0 || failedForUs,
      last_error: globalIsLater ? wholeRunFailed : (mine?.last_error ?? null),
      last_error_at: globalIsLater ? run.last_error_at : (mine?.last_error_at ?? null),
      failures: run.failures + (mine?.failures ?? 0),
    };
  });

  // The inbox is per installation (see its migration): every count names the account or its installation.
  const account = await ctx.db('accounts').where({ account_id: ctx.accountId }).first('installation_id');
  const byStatus = (await ctx.db('webhook_deliveries').where({ account_id: ctx.accountId }).whereIn('status', ['received', 'processing', 'retrying', 'failed', 'dead']).groupBy('status').select('status').count('* as n')) as Array<{ status: string; n: string | number }>;
  const unattributed = await ctx.db('webhook_deliveries')
    .where({ installation_id: account.installation_id as string })
    .whereNull('account_id')
    .whereIn('status', ['received', 'processing', 'retrying'])
    .count<Array<{ n: string | number }>>('* as n');
  const count = (rows: Array<{ status: string; n: string | number }>, ...statuses: string[]) => rows.filter((r) => statuses.includes(r.status)).reduce((sum, r) => sum + Number(r.n), 0);

  return {
    sweeps,
    backlog: {
      webhook_deliveries: {
        pending: count(byStatus, 'received', 'processing'),
        retrying: count(byStatus, 'retrying'),
        failed: count(byStatus, 'failed'),
        dead: count(byStatus, 'dead'),
        unattributed: Number(unattributed[0]?.n ?? 0),
      },
      outbox: { pending: count(ours.outbox, 'pending'), dead: count(ours.outbox, 'dead') },
    },
  };
}
