// The contact and conversation caches: what Onelink keeps of Chatwoot's records, written from
// webhook payloads and from Chatwoot's API (the sync) by the same functions and the same rule:
// an observation older than what a cache row holds never overwrites it. These functions write
// inside the caller's unit of work (service.ts for webhooks, the sync for its pages).
//
// Chatwoot's objects come in several cuts (a contact's webhook data, its push data inside a
// conversation, the API's list item; old versions send a sender with only id and name). A field
// a source does not carry keeps the cached value, and only a source that carries the whole
// record (name, e-mail, phone) dates the row: a partial view never claims to be the full record.
import type { Knex } from 'knex';
import { z } from 'zod';
import { toE164, type CountryCode } from '../../phones/e164.ts';
import { stampDealActivity } from '../deals/activity.ts';
import { stampJobActivity } from '../jobs/service.ts';

const id = z.coerce.number().int().positive();
/** Chatwoot sends times as unix seconds (push data, API) or ISO strings (webhook data). */
export const chatwootTime = z
  .union([z.number(), z.string()])
  .transform((v) => new Date(typeof v === 'number' ? v * 1000 : /^\d+(\.\d+)?$/.test(v) ? Number(v) * 1000 : v))
  .pipe(z.date());

/** A contact as Chatwoot shows it anywhere: webhook data, push data (`meta.sender`), API list item. */
export const chatwootContact = z.object({
  id,
  name: z.string().nullish(),
  email: z.string().nullish(),
  phone_number: z.string().nullish(),
  company_id: id.nullish(),
  type: z.string().nullish(),
  updated_at: chatwootTime.nullish(),
});
export type ChatwootContactData = z.infer<typeof chatwootContact>;

const chatwootMessageSummary = z.object({
  message_type: z.union([z.string(), z.number()]).nullish(),
  private: z.boolean().nullish(),
  created_at: chatwootTime.nullish(),
});

/** A conversation as Chatwoot shows it (push data: webhooks, a message's `conversation`, API lists). */
export const chatwootConversation = z.object({
  id: id.nullish(),
  /** Older versions put only this (and additional_attributes) in a message's conversation. */
  display_id: id.nullish(),
  inbox_id: id.nullish(),
  status: z.string().nullish(),
  labels: z.array(z.string()).nullish(),
  meta: z
    .object({ sender: z.unknown().optional(), assignee: z.object({ id }).nullish() })
    .partial()
    .nullish(),
  contact_inbox: z.object({ contact_id: id.nullish() }).partial().nullish(),
  /** The conversation's last chat message, in push data. */
  messages: z.array(z.unknown()).nullish(),
  updated_at: chatwootTime.nullish(),
});
export type ChatwootConversationData = z.infer<typeof chatwootConversation>;

export type MessageKind = 'incoming' | 'outgoing' | 'activity' | 'template' | 'unknown';
/** Chatwoot's message_type: a name in webhook data, its enum number in push data. */
export function messageKind(type: string | number | null | undefined): MessageKind {
  const names: MessageKind[] = ['incoming', 'outgoing', 'activity', 'template'];
  if (typeof type === 'number') return names[type] ?? 'unknown';
  return names.includes(type as MessageKind) ? (type as MessageKind) : 'unknown';
}

/**
 * What a public message says about a conversation: an incoming one is the customer's activity,
 * an outgoing one (or a template) an agent's or bot's reply. Private notes say neither.
 */
export function activityOf(message: { message_type?: string | number | null; private?: boolean | null; created_at?: Date | null }, fallback: Date) {
  if (message.private) return {};
  const kind = messageKind(message.message_type);
  const at = message.created_at ?? fallback;
  if (kind === 'incoming') return { customerAt: at };
  if (kind === 'outgoing' || kind === 'template') return { replyAt: at };
  return {};
}

export interface ContactObservation {
  id: number;
  /** Fields the source carried; undefined keeps what the cache has. */
  name?: string | null;
  email?: string | null;
  /** As Chatwoot has it; normalised to E.164 with the account's default country. */
  phone?: string | null;
  companyId?: number | null;
  observedAt: Date;
}

export interface ConversationObservation {
  /** The display id agents see. */
  id: number;
  inboxId?: number | null;
  status?: string | null;
  assigneeId?: number | null;
  contactId?: number | null;
  labels?: string[];
  observedAt: Date;
}

export interface ActivityObservation { conversationId: number; customerAt?: Date; replyAt?: Date; firstResponse?: FirstResponseObservation }

