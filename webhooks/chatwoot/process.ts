// Processing stored Chatwoot deliveries, from the queue. Each delivery is claimed once; handlers
// are idempotent and apply only newer state, so retries, duplicates and out-of-order deliveries
// converge. What Chatwoot sends is a mirror of its own records: the delivery row is the trail of
// each change to the caches (no audit event per message, which would flood the audit log).
import { toE164 } from '../../extension/phones/e164.ts';
import { queues } from '../../extension/queue/names.ts';
import type { DeliveryOutcome, DeliverySource } from '../worker.ts';
import type { Knex } from 'knex';
import { z } from 'zod';
import { ensureAccount } from '../../extension/accounts/service.ts';
import { withAccount } from '../../extension/db/tenant.ts';

export const maxAttempts = 5;

const id = z.coerce.number().int().positive();
const when = z.union([z.number(), z.string()]).transform((v) => new Date(typeof v === 'number' ? v * 1000 : v)).pipe(z.date());

const accountRef = z.object({ account: z.object({ id, name: z.string().nullish() }).partial().nullish(), account_id: id.nullish() });

const contactPayload = z.object({
  id,
  name: z.string().nullish(),
  email: z.string().nullish(),
  phone_number: z.string().nullish(),
  company_id: id.nullish(),
  updated_at: when.nullish(),
  created_at: when.nullish(),
});

const conversationPayload = z.object({
  id,
  inbox_id: id.nullish(),
  status: z.string().nullish(),
  labels: z.array(z.string()).nullish(),
  meta: z.object({ sender: z.object({ id }).nullish(), assignee: z.object({ id }).nullish() }).partial().nullish(),
  contact_inbox: z.object({ contact_id: id }).partial().nullish(),
  updated_at: when.nullish(),
  timestamp: when.nullish(),
  last_activity_at: when.nullish(),
});

const messagePayload = z.object({
  id,
  private: z.boolean().nullish(),
  message_type: z.union([z.string(), z.number()]).nullish(),
  created_at: when.nullish(),
  conversation: z.object({ display_id: id.nullish(), id: id.nullish() }).nullish(),
});

export class UnprocessableDelivery extends Error {}

type Handler = (trx: Knex.Transaction, accountId: number, payload: unknown) => Promise<void>;

const handlers: Record<string, Handler> = {
  async contact_created(trx, accountId, payload) {
    const contact = contactPayload.parse(payload);
    const updatedAt = contact.updated_at ?? contact.created_at ?? new Date();
    await trx.raw(
      `insert into chatwoot_contacts (account_id, chatwoot_contact_id, name, email, phone_e164, chatwoot_company_id, source_updated_at, synced_at)
       values (?, ?, ?, ?, ?, ?, ?, now())
       on conflict (account_id, chatwoot_contact_id) do update
         set name = excluded.name, email = excluded.email, phone_e164 = excluded.phone_e164,
             chatwoot_company_id = excluded.chatwoot_company_id, source_updated_at = excluded.source_updated_at, synced_at = now()
       where chatwoot_contacts.source_updated_at is null or chatwoot_contacts.source_updated_at <= excluded.source_updated_at`,
      [accountId, contact.id, contact.name ?? null, contact.email || null, toE164(contact.phone_number), contact.company_id ?? null, updatedAt],
    );
  },
  async conversation_created(trx, accountId, payload) {
    const conversation = conversationPayload.parse(payload);
    const updatedAt = conversation.updated_at ?? conversation.timestamp ?? new Date();
    await trx.raw(
      `insert into chatwoot_conversations (account_id, chatwoot_conversation_id, inbox_id, status, assignee_id, chatwoot_contact_id, labels, last_activity_at, source_updated_at, synced_at)
       values (?, ?, ?, ?, ?, ?, ?, ?, ?, now())
       on conflict (account_id, chatwoot_conversation_id) do update
         set inbox_id = excluded.inbox_id, status = excluded.status, assignee_id = excluded.assignee_id,
             chatwoot_contact_id = excluded.chatwoot_contact_id, labels = excluded.labels,
             last_activity_at = greatest(chatwoot_conversations.last_activity_at, excluded.last_activity_at),
             source_updated_at = excluded.source_updated_at, synced_at = now()
       where chatwoot_conversations.source_updated_at is null or chatwoot_conversations.source_updated_at <= excluded.source_updated_at`,
      [
        accountId,
        conversation.id,
        conversation.inbox_id ?? null,
        conversation.status ?? null,
        conversation.meta?.assignee?.id ?? null,
        conversation.meta?.sender?.id ?? conversation.contact_inbox?.contact_id ?? null,
        conversation.labels ?? [],
        conversation.last_activity_at ?? conversation.timestamp ?? null,
        updatedAt,
      ],
    );
  },
  async message_created(trx, accountId, payload) {
    const message = messagePayload.parse(payload);
    // Private notes include the ones Onelink writes back: they are not customer activity.
    if (message.private) return;
    const conversationId = message.conversation?.display_id ?? message.conversation?.id;
    if (!conversationId) throw new UnprocessableDelivery('message without a conversation id');
    const at = message.created_at ?? new Date();
    await trx('chatwoot_conversations')
      .where({ account_id: accountId, chatwoot_conversation_id: conversationId })
      .update({ last_activity_at: trx.raw('greatest(last_activity_at, ?)', [at]) });
    await trx('deals')
      .where({ account_id: accountId, chatwoot_conversation_id: conversationId })
      .whereNull('deleted_at')
      .update({ last_activity_at: trx.raw('greatest(last_activity_at, ?)', [at]) });
    await trx('jobs')
      .where({ account_id: accountId })
      .whereIn('id', trx('job_conversations').where({ account_id: accountId, chatwoot_conversation_id: conversationId }).select('job_id'))
      .update({ last_activity_at: trx.raw('greatest(last_activity_at, ?)', [at]) });
  },
};
handlers.contact_updated = handlers.contact_created!;
handlers.conversation_updated = handlers.conversation_created!;
handlers.conversation_status_changed = handlers.conversation_created!;

