// The daily digest: each morning (the account's digest hour, in each person's time zone) every admin
// and dispatcher who has not switched it off gets one summary — missed calls still waiting for a
// call back, open jobs past their window, open jobs past their SLA, approved vendor documents
// expiring within 30 days or expired (as compliance counts them). The sweep raises a
// `staff.daily_digest` event keyed by person and local date, so a sweep run twice (or by two
// processes) raises it once; the figures are counted when it is fanned out.
import type { Knex } from 'knex';
import type { Audit } from '../db/tenant.ts';
import { sumOverAccounts, type AccountPart } from '../modules/system/sweeps.ts';
import type { DigestFigures } from './messages.ts';
import { accountNotificationSettings, localDate, localMinutes } from './preferences.ts';

/** A digest is raised from the digest hour until this many hours later (a server down at 8 still sends at 9, not at midnight). */
const lateWindowHours = 3;

export async function digestFigures(trx: Knex.Transaction, accountId: number, now: Date): Promise<DigestFigures> {
  const count = async (query: Knex.QueryBuilder) => Number(((await query.count({ n: '*' }).first()) as { n: string | number } | undefined)?.n ?? 0);
  const openJobs = () => trx('jobs').where({ account_id: accountId }).whereNotIn('status', ['completed', 'canceled']);
  return {
    missedCallsWithoutCallback: await count(
      trx('calls as c')
        .join('tasks as t', (on) => on.on('t.account_id', 'c.account_id').andOn('t.id', 'c.callback_task_id'))
        .where({ 'c.account_id': accountId })
        .whereNull('t.deleted_at')
        .whereIn('t.status', ['open', 'in_progress']),
    ),
    overdueJobs: await count(openJobs().where('window_ends_at', '<', now)),
    breachedSlas: await count(openJobs().where('sla_due_at', '<', now)),
    expiringDocuments: await count(
      trx('vendor_documents as d')
        .join('vendors as v', (on) => on.on('v.account_id', 'd.account_id').andOn('v.id', 'd.vendor_id'))
        .where({ 'd.account_id': accountId, 'v.active': true })
        .whereNull('d.deleted_at')
        .whereNull('v.deleted_at')
        .whereRaw(`d.expires_on <= (?::timestamptz at time zone 'UTC')::date + 30`, [now])
        // As the expiry sweep counts them: approved documents, not one an approved renewal of its kind outlasts.
        .where('d.status', 'approved')
        .whereNotExists(
          trx('vendor_documents as r')
            .whereRaw('r.account_id = d.account_id and r.vendor_id = d.vendor_id and r.id <> d.id and lower(btrim(r.kind)) = lower(btrim(d.kind))')
            .whereNull('r.deleted_at')
            .where('r.status', 'approved')
            .whereRaw('(r.expires_on is null or r.expires_on > d.expires_on or (r.expires_on = d.expires_on and r.id > d.id))'),
        ),
    ),
  };
}

async function raiseForAccount(trx: Knex.Transaction, accountId: number, audit: Audit, now: Date): Promise<number> {
  const settings = await accountNotificationSettings(trx, accountId);
  const people = (await trx('users as u')
    .leftJoin('notification_preferences as p', (on) =>
      on.on('p.account_id', 'u.account_id').andOn(trx.raw(`p.recipient_kind = 'user'`)).andOn(trx.raw('p.recipient_id = u.id::text')),
    )
    .where({ 'u.account_id': accountId, 'u.active': true })
    .andWhere((q) => q.where('u.chatwoot_role', 'administrator').orWhereRaw(`'dispatcher' = any(u.granted_roles)`))
    .andWhere((q) => q.whereNull('p.digest').orWhere('p.digest', true))
    .select('u.id', 'p.time_zone')) as Array<{ id: string; time_zone: string | null }>;
  const due = people.filter((person) => {
    const minutes = localMinutes(now, person.time_zone ?? settings.time_zone);
    return minutes >= settings.digest_hour * 60 && minutes < (settings.digest_hour + lateWindowHours) * 60;
  });
  if (!due.length) {
    audit.nothingChanged();
    return 0;
  }
  const rows = due.map((person) => ({
    account_id: accountId,
    event: 'staff.daily_digest',
    resource_type: 'user',
    resource_id: person.id,
    data: JSON.stringify({ action: 'digest' }),
    actor_type: 'system',
    actor_id: 'notification-digest',
    dedupe_key: `digest:${person.id}:${localDate(now, person.time_zone ?? settings.time_zone)}`,
  }));
  const inserted = await trx('notification_events').insert(rows).onConflict(['account_id', 'dedupe_key']).ignore().returning('id');
  if (inserted.length) audit.recordedElsewhere('notification_events');
  else audit.nothingChanged();
  return inserted.length;
}

/** The digest sweep over every account (scheduled every 15 minutes: see queue.ts). */
export function raiseDigests(db: Knex, now = new Date(), forAccount?: AccountPart): Promise<number> {
  return sumOverAccounts(db, { process: 'notification-digest', describe: 'The digest sweep' }, (trx, accountId, audit) => raiseForAccount(trx, accountId, audit, now), forAccount);
}