/** What one message says for speed to first response: a customer's public message, or an agent's public reply. */
export interface FirstResponseObservation {
  customerAt?: Date;
  reply?: { at: Date; agentId: number; messageId: number };
}

/** content_attributes keys Onelink puts on the messages it posts itself (customer notifications, portal invitations, notes written back). */
const onelinkMarker = /^onelink_/;

/**
 * A message_created's part in speed to first response. The customer's side: any public incoming
 * message. A reply: a public outgoing message whose sender is a person (sender type `user`) and
 * that Onelink did not post itself (none of our markers in content_attributes). Not a reply:
 * private notes, agent bots, templates and activity messages, automation rules' messages (they
 * have no user as sender and carry automation_rule_id), and our own posts, which go out with an
 * agent's token and so look like an agent's reply but for the marker.
 */
export function firstResponseOf(
  message: { id: number; message_type?: string | number | null; private?: boolean | null; created_at?: Date | null; sender?: unknown; content_attributes?: unknown },
  fallback: Date,
): FirstResponseObservation | undefined {
  if (message.private) return undefined;
  const at = message.created_at ?? fallback;
  const kind = messageKind(message.message_type);
  if (kind === 'incoming') return { customerAt: at };
  if (kind !== 'outgoing') return undefined;
  const sender = (message.sender && typeof message.sender === 'object' ? message.sender : {}) as { id?: unknown; type?: unknown };
  const agentId = Number(sender.id);
  if (String(sender.type ?? '').toLowerCase() !== 'user' || !Number.isSafeInteger(agentId) || agentId <= 0) return undefined;
  const attributes = message.content_attributes && typeof message.content_attributes === 'object' ? Object.keys(message.content_attributes) : [];
  if (attributes.some((key) => onelinkMarker.test(key) || key === 'automation_rule_id')) return undefined;
  return { reply: { at, agentId, messageId: message.id } };
}

const has = (o: object, key: string) => Object.prototype.hasOwnProperty.call(o, key);

/** A contact observation from any cut of a Chatwoot contact (fields absent from `raw` stay undefined). */
export function contactObservation(raw: Record<string, unknown>, contact: ChatwootContactData, observedAt: Date): ContactObservation {
  return {
    id: contact.id,
    ...(has(raw, 'name') ? { name: contact.name ?? null } : {}),
    ...(has(raw, 'email') ? { email: contact.email || null } : {}),
    ...(has(raw, 'phone_number') ? { phone: contact.phone_number || null } : {}),
    ...(has(raw, 'company_id') ? { companyId: contact.company_id ?? null } : {}),
    observedAt: contact.updated_at ?? observedAt,
  };
}

/** The conversation, its contact (`meta.sender`) and its last message's activity, from push data parsed with `chatwootConversation`. */
export function readConversation(
  raw: Record<string, unknown>,
  c: ChatwootConversationData,
  observedAt: Date,
): { conversation?: ConversationObservation; contact?: ContactObservation; activity?: ActivityObservation } {
  const conversationId = c.display_id ?? c.id;
  if (!conversationId) return {};
  const sender = c.meta?.sender && typeof c.meta.sender === 'object' ? chatwootContact.safeParse(c.meta.sender) : undefined;
  const contact = sender?.success ? contactObservation(c.meta!.sender as Record<string, unknown>, { ...sender.data, updated_at: null }, observedAt) : undefined;
  const result: ReturnType<typeof readConversation> = { contact };
  // The old cut of a message's conversation carries nothing but its id: no cache row from that.
  if (c.status != null || c.inbox_id != null || contact || c.contact_inbox?.contact_id) {
    const meta = (raw as { meta?: Record<string, unknown> }).meta ?? {};
    result.conversation = {
      id: conversationId,
      ...(c.inbox_id != null ? { inboxId: c.inbox_id } : {}),
      ...(c.status != null ? { status: c.status } : {}),
      ...(has(meta, 'assignee') ? { assigneeId: c.meta?.assignee?.id ?? null } : {}),
      ...(contact || c.contact_inbox?.contact_id ? { contactId: contact?.id ?? c.contact_inbox!.contact_id! } : {}),
      ...(c.labels ? { labels: c.labels } : {}),
      observedAt: c.updated_at ?? observedAt,
    };
  }
  let activity: ActivityObservation | undefined;
  for (const message of c.messages ?? []) {
    const m = chatwootMessageSummary.safeParse(message);
    if (!m.success || !m.data.created_at) continue;
    const seen = activityOf(m.data, m.data.created_at);
    if (seen.customerAt || seen.replyAt) activity = { conversationId, ...activity, ...seen };
  }
  return { ...result, activity };
}

