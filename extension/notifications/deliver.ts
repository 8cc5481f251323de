// Sending what the fan-out queued: claim an account's due deliveries, check what is common to every
// channel (an SMS opt-out, an escalation already read, a channel not set up), hand each to its
// channel's sender, and settle the answers in one write:
//
//   sent → done; retry → again after a backoff (30 s, 1, 2, 4… min, at most an hour), failed after
//   maxDeliveryAttempts with the last reason; failed / opted_out → the next channel of the
//   recipient's chain is released. A claimed row's next attempt is pushed a lease ahead first, so a
//   worker that dies mid-send leaves it to be tried again (the senders make a repeat harmless where
//   the provider allows: Chatwoot adopts its earlier message).
//
// Delivery rows are bookkeeping of notifications already raised and audited as events; settling
// them records no audit event of its own.
import type { Knex } from 'knex';
import type { RequestContext } from '../context.ts';
import { read, systemContext, write } from '../db/tenant.ts';
import { accountsWithWork } from '../modules/system/sweeps.ts';
import { deliveryChannels, type DeliveryChannel, type EventName, type RecipientKind } from './catalogue.ts';
import type { ChannelSenders, OutgoingDelivery, SendResult, StoredMessage } from './channels/types.ts';

export const maxDeliveryAttempts = 6;
const leaseSeconds = 120;
// One claim is one chunk sent in parallel: the lease covers exactly what is in flight, so a slow
// chunk cannot outlive the lease of rows still waiting their turn (another worker would send them).
const parallelSends = 32;
const batchSize = parallelSends;

interface DueRow {
  id: string;
  event_id: string;
  event: EventName;
  channel: DeliveryChannel;
  recipient_kind: RecipientKind;
  recipient_id: string;
  recipient_name: string | null;
  address: string | null;
  message: StoredMessage;
  attempts: number;
  unless_read: boolean;
  chain_position: number | null;
}

type Settlement =
  | { id: string; status: 'sent'; providerId: string | null }
  | { id: string; status: 'pending'; reason: string; delaySeconds: number }
  | { id: string; status: 'failed' | 'opted_out' | 'skipped'; reason: string; release: boolean };

export const retryDelaySeconds = (attempts: number) => Math.min(3600, 30 * 2 ** Math.max(0, attempts - 1));

async function claimDue(ctx: RequestContext): Promise<DueRow[]> {
  return write(ctx, async (trx, audit) => {
    audit.bookkeeping('notification_deliveries');
    const { rows } = await trx.raw<{ rows: DueRow[] }>(
      `update notification_deliveries d
          set attempts = d.attempts + 1, next_attempt_at = now() + make_interval(secs => ?), updated_at = now()
        where (d.account_id, d.id) in (select account_id, id from notification_deliveries
                                        where account_id = ? and status = 'pending' and next_attempt_at <= now()
                                        order by next_attempt_at limit ? for update skip locked)
        returning d.id, d.event_id, d.event, d.channel, d.recipient_kind, d.recipient_id, d.recipient_name, d.address, d.message,
                  d.attempts - 1 as attempts, d.unless_read, d.chain_position`,
      [leaseSeconds, ctx.accountId, batchSize],
    );
    return rows;
  });
}

/** What is decided before any sender is asked: escalations already read, SMS opt-outs, channels not set up. */
async function precheck(ctx: RequestContext, rows: DueRow[], senders: ChannelSenders): Promise<Map<string, Settlement>> {
  const decided = new Map<string, Settlement>();
  const escalations = rows.filter((r) => r.unless_read);
  const phones = rows.filter((r) => r.channel === 'sms' && r.address).map((r) => r.address!);
  const { readEvents, optedOut } = await read(ctx, async (trx) => ({
    readEvents: escalations.length
      ? new Set(
          (
            (await trx('notifications')
              .where({ account_id: ctx.accountId })
              .whereIn(['event_id', 'recipient_kind', 'recipient_id'], escalations.map((r) => [r.event_id, r.recipient_kind, r.recipient_id]))
              .whereNotNull('read_at')
              .select('event_id', 'recipient_kind', 'recipient_id')) as Array<{ event_id: string; recipient_kind: string; recipient_id: string }>
          ).map((n) => `${n.event_id} ${n.recipient_kind} ${n.recipient_id}`),
        )
      : new Set<string>(),
    optedOut: phones.length ? new Set<string>(await trx('sms_opt_outs').where({ account_id: ctx.accountId }).whereIn('phone_e164', phones).pluck('phone_e164')) : new Set<string>(),
  }));
  const unavailable = new Map<DeliveryChannel, string | null>();
  for (const channel of new Set(rows.map((r) => r.channel))) unavailable.set(channel, await senders[channel].unavailable(ctx.db, ctx.accountId));
  for (const row of rows) {
    if (row.unless_read && readEvents.has(`${row.event_id} ${row.recipient_kind} ${row.recipient_id}`)) {
      decided.set(row.id, { id: row.id, status: 'skipped', reason: 'read in the app before the escalation was due', release: false });
    } else if (row.channel === 'sms' && row.address && optedOut.has(row.address)) {
      decided.set(row.id, { id: row.id, status: 'opted_out', reason: 'the number replied STOP to our messages', release: true });
    } else if (unavailable.get(row.channel)) {
      // Not set up (no SMTP_URL, no SMS sender): nothing was tried, so 'skipped', and the next channel goes.
      decided.set(row.id, { id: row.id, status: 'skipped', reason: unavailable.get(row.channel)!, release: true });
    }
  }
  return decided;
}

