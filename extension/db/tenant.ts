// Every query on tenant data runs inside a transaction bound to one account: the account id is
// set with set_config(…, true) so row-level security confines the transaction to it, and the
// query code scopes by account_id as well. Reads run read-only; writes must record an audit event.
import type { Knex } from 'knex';
import { recordAudit, type AuditEntry } from '../audit/writer.ts';
import { announceChange } from '../events/changes.ts';
import type { AccountField } from '../capabilities/field-packs.ts';
import type { Capability } from '../capabilities/profiles.ts';
import type { Permission, Role } from '../auth/permissions.ts';

export type ActorType = 'user' | 'portal_user' | 'service' | 'system';
export interface Actor { type: ActorType; id: string }

/** Who is acting, for which account, with what rights. Services and queries take it; nothing runs without it. */
export interface RequestContext {
  db: Knex;
  accountId: number;
  actor: Actor;
  roles: readonly Role[];
  permissions: ReadonlySet<Permission>;
  capabilities: ReadonlySet<Capability>;
  /** Fields the account defined itself (next to its field packs'). */
  accountFields?: readonly AccountField[];
  requestId: string | null;
  /** The session behind the request (people only; service tokens have none). */
  sessionId?: string;
  /** Relationship scope of portal users: the vendor or the Chatwoot contact they are bound to. */
  vendorId?: string;
  contactId?: number;
}

/** Low level: a transaction confined to `accountId`. Prefer read() and write(). */
export async function withAccount<T>(
  db: Knex,
  accountId: number,
  options: { readOnly: boolean },
  work: (trx: Knex.Transaction) => Promise<T>,
): Promise<T> {
  return db.transaction(
    async (trx) => {
      await trx.raw(`select set_config('onelink.account_id', ?, true)`, [String(accountId)]);
      return work(trx);
    },
    { readOnly: options.readOnly },
  );
}

/** A read-only transaction in the context's account: a write through it fails in Postgres. */
export function read<T>(ctx: Pick<RequestContext, 'db' | 'accountId'>, work: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
  return withAccount(ctx.db, ctx.accountId, { readOnly: true }, work);
}

export interface Audit {
  (entry: AuditEntry): Promise<void>;
  /** Declares that this transaction turned out to change nothing (so there is nothing to audit). */
  nothingChanged(): void;
}

/**
 * A writable transaction in the context's account. `audit` records an audit event in the same
 * transaction; a write that records none is rolled back, so a mutation cannot go unaudited.
 */
export async function write<T>(ctx: RequestContext, work: (trx: Knex.Transaction, audit: Audit) => Promise<T>): Promise<T> {
  let changed = false;
  const result = await withAccount(ctx.db, ctx.accountId, { readOnly: false }, async (trx) => {
    let recorded = 0;
    let unchanged = false;
    const audit = Object.assign(
      async (entry: AuditEntry) => {
        await recordAudit(trx, ctx, entry);
        recorded++;
      },
      { nothingChanged: () => (unchanged = true) },
    );
    const result = await work(trx, audit);
    if (recorded === 0 && !unchanged) throw new Error('A write transaction finished without recording an audit event; it was rolled back');
    changed = recorded > 0;
    return result;
  });
  // Committed: pages following this account refresh (see events/changes.ts).
  if (changed) announceChange(ctx.db, ctx.accountId);
  return result;
}
