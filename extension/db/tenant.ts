// The unit of work. Every query on tenant data runs inside a transaction bound to one account: the
// account id is set with set_config(…, true) so row-level security confines the transaction to it,
// and the query code scopes by account_id as well.
//
//   read(ctx, work)   a read-only transaction (a write through it fails in Postgres);
//   write(ctx, work)  the only way to change tenant data, for people (their request context) and for
//                     Onelink itself (systemContext: processors, sweeps, automation). It sets the
//                     account, hands `work` an `audit` that records audit events in the same
//                     transaction, refuses to commit a change that says nothing about its trail, and
//                     after the commit announces the change to the pages following the account.
//
// test/api/architecture.test.ts fails when application code opens a tenant transaction any other way.
import type { Knex } from 'knex';
import { recordAudit, type AuditEntry } from '../audit/writer.ts';
import { announceChange } from '../events/changes.ts';
import { raiseNotificationEvents, raisesNotifications, wakeNotificationWorkers } from '../notifications/raise.ts';
import { resolveCapabilities, type CapabilityOverrides, type Profile } from '../capabilities/profiles.ts';
import type { AccountField } from '../capabilities/field-packs.ts';
import type { RequestContext } from '../context.ts';

// The context types live in context.ts; re-exported so older imports keep working.
export type { ActorType, Actor, RequestContext } from '../context.ts';

/** A transaction confined to `accountId` (the one place that sets the account). */
function accountTransaction<T>(db: Knex, accountId: number, readOnly: boolean, work: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
  return db.transaction(
    async (trx) => {
      await trx.raw(`select set_config('onelink.account_id', ?, true)`, [String(accountId)]);
      return work(trx);
    },
    { readOnly },
  );
}

/**
 * A bare transaction in an account, for tests and seeding only: no audit, no announcement.
 * Application code uses read() and write() (the architecture test refuses this name elsewhere).
 */
export function withAccountForTests<T>(db: Knex, accountId: number, options: { readOnly: boolean }, work: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
  return accountTransaction(db, accountId, options.readOnly, work);
}

/** A read-only transaction in the context's account: a write through it fails in Postgres. */
export function read<T>(ctx: Pick<RequestContext, 'db' | 'accountId'>, work: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
  return accountTransaction(ctx.db, ctx.accountId, true, work);
}

/**
 * Tables that are themselves the trail of the changes written with them, so those changes record no
 * audit event of their own: a Chatwoot or Twilio delivery is kept, with its outcome, in
 * webhook_deliveries; a sync page in chatwoot_sync_state; a call's facts in calls; the
 * notifications fanned out from an event in notification_events.
 */
export type TrailTable = 'webhook_deliveries' | 'chatwoot_sync_state' | 'calls' | 'notification_events';

/**
 * Tables of Onelink's own bookkeeping that no page shows and nobody audits: a session's last use,
 * a token's last use, an outbox item's delivery attempts, a sync's progress, a sweep's failures,
 * a notification's delivery attempts or read mark, a push subscription, a portal action the job
 * refused (kept only so that a replay of it gets the same answer).
 */
export type BookkeepingTable =
  | 'sessions'
  | 'service_tokens'
  | 'chatwoot_outbox'
  | 'chatwoot_sync_state'
  | 'sweep_account_failures'
  | 'notification_deliveries'
  | 'notifications'
  | 'push_subscriptions'
  | 'portal_actions';

export interface Audit {
  /** Records an audit event in this transaction. */
  (entry: AuditEntry): Promise<void>;
  /** This transaction turned out to change nothing: no audit event, no announcement. */
  nothingChanged(): void;
  /**
   * This transaction changed what people see, but its trail is kept in `trail` (one row per
   * delivery, not an audit event per cached message): no audit event, and the change is announced.
   */
  recordedElsewhere(trail: TrailTable): void;
  /** This transaction only updates Onelink's own bookkeeping in `table`: no audit event, no announcement. */
  bookkeeping(table: BookkeepingTable): void;
}

