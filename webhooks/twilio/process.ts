// Processing a stored Twilio callback: claim it, read its form fields and hand them to the calls
// workflow (extension/modules/calls/workflow.ts) — or, for SMS status callbacks and replies, to
// messaging.ts — then record the outcome on the delivery. A
// delivery that fails for now is retried from the queue with backoff ('dead' after the last
// attempt, visible to admins with a replay action); one that can never be processed (no CallSid,
// Postgres refuses one of its values) is parked as failed at once.
import { handleCallback, type CallsDeps } from '../../extension/modules/calls/workflow.ts';
import { queues } from '../../extension/queue/names.ts';
import { PermanentFailure, permanentFailure } from '../permanent-failure.ts';
import type { DeliveryOutcome, DeliverySource } from '../worker.ts';
import { handleMessagingCallback, messagingKinds, type MessagingKind } from './messaging.ts';
import { twilioEvents, type TwilioEvent } from './routes.ts';

export const maxTwilioAttempts = 12;

interface ClaimedDelivery { id: string; account_id: number; event: string; body: string; attempts: number; received_at: Date }

/** Processes one stored Twilio callback; throws when it should be retried (the queue backs off). */
export async function processTwilioDelivery(deps: CallsDeps, deliveryId: string): Promise<'processed' | 'skipped' | 'failed' | 'dead'> {
  const { db } = deps;
  const [delivery] = (await db('webhook_deliveries')
    .where({ id: deliveryId, source: 'twilio' })
    .whereIn('status', ['received', 'retrying'])
    .update({ status: 'processing', attempts: db.raw('attempts + 1'), claimed_by: db.raw('pg_backend_pid()'), claimed_at: db.fn.now() })
    .returning(['id', 'account_id', 'event', 'body', 'attempts', 'received_at'])) as ClaimedDelivery[];
  if (!delivery) return 'skipped';
  const finish = (status: string, lastError: string | null) =>
    db('webhook_deliveries').where({ id: deliveryId }).update({ status, last_error: lastError, processed_at: status === 'retrying' ? null : db.fn.now() });
  try {
    const fields = Object.fromEntries(new URLSearchParams(delivery.body));
    const event = delivery.event.replace(/^twilio\./, '') as TwilioEvent;
    const messaging = delivery.event.replace(/^twilio\.messaging\./, '') as MessagingKind;
    if (delivery.event.startsWith('twilio.messaging.') && messagingKinds.includes(messaging)) {
      await handleMessagingCallback(db, delivery.account_id, messaging, fields, delivery.received_at);
    } else {
      if (!twilioEvents.includes(event)) throw new PermanentFailure(`unknown event ${delivery.event}`);
      if (!fields.CallSid) throw new PermanentFailure('no CallSid');
      await handleCallback(deps, delivery.account_id, event, fields, delivery.received_at);
    }
    await finish('processed', null);
    return 'processed';
  } catch (err) {
    // What no retry can fix is parked at once, with the reason; the rest waits for its retry.
    const permanent = permanentFailure(err);
    const status = permanent ? 'failed' : delivery.attempts >= maxTwilioAttempts ? 'dead' : 'retrying';
    await finish(status, (permanent ? `permanent: ${permanent}` : String((err as Error)?.message ?? err)).slice(0, 1000));
    if (status === 'retrying') throw err;
    return status;
  }
}

/**
 * Twilio callbacks, for the delivery worker. One call's callbacks are processed one at a time,
 * in the order they arrived; different calls go side by side (a few at once: the web side
 * shares the connection pool). Messaging callbacks are grouped the same way, by message SID
 * (statuses) or by the replying number (STOP then START stays in that order).
 */
export function twilioDeliverySource(deps: CallsDeps, parallelCalls = 4): DeliverySource {
  return {
    source: 'twilio',
    retryQueue: queues.twilioEvent,
    async process(ids) {
      const outcomes = new Map<string, DeliveryOutcome>();
      const rows: Array<{ id: string; dedupe_key: string }> = await deps.db('webhook_deliveries').whereIn('id', ids).select('id', 'dedupe_key');
      const keyOf = new Map(rows.map((r) => [r.id, r.dedupe_key.split(':')[1]!])); // dedupe keys are account:CallSid:…
      const byCall = new Map<string, string[]>();
      for (const id of ids) byCall.set(keyOf.get(id) ?? id, [...(byCall.get(keyOf.get(id) ?? id) ?? []), id]);
      const calls = [...byCall.values()];
      const lane = async () => {
        for (let next = calls.shift(); next; next = calls.shift()) {
          for (const id of next) outcomes.set(id, await processTwilioDelivery(deps, id).catch(() => 'retry' as const));
        }
      };
      await Promise.all(Array.from({ length: parallelCalls }, lane));
      return outcomes;
    },
  };
}
