// Data retention: raw webhook deliveries, call recordings and transcripts, notification records and
// ended sign-ins hold personal data, so each is pruned once it is older than its retention
// (ONELINK_RETAIN_*_DAYS). A daily sweep runs every kind; what is never pruned here: audit events,
// deals, jobs, tasks, the call facts (who, when, how long, outcome) and deliveries that failed or
// died (kept until an admin replays them; there is no way to dismiss one yet).
//
// Deletes go in bounded batches (`batchSize` rows a statement, at most `statementsPerTransaction`
// statements a transaction, at most `maxRowsPerRun` rows per account and kind a run; for the
// deliveries, pruned across accounts, per run), so a first run on a big install holds no long
// transaction and the rest follows on the next run. Each transaction
// records ONE audit event with its counts (`retention.pruned`, resource `retention` / the kind):
// one per account and kind per run, or one per transaction's worth of rows while a backlog drains.
import type { Knex } from 'knex';
import twilio from 'twilio';
import { RedirectedRequestClient } from '../../phones/twilio-rest.ts';
import type { Config } from '../../config.ts';
import { read, systemContext, write, type Audit } from '../../db/tenant.ts';
import { queues } from '../../queue/names.ts';
import type { QueueWork } from '../../queue/work.ts';
import type { Sealer } from '../../security/crypto.ts';
import { trackSweep, type SweepRun } from './sweeps.ts';

/** The audit trail's name for this process (`system` actor). */
const actor = 'data-retention';

export type RetentionKind = 'webhook_deliveries' | 'recordings' | 'notifications' | 'sessions';

export interface RetentionDays {
  deliveries: number;
  recordings: number;
  notifications: number;
  sessions: number;
}

export interface RetentionLimits {
  batchSize: number;
  statementsPerTransaction: number;
  maxRowsPerRun: number;
}

export const defaultRetentionLimits: RetentionLimits = { batchSize: 1000, statementsPerTransaction: 10, maxRowsPerRun: 200_000 };

export interface RetentionDeps {
  db: Knex;
  sealer: Sealer;
  /** Twilio's REST API (a fake in tests), where expired recordings are deleted. */
  twilioApiUrl: string;
  timeoutMs: number;
  days: RetentionDays;
  limits?: Partial<RetentionLimits>;
}

export function retentionDays(config: Pick<Config, 'ONELINK_RETAIN_DELIVERIES_DAYS' | 'ONELINK_RETAIN_RECORDINGS_DAYS' | 'ONELINK_RETAIN_NOTIFICATIONS_DAYS' | 'ONELINK_RETAIN_SESSIONS_DAYS'>): RetentionDays {
  return {
    deliveries: config.ONELINK_RETAIN_DELIVERIES_DAYS,
    recordings: config.ONELINK_RETAIN_RECORDINGS_DAYS,
    notifications: config.ONELINK_RETAIN_NOTIFICATIONS_DAYS,
    sessions: config.ONELINK_RETAIN_SESSIONS_DAYS,
  };
}

const limitsOf = (deps: RetentionDeps): RetentionLimits => ({ ...defaultRetentionLimits, ...deps.limits });
const cutoffOf = (now: Date, days: number) => new Date(now.getTime() - days * 86_400_000);

/** What one account's part of a run removed, per table. */
export type Removed = Record<string, number>;

async function recordPruning(audit: Audit, kind: RetentionKind, days: number, cutoff: Date, removed: Removed) {
  await audit({ action: 'retention.pruned', resourceType: 'retention', resourceId: kind, after: { ...removed, retention_days: days, older_than: cutoff.toISOString() } });
}

// ---------------------------------------------------------------------------------------------
// Webhook deliveries (Chatwoot and Twilio)

/** Deliveries that were dealt with: 'failed' and 'dead' ones stay until an admin replays or dismisses them. */
const finishedDeliveryStatuses = ['processed', 'ignored', 'dismissed'];

/**
 * Removes processed, ignored and dismissed deliveries received before the retention (no order: a scan stops at
 * the first batch it finds, and the oldest rows lie first anyway). webhook_deliveries is kept
 * per installation, outside row-level security: a delivery is stored before its account is known
 * (some never learn one), so it is pruned by plain statements on the pool, not per account. Each
 * account whose deliveries went then gets its one audit event with the count.
 */
