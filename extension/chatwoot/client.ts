// Calls to a Chatwoot installation's REST API. The token travels as `Api-Access-Token` (hyphens:
// proxies such as nginx drop headers with underscores by default; Chatwoot accepts both).
// Reads are retried with backoff and jitter on 429/5xx/network errors, honouring Retry-After;
// writes are never retried blindly here (the outbox decides, after checking what happened).
import { z } from 'zod';
// Generated from Chatwoot's OpenAPI document by `npm run chatwoot:types` (part of `npm run typecheck`).
import type { components, paths } from './spec/chatwoot-api.d.ts';

type Schemas = components['schemas'];
/** Bodies we send, checked at compile time against Chatwoot's own API description. */
export type PrivateNoteBody = Schemas['conversation_message_create'];
export type WebhookBody = Schemas['webhook_create_update_payload'];
export type AttributeDefinitionBody = Schemas['custom_attribute_create_update_payload'];
export type ChatwootMessage = Schemas['generic_id'] & Schemas['message'] & { id: number };
/** Answers we read; the document marks every field optional, we rely on these being present. */
export type Webhook = Schemas['webhook'] & { id: number; url: string } & HandTyped['webhookSecret'];
export type AttributeDefinition = Schemas['custom_attribute'] & { id: number; attribute_key: string };
export type DashboardApp = HandTyped['dashboardApp'];

export class ChatwootError extends Error {
  constructor(
    readonly kind: 'unauthorized' | 'unreachable' | 'bad_response',
    message: string,
    readonly status?: number,
    options?: ErrorOptions, // `cause`: the network error behind an unreachable Chatwoot
  ) {
    super(message, options);
  }
}

const profileSchema = z.object({
  id: z.number().int(),
  name: z.string().nullish(),
  available_name: z.string().nullish(),
  email: z.string().nullish(),
  accounts: z
    .array(
      z.object({
        id: z.number().int(),
        name: z.string().nullish(),
        role: z.enum(['administrator', 'agent']),
        status: z.string().nullish(),
      }),
    )
    .default([]),
});
export type ChatwootProfile = z.infer<typeof profileSchema>;

export interface ChatwootClientOptions { baseUrl: string; token: string; timeoutMs: number }

export async function fetchProfile({ baseUrl, token, timeoutMs }: ChatwootClientOptions): Promise<ChatwootProfile> {
  let response: Response;
  try {
    response = await fetch(`${baseUrl}/api/v1/profile`, {
      headers: { 'Api-Access-Token': token, Accept: 'application/json' },
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'error',
    });
  } catch (err) {
    throw new ChatwootError('unreachable', `Chatwoot at ${baseUrl} could not be reached: ${(err as Error).message}`, undefined, { cause: err });
  }
  if (response.status === 401 || response.status === 403) {
    throw new ChatwootError('unauthorized', 'Chatwoot did not accept this access token', response.status);
  }
  if (!response.ok) throw new ChatwootError('unreachable', `Chatwoot answered ${response.status}`, response.status);
  const parsed = profileSchema.safeParse(await response.json().catch(() => null));
  if (!parsed.success) throw new ChatwootError('bad_response', 'Chatwoot answered with an unexpected profile shape');
  return parsed.data;
}