/** One observation per id, the latest (the whole page goes in one statement, which may touch a row once). */
function latestById<T extends { id: number; observedAt: Date }>(items: T[]): T[] {
  const byId = new Map<number, T>();
  for (const item of items) {
    const seen = byId.get(item.id);
    if (!seen || seen.observedAt <= item.observedAt) byId.set(item.id, seen && seen.observedAt.getTime() === item.observedAt.getTime() ? { ...seen, ...item } : item);
  }
  return [...byId.values()];
}

export interface WriteOptions {
  /**
   * Write only rows whose content differs (the sync: re-reading Chatwoot changes nothing). Webhook
   * events also date the row when nothing else changed, so an older event cannot come after them.
   */
  onlyIfChanged?: boolean;
}

const json = (v: unknown) => JSON.stringify(v);

/**
 * Caches contacts in one statement. A row is written only when the observation is not older than
 * the row's date; rows are locked while merged, so a concurrent writer waits rather than
 * interleaving. Returns how many rows were written.
 */
export async function cacheContacts(trx: Knex.Transaction, accountId: number, country: CountryCode, items: ContactObservation[], { onlyIfChanged = false }: WriteOptions = {}): Promise<number> {
  if (!items.length) return 0;
  const rows = latestById(items).map((c) => ({
    id: c.id,
    name: c.name ?? null,
    email: c.email ?? null,
    phone: c.phone === undefined ? null : toE164(c.phone, country),
    company_id: c.companyId ?? null,
    observed_at: c.observedAt.toISOString(),
    has_name: c.name !== undefined,
    has_email: c.email !== undefined,
    has_phone: c.phone !== undefined,
    has_company: c.companyId !== undefined,
    complete: c.name !== undefined && c.email !== undefined && c.phone !== undefined,
  }));
  const { rowCount } = await trx.raw(
    `with input as (
       select * from jsonb_to_recordset(?::jsonb) as r(id bigint, name text, email text, phone text, company_id bigint, observed_at timestamptz,
                                                        has_name boolean, has_email boolean, has_phone boolean, has_company boolean, complete boolean)
     ), current as (
       select * from chatwoot_contacts where account_id = ? and chatwoot_contact_id in (select id from input) for update
     ), merged as (
       select i.id, i.observed_at, i.complete, c.chatwoot_contact_id is not null as existed, c.source_updated_at as current_at,
              case when i.has_name then i.name else c.name end as name,
              case when i.has_email then i.email else c.email::text end as email,
              case when i.has_phone then i.phone else c.phone_e164 end as phone,
              case when i.has_company then i.company_id else c.chatwoot_company_id end as company_id,
              c.name as old_name, c.email::text as old_email, c.phone_e164 as old_phone, c.chatwoot_company_id as old_company_id
         from input i left join current c on c.chatwoot_contact_id = i.id
     )
     insert into chatwoot_contacts as c (account_id, chatwoot_contact_id, name, email, phone_e164, chatwoot_company_id, source_updated_at, synced_at)
     select ?, id, name, email, phone, company_id, case when complete then observed_at else current_at end, now()
       from merged
      where (current_at is null or current_at <= observed_at)
        -- A contact erased on request (extension/privacy) stays erased, whatever Chatwoot sends later.
        and not exists (select 1 from erased_contacts e where e.account_id = ? and e.chatwoot_contact_id = merged.id)
        and (not ? or not existed or old_name is distinct from name or old_email is distinct from email
             or old_phone is distinct from phone or old_company_id is distinct from company_id)
     on conflict (account_id, chatwoot_contact_id) do update
       set name = excluded.name, email = excluded.email, phone_e164 = excluded.phone_e164, chatwoot_company_id = excluded.chatwoot_company_id,
           source_updated_at = coalesce(excluded.source_updated_at, c.source_updated_at), synced_at = now()
       where c.source_updated_at is null or c.source_updated_at <= excluded.source_updated_at`,
    [json(rows), accountId, accountId, accountId, onlyIfChanged],
  );
  return rowCount ?? 0;
}