/**
 * A writable transaction in the context's account. `work` must say what its change leaves behind:
 * an audit event (`audit(…)`), a trail elsewhere (`audit.recordedElsewhere`), bookkeeping only
 * (`audit.bookkeeping`) or nothing (`audit.nothingChanged`); a write that says none of these is
 * rolled back, so a mutation cannot go unaudited by accident.
 *
 * Announcing belongs to the commit, and this helper owns the commit: once the transaction has
 * committed (never on rollback), a change that was audited or recorded elsewhere is announced with
 * announceChange (events/changes.ts), which NOTIFYs once per account per 200 ms burst. A NOTIFY
 * inside the transaction (or a trigger on every tenant table) would also be delivered only on
 * commit, but it costs a statement in every transaction — the webhook processors commit thousands a
 * second — and cannot coalesce bursts across transactions; a trigger would also fire for
 * bookkeeping no page shows (a session's last use would refresh every open page). The one thing the
 * in-transaction NOTIFY does better — surviving a crash between commit and notify — only delays a
 * refresh until the pages' fallback timer.
 */
export async function write<T>(ctx: RequestContext, work: (trx: Knex.Transaction, audit: Audit) => Promise<T>): Promise<T> {
  let announce = false;
  let raised = false;
  const result = await accountTransaction(ctx.db, ctx.accountId, false, async (trx) => {
    let recorded = 0;
    let elsewhere = false;
    let accounted = false;
    const raising: AuditEntry[] = [];
    const audit: Audit = Object.assign(
      async (entry: AuditEntry) => {
        await recordAudit(trx, ctx, entry);
        if (raisesNotifications(entry.action)) raising.push(entry);
        recorded++;
      },
      {
        nothingChanged: () => void (accounted = true),
        recordedElsewhere: () => void (elsewhere = true),
        bookkeeping: () => void (accounted = true),
      },
    );
    const value = await work(trx, audit);
    if (recorded === 0 && !elsewhere && !accounted) {
      throw new Error('A write transaction finished without recording an audit event or naming its trail; it was rolled back');
    }
    // Notification events are raised in the transaction of their change (the notifications outbox).
    if (raising.length) raised = await raiseNotificationEvents(trx, ctx.accountId, ctx.actor, raising);
    announce = recorded > 0 || elsewhere;
    return value;
  });
  // Committed: pages following this account refresh (see events/changes.ts).
  if (announce) announceChange(ctx.db, ctx.accountId);
  if (raised) wakeNotificationWorkers(ctx.db, ctx.accountId);
  return result;
}

interface AccountCapabilityRow {
  profile: Profile;
  capability_overrides: CapabilityOverrides;
  field_definitions: AccountField[] | null;
}

/**
 * The context Onelink acts in for an account when no person asked: webhook processors, call
 * follow-ups, sweeps, automation. The actor is `system` with the process as its id
 * ('twilio-calls', 'chatwoot-webhooks', 'sla-sweep', 'automation:<rule id>'), so the audit trail
 * says which process acted.
 *
 * It carries the account's real capabilities (a capability switched off stops its processors too)
 * and NO roles and NO permissions. Roles and permissions say what a person or token may ask of the
 * API, and are checked where requests come in; a process is not a person and asks nothing: what it
 * may do is decided by the code that runs it (e.g. the job lifecycle names the moves the system
 * makes). Giving it a human role such as `admin` would let a processor pass any check written for
 * people. Services that filter by `ctx.permissions` (search, timeline, sidebar) are for people and
 * show a system context nothing.
 */
export async function systemContext(db: Knex, accountId: number, process: string): Promise<RequestContext> {
  const account = (await db('accounts').where({ account_id: accountId }).first('profile', 'capability_overrides', 'field_definitions')) as AccountCapabilityRow | undefined;
  if (!account) throw new Error(`No account ${accountId}`);
  return {
    db,
    accountId,
    actor: { type: 'system', id: process },
    roles: [],
    permissions: new Set(),
    capabilities: resolveCapabilities(account.profile, account.capability_overrides ?? {}),
    accountFields: account.field_definitions ?? [],
    requestId: null,
  };
}

/**
 * The same account seen as a system process, from inside work already running for `ctx` (an
 * automation rule acting in the transaction of the change that triggered it): same account,
 * capabilities and request id, the process as actor, no roles, no permissions, no portal scope.
 */
export function actingAsSystem(ctx: RequestContext, process: string): RequestContext {
  return { ...ctx, actor: { type: 'system', id: process }, roles: [], permissions: new Set(), vendorId: undefined, vendorRole: undefined, contactId: undefined, sessionId: undefined };
}