/** Canonical form of an installation's address: scheme, host, port and path, no trailing slash. */
export function normaliseBaseUrl(input: string): string {
  const url = new URL(input);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('Chatwoot URL must be http(s)');
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

export interface ChatwootTarget { baseUrl: string; token: string; timeoutMs: number }

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Backoff for attempt n (1-based): exponential with full jitter, capped; Retry-After wins when given. */
export function retryDelayMs(attempt: number, retryAfter: string | null, capMs = 10_000): number {
  const seconds = retryAfter !== null && /^\d+$/.test(retryAfter) ? Number(retryAfter) : null;
  if (seconds !== null) return Math.min(seconds * 1000, 60_000);
  // Retry-After may also be an HTTP date (RFC 9110).
  const until = retryAfter ? Date.parse(retryAfter) : NaN;
  if (!Number.isNaN(until)) return Math.min(Math.max(0, until - Date.now()), 60_000);
  return Math.round(Math.random() * Math.min(capMs, 250 * 2 ** attempt));
}

/** One request to the Chatwoot API; GETs are retried, other methods are tried once. */
export async function chatwootRequest<T>(target: ChatwootTarget, method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown, { retries = 3 } = {}): Promise<T> {
  const attempts = method === 'GET' ? retries + 1 : 1;
  for (let attempt = 1; ; attempt++) {
    let response: Response;
    try {
      response = await fetch(`${target.baseUrl}${path}`, {
        method,
        headers: { 'Api-Access-Token': target.token, Accept: 'application/json', ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(target.timeoutMs),
        redirect: 'error',
      });
    } catch (err) {
      if (attempt < attempts) {
        await sleep(retryDelayMs(attempt, null));
        continue;
      }
      throw new ChatwootError('unreachable', `Chatwoot ${method} ${path} failed: ${(err as Error).message}`, undefined, { cause: err });
    }
    if (response.ok) return (await response.json().catch(() => null)) as T;
    if ((response.status === 429 || response.status >= 500) && attempt < attempts) {
      await sleep(retryDelayMs(attempt, response.headers.get('retry-after')));
      continue;
    }
    if (response.status === 401 || response.status === 403) throw new ChatwootError('unauthorized', `Chatwoot refused ${method} ${path}`, response.status);
    if (response.status === 429 || response.status >= 500) throw new ChatwootError('unreachable', `Chatwoot answered ${response.status} to ${method} ${path}`, response.status);
    throw new ChatwootError('bad_response', `Chatwoot answered ${response.status} to ${method} ${path}`, response.status);
  }
}


const conversationPath = (accountId: number, conversationId: number) => `/api/v1/accounts/${accountId}/conversations/${conversationId}`;

export function createPrivateNote(target: ChatwootTarget, accountId: number, conversationId: number, content: string, marker: Record<string, unknown>) {
  // The document declares content_attributes as an object without listed properties (generated
  // as Record<string, never>); Chatwoot stores free keys there, which lets us recognise our note.
  const body: PrivateNoteBody = { content, message_type: 'outgoing', private: true, content_attributes: marker as PrivateNoteBody['content_attributes'] };
  return chatwootRequest<ChatwootMessage>(target, 'POST', `${conversationPath(accountId, conversationId)}/messages`, body);
}

/** The conversation's messages; the spec documents an array, Chatwoot answers { payload: [...] }: both are read. */
export async function listMessages(target: ChatwootTarget, accountId: number, conversationId: number): Promise<ChatwootMessage[]> {
  const answer = await chatwootRequest<ChatwootMessage[] | { payload?: ChatwootMessage[] }>(target, 'GET', `${conversationPath(accountId, conversationId)}/messages`);
  return Array.isArray(answer) ? answer : (answer?.payload ?? []);
}

export async function getConversationAttributes(target: ChatwootTarget, accountId: number, conversationId: number): Promise<Record<string, unknown>> {
  const conversation = await chatwootRequest<{ custom_attributes?: Record<string, unknown> | null }>(target, 'GET', conversationPath(accountId, conversationId));
  return conversation?.custom_attributes ?? {};
}

// --- Not in Chatwoot's OpenAPI document; typed here by hand. ---
interface HandTyped {
  /** Chatwoot 4.x returns the webhook's signing secret with the webhook; the document predates it. */
  webhookSecret: { secret?: string | null };
  /** /dashboard_apps is absent from the document (see REFERENCE.md, dashboard apps). */
  dashboardApp: { id: number; title: string; content?: Array<{ type: 'frame'; url: string }> };
  /** The document says the contact list is a bare array; Chatwoot answers { meta: { count, current_page }, payload }. */
  contactList: { meta?: { count?: number; current_page?: number | string }; payload?: Array<Record<string, unknown>> };
}

// Replaces the conversation's whole custom attribute set (REFERENCE.md), so callers merge first.
export function setConversationAttributes(target: ChatwootTarget, accountId: number, conversationId: number, attributes: Record<string, unknown>) {
  return chatwootRequest<unknown>(target, 'POST', `${conversationPath(accountId, conversationId)}/custom_attributes`, { custom_attributes: attributes });
}

// --- Contacts and conversations, for threading calls (the document describes these) ---
type JsonBody<P extends keyof paths, M extends 'post'> = paths[P][M] extends { requestBody?: { content: { 'application/json; charset=utf-8': infer B } } } ? B : never;
export type ContactCreateBody = Schemas['contact_create'];
export type ConversationCreateBody = JsonBody<'/api/v1/accounts/{account_id}/conversations', 'post'>;
export interface ChatwootContact { id: number; name?: string | null; phone_number?: string | null; email?: string | null }
export interface ChatwootConversationSummary { id: number; inbox_id?: number; status?: string; last_activity_at?: number }

/** Chatwoot answers lists as { payload: [...] } where the document says a bare array: both are read. */
const listOf = <T>(answer: T[] | { payload?: T[] } | null) => (Array.isArray(answer) ? answer : (answer?.payload ?? []));

/**
 * Contacts whose phone number is exactly `e164`, through the filter endpoint (search matches
 * substrings and is rate-limited to 100 a minute per account). A read, though it is a POST.
 */
export async function contactsWithPhone(target: ChatwootTarget, accountId: number, e164: string): Promise<ChatwootContact[]> {
  const body: JsonBody<'/api/v1/accounts/{account_id}/contacts/filter', 'post'> = { payload: [{ attribute_key: 'phone_number', filter_operator: 'equal_to', values: [e164] }] };
  return listOf(await chatwootRequest<ChatwootContact[] | { payload?: ChatwootContact[] }>(target, 'POST', `/api/v1/accounts/${accountId}/contacts/filter`, body));
}

export async function createContact(target: ChatwootTarget, accountId: number, body: ContactCreateBody): Promise<ChatwootContact> {
  // Answered as { payload: { contact: {...}, contact_inbox: {...} } }.
  const answer = await chatwootRequest<{ payload?: { contact?: ChatwootContact } } & Partial<ChatwootContact>>(target, 'POST', `/api/v1/accounts/${accountId}/contacts`, body);
  const contact = answer?.payload?.contact ?? (typeof answer?.id === 'number' ? (answer as ChatwootContact) : undefined);
  if (!contact || typeof contact.id !== 'number') throw new ChatwootError('bad_response', 'Chatwoot created a contact but did not say which');
  return contact;
}

export async function contactConversations(target: ChatwootTarget, accountId: number, contactId: number): Promise<ChatwootConversationSummary[]> {
  return listOf(await chatwootRequest<ChatwootConversationSummary[] | { payload?: ChatwootConversationSummary[] }>(target, 'GET', `/api/v1/accounts/${accountId}/contacts/${contactId}/conversations`));
}

export async function createContactInbox(target: ChatwootTarget, accountId: number, contactId: number, inboxId: number): Promise<string> {
  const answer = await chatwootRequest<Schemas['contact_inboxes']>(target, 'POST', `/api/v1/accounts/${accountId}/contacts/${contactId}/contact_inboxes`, { inbox_id: inboxId });
  if (!answer?.source_id) throw new ChatwootError('bad_response', 'Chatwoot did not return the contact inbox source id');
  return answer.source_id;
}

export async function createConversation(target: ChatwootTarget, accountId: number, body: ConversationCreateBody): Promise<number> {
  const answer = await chatwootRequest<{ id?: number }>(target, 'POST', `/api/v1/accounts/${accountId}/conversations`, body);
  if (typeof answer?.id !== 'number') throw new ChatwootError('bad_response', 'Chatwoot created a conversation but did not say which');
  return answer.id;
}

// --- Lists, for the sync of the contact and conversation caches ---
type ListQuery<P extends keyof paths> = paths[P] extends { get: { parameters: { query?: infer Q } } } ? NonNullable<Q> : never;
export type ContactListQuery = ListQuery<'/api/v1/accounts/{account_id}/contacts'>;
export type ConversationListQuery = ListQuery<'/api/v1/accounts/{account_id}/conversations'>;
export type ConversationListItem = NonNullable<NonNullable<Schemas['conversation_list']['data']>['payload']>[number];
const queryString = (query: object) =>
  new URLSearchParams(Object.entries(query).flatMap(([k, v]) => (v === undefined ? [] : [[k, Array.isArray(v) ? v.join(',') : String(v)]]))).toString();

/** One page of the account's contacts (Chatwoot pages them by 15) and their total, when Chatwoot says. */
export async function listContacts(target: ChatwootTarget, accountId: number, query: ContactListQuery, { retries = 3 } = {}) {
  const answer = await chatwootRequest<Schemas['contact_list'] | HandTyped['contactList'] | null>(target, 'GET', `/api/v1/accounts/${accountId}/contacts?${queryString(query)}`, undefined, { retries });
  if (Array.isArray(answer)) return { items: answer as Array<Record<string, unknown>>, total: null };
  return { items: answer?.payload ?? [], total: typeof answer?.meta?.count === 'number' ? answer.meta.count : null };
}

/** One page of the account's conversations with a status (Chatwoot pages them by 25, latest activity first). */
export async function listConversations(target: ChatwootTarget, accountId: number, query: ConversationListQuery, { retries = 3 } = {}) {
  const answer = await chatwootRequest<Schemas['conversation_list'] | null>(target, 'GET', `/api/v1/accounts/${accountId}/conversations?${queryString(query)}`, undefined, { retries });
  return { items: answer?.data?.payload ?? [], total: answer?.data?.meta?.all_count ?? null };
}