interface DeliveryRow { installation_id: string; id: string; body: string; attempts: number }

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
    .update({ status: 'processing', attempts: db.raw('attempts + 1') })
    .returning(['installation_id', 'id', 'body', 'attempts'])) as DeliveryRow[];

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
    if (!handlers[event]) {
      finished.push({ id: delivery.id, status: 'ignored', event: event || null, account_id: null, last_error: null });
      continue;
    }
    const ref = accountRef.safeParse(payload);
    const chatwootAccountId = ref.success ? (ref.data.account?.id ?? ref.data.account_id) : undefined;
    if (!chatwootAccountId) {
      finished.push({ id: delivery.id, status: 'failed', event, account_id: null, last_error: 'no account id in the payload' });
      continue;
    }
    try {
      const accountId = await accountFor(db, delivery.installation_id, { id: chatwootAccountId, name: ref.success ? ref.data.account?.name : null });
      work.set(accountId, [...(work.get(accountId) ?? []), { delivery, event, payload }]);
    } catch (err) {
      finished.push({ id: delivery.id, status: delivery.attempts + 1 >= maxAttempts ? 'dead' : 'retrying', event, account_id: null, last_error: describeError(err) });
    }
  }

  for (const [accountId, items] of work) {
    try {
      await withAccount(db, accountId, { readOnly: false }, async (trx) => {
        for (const { delivery, event, payload } of items) {
          try {
            await trx.transaction((savepoint) => handlers[event]!(savepoint, accountId, payload));
            finished.push({ id: delivery.id, status: 'processed', event, account_id: accountId, last_error: null });
          } catch (err) {
            const permanent = err instanceof UnprocessableDelivery || err instanceof z.ZodError;
            const status = permanent ? 'failed' : delivery.attempts + 1 >= maxAttempts ? 'dead' : 'retrying';
            finished.push({ id: delivery.id, status, event, account_id: accountId, last_error: describeError(err) });
          }
        }
      });
    } catch (err) {
      for (const { delivery, event } of items) {
        const index = finished.findIndex((f) => f.id === delivery.id);
        if (index >= 0) finished.splice(index, 1);
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

/** Deliveries accepted but never handed to the queue (a crash between commit and enqueue), or stuck mid-processing. */
export async function stalledDeliveries(db: Knex): Promise<Array<{ id: string; source: string }>> {
  // A worker that died mid-delivery: hand it out again. Deliveries waiting to be retried are the
  // queue's (it retries them with backoff); sending them again here would multiply the attempts.
  await db('webhook_deliveries').where({ status: 'processing' }).andWhere('received_at', '<', db.raw(`now() - interval '5 minutes'`)).update({ status: 'received' });
  return db('webhook_deliveries')
    .where({ status: 'received' })
    .andWhere('received_at', '<', db.raw(`now() - interval '30 seconds'`))
    .orderBy('received_at')
    .limit(1000)
    .select('id', 'source');
}

/** Chatwoot deliveries, for the delivery worker. */
export function chatwootDeliverySource(db: Knex): DeliverySource {
  return { source: 'chatwoot', retryQueue: queues.chatwootDelivery, process: (ids) => processDeliveries(db, ids) };
}
