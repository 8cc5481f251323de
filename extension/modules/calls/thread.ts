// Threads a call into Chatwoot: the contact by phone number (created when Chatwoot has never seen
// it), then that contact's open conversation in the account's call inbox (created when there is
// none). Every step looks before it creates, so a retry after a crash or a timeout finds what
// the previous attempt made instead of making it twice.
import { displayNumber, toE164 } from '../../phones/e164.ts';
import {
  ChatwootError,
  contactConversations,
  createContact,
  createContactInbox,
  createConversation,
  contactsWithPhone,
  type ChatwootTarget,
} from '../../chatwoot/client.ts';

/**
 * The caller's Chatwoot contact: our cache first (kept by Chatwoot's webhooks), then Chatwoot's
 * exact phone filter, else a new contact named by the number. Two processes creating the same
 * contact at once: Chatwoot refuses the second (phone taken), which then finds the first's.
 */
export async function findOrCreateContact(
  target: ChatwootTarget,
  chatwootAccountId: number,
  phone: string,
  inboxId: number,
  cache: { find: (phone: string) => Promise<number | undefined>; remember: (contactId: number, phone: string) => Promise<void> },
): Promise<number> {
  const cached = await cache.find(phone);
  if (cached) return cached;
  const lookUp = async () => (await contactsWithPhone(target, chatwootAccountId, phone)).find((c) => toE164(c.phone_number) === phone)?.id;
  const found = await lookUp();
  if (found) return found;
  let created: number;
  try {
    created = (await createContact(target, chatwootAccountId, { inbox_id: inboxId, name: displayNumber(phone), phone_number: phone })).id;
  } catch (err) {
    const taken = err instanceof ChatwootError && err.status === 422 ? await lookUp() : undefined;
    if (!taken) throw err;
    created = taken;
  }
  await cache.remember(created, phone); // the contact_created webhook will confirm it later
  return created;
}

export async function findOrOpenConversation(target: ChatwootTarget, chatwootAccountId: number, contactId: number, inboxId: number): Promise<number> {
  const conversations = await contactConversations(target, chatwootAccountId, contactId);
  const open = conversations
    .filter((c) => c.inbox_id === inboxId && (c.status === 'open' || c.status === 'pending' || c.status === 'snoozed'))
    .sort((a, b) => (b.last_activity_at ?? 0) - (a.last_activity_at ?? 0) || b.id - a.id)[0];
  if (open) return open.id;
  const sourceId = await createContactInbox(target, chatwootAccountId, contactId, inboxId);
  // The document types these ids as strings; Chatwoot accepts both.
  return createConversation(target, chatwootAccountId, { source_id: sourceId, inbox_id: String(inboxId), contact_id: String(contactId), status: 'open' });
}
