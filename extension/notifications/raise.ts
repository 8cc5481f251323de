// Raising notification events: the unit of work (db/tenant.ts write()) hands every audit entry of a
// transaction here before it commits; entries whose action raises an event (catalogue.ts) become
// rows of notification_events in the same transaction, so an event exists exactly when its change
// committed. The fan-out (fanout.ts) turns each into notifications and deliveries afterwards.
import type { Knex } from 'knex';
import { auditDiff, type AuditEntry } from '../audit/writer.ts';
import type { Actor } from '../context.ts';
import { debouncedNotify } from '../events/changes.ts';
import { eventsByAction } from './catalogue.ts';

/** Whether an audit action can raise any event (a Set lookup: the unit of work asks for every entry). */
export const raisesNotifications = (action: string) => eventsByAction.has(action);

/** Writes the events raised by `entries` (those for which raisesNotifications was true) into the transaction. */
export async function raiseNotificationEvents(trx: Knex.Transaction, accountId: number, actor: Actor, entries: readonly AuditEntry[]): Promise<boolean> {
  const rows: Array<Record<string, unknown>> = [];
  for (const entry of entries) {
    for (const { event, when } of eventsByAction.get(entry.action) ?? []) {
      if (when && !when(entry)) continue;
      const { before, after } = auditDiff(entry.before, entry.after, entry.sensitiveKeys);
      const who = entry.actor ?? actor;
      rows.push({
        account_id: accountId,
        event,
        resource_type: entry.resourceType,
        resource_id: String(entry.resourceId),
        data: { action: entry.action, before, after },
        actor_type: who.type,
        actor_id: who.id,
        seq: rows.length,
      });
    }
  }
  if (!rows.length) return false;
  // One statement; the key is unique per transaction and row (a cause replayed upstream raises nothing
  // new, because its change is idempotent there; explicit keys from sweeps use their own).
  await trx.raw(
    `insert into notification_events (account_id, event, resource_type, resource_id, data, actor_type, actor_id, dedupe_key)
     select r.account_id, r.event, r.resource_type, r.resource_id, r.data, r.actor_type, r.actor_id, 'tx:' || txid_current() || ':' || r.seq
       from jsonb_to_recordset(?::jsonb) as r(account_id bigint, event text, resource_type text, resource_id text, data jsonb, actor_type text, actor_id text, seq int)
     on conflict (account_id, dedupe_key) do nothing`,
    [JSON.stringify(rows)],
  );
  return true;
}

export const wakeChannel = 'onelink_notify';

/**
 * Wakes the notification workers (every process LISTENs on onelink_notify) after a commit that
 * raised events, outside the transaction — a NOTIFY inside it would serialise the commits of every
 * transaction that raises an event. A wake lost to a crash right after the commit only waits for
 * the worker's 10 s sweep.
 */
export const wakeNotificationWorkers = debouncedNotify(wakeChannel, 20);

