// Writes audit events: who did what to which resource, with the fields that changed.
import type { Knex } from 'knex';
import type { Actor, RequestContext } from '../context.ts';

export interface AuditEntry {
  action: string;
  resourceType: string;
  resourceId: string | number | null;
  before?: Record<string, unknown> | null;
  after?: Record<string, unknown> | null;
  /** Keys whose values must not be stored (sensitive custom fields, secrets): recorded as changed only. */
  sensitiveKeys?: readonly string[];
  /** Who acted, when it is not the context's actor: someone known only inside the transaction (a magic link's portal user). */
  actor?: Actor;
}

const hidden = '[sensitive]';

/** For an update, only the keys that changed; for a create or delete, the whole record. */
export function auditDiff(
  before: Record<string, unknown> | null | undefined,
  after: Record<string, unknown> | null | undefined,
  sensitiveKeys: readonly string[] = [],
): { before: Record<string, unknown> | null; after: Record<string, unknown> | null } {
  const mask = (record: Record<string, unknown> | null) =>
    record && Object.fromEntries(Object.entries(record).map(([k, v]) => [k, sensitiveKeys.includes(k) && v != null ? hidden : v]));
  if (!before || !after) return { before: mask(before ?? null), after: mask(after ?? null) };
  const changed = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter(
    (key) => JSON.stringify(before[key]) !== JSON.stringify(after[key]),
  );
  const pick = (record: Record<string, unknown>) => Object.fromEntries(changed.map((key) => [key, record[key] ?? null]));
  return { before: mask(pick(before)), after: mask(pick(after)) };
}

export async function recordAudit(trx: Knex.Transaction, ctx: Pick<RequestContext, 'accountId' | 'actor' | 'requestId'>, entry: AuditEntry) {
  const { before, after } = auditDiff(entry.before, entry.after, entry.sensitiveKeys);
  await trx('audit_events').insert({
    account_id: ctx.accountId,
    actor_type: (entry.actor ?? ctx.actor).type,
    actor_id: (entry.actor ?? ctx.actor).id,
    action: entry.action,
    resource_type: entry.resourceType,
    resource_id: entry.resourceId === null ? null : String(entry.resourceId),
    before: before && JSON.stringify(before),
    after: after && JSON.stringify(after),
    request_id: ctx.requestId,
  });
}
