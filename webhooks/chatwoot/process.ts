// Processing stored Chatwoot deliveries. Each delivery is claimed once and parsed here into
// observations of Chatwoot's records; the conversations module writes them to the caches
// (extension/modules/conversations/service.ts), a batch's deliveries for one account in one unit
// of work. Observations apply only newer state, so retries, duplicates and out-of-order
// deliveries converge. What Chatwoot sends is a mirror of its own records: the delivery row is
// the trail of each change to the caches (no audit event per message, which would flood the
// audit log), and each written batch is announced to the pages following the account.
import type { Knex } from 'knex';
import { z } from 'zod';
import { accountPhoneCountry, ensureAccount } from '../../extension/accounts/service.ts';
import { systemContext, write } from '../../extension/db/tenant.ts';
import { activityOf, chatwootContact, chatwootConversation, chatwootTime, contactObservation, firstResponseOf, messageKind, readConversation } from '../../extension/modules/conversations/cache.ts';
import { recordObservations, type Observations } from '../../extension/modules/conversations/service.ts';
import { deliveryReportOf, type DeliveryReport } from '../../extension/notifications/channels/chatwoot.ts';
import { settleByProvider } from '../../extension/notifications/deliver.ts';
import { queues } from '../../extension/queue/names.ts';
import { agentTypingOf, announceClientTyping, recordClientReplies, type AgentTyping } from '../../extension/client-messages/replies.ts';
import { recordVendorReplies, vendorReplyOf, type VendorReply } from '../../extension/vendor-messages/replies.ts';
import { PermanentFailure, permanentFailure } from '../permanent-failure.ts';
import { payloadAccount } from './account.ts';
import type { DeliveryOutcome, DeliverySource } from '../worker.ts';

/** The actor id of the cache writes (when the audit or a log names who wrote). */
export const chatwootProcess = 'chatwoot-webhooks';

export const maxAttempts = 5;

const id = z.coerce.number().int().positive();

const objectPayload = z.record(z.string(), z.unknown());
const messagePayload = z.object({
  id,
  private: z.boolean().nullish(),
  message_type: z.union([z.string(), z.number()]).nullish(),
  created_at: chatwootTime.nullish(),
  sender: objectPayload.nullish(),
  conversation: objectPayload.nullish(),
  // Read leniently: only speed to first response looks at them, and a shape we do not expect there
  // must not fail the delivery.
  content_attributes: z.unknown().optional(),
  inbox: z.unknown().optional(),
});

interface HandlerContext {
  /** When the delivery reached us: the time of what it shows, when the payload does not date it. */
  receivedAt: Date;
}

/** Reads a payload (throws when it does not match: a permanent failure); writes nothing. */
type Observer = (ctx: HandlerContext, payload: Record<string, unknown>) => Observations;

/** A conversation (created, updated, status changed, or inside a message): it, its contact and its last message's activity. */
function conversationObservations(raw: Record<string, unknown>, observedAt: Date): Observations & { found: boolean } {
  const seen = readConversation(raw, chatwootConversation.parse(raw), observedAt);
  return {
    found: Boolean(seen.conversation),
    contacts: seen.contact ? [seen.contact] : [],
    conversations: seen.conversation ? [seen.conversation] : [],
    activity: seen.activity ? [seen.activity] : [],
  };
}

