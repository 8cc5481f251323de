// Threads a call into Chatwoot: the contact by phone number (created when Chatwoot has never seen
// it), then that contact's open conversation in the account's call inbox (created when there is
// none). Every step looks before it creates, so a retry after a crash or a timeout finds what
// the previous attempt made instead of making it twice.
import type { Knex } from 'knex';
import parsePhoneNumber from 'libphonenumber-js/max';
import {
  contactConversations,
  createContact,
  createContactInbox,
  createConversation,
  contactsWithPhone,
  type ChatwootTarget,
} from '../../chatwoot/client.ts';

const e164Of = (raw: string | null | undefined) => {
  if (!raw) return null;
  const parsed = parsePhoneNumber(raw);
  return parsed?.isValid() ? parsed.number : null;
};

/** How a caller is named in Chatwoot until someone knows better: their number, readably. */
export function displayNumber(e164: string) {
  return parsePhoneNumber(e164)?.formatInternational() ?? e164;
}

export async function findOrCreateContact(
  trx: Knex.Transaction,
  target: ChatwootTarget,
  ids: { accountId: number; chatwootAccountId: number },
  phone: string,
  inboxId: number,
): Promise<number> {
  // Our cache of Chatwoot contacts (kept by its webhooks) answers most calls without a request.
  const cached = await trx('chatwoot_contacts').where({ account_id: ids.accountId, phone_e164: phone }).orderBy('chatwoot_contact_id').first('chatwoot_contact_id');
  if (cached) return cached.chatwoot_contact_id as number;
  const found = (await contactsWithPhone(target, ids.chatwootAccountId, phone)).find((c) => e164Of(c.phone_number) === phone);
  if (found) return found.id;
  const created = await createContact(target, ids.chatwootAccountId, { inbox_id: inboxId, name: displayNumber(phone), phone_number: phone });
  // Remember it now: the contact_created webhook will confirm it later.
  await trx('chatwoot_contacts')
    .insert({ account_id: ids.accountId, chatwoot_contact_id: created.id, name: displayNumber(phone), phone_e164: phone })
    .onConflict(['account_id', 'chatwoot_contact_id'])
    .ignore();
  return created.id;
}

export async function findOrOpenConversation(target: ChatwootTarget, chatwootAccountId: number, contactId: number, inboxId: number): Promise<number> {
  const conversations = await contactConversations(target, chatwootAccountId, contactId);
  const open = conversations
    .filter((c) => c.inbox_id === inboxId && (c.status === 'open' || c.status === 'pending'))
    .sort((a, b) => (b.last_activity_at ?? 0) - (a.last_activity_at ?? 0) || b.id - a.id)[0];
  if (open) return open.id;
  const sourceId = await createContactInbox(target, chatwootAccountId, contactId, inboxId);
  // The document types these ids as strings; Chatwoot accepts both.
  return createConversation(target, chatwootAccountId, { source_id: sourceId, inbox_id: String(inboxId), contact_id: String(contactId), status: 'open' });
}