/** Caches conversations in one statement, by the same rule as contacts. */
export async function cacheConversations(trx: Knex.Transaction, accountId: number, items: ConversationObservation[], { onlyIfChanged = false }: WriteOptions = {}): Promise<number> {
  if (!items.length) return 0;
  const rows = latestById(items).map((c) => ({
    id: c.id,
    inbox_id: c.inboxId ?? null,
    status: c.status ?? null,
    assignee_id: c.assigneeId ?? null,
    contact_id: c.contactId ?? null,
    labels: c.labels ?? null,
    observed_at: c.observedAt.toISOString(),
    has_inbox: c.inboxId !== undefined,
    has_status: c.status !== undefined,
    has_assignee: c.assigneeId !== undefined,
    has_contact: c.contactId !== undefined,
    has_labels: c.labels !== undefined,
  }));
  const { rowCount } = await trx.raw(
    `with input as (
       select * from jsonb_to_recordset(?::jsonb) as r(id bigint, inbox_id bigint, status text, assignee_id bigint, contact_id bigint, labels text[], observed_at timestamptz,
                                                        has_inbox boolean, has_status boolean, has_assignee boolean, has_contact boolean, has_labels boolean)
     ), current as (
       select * from chatwoot_conversations where account_id = ? and chatwoot_conversation_id in (select id from input) for update
     ), merged as (
       select i.id, i.observed_at, c.chatwoot_conversation_id is not null as existed, c.source_updated_at as current_at,
              case when i.has_inbox then i.inbox_id else c.inbox_id end as inbox_id,
              case when i.has_status then i.status else c.status end as status,
              case when i.has_assignee then i.assignee_id else c.assignee_id end as assignee_id,
              case when i.has_contact then i.contact_id else c.chatwoot_contact_id end as contact_id,
              case when i.has_labels then i.labels else coalesce(c.labels, '{}') end as labels,
              c.inbox_id as old_inbox_id, c.status as old_status, c.assignee_id as old_assignee_id, c.chatwoot_contact_id as old_contact_id, c.labels as old_labels
         from input i left join current c on c.chatwoot_conversation_id = i.id
     )
     insert into chatwoot_conversations as c (account_id, chatwoot_conversation_id, inbox_id, status, assignee_id, chatwoot_contact_id, labels, source_updated_at, synced_at)
     select ?, id, inbox_id, status, assignee_id, contact_id, labels, observed_at, now()
       from merged
      where (current_at is null or current_at <= observed_at)
        -- A contact erased on request (extension/privacy) stays erased, whatever Chatwoot sends later.
        and not exists (select 1 from erased_contacts e where e.account_id = ? and e.chatwoot_contact_id = merged.id)
        and (not ? or not existed or old_inbox_id is distinct from inbox_id or old_status is distinct from status
             or old_assignee_id is distinct from assignee_id or old_contact_id is distinct from contact_id or old_labels is distinct from labels)
     on conflict (account_id, chatwoot_conversation_id) do update
       set inbox_id = excluded.inbox_id, status = excluded.status, assignee_id = excluded.assignee_id,
           chatwoot_contact_id = excluded.chatwoot_contact_id, labels = excluded.labels,
           source_updated_at = excluded.source_updated_at, synced_at = now()
       where c.source_updated_at is null or c.source_updated_at <= excluded.source_updated_at`,
    [json(rows), accountId, accountId, accountId, onlyIfChanged],
  );
  return rowCount ?? 0;
}

/**
 * Stamps customer activity and replies: a conversation's last customer message moves its own
 * last_activity_at and that of the deals and jobs linked to it; a reply only the conversation's
 * last_reply_at. Times only move forward, so replays and re-reads change nothing. In the same
 * transaction it keeps the first customer message and first reply (speed to first response).
 * Returns how many conversations and deals it moved.
 */
export async function recordActivity(trx: Knex.Transaction, accountId: number, items: ActivityObservation[]): Promise<number> {
  const firstResponses = await recordFirstResponses(trx, accountId, items);
  return firstResponses + (await recordLastActivity(trx, accountId, items));
}

/** Most agent replies kept per conversation from before its first customer message (the latest ones). */
const repliesKeptBeforeCustomer = 20;

/**
 * Keeps each conversation's first customer message (the earliest public incoming message seen) and
 * first reply (the earliest agent reply at or after it), whatever order the messages arrive in:
 * agent replies seen before the first customer message are kept (the latest few) so that an
 * earlier customer message arriving late still finds the reply that answered it. Replays change
 * nothing. A reply whose Chatwoot message id a customer notification recorded is ours, marker or
 * not. Returns how many conversations changed.
 */