export async function pruneDeliveries(deps: RetentionDeps, now: Date, forAccount: SweepRun['forAccount'] = (_id, work) => work()): Promise<Removed> {
  const { batchSize, maxRowsPerRun } = limitsOf(deps);
  const cutoff = cutoffOf(now, deps.days.deliveries);
  const byAccount = new Map<number | null, number>();
  let total = 0;
  while (total < maxRowsPerRun) {
    const { rows } = await deps.db.raw<{ rows: Array<{ account_id: string | number | null }> }>(
      `delete from webhook_deliveries w
        using (select installation_id, id from webhook_deliveries
                where status = any(?) and received_at < ?
                limit ?) doomed
        where w.installation_id = doomed.installation_id and w.id = doomed.id
        returning w.account_id`,
      [finishedDeliveryStatuses, cutoff, Math.min(batchSize, maxRowsPerRun - total)],
    );
    for (const row of rows) {
      const account = row.account_id === null ? null : Number(row.account_id);
      byAccount.set(account, (byAccount.get(account) ?? 0) + 1);
    }
    total += rows.length;
    if (rows.length < batchSize) break;
  }
  for (const [accountId, count] of byAccount) {
    if (accountId === null) continue; // no account to tell; the run's log line has the total
    await forAccount(accountId, async () =>
      write(await systemContext(deps.db, accountId, actor), (_trx, audit) => recordPruning(audit, 'webhook_deliveries', deps.days.deliveries, cutoff, { webhook_deliveries: count })),
    );
  }
  return { webhook_deliveries: total, without_account: byAccount.get(null) ?? 0 };
}

// ---------------------------------------------------------------------------------------------
// Tenant tables, pruned account by account through the unit of work

/** One table's part of a kind: deletes at most `limit` expired rows of the account, returns how many. */
interface PruneStep {
  table: string;
  deleteBatch(trx: Knex.Transaction, accountId: number, cutoff: Date, limit: number): Promise<number>;
}

/** Deletes the rows `expired` picks (oldest first by `order`), at most `limit`. */
function deleteExpired(trx: Knex.Transaction, table: string, accountId: number, limit: number, expired: (q: Knex.QueryBuilder) => void, key = 'id'): Promise<number> {
  const doomed = trx(table).where({ account_id: accountId }).where(expired).limit(limit).select(key);
  return trx(table).where({ account_id: accountId }).whereIn(key, doomed).delete();
}

/**
 * Runs `steps` for one account until none has rows left (or the run's cap): each transaction runs
 * up to `statementsPerTransaction` batch statements and records one audit event with its counts.
 */
async function pruneAccount(deps: RetentionDeps, accountId: number, kind: RetentionKind, days: number, now: Date, steps: PruneStep[]): Promise<Removed> {
  const { batchSize, statementsPerTransaction, maxRowsPerRun } = limitsOf(deps);
  const cutoff = cutoffOf(now, days);
  const removed: Removed = Object.fromEntries(steps.map((s) => [s.table, 0]));
  const finished = new Set<string>();
  let total = 0;
  const ctx = await systemContext(deps.db, accountId, actor);
  while (finished.size < steps.length && total < maxRowsPerRun) {
    total += await write(ctx, async (trx, audit) => {
      const here: Removed = {};
      let statements = 0;
      let count = 0;
      for (const step of steps) {
        while (!finished.has(step.table) && statements < statementsPerTransaction && total + count < maxRowsPerRun) {
          const n = await step.deleteBatch(trx, accountId, cutoff, Math.min(batchSize, maxRowsPerRun - total - count));
          statements++;
          count += n;
          here[step.table] = (here[step.table] ?? 0) + n;
          if (n < batchSize) finished.add(step.table);
        }
      }
      if (count === 0) audit.nothingChanged();
      else await recordPruning(audit, kind, days, cutoff, here);
      for (const [table, n] of Object.entries(here)) removed[table]! += n;
      return count;
    });
  }
  return removed;
}

/** Sign-in sessions (staff, vendors, clients) that expired or were ended before the retention, and used-up or expired sign-in links and codes. */
const sessionSteps: PruneStep[] = [
  {
    table: 'sessions',
    // A push subscription registered in a session goes with it (foreign key, on delete cascade): it stopped receiving when the session ended.
    deleteBatch: (trx, accountId, cutoff, limit) => deleteExpired(trx, 'sessions', accountId, limit, (q) => q.where('expires_at', '<', cutoff).orWhere('revoked_at', '<', cutoff)),
  },
  {
    // Magic links are also the vendor and client invitations.
    table: 'magic_links',
    deleteBatch: (trx, accountId, cutoff, limit) => deleteExpired(trx, 'magic_links', accountId, limit, (q) => q.where('expires_at', '<', cutoff).orWhere('used_at', '<', cutoff)),
  },
];