function settlementOf(row: DueRow, result: SendResult): Settlement {
  switch (result.outcome) {
    case 'sent':
      return { id: row.id, status: 'sent', providerId: result.providerId ?? null };
    case 'retry': {
      const attempts = row.attempts + 1;
      if (attempts >= maxDeliveryAttempts) return { id: row.id, status: 'failed', reason: `gave up after ${attempts} attempts: ${result.reason}`, release: true };
      return { id: row.id, status: 'pending', reason: result.reason, delaySeconds: Math.max(result.retryAfterSeconds ?? 0, retryDelaySeconds(attempts)) };
    }
    case 'failed':
      return { id: row.id, status: 'failed', reason: result.reason, release: true };
    case 'opted_out':
      return { id: row.id, status: 'opted_out', reason: result.reason, release: true };
  }
}

async function sendOne(row: DueRow, accountId: number, senders: ChannelSenders): Promise<Settlement> {
  const delivery: OutgoingDelivery = {
    id: row.id,
    accountId,
    event: row.event,
    channel: row.channel,
    recipient: { kind: row.recipient_kind, id: row.recipient_id, name: row.recipient_name },
    address: row.address,
    message: row.message,
    attempts: row.attempts,
  };
  try {
    return settlementOf(row, await senders[row.channel].send(delivery));
  } catch (err) {
    // A sender that throws has a bug or met the unexpected: retried, with the message kept.
    return settlementOf(row, { outcome: 'retry', reason: (err as Error).message || 'the sender failed' });
  }
}

/** Releases the next channel of a recipient's chain after `channel` could not reach them. */
async function releaseNext(trx: Knex.Transaction, accountId: number, deliveryId: string) {
  // The next row is found first (by the unique event/recipient/channel index), then updated by its
  // key: a plan that cannot turn into a scan of the account's deliveries when statistics are stale.
  await trx.raw(
    `update notification_deliveries n set status = 'pending', unless_read = false, next_attempt_at = now(), updated_at = now()
      where n.account_id = :accountId
        and n.id = (select x.id from notification_deliveries d
                      join notification_deliveries x on x.account_id = d.account_id and x.event_id = d.event_id
                       and x.recipient_kind = d.recipient_kind and x.recipient_id = d.recipient_id and x.resend_of is null
                       and x.chain_position > d.chain_position
                       -- standing by, or an escalation not yet due (one that is due may be in a worker's hands)
                       and (x.status = 'held' or (x.status = 'pending' and x.unless_read and x.next_attempt_at > now()))
                     where d.account_id = :accountId and d.id = :deliveryId and d.chain_position is not null
                     order by x.chain_position limit 1)`,
    { accountId, deliveryId },
  );
}

/** Marks many deliveries sent in one statement (most of what a drain settles). */
async function settleSent(trx: Knex.Transaction, accountId: number, sent: Array<{ id: string; providerId: string | null }>) {
  if (!sent.length) return;
  await trx.raw(
    `update notification_deliveries d set status = 'sent', sent_at = now(), updated_at = now(), provider_id = s.provider_id, reason = null
       from jsonb_to_recordset(?::jsonb) as s(id uuid, provider_id text)
      where d.account_id = ? and d.id = s.id`,
    [JSON.stringify(sent.map((s) => ({ id: s.id, provider_id: s.providerId }))), accountId],
  );
}

async function settle(trx: Knex.Transaction, accountId: number, s: Settlement) {
  const base = { updated_at: trx.fn.now() };
  const row = trx('notification_deliveries').where({ account_id: accountId, id: s.id });
  if (s.status === 'sent') {
    await row.update({ ...base, status: 'sent', sent_at: trx.fn.now(), provider_id: s.providerId, reason: null });
  } else if (s.status === 'pending') {
    await row.update({ ...base, reason: s.reason, next_attempt_at: trx.raw(`now() + make_interval(secs => ?)`, [s.delaySeconds]) });
  } else {
    await row.update({ ...base, status: s.status, reason: s.reason });
    if (s.release) await releaseNext(trx, accountId, s.id);
  }
}