async function recordFirstResponses(trx: Knex.Transaction, accountId: number, items: ActivityObservation[]): Promise<number> {
  const rows = items
    .filter((a) => a.firstResponse?.customerAt || a.firstResponse?.reply)
    .map((a) => ({
      id: a.conversationId,
      customer_at: a.firstResponse!.customerAt?.toISOString() ?? null,
      reply_at: a.firstResponse!.reply?.at.toISOString() ?? null,
      agent_id: a.firstResponse!.reply?.agentId ?? null,
      message_id: a.firstResponse!.reply ? String(a.firstResponse!.reply.messageId) : null,
    }));
  if (!rows.length) return 0;
  const { rowCount } = await trx.raw(
    `with input as (
       select r.id, min(r.customer_at) as customer_at,
              coalesce(jsonb_agg(jsonb_build_object('at', r.reply_at, 'agent', r.agent_id)) filter (where r.reply_at is not null), '[]') as replies
         from jsonb_to_recordset(:rows::jsonb) as r(id bigint, customer_at timestamptz, reply_at timestamptz, agent_id bigint, message_id text)
        where r.message_id is null
           or not exists (select 1 from notification_deliveries n where n.account_id = :accountId and n.channel = 'chatwoot' and n.provider_id = r.message_id)
        group by r.id
     ), current as (
       select c.chatwoot_conversation_id as id, least(c.first_customer_message_at, i.customer_at) as first_customer,
              c.replies_before_customer || i.replies
                || case when c.first_reply_at is null then '[]'::jsonb else jsonb_build_array(jsonb_build_object('at', c.first_reply_at, 'agent', c.first_reply_agent_id)) end as known
         from chatwoot_conversations c join input i on i.id = c.chatwoot_conversation_id
        where c.account_id = :accountId
          for update of c
     ), placed as (
       select cur.id, cur.first_customer, answer.at as first_reply_at, answer.agent as first_reply_agent_id, coalesce(before.list, '[]') as replies_before
         from current cur
         left join lateral (
           select r.at, r.agent from jsonb_to_recordset(cur.known) as r(at timestamptz, agent bigint)
            where r.at >= cur.first_customer
            order by r.at, r.agent limit 1
         ) answer on true
         left join lateral (
           select jsonb_agg(jsonb_build_object('at', b.at, 'agent', b.agent) order by b.at, b.agent) as list
             from (select distinct r.at, r.agent from jsonb_to_recordset(cur.known) as r(at timestamptz, agent bigint)
                    where cur.first_customer is null or r.at < cur.first_customer
                    order by r.at desc, r.agent desc limit ${repliesKeptBeforeCustomer}) b
         ) before on true
     )
     update chatwoot_conversations c
        set first_customer_message_at = p.first_customer, first_reply_at = p.first_reply_at,
            first_reply_agent_id = p.first_reply_agent_id, replies_before_customer = p.replies_before
       from placed p
      where c.account_id = :accountId and c.chatwoot_conversation_id = p.id
        and (c.first_customer_message_at is distinct from p.first_customer or c.first_reply_at is distinct from p.first_reply_at
             or c.first_reply_agent_id is distinct from p.first_reply_agent_id or c.replies_before_customer is distinct from p.replies_before)`,
    { rows: json(rows), accountId },
  );
  return rowCount ?? 0;
}

/** The conversations' last customer message and last reply, and the activity of their deals and jobs. */
async function recordLastActivity(trx: Knex.Transaction, accountId: number, items: ActivityObservation[]): Promise<number> {
  const rows = items
    .filter((a) => a.customerAt || a.replyAt)
    .map((a) => ({ id: a.conversationId, customer_at: a.customerAt?.toISOString() ?? null, reply_at: a.replyAt?.toISOString() ?? null }));
  if (!rows.length) return 0;
  const input = `select id, max(customer_at) as customer_at, max(reply_at) as reply_at
                   from jsonb_to_recordset(?::jsonb) as r(id bigint, customer_at timestamptz, reply_at timestamptz) group by id`;
  const conversations = await trx.raw(
    `update chatwoot_conversations c
        set last_activity_at = greatest(c.last_activity_at, i.customer_at), last_reply_at = greatest(c.last_reply_at, i.reply_at)
       from (${input}) i
      where c.account_id = ? and c.chatwoot_conversation_id = i.id
        and (i.customer_at > c.last_activity_at or (c.last_activity_at is null and i.customer_at is not null)
             or i.reply_at > c.last_reply_at or (c.last_reply_at is null and i.reply_at is not null))`,
    [json(rows), accountId],
  );
  const customer = rows.filter((r) => r.customer_at);
  if (!customer.length) return conversations.rowCount ?? 0;
  // Deals and jobs stamp their own, through their modules.
  const deals = await stampDealActivity(trx, accountId, customer);
  await stampJobActivity(trx, accountId, customer);
  return (conversations.rowCount ?? 0) + deals;
}