const observers: Record<string, Observer> = {
  contact_created(ctx, payload) {
    const contact = chatwootContact.parse(payload);
    return { contacts: [contactObservation(payload, contact, ctx.receivedAt)], conversations: [], activity: [] };
  },
  conversation_created(ctx, payload) {
    const { found, ...seen } = conversationObservations(payload, ctx.receivedAt);
    if (!found) throw new PermanentFailure('conversation without its id or state');
    return seen;
  },
  message_created(ctx, payload) {
    const message = messagePayload.parse(payload);
    const at = message.created_at ?? ctx.receivedAt;
    if (!message.conversation) throw new PermanentFailure('message without a conversation');
    const { found: _found, ...seen } = conversationObservations(message.conversation, at);
    // The sender is the contact when Chatwoot says so; newer versions send a contact's data
    // without a type, and only contacts send incoming messages.
    const senderType = message.sender?.type;
    const sender = message.sender && chatwootContact.safeParse(message.sender);
    if (sender?.success && (senderType === 'contact' || (senderType == null && messageKind(message.message_type) === 'incoming'))) {
      seen.contacts.push(contactObservation(message.sender!, { ...sender.data, updated_at: null }, at));
    }
    // Only the contact's public messages are customer activity; an agent's public reply is
    // recorded apart, and private notes (including the ones Onelink writes back) are neither.
    const conversationId = id.parse(message.conversation.display_id ?? message.conversation.id);
    seen.activity.push({ conversationId, ...activityOf(message, at), firstResponse: firstResponseOf(message, at) });
    // A message's conversation may leave out its inbox; the message names it.
    const inboxId = id.safeParse((message.inbox as { id?: unknown } | null | undefined)?.id);
    for (const conversation of seen.conversations) if (conversation.inboxId == null && inboxId.success) conversation.inboxId = inboxId.data;
    return seen;
  },
};
// A message's later state (sent to the channel, failed there, delivered): nothing for the caches;
// what it says about a customer notification is read by deliveryReportOf and settled below.
observers.message_updated = () => ({ contacts: [], conversations: [], activity: [] });
observers.contact_updated = observers.contact_created!;
observers.conversation_updated = observers.conversation_created!;
observers.conversation_status_changed = observers.conversation_created!;
// An agent typing (newer Chatwoots; its account webhook subscriptions do not list these events, so
// they arrive only where Chatwoot sends them anyway): nothing for the caches, passed on live to the
// client whose thread the conversation is (client-messages/replies.ts).
observers.conversation_typing_on = () => ({ contacts: [], conversations: [], activity: [] });
observers.conversation_typing_off = observers.conversation_typing_on;

/**
 * Settles what Chatwoot said about customer notifications it carried (failed on the channel, e.g.
 * WhatsApp outside its 24-hour window; or delivered), in one unit of work for the batch: a failed
 * one moves on to the next channel of the customer's chain. Returns, per report, null when done or
 * the error that should bring the webhook back later: a report can arrive while the delivery that
 * posted the message is still settling its answer (no provider id recorded yet).
 */
async function settleDeliveryReports(ctx: Awaited<ReturnType<typeof systemContext>>, reports: DeliveryReport[]): Promise<Array<Error | null>> {
  return write(ctx, async (trx, audit) => {
    audit.bookkeeping('notification_deliveries');
    const outcomes: Array<Error | null> = [];
    for (const report of reports) {
      if (await settleByProvider(trx, ctx.accountId, 'chatwoot', String(report.messageId), report.result)) {
        outcomes.push(null);
        continue;
      }
      const pending = report.deliveryId
        ? await trx('notification_deliveries').where({ account_id: ctx.accountId, id: report.deliveryId, channel: 'chatwoot', status: 'pending' }).whereNull('provider_id').first('id')
        : undefined;
      outcomes.push(pending ? new Error(`notification delivery ${report.deliveryId} has not recorded its Chatwoot message yet`) : null);
    }
    return outcomes;
  });
}

interface DeliveryRow { installation_id: string; id: string; body: string; attempts: number; received_at: Date }

export type Outcome = DeliveryOutcome;

/** Our account for a Chatwoot account id, remembered: nearly every delivery asks. */
const accountIds = new Map<string, number>();
async function accountFor(db: Knex, installationId: string, chatwoot: { id: number; name?: string | null }) {
  const key = `${installationId}:${chatwoot.id}`;
  let accountId = accountIds.get(key);
  if (accountId === undefined) {
    accountId = (await ensureAccount(db, installationId, { id: chatwoot.id, name: chatwoot.name ?? `Account ${chatwoot.id}` }, null)).account_id;
    if (accountIds.size > 10_000) accountIds.clear();
    accountIds.set(key, accountId);
  }
  return accountId;
}