/** Sends every due delivery of an account; returns how many were sent. */
export async function drainDeliveries(db: Knex, accountId: number, senders: ChannelSenders): Promise<number> {
  const ctx = await systemContext(db, accountId, 'notifications');
  let sent = 0;
  for (let rows = await claimDue(ctx); rows.length; rows = await claimDue(ctx)) {
    const decided = await precheck(ctx, rows, senders);
    const byId = new Map(rows.map((r) => [r.id, r]));
    const record = (results: Settlement[]) =>
      write(ctx, async (trx, audit) => {
        audit.bookkeeping('notification_deliveries');
        await settleSent(trx, accountId, results.flatMap((s) => (s.status === 'sent' ? [{ id: s.id, providerId: s.providerId }] : [])));
        for (const s of results) if (s.status !== 'sent') await settle(trx, accountId, s);
        for (const s of results) {
          const row = byId.get(s.id)!;
          if (s.status === 'opted_out' && !decided.has(s.id) && row.channel === 'sms' && row.address) await recordSmsOptOut(trx, accountId, row.address, 'twilio_21610');
        }
      });
    if (decided.size) await record([...decided.values()]);
    const toSend = rows.filter((r) => !decided.has(r.id));
    // Settled a chunk at a time: a worker that dies mid-batch leaves at most one chunk to be sent again.
    for (let i = 0; i < toSend.length; i += parallelSends) {
      const results = await Promise.all(toSend.slice(i, i + parallelSends).map((row) => sendOne(row, accountId, senders)));
      await record(results);
      sent += results.filter((s) => s.status === 'sent').length;
    }
    if (rows.length < batchSize) break;
  }
  return sent;
}

export type ProviderResult = { status: 'delivered' } | { status: 'failed'; reason: string } | { status: 'opted_out'; reason: string };

/**
 * What a provider said later about a delivery it accepted (Twilio's message status callback,
 * Chatwoot's message_updated): delivered, or failed after all — then the next channel of the chain
 * goes out, and an SMS opt-out is remembered. Runs in the caller's write; false when no delivery
 * of `channel` has that provider id.
 */
export async function settleByProvider(trx: Knex.Transaction, accountId: number, channel: DeliveryChannel, providerId: string, result: ProviderResult): Promise<boolean> {
  // Locked: two reports of one failure (a retried webhook, two processes) settle it once.
  const row = (await trx('notification_deliveries').where({ account_id: accountId, channel, provider_id: providerId }).forUpdate().first('id', 'status', 'address')) as
    | { id: string; status: string; address: string | null }
    | undefined;
  if (!row) return false;
  if (result.status === 'delivered') {
    if (row.status === 'sent') await trx('notification_deliveries').where({ account_id: accountId, id: row.id }).update({ status: 'delivered', updated_at: trx.fn.now() });
    return true;
  }
  // A repeated or late callback for a delivery already settled as failed changes nothing.
  if (row.status !== 'sent' && row.status !== 'delivered') return true;
  await settle(trx, accountId, { id: row.id, status: result.status, reason: result.reason, release: true });
  if (result.status === 'opted_out' && channel === 'sms' && row.address) await recordSmsOptOut(trx, accountId, row.address, 'twilio_21610');
  return true;
}

/** Remembers that a number must get no more SMS (idempotent). */
export async function recordSmsOptOut(trx: Knex.Transaction, accountId: number, phoneE164: string, source: 'keyword' | 'twilio_21610') {
  await trx('sms_opt_outs').insert({ account_id: accountId, phone_e164: phoneE164, source }).onConflict(['account_id', 'phone_e164']).ignore();
}

/** The number said START: SMS may go to it again. Returns whether it was opted out. */
export async function clearSmsOptOut(trx: Knex.Transaction, accountId: number, phoneE164: string): Promise<boolean> {
  return (await trx('sms_opt_outs').where({ account_id: accountId, phone_e164: phoneE164 }).delete()) > 0;
}

/** Accounts with deliveries due now (the sweep's work list). */
export function accountsWithDueDeliveries(db: Knex): Promise<number[]> {
  return accountsWithWork(db, (trx, accountId) => trx('notification_deliveries').where({ account_id: accountId, status: 'pending' }).andWhere('next_attempt_at', '<=', trx.fn.now()).select('id'));
}

export const isDeliveryChannel = (value: string): value is DeliveryChannel => (deliveryChannels as readonly string[]).includes(value);
