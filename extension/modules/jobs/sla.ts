// SLA: the account's minutes per priority and warning window, and the sweep that marks each
// job approaching or breached once (its story, the audit, and open boards are told).
import type { Knex } from 'knex';
import type { RequestContext } from '../../context.ts';
import { read, write, type Audit } from '../../db/tenant.ts';
import { sumOverAccounts, type AccountPart } from '../system/sweeps.ts';
import { appendJobEvent, dispatchSettings, keepsPhotoLocation, type DispatchSettings } from './records.ts';

/** The SLA settings, and whether the portal keeps where photos were taken (off unless set). */
async function settingsOf(trx: Knex.Transaction, accountId: number) {
  return { ...(await dispatchSettings(trx, accountId)), keep_photo_location: await keepsPhotoLocation(trx, accountId) };
}

export async function getDispatchSettings(ctx: RequestContext) {
  return read(ctx, (trx) => settingsOf(trx, ctx.accountId));
}

export async function updateDispatchSettings(ctx: RequestContext, input: Partial<DispatchSettings> & { keep_photo_location?: boolean }) {
  return write(ctx, async (trx, audit) => {
    const before = await settingsOf(trx, ctx.accountId);
    const after = {
      sla_minutes: { ...before.sla_minutes, ...(input.sla_minutes ?? {}) },
      sla_warning_minutes: input.sla_warning_minutes ?? before.sla_warning_minutes,
      keep_photo_location: input.keep_photo_location ?? before.keep_photo_location,
    };
    await trx('dispatch_settings')
      .insert({ account_id: ctx.accountId, ...after })
      .onConflict('account_id')
      .merge({ ...after, updated_at: trx.fn.now() });
    await audit({ action: 'dispatch_settings.updated', resourceType: 'dispatch_settings', resourceId: ctx.accountId, before: { ...before }, after: { ...after } });
    return after;
  });
}

/**
 * Emits each SLA event once per job, threshold and due time: `approaching` inside the account's
 * warning window, `breached` once past due. Runs from the queue every minute, for every account,
 * as the `sla-sweep` system process: its events are audited and announced to open boards at once.
 *
 * With the scheduler's `forAccount`, each account's failure is recorded there and the others go
 * on. Without it, one account's failure still does not stop the others, and the sweep then throws
 * them all together: nothing is swallowed (the next run tries again).
 */
export function emitSlaEvents(db: Knex, now = new Date(), forAccount?: AccountPart): Promise<number> {
  return sumOverAccounts(db, { process: 'sla-sweep', describe: 'The SLA sweep' }, (trx, accountId, audit) => emitForAccount(trx, accountId, audit, now), forAccount);
}

async function emitForAccount(trx: Knex.Transaction, accountId: number, audit: Audit, now: Date): Promise<number> {
  const settings = await dispatchSettings(trx, accountId);
  const rows: Array<{ job_id: string; threshold: string; sla_due_at: Date }> = (
    await trx.raw(
      `insert into job_sla_events (account_id, job_id, threshold, sla_due_at, emitted_at)
       select j.account_id, j.id, t.threshold, j.sla_due_at, :now
         from jobs j
         cross join lateral (values ('approaching'), ('breached')) as t(threshold)
        where j.account_id = :accountId and j.status not in ('completed', 'canceled') and j.sla_due_at is not null
          and j.sla_due_at <= :now::timestamptz + make_interval(mins => :warning)
          and (t.threshold = 'breached') = (j.sla_due_at <= :now::timestamptz)
       on conflict do nothing
       returning job_id, threshold, sla_due_at`,
      { now, accountId, warning: settings.sla_warning_minutes },
    )
  ).rows;
  if (!rows.length) audit.nothingChanged();
  for (const row of rows) {
    await appendJobEvent(trx, { accountId, actor: { type: 'system', id: 'sla-sweep' } }, row.job_id, `sla_${row.threshold}`, { sla_due_at: row.sla_due_at });
    await audit({ action: `job.sla_${row.threshold}`, resourceType: 'job', resourceId: row.job_id });
  }
  return rows.length;
}