function describeError(err: unknown) {
  return err instanceof z.ZodError ? `payload does not match: ${err.issues[0]?.path.join('.')} ${err.issues[0]?.message}` : (err as Error).message;
}

/** What becomes of a delivery that failed: parked at once when no retry can help, else retried until the last attempt. */
function afterFailure(delivery: DeliveryRow, err: unknown): { status: 'failed' | 'dead' | 'retrying'; last_error: string } {
  const permanent = permanentFailure(err);
  if (permanent !== null) return { status: 'failed', last_error: err instanceof z.ZodError ? describeError(err) : permanent };
  return { status: delivery.attempts + 1 >= maxAttempts ? 'dead' : 'retrying', last_error: describeError(err) };
}

/**
 * Processes a batch of stored deliveries: each is claimed once (a delivery already done, or taken
 * by another worker, is skipped); a batch's deliveries for one account share a transaction, each
 * inside its own savepoint so one bad delivery does not undo the others. A transient failure is
 * left for retry ('retry', or 'dead' after the last attempt).
 */
export async function processDeliveries(db: Knex, deliveryIds: string[]): Promise<Map<string, Outcome>> {
  const outcomes = new Map<string, Outcome>(deliveryIds.map((id) => [id, 'skipped']));
  const claimed = (await db('webhook_deliveries')
    .whereIn('id', deliveryIds)
    .where({ source: 'chatwoot' })
    .whereIn('status', ['received', 'retrying'])
    .update({ status: 'processing', attempts: db.raw('attempts + 1'), claimed_by: db.raw('pg_backend_pid()'), claimed_at: db.fn.now() })
    .returning(['installation_id', 'id', 'body', 'attempts', 'received_at'])) as DeliveryRow[];
  // RETURNING comes in whatever order the plan reads the table (an index on arrival, or where rows
  // happen to sit after updates and vacuums): the events are applied in the order they arrived.
  const position = new Map(deliveryIds.map((id, i) => [id, i]));
  claimed.sort((a, b) => new Date(a.received_at).getTime() - new Date(b.received_at).getTime() || position.get(a.id)! - position.get(b.id)!);

  const finished: Array<{ id: string; status: string; event: string | null; account_id: number | null; last_error: string | null }> = [];
  const work = new Map<number, Array<{ delivery: DeliveryRow; event: string; payload: Record<string, unknown> }>>();
  for (const delivery of claimed) {
    let payload: Record<string, unknown>;
    try {
      payload = JSON.parse(delivery.body);
    } catch {
      finished.push({ id: delivery.id, status: 'failed', event: null, account_id: null, last_error: 'the body is not JSON' });
      continue;
    }
    const event = String(payload.event ?? '');
    // Of message updates, only those about a notification we sent are news.
    if (!observers[event] || (event === 'message_updated' && !deliveryReportOf(payload))) {
      finished.push({ id: delivery.id, status: 'ignored', event: event || null, account_id: null, last_error: null });
      continue;
    }
    // The same reading the receiver verified the signature against (./account.ts).
    const named = payloadAccount(payload);
    if (named.kind !== 'account') {
      const reason = named.kind === 'none' ? 'no account id in the payload' : "the payload's account cannot be read unambiguously";
      finished.push({ id: delivery.id, status: 'failed', event, account_id: null, last_error: reason });
      continue;
    }
    try {
      const accountId = await accountFor(db, delivery.installation_id, { id: named.id, name: named.name });
      work.set(accountId, [...(work.get(accountId) ?? []), { delivery, event, payload }]);
    } catch (err) {
      finished.push({ id: delivery.id, event, account_id: null, ...afterFailure(delivery, err) });
    }
  }

  for (const [accountId, items] of work) {
    // Read every payload first: one that does not match fails alone, the rest are written together.
    const observed: Array<{ delivery: DeliveryRow; event: string; observations: Observations; report: DeliveryReport | null; reply: VendorReply | null; typing: AgentTyping | null }> = [];
    for (const { delivery, event, payload } of items) {
      try {
        const observations = observers[event]!({ receivedAt: new Date(delivery.received_at) }, payload);
        observed.push({ delivery, event, observations, report: event.startsWith('message_') ? deliveryReportOf(payload) : null, reply: event === 'message_created' ? vendorReplyOf(payload) : null, typing: agentTypingOf(event, payload) });
      } catch (err) {
        finished.push({ id: delivery.id, event, account_id: accountId, ...afterFailure(delivery, err) });
      }
    }
    if (!observed.length) continue;
    try {
      const country = await accountPhoneCountry(db, accountId);
      const ctx = await systemContext(db, accountId, chatwootProcess);
      const errors = await recordObservations(ctx, country, observed.map((o) => o.observations));
      const reported = observed.flatMap((o, i) => (o.report && !errors[i] ? [{ index: i, report: o.report }] : []));
      if (reported.length) {
        const reportErrors = await settleDeliveryReports(ctx, reported.map((r) => r.report));
        reported.forEach((r, j) => (errors[r.index] = reportErrors[j] ?? null));
      }
      // Agents' public replies in vendor threads reach the vendor portal (vendor-messages/replies.ts).
      const replies = observed.flatMap((o, i) => (o.reply && !errors[i] ? [o.reply] : []));
      await recordVendorReplies(ctx, replies);
      // The same public replies, in client portal threads: stored, then announced to the client (client-messages/replies.ts).
      await recordClientReplies(ctx, replies);
      await announceClientTyping(ctx, observed.flatMap((o) => (o.typing ? [o.typing] : [])));
      observed.forEach(({ delivery, event }, i) =>
        finished.push(errors[i] ? { id: delivery.id, event, account_id: accountId, ...afterFailure(delivery, errors[i]) } : { id: delivery.id, status: 'processed', event, account_id: accountId, last_error: null }),
      );
    } catch (err) {
      // The unit of work failed as a whole (the database is away): every delivery waits for its retry.
      for (const { delivery, event } of observed) {
        finished.push({ id: delivery.id, status: delivery.attempts + 1 >= maxAttempts ? 'dead' : 'retrying', event, account_id: accountId, last_error: describeError(err) });
      }
    }
  }

  // One statement records every result of the batch.
  if (finished.length) {
    await db.raw(
      `update webhook_deliveries d
          set status = r.status, event = coalesce(r.event, d.event), account_id = coalesce(r.account_id, d.account_id), last_error = r.last_error,
              processed_at = case when r.status = 'retrying' then d.processed_at else now() end
         from jsonb_to_recordset(?::jsonb) as r(id uuid, status text, event text, account_id bigint, last_error text)
        where d.id = r.id`,
      [JSON.stringify(finished)],
    );
  }
  for (const f of finished) outcomes.set(f.id, f.status === 'retrying' ? 'retry' : (f.status as Outcome));
  return outcomes;
}

/** Processes one delivery; throws when it should be retried (for the job queue's backoff). */
export async function processDelivery(db: Knex, deliveryId: string): Promise<Exclude<Outcome, 'retry'>> {
  const outcome = (await processDeliveries(db, [deliveryId])).get(deliveryId)!;
  if (outcome === 'retry') throw new Error(`delivery ${deliveryId} failed for now and will be retried`);
  return outcome;
}

/** Chatwoot deliveries, for the delivery worker. */
export function chatwootDeliverySource(db: Knex): DeliverySource {
  return { source: 'chatwoot', retryQueue: queues.chatwootDelivery, process: (ids) => processDeliveries(db, ids) };
}
