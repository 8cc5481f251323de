// Processing stored Chatwoot deliveries, from the queue. Each delivery is claimed once; handlers
// are idempotent and apply only newer state, so retries, duplicates and out-of-order deliveries
// converge. What Chatwoot sends is a mirror of its own records: the delivery row is the trail of
// each change to the caches (no audit event per message, which would flood the audit log).
import type { Knex } from 'knex';
import parsePhoneNumber from 'libphonenumber-js/max';
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

function e164(phone: string | null | undefined) {
  if (!phone) return null;
  const parsed = parsePhoneNumber(phone);
  return parsed?.isValid() ? parsed.number : null;
}

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
      [accountId, contact.id, contact.name ?? null, contact.email || null, e164(contact.phone_number), contact.company_id ?? null, updatedAt],
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
  },
};
handlers.contact_updated = handlers.contact_created!;
handlers.conversation_updated = handlers.conversation_created!;
handlers.conversation_status_changed = handlers.conversation_created!;

export const handledEvents = Object.keys(handlers);

interface DeliveryRow { installation_id: string; id: string; body: string; event: string | null; attempts: number }

/**
 * Processes one delivery. Returns what happened; throws (for the queue to retry) on a
 * transient failure until the last attempt, after which the delivery is marked dead.
 */
export async function processDelivery(db: Knex, deliveryId: string): Promise<'processed' | 'ignored' | 'skipped' | 'failed' | 'dead'> {
  const [delivery] = (await db('webhook_deliveries')
    .where({ id: deliveryId })
    .whereIn('status', ['received', 'retrying'])
    .update({ status: 'processing', attempts: db.raw('attempts + 1') })
    .returning(['installation_id', 'id', 'body', 'event', 'attempts'])) as DeliveryRow[];
  if (!delivery) return 'skipped'; // done already, or being processed by another worker
  let accountId: number | null = null; // known once the payload names it: failures then show in that account's admin list
  const finish = (status: string, fields: Record<string, unknown> = {}) =>
    db('webhook_deliveries')
      .where({ installation_id: delivery.installation_id, id: delivery.id })
      .update({ status, processed_at: db.fn.now(), ...(accountId ? { account_id: accountId } : {}), ...fields });
  try {
    let payload: Record<string, unknown>;
    try {
      payload = JSON.parse(delivery.body);
    } catch {
      throw new UnprocessableDelivery('the body is not JSON');
    }
    const event = String(payload.event ?? '');
    const handler = handlers[event];
    if (!handler) {
      await finish('ignored', { event: event || null, last_error: null });
      return 'ignored';
    }
    const ref = accountRef.parse(payload);
    const chatwootAccountId = ref.account?.id ?? ref.account_id;
    if (!chatwootAccountId) throw new UnprocessableDelivery('no account id in the payload');
    const account = await ensureAccount(db, delivery.installation_id, { id: chatwootAccountId, name: ref.account?.name ?? `Account ${chatwootAccountId}` }, null);
    accountId = account.account_id;
    await withAccount(db, account.account_id, { readOnly: false }, (trx) => handler(trx, account.account_id, payload));
    await finish('processed', { event, last_error: null });
    return 'processed';
  } catch (err) {
    const message = err instanceof z.ZodError ? `payload does not match: ${err.issues[0]?.path.join('.')} ${err.issues[0]?.message}` : (err as Error).message;
    if (err instanceof UnprocessableDelivery || err instanceof z.ZodError) {
      await finish('failed', { last_error: message });
      return 'failed';
    }
    if (delivery.attempts >= maxAttempts) {
      await finish('dead', { last_error: message });
      return 'dead';
    }
    await db('webhook_deliveries')
      .where({ installation_id: delivery.installation_id, id: delivery.id })
      .update({ status: 'retrying', last_error: message, ...(accountId ? { account_id: accountId } : {}) });
    throw err;
  }
}

/** Deliveries accepted but never handed to the queue (a crash between commit and enqueue), or stuck mid-processing. */
export async function stalledDeliveries(db: Knex): Promise<string[]> {
  await db('webhook_deliveries').where({ status: 'processing' }).andWhere('received_at', '<', db.raw(`now() - interval '5 minutes'`)).update({ status: 'retrying' });
  return db('webhook_deliveries')
    .whereIn('status', ['received', 'retrying'])
    .andWhere('received_at', '<', db.raw(`now() - interval '30 seconds'`))
    .orderBy('received_at')
    .limit(1000)
    .pluck('id');
}
