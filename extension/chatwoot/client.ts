// The calls Onelink makes to a Chatwoot installation's application API, through our SDK
// (sdk.ts: openapi-fetch typed by Chatwoot's OpenAPI document; http.ts: timeouts, retries,
// Retry-After, and no blind repeat of a POST whose answer was lost). Answers are typed by the
// generated document; where Chatwoot differs from it, by spec/missing.ts (the one hand-typed file).
import type { components, paths } from './spec/chatwoot-api.d.ts';
import type { ContactConversation, ContactCreateBody as ContactCreate, ContactListItem, DashboardApp as HandTypedDashboardApp, InboxWithChannel, WebhookCreateBody, WebhookWithSecret } from './spec/missing.ts';
import { ChatwootError } from './http.ts';
import { answer, chatwootApi, done, type ChatwootTarget } from './sdk.ts';

export { ChatwootError, retryDelayMs, type ChatwootErrorKind } from './http.ts';
export { chatwootApi, chatwootPublicApi, type ChatwootTarget } from './sdk.ts';

type Schemas = components['schemas'];
/** Bodies we send, checked at compile time against Chatwoot's own API description. */
export type PrivateNoteBody = Schemas['conversation_message_create'];
export type WebhookBody = WebhookCreateBody;
export type AttributeDefinitionBody = Schemas['custom_attribute_create_update_payload'];
export type ChatwootMessage = Schemas['generic_id'] & Schemas['message'] & { id: number };
/** Answers we read; the document marks every field optional, we rely on these being present. */
export type Webhook = WebhookWithSecret & { id: number; url: string };
export type AttributeDefinition = Schemas['custom_attribute'] & { id: number; attribute_key: string };
export type DashboardApp = HandTypedDashboardApp;

type Account = Schemas['account'];
/** The token's user (GET /profile) with the ids and roles we rely on present. */
export type ChatwootProfile = Omit<Schemas['user'], 'accounts'> & { id: number; accounts: Array<Account & { id: number; role: NonNullable<Account['role']> }> };

export interface ChatwootClientOptions { baseUrl: string; token: string; timeoutMs: number }

/** Who the token belongs to. Tried once (a sign-in waits for it); any failure to answer is `unreachable`. */
export async function fetchProfile({ baseUrl, token, timeoutMs }: ChatwootClientOptions): Promise<ChatwootProfile> {
  let profile: Schemas['user'];
  try {
    profile = await answer(chatwootApi({ baseUrl, token, timeoutMs }, { retries: 0 }).GET('/api/v1/profile'), 'GET /api/v1/profile');
  } catch (err) {
    if (!(err instanceof ChatwootError) || err.kind === 'unauthorized') throw err;
    if (err.kind === 'unreachable' && !err.status) {
      throw new ChatwootError('unreachable', `Chatwoot at ${baseUrl} could not be reached: ${(err.cause as Error | undefined)?.message ?? err.message}`, undefined, { cause: err.cause });
    }
    if (err.status) throw new ChatwootError('unreachable', `Chatwoot answered ${err.status}`, err.status);
    throw new ChatwootError('bad_response', 'Chatwoot answered with an unexpected profile shape', undefined, { cause: err });
  }
  if (typeof profile?.id !== 'number') throw new ChatwootError('bad_response', 'Chatwoot answered with an unexpected profile shape');
  const accounts = (profile.accounts ?? []).filter((a): a is ChatwootProfile['accounts'][number] => typeof a?.id === 'number' && (a.role === 'administrator' || a.role === 'agent'));
  return { ...profile, id: profile.id, accounts };
}

