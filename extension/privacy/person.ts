// Everything Onelink holds about one Chatwoot contact, found by the contact id and by what the
// contact is known by (their phone numbers): the rows both the erasure and the export start from.
// Read inside the caller's transaction, so the erasure acts on exactly what it found.
import type { Knex } from 'knex';
import { displayNumber } from '../phones/e164.ts';

export interface PersonRows {
  contactId: number;
  contact: Record<string, unknown> | undefined;
  erasedAt: Date | null;
  /** Client portal users bound to the contact. */
  portalUserIds: string[];
  /** E.164 numbers the person is known by (the cached contact's, their portal users'). */
  phones: string[];
  /** Names, e-mail addresses and phone numbers (also as shown in notes) to scrub from copied text. */
  personalStrings: string[];
  dealIds: string[];
  jobIds: string[];
  taskIds: string[];
  callIds: string[];
  conversationIds: number[];
}

const ids = (rows: Array<{ id: string }>) => rows.map((r) => r.id);

/** Strings shorter than this are not scrubbed from text: "Al" would blank half the words of a note. */
const shortestScrubbed = 3;

export async function findPerson(trx: Knex.Transaction, accountId: number, contactId: number): Promise<PersonRows> {
  const contact = (await trx('chatwoot_contacts').where({ account_id: accountId, chatwoot_contact_id: contactId }).first('chatwoot_contact_id', 'name', 'email', 'phone_e164', 'chatwoot_company_id', 'synced_at', 'source_updated_at')) as
    | Record<string, unknown>
    | undefined;
  const tombstone = await trx('erased_contacts').where({ account_id: accountId, chatwoot_contact_id: contactId }).first('erased_at');
  const portalUsers = (await trx('portal_users').where({ account_id: accountId, kind: 'client', chatwoot_contact_id: contactId }).select('id', 'name', 'email', 'phone')) as Array<{
    id: string;
    name: string;
    email: string | null;
    phone: string | null;
  }>;
  const portalUserIds = portalUsers.map((u) => u.id);
  const phones = [...new Set([contact?.phone_e164 as string | null, ...portalUsers.map((u) => u.phone)].filter((p): p is string => Boolean(p)))];

  // Calls from or to the person: linked to the contact, or placed from or to one of their numbers.
  const calls = (await trx('calls')
    .where({ account_id: accountId })
    .andWhere((q) => {
      q.where('chatwoot_contact_id', contactId);
      if (phones.length) q.orWhereIn('from_e164', phones).orWhereIn('to_e164', phones);
    })
    .select('id', 'job_id', 'callback_task_id', 'chatwoot_conversation_id')) as Array<{ id: string; job_id: string | null; callback_task_id: string | null; chatwoot_conversation_id: number | null }>;

  const deals = ids(await trx('deals').where({ account_id: accountId, chatwoot_contact_id: contactId }).select('id'));
  const jobsOfContact = ids(
    await trx('jobs')
      .where({ account_id: accountId })
      .andWhere((q) => {
        q.where('chatwoot_contact_id', contactId);
        if (portalUserIds.length) q.orWhereIn('requested_by_portal_user_id', portalUserIds);
      })
      .select('id'),
  );
  const tasksOfContact = ids(await trx('tasks').where({ account_id: accountId, chatwoot_contact_id: contactId }).select('id'));
  const conversations = (await trx('chatwoot_conversations').where({ account_id: accountId, chatwoot_contact_id: contactId }).pluck('chatwoot_conversation_id')) as Array<number | string>;
  const threadConversations = portalUserIds.length
    ? ((await trx('client_threads').where({ account_id: accountId }).whereIn('portal_user_id', portalUserIds).whereNotNull('chatwoot_conversation_id').pluck('chatwoot_conversation_id')) as Array<number | string>)
    : [];

  const personalStrings = [contact?.name, contact?.email, ...portalUsers.flatMap((u) => [u.name, u.email]), ...phones.flatMap((p) => [p, displayNumber(p)])]
    .filter((s): s is string => typeof s === 'string' && s.trim().length >= shortestScrubbed)
    .map((s) => s.trim());

  return {
    contactId,
    contact,
    erasedAt: tombstone ? (tombstone.erased_at as Date) : null,
    portalUserIds,
    phones,
    personalStrings: [...new Set(personalStrings)].sort((a, b) => b.length - a.length),
    dealIds: deals,
    jobIds: [...new Set([...jobsOfContact, ...calls.flatMap((c) => (c.job_id ? [c.job_id] : []))])],
    taskIds: [...new Set([...tasksOfContact, ...calls.flatMap((c) => (c.callback_task_id ? [c.callback_task_id] : []))])],
    callIds: calls.map((c) => c.id),
    conversationIds: [...new Set([...conversations, ...threadConversations, ...calls.flatMap((c) => (c.chatwoot_conversation_id ? [c.chatwoot_conversation_id] : []))].map(Number))],
  };
}

/** Whether anything here names the contact (else the contact is unknown in this account: 404). */
export function isKnown(person: PersonRows) {
  return Boolean(
    person.contact || person.erasedAt || person.portalUserIds.length || person.dealIds.length || person.jobIds.length || person.taskIds.length || person.callIds.length || person.conversationIds.length,
  );
}

/** `text` with every personal string replaced by "[erased]" (case-insensitive). */
export function scrubText(text: string, personal: readonly string[]): string {
  let out = text;
  for (const s of personal) out = out.replace(new RegExp(s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'gi'), '[erased]');
  return out;
}

/** The same scrub through every string of a JSON value (custom fields). */
export function scrubJson(value: unknown, personal: readonly string[]): unknown {
  if (typeof value === 'string') return scrubText(value, personal);
  if (Array.isArray(value)) return value.map((v) => scrubJson(v, personal));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrubJson(v, personal)]));
  return value;
}

/** What replaces a person's strings in text that stays. */
export const erasedMark = '[erased]';

/** The text `column` with the person's strings scrubbed, as SQL (a nested replace per string, case-insensitive). */
export function scrubbedColumn(trx: Knex.Transaction, column: string, personal: readonly string[]) {
  let sql = '??';
  const bindings: string[] = [column];
  for (const s of personal) {
    sql = `regexp_replace(${sql}, ?, ?, 'gi')`;
    bindings.push(s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), erasedMark);
  }
  return trx.raw(sql, bindings);
}