export function pruneSessions(deps: RetentionDeps, accountId: number, now: Date): Promise<Removed> {
  return pruneAccount(deps, accountId, 'sessions', deps.days.sessions, now, sessionSteps);
}

/** Delivery outcomes that will not change again: pending and held ones (waiting for a retry or their turn in a chain) are never pruned. */
const settledNotificationStatuses = ['sent', 'delivered', 'failed', 'skipped', 'opted_out'];

/** No delivery of the event still waits (an escalation waiting reads whether its in-app notification was read). */
const nothingWaitsFor = (trx: Knex.Transaction, table: string, eventColumn: string) => (q: Knex.QueryBuilder) =>
  q.whereNotExists(
    trx('notification_deliveries as waiting')
      .whereRaw('waiting.account_id = ??', [`${table}.account_id`])
      .whereRaw('waiting.event_id = ??', [`${table}.${eventColumn}`])
      .whereIn('waiting.status', ['held', 'pending']),
  );

const notificationSteps: PruneStep[] = [
  {
    table: 'notification_deliveries',
    deleteBatch: (trx, accountId, cutoff, limit) =>
      deleteExpired(trx, 'notification_deliveries', accountId, limit, (q) => q.whereIn('status', settledNotificationStatuses).where('created_at', '<', cutoff).where('updated_at', '<', cutoff)),
  },
  {
    // The bell's notifications.
    table: 'notifications',
    deleteBatch: (trx, accountId, cutoff, limit) =>
      deleteExpired(trx, 'notifications', accountId, limit, (q) => q.where('notifications.created_at', '<', cutoff).where(nothingWaitsFor(trx, 'notifications', 'event_id'))),
  },
  {
    // The raised events, once fanned out (their data is what the messages were rendered from).
    table: 'notification_events',
    deleteBatch: (trx, accountId, cutoff, limit) =>
      deleteExpired(trx, 'notification_events', accountId, limit, (q) =>
        q.whereNotNull('fanned_out_at').where('occurred_at', '<', cutoff).where(nothingWaitsFor(trx, 'notification_events', 'id')),
      ),
  },
];

export function pruneNotifications(deps: RetentionDeps, accountId: number, now: Date): Promise<Removed> {
  return pruneAccount(deps, accountId, 'notifications', deps.days.notifications, now, notificationSteps);
}

// ---------------------------------------------------------------------------------------------
// Call recordings and transcripts

interface ExpiredRecording {
  id: string;
  recording_sid: string | null;
}

export interface RecordingsOutcome {
  /** Call rows whose recording and transcript were cleared. */
  cleared: number;
  /** Recordings deleted at Twilio (already gone there counts too). */
  deletedAtTwilio: number;
  /** Why a delete at Twilio failed; those calls keep their recording sid for the next run. */
  failure: string | null;
}

const holdsRecording = (q: Knex.QueryBuilder) =>
  q.whereNotNull('recording_sid').orWhereNotNull('recording_url').orWhereNotNull('recording_duration_seconds').orWhereNotNull('transcript');

/**
 * Clears the recording and transcript of calls that started before the retention, keeping the call's
 * facts. With the account's Twilio credentials, each recording is first deleted at Twilio; a call
 * whose delete failed is left as it is (its recording sid is the "still to delete" mark, and the
 * recording stays playable) and the account's part stops, to try again on the next run. Without
 * credentials the recording cannot be deleted there: only our copy of its address and text goes.
 */