/** Canonical form of an installation's address: scheme, host, port and path, no trailing slash. */
export function normaliseBaseUrl(input: string): string {
  const url = new URL(input);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('Chatwoot URL must be http(s)');
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

const conversation = (accountId: number, conversationId: number) => ({ params: { path: { account_id: accountId, conversation_id: conversationId } } });

/**
 * Posts a private note. Not repeated when its answer is lost (`outcome_unknown`): the outbox then
 * looks for the note by its marker before posting again.
 */
export function createPrivateNote(target: ChatwootTarget, accountId: number, conversationId: number, content: string, marker: Record<string, unknown>) {
  // The document declares content_attributes as an object without listed properties (generated
  // as Record<string, never>); Chatwoot stores free keys there, which lets us recognise our note.
  const body: PrivateNoteBody = { content, message_type: 'outgoing', private: true, content_attributes: marker as PrivateNoteBody['content_attributes'] };
  return answer(
    chatwootApi(target).POST('/api/v1/accounts/{account_id}/conversations/{conversation_id}/messages', { ...conversation(accountId, conversationId), body }),
    'POST messages',
  ) as Promise<ChatwootMessage>;
}

/**
 * Posts a public outgoing message: Chatwoot sends it to the customer on the conversation's own
 * channel (WhatsApp, SMS, e-mail, web widget, API inbox). Like a note, never repeated blindly when
 * its answer is lost: the caller looks for it by its marker first. Chatwoot answers before it
 * hands the message to the channel; a refusal by the channel comes later (status failed).
 */
export function createOutgoingMessage(target: ChatwootTarget, accountId: number, conversationId: number, content: string, marker: Record<string, unknown>) {
  const body: Schemas['conversation_message_create'] = { content, message_type: 'outgoing', private: false, content_attributes: marker as PrivateNoteBody['content_attributes'] };
  return answer(
    chatwootApi(target).POST('/api/v1/accounts/{account_id}/conversations/{conversation_id}/messages', { ...conversation(accountId, conversationId), body }),
    'POST messages',
  ) as Promise<ChatwootMessage & { status?: string }>;
}

/** The conversation's messages; the document says an array, Chatwoot answers { payload: [...] }: both are read. */
export async function listMessages(target: ChatwootTarget, accountId: number, conversationId: number): Promise<ChatwootMessage[]> {
  const list = await answer(chatwootApi(target).GET('/api/v1/accounts/{account_id}/conversations/{conversation_id}/messages', conversation(accountId, conversationId)), 'GET messages');
  return (Array.isArray(list) ? list : (list.payload ?? [])) as ChatwootMessage[];
}

export async function getConversationAttributes(target: ChatwootTarget, accountId: number, conversationId: number): Promise<Record<string, unknown>> {
  const shown = await answer(chatwootApi(target).GET('/api/v1/accounts/{account_id}/conversations/{conversation_id}', conversation(accountId, conversationId)), 'GET conversation');
  return (shown.custom_attributes as Record<string, unknown> | undefined) ?? {};
}

// Replaces the conversation's whole custom attribute set (REFERENCE.md), so callers merge first. Idempotent, though a POST.
export function setConversationAttributes(target: ChatwootTarget, accountId: number, conversationId: number, attributes: Record<string, unknown>) {
  return done(
    chatwootApi(target).POST('/api/v1/accounts/{account_id}/conversations/{conversation_id}/custom_attributes', { ...conversation(accountId, conversationId), body: { custom_attributes: attributes } }),
    'POST custom_attributes',
  );
}

// --- Contacts and conversations, for threading calls ---
type JsonBody<P extends keyof paths, M extends 'post'> = paths[P][M] extends { requestBody?: { content: { 'application/json; charset=utf-8': infer B } } } ? B : never;
export type ContactCreateBody = ContactCreate;
export type ConversationCreateBody = JsonBody<'/api/v1/accounts/{account_id}/conversations', 'post'>;
export type ChatwootContact = ContactListItem;
export type ChatwootConversationSummary = ContactConversation;

/**
 * Contacts whose phone number is exactly `e164`, through the filter endpoint (search matches
 * substrings and is rate-limited to 100 a minute per account). A read, though it is a POST (retried as one).
 */
export async function contactsWithPhone(target: ChatwootTarget, accountId: number, e164: string): Promise<ChatwootContact[]> {
  const found = await answer(
    chatwootApi(target).POST('/api/v1/accounts/{account_id}/contacts/filter', {
      params: { path: { account_id: accountId } },
      body: { payload: [{ attribute_key: 'phone_number', filter_operator: 'equal_to', values: [e164] }] },
    }),
    'POST contacts/filter',
  );
  return found.payload ?? [];
}

export async function createContact(target: ChatwootTarget, accountId: number, body: ContactCreateBody): Promise<ChatwootContact> {
  const created = await answer(chatwootApi(target).POST('/api/v1/accounts/{account_id}/contacts', { params: { path: { account_id: accountId } }, body }), 'POST contacts');
  const contact = created.payload?.contact;
  if (!contact || typeof contact.id !== 'number') throw new ChatwootError('bad_response', 'Chatwoot created a contact but did not say which');
  return contact;
}

/** Deletes a contact (Chatwoot sends no webhook for it). */
export function deleteContact(target: ChatwootTarget, accountId: number, contactId: number) {
  return done(chatwootApi(target).DELETE('/api/v1/accounts/{account_id}/contacts/{id}', { params: { path: { account_id: accountId, id: contactId } } }), 'DELETE contact');
}

export async function contactConversations(target: ChatwootTarget, accountId: number, contactId: number): Promise<ChatwootConversationSummary[]> {
  const list = await answer(chatwootApi(target).GET('/api/v1/accounts/{account_id}/contacts/{id}/conversations', { params: { path: { account_id: accountId, id: contactId } } }), 'GET contact conversations');
  return list.payload ?? [];
}

export async function createContactInbox(target: ChatwootTarget, accountId: number, contactId: number, inboxId: number): Promise<string> {
  const link = await answer(
    chatwootApi(target).POST('/api/v1/accounts/{account_id}/contacts/{id}/contact_inboxes', { params: { path: { account_id: accountId, id: contactId } }, body: { inbox_id: inboxId } }),
    'POST contact_inboxes',
  );
  if (!link.source_id) throw new ChatwootError('bad_response', 'Chatwoot did not return the contact inbox source id');
  return link.source_id;
}

export async function createConversation(target: ChatwootTarget, accountId: number, body: ConversationCreateBody): Promise<number> {
  const created = await answer(chatwootApi(target).POST('/api/v1/accounts/{account_id}/conversations', { params: { path: { account_id: accountId } }, body }), 'POST conversations');
  if (typeof created.id !== 'number') throw new ChatwootError('bad_response', 'Chatwoot created a conversation but did not say which');
  return created.id;
}

// --- Lists, for the sync of the contact and conversation caches ---
type ListQuery<P extends keyof paths> = paths[P] extends { get: { parameters: { query?: infer Q } } } ? NonNullable<Q> : never;
export type ContactListQuery = ListQuery<'/api/v1/accounts/{account_id}/contacts'>;
export type ConversationListQuery = ListQuery<'/api/v1/accounts/{account_id}/conversations'>;
export type ConversationListItem = NonNullable<NonNullable<Schemas['conversation_list']['data']>['payload']>[number];

/** One page of the account's contacts (Chatwoot pages them by 15) and their total, when Chatwoot says. */
export async function listContacts(target: ChatwootTarget, accountId: number, query: ContactListQuery, { retries = 3 } = {}) {
  const page = await answer(chatwootApi(target, { retries }).GET('/api/v1/accounts/{account_id}/contacts', { params: { path: { account_id: accountId }, query } }), 'GET contacts');
  return { items: page.payload ?? [], total: typeof page.meta?.count === 'number' ? page.meta.count : null };
}

/** One page of the account's conversations with a status (Chatwoot pages them by 25, latest activity first). */
export async function listConversations(target: ChatwootTarget, accountId: number, query: ConversationListQuery, { retries = 3 } = {}) {
  const page = await answer(chatwootApi(target, { retries }).GET('/api/v1/accounts/{account_id}/conversations', { params: { path: { account_id: accountId }, query } }), 'GET conversations');
  return { items: page.data?.payload ?? [], total: page.data?.meta?.all_count ?? null };
}

// --- Inboxes, for the portals' API-channel inboxes ---
export type ChatwootInbox = InboxWithChannel;

/** The account's inboxes (newer Chatwoots answer { payload: [...] }, the document a bare array: both are read). */
export async function listInboxes(target: ChatwootTarget, accountId: number): Promise<ChatwootInbox[]> {
  const list = await answer(chatwootApi(target).GET('/api/v1/accounts/{account_id}/inboxes', { params: { path: { account_id: accountId } } }), 'GET inboxes');
  return (Array.isArray(list) ? list : (list.payload ?? [])).filter((i): i is ChatwootInbox => typeof i?.id === 'number');
}

/** Creates an API-channel inbox (an administrator's token). Not repeated blindly: list first when its answer was lost. */
export async function createApiInbox(target: ChatwootTarget, accountId: number, name: string): Promise<ChatwootInbox & { inbox_identifier: string }> {
  const inbox = await answer(chatwootApi(target).POST('/api/v1/accounts/{account_id}/inboxes/', { params: { path: { account_id: accountId } }, body: { name, channel: { type: 'api' } } }), 'POST inboxes');
  if (typeof inbox.id !== 'number' || typeof inbox.inbox_identifier !== 'string' || !inbox.inbox_identifier) {
    throw new ChatwootError('bad_response', 'Chatwoot created an inbox but gave no id or inbox identifier');
  }
  return inbox as ChatwootInbox & { inbox_identifier: string };
}