export async function pruneRecordings(deps: RetentionDeps, accountId: number, now: Date): Promise<RecordingsOutcome> {
  const { batchSize, maxRowsPerRun } = limitsOf(deps);
  const cutoff = cutoffOf(now, deps.days.recordings);
  const ctx = await systemContext(deps.db, accountId, actor);
  const outcome: RecordingsOutcome = { cleared: 0, deletedAtTwilio: 0, failure: null };
  const httpClient = new RedirectedRequestClient(new URL(deps.twilioApiUrl), deps.timeoutMs);
  while (outcome.cleared < maxRowsPerRun) {
    const { calls, settings } = await read(ctx, async (trx) => ({
      calls: (await trx('calls')
        .where({ account_id: accountId })
        .where('started_at', '<', cutoff)
        .where(holdsRecording)
        .orderBy([{ column: 'started_at' }, { column: 'id' }])
        .limit(Math.min(batchSize, maxRowsPerRun - outcome.cleared))
        .select('id', 'recording_sid')) as ExpiredRecording[],
      settings: (await trx('twilio_settings').where({ account_id: accountId }).first('account_sid', 'auth_token_sealed')) as { account_sid: string; auth_token_sealed: string } | undefined,
    }));
    if (!calls.length) break;

    // Twilio first, outside any transaction (a slow answer must not hold one open).
    const client = settings ? twilio(settings.account_sid, deps.sealer.open(settings.auth_token_sealed), { httpClient }) : null;
    const clearable: string[] = [];
    let deleted = 0;
    for (const call of calls) {
      if (client && call.recording_sid) {
        const failed = await deleteAtTwilio(client, call.recording_sid);
        if (failed) {
          outcome.failure ??= failed;
          continue;
        }
        deleted++;
      }
      clearable.push(call.id);
    }

    if (clearable.length) {
      await write(ctx, async (trx, audit) => {
        const cleared = await trx('calls')
          .where({ account_id: accountId })
          .whereIn('id', clearable)
          .update({ recording_sid: null, recording_url: null, recording_duration_seconds: null, transcript: null, updated_at: trx.fn.now() });
        await recordPruning(audit, 'recordings', deps.days.recordings, cutoff, { recordings: cleared, deleted_at_twilio: deleted });
      });
    }
    outcome.cleared += clearable.length;
    outcome.deletedAtTwilio += deleted;
    if (outcome.failure || calls.length < batchSize) break;
  }
  return outcome;
}

/** Deletes one recording at Twilio; returns why it failed, or null (a recording already gone counts as deleted). */
async function deleteAtTwilio(client: ReturnType<typeof twilio>, recordingSid: string): Promise<string | null> {
  try {
    await client.recordings(recordingSid).remove();
    return null;
  } catch (err) {
    if (err instanceof twilio.RestException) {
      if (err.status === 404) return null;
      return `Twilio ${err.status}${err.code ? ` (${err.code})` : ''}: ${err.message}`.slice(0, 500);
    }
    return `Twilio could not be reached: ${(err as Error)?.message ?? String(err)}`.slice(0, 500);
  }
}

// ---------------------------------------------------------------------------------------------
// The run and its schedule

export interface RetentionTotals {
  webhook_deliveries: number;
  recordings: number;
  notifications: number;
  sessions: number;
}

const sum = (removed: Removed | undefined) => Object.values(removed ?? {}).reduce((a, b) => a + b, 0);

/**
 * One run over every kind. Each account's part of each kind runs through `run.forAccount`, so one
 * account's failure (or a recording Twilio would not delete) is recorded for that account and the
 * others go on.
 */
export async function pruneExpiredData(deps: RetentionDeps, now: Date, run: Pick<SweepRun, 'forAccount' | 'accountFailed' | 'logger'>): Promise<RetentionTotals> {
  const deliveries = await pruneDeliveries(deps, now, run.forAccount);
  const totals: RetentionTotals = { webhook_deliveries: deliveries.webhook_deliveries!, recordings: 0, notifications: 0, sessions: 0 };
  const accounts: number[] = await deps.db('accounts').orderBy('account_id').pluck('account_id');
  for (const accountId of accounts) {
    totals.sessions += sum(await run.forAccount(accountId, () => pruneSessions(deps, accountId, now)));
    totals.notifications += sum(await run.forAccount(accountId, () => pruneNotifications(deps, accountId, now)));
    const recordings = await run.forAccount(accountId, () => pruneRecordings(deps, accountId, now));
    totals.recordings += recordings?.cleared ?? 0;
    if (recordings?.failure) await run.accountFailed(accountId, new Error(`An expired call recording could not be deleted at Twilio (tried again on the next run): ${recordings.failure}`));
  }
  return totals;
}

/** The daily retention sweep (03:17 UTC), shown with the other sweeps in GET /admin/system. */
export function retentionQueueWork(deps: RetentionDeps): QueueWork[] {
  return [
    {
      // One run at a time; a failed run is not retried: the next day's starts where this one stopped.
      name: queues.dataRetention,
      options: { policy: 'stately', retryLimit: 0, expireInSeconds: 4 * 3600 },
      schedule: '17 3 * * *',
      async handle(_jobs, { logger }) {
        await trackSweep({ db: deps.db, logger }, queues.dataRetention, async (run) => {
          const totals = await pruneExpiredData(deps, new Date(), run);
          if (Object.values(totals).some(Boolean)) logger.info(totals, 'expired data pruned');
        });
      },
    },
  ];
}
