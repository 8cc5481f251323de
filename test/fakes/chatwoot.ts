// A fake Chatwoot for tests: an HTTP server holding the state of the endpoints Onelink uses.
// Every request it receives is validated against Chatwoot's own OpenAPI document (unknown path,
// method, field or wrong type is recorded as a contract violation, which the tests assert is
// empty), and every answer it gives is validated against the same document.
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import express, { type ErrorRequestHandler } from 'express';
import * as OpenApiValidator from 'express-openapi-validator';
import { repoRoot } from '../helpers/processes.ts';
import { chatwootDelivery, contactEvent } from './chatwoot-webhooks.ts';

export const chatwootSpecPath = path.join(repoRoot, 'extension', 'chatwoot', 'spec', 'chatwoot-openapi.json');

export interface FakeAgent {
  id: number;
  name: string;
  email: string;
  token: string;
  /** Chatwoot accounts and the agent's role in each. */
  accounts: Array<{ id: number; name: string; role: 'administrator' | 'agent' }>;
}

export interface FakeChatwoot {
  url: string;
  /** Requests that broke Chatwoot's API contract, or that the fake does not implement. */
  violations: string[];
  /** Returns the violations seen since the last call, and forgets them. */
  takeViolations(): string[];
  requests: Array<{ method: string; path: string }>;
  addAgent(agent: FakeAgent): FakeAgent;
  removeFromAccount(agentId: number, accountId: number): void;
  setRole(agentId: number, accountId: number, role: 'administrator' | 'agent'): void;
  revokeToken(token: string): void;
  /** While set, every API call answers this status (e.g. 500), or hangs with 'timeout'. */
  outage: number | 'timeout' | null;
  /** The next N write calls are carried out but never answered (the caller times out not knowing). */
  swallowWrites: number;
  /** Conversations by `${accountId}:${displayId}`: their custom attributes and messages. */
  conversations: Map<string, FakeConversation>;
  webhooks: Array<{ id: number; accountId: number; url: string; subscriptions: string[]; secret: string }>;
  /**
   * How contact changes reach registered webhooks (subscribed events only, after the API answer,
   * one attempt, as Chatwoot does): 'signed' the 4.11+ way with the secret the API returned,
   * 'wrong_secret' signed with another key (chatwoot/chatwoot#13809), 'none' never sent.
   */
  webhookDelivery: 'signed' | 'wrong_secret' | 'none';
  /** Webhook deliveries the fake sent: where, which event, and the answer's status (or the network error). */
  webhookDeliveries: Array<{ url: string; event: string; status: number | string }>;
  dashboardApps: Array<{ id: number; accountId: number; title: string; content: Array<{ type: string; url: string }> }>;
  attributeDefinitions: Array<{ id: number; accountId: number; attribute_key: string; attribute_display_name: string; attribute_display_type: number; attribute_model: number }>;
  addConversation(accountId: number, displayId: number, customAttributes?: Record<string, unknown>): FakeConversation;
  contacts: FakeContact[];
  addContact(contact: Omit<FakeContact, 'id' | 'email'> & { email?: string | null }): FakeContact;
  /** Adds `count` contacts to an account at once (with phones, so Chatwoot's contact list shows them). */
  seedContacts(accountId: number, count: number, make?: (i: number) => Partial<FakeContact>): FakeContact[];
  /** Changes a contact the way Chatwoot does without telling us (no webhook), e.g. a message we never heard of. */
  touchContact(contact: FakeContact, changes: Partial<Omit<FakeContact, 'id' | 'accountId'>>): void;
  /** API-channel inboxes, which the public client API (/public/api/v1/inboxes/{identifier}/…) serves; also listed and created through the account API. */
  apiInboxes: FakeApiInbox[];
  addApiInbox(accountId: number, inboxId?: number, name?: string): FakeApiInbox;
  /**
   * An agent writes in a conversation from Chatwoot's dashboard (a reply, or a private note with
   * `private: true`), with attachments as Chatwoot stores them: announced like any message.
   */
  agentMessage(accountId: number, conversationId: number, message: { content: string; private?: boolean; attachments?: FakeAttachment[] }): FakeConversation['messages'][number];
  /** After `afterRequests` more API calls, answers the next `times` with 429 and this Retry-After (seconds or an HTTP date). */
  throttle(options: { afterRequests: number; retryAfter: string; times?: number }): void;
  /** The next `times` API calls answer `status` (a passing failure, e.g. 503) without being carried out. */
  failNext(times: number, status?: number): void;
  /** The calls answered 429 by `throttle`, and when. */
  throttled: Array<{ path: string; at: number }>;
  /**
   * Whether message_created / message_updated reach the webhooks subscribed to them (signed as
   * webhookDelivery says). Off unless a test asks, so tests that post notes are not sent events they do not expect.
   */
  messageEvents: boolean;
  /**
   * Approved WhatsApp template bodies ({{1}}, {{2}} … for variables). Outside the 24-hour window
   * Chatwoot sends a message whose text matches one as that template; any other fails.
   */
  whatsappTemplates: string[];
  /**
   * How a free-form message on a WhatsApp conversation outside its window (canReply false) fails:
   * 'async' as Chatwoot does it (the POST succeeds; its SendReplyJob then sets the message's status
   * to failed with content_attributes.external_error, announced by message_updated), or 'sync'
   * (a 422 at once, as a version that checks the window on create would answer).
   */
  windowRefusal: 'async' | 'sync';
  /** The channel reports on a message later (delivered, read, or failed with its error, e.g. Meta's 131047): updated and announced like Chatwoot does. */
  updateMessageStatus(accountId: number, conversationId: number, messageId: number, status: 'delivered' | 'read' | 'failed', externalError?: string): void;
  close(): Promise<void>;
}

export interface FakeApiInbox { accountId: number; inboxId: number; identifier: string; name?: string; /** Where Chatwoot posts the inbox's events (empty: nowhere). */ webhookUrl?: string }

/** An attachment as Chatwoot's Attachment#push_event_data shows it (file_type: image, audio, video, file …). */
export interface FakeAttachment {
  file_type: string;
  data_url: string;
  thumb_url?: string;
  file_size?: number;
  /** A file a contact posted through the public API: its bytes and media type as received. */
  data?: Buffer;
  content_type?: string;
}

export interface FakeContact {
  id: number;
  accountId: number;
  name: string;
  phone_number: string | null;
  email: string | null;
  identifier?: string | null;
  /** Unix seconds of the contact's latest activity (Chatwoot's contact list sorts by it). */
  last_activity_at?: number | null;
}

export interface FakeConversation {
  id: number;
  accountId: number;
  /** The contact and inbox a conversation opened through the API belongs to. */
  contactId?: number;
  inboxId?: number;
  status?: 'open' | 'pending' | 'resolved';
  /** Unix seconds; Chatwoot lists conversations latest activity first. */
  lastActivityAt?: number;
  updatedAt?: number;
  labels?: string[];
  customAttributes: Record<string, unknown>;
  messages: Array<{
    id: number;
    content: string;
    private: boolean;
    message_type: string;
    content_attributes: Record<string, unknown>;
    created_at: number;
    /** Chatwoot's message status (absent: sent); failed comes with content_attributes.external_error. */
    status?: 'sent' | 'delivered' | 'read' | 'failed';
    source_id?: string;
    /** The name of the agent who wrote an outgoing message (absent: the installer's admin). */
    senderName?: string;
    attachments?: FakeAttachment[];
    /** What a public-API client sent as echo_id (Chatwoot hands it back on its websocket only, never in the API answers). */
    echoId?: string;
  }>;
  /** The inbox's channel type as Chatwoot names it ('Channel::Whatsapp', 'Channel::Api', 'Channel::Email' …); absent: a web widget. */
  channel?: string;
  /** Chatwoot's can_reply: false for a WhatsApp conversation whose customer last wrote more than 24 hours ago. */
  canReply?: boolean;
  /** Whether the contact is typing, as the public API's toggle_typing last said. */
  contactTyping?: boolean;
  /** Unix seconds: when the contact last read the conversation (the public API's update_last_seen). */
  contactLastSeenAt?: number;
}

/** Chatwoot's error text when no approved template matches a message outside the WhatsApp window (Whatsapp::SendOnWhatsappService). */
export const templateNotFoundError = 'Template not found or invalid template name';

/** Whether `content` fits an approved template body the way Chatwoot matches them ({{n}} matches anything). */
function matchesTemplate(template: string, content: string): boolean {
  const pattern = template
    .split(/\{\{\d+\}\}/)
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('(.*)');
  return new RegExp(`^${pattern}$`, 's').test(content);
}

export async function startFakeChatwoot(): Promise<FakeChatwoot> {
  if (!fs.existsSync(chatwootSpecPath)) throw new Error(`Chatwoot's OpenAPI document is missing at ${chatwootSpecPath}`);
  const apiSpec = JSON.parse(fs.readFileSync(chatwootSpecPath, 'utf8'));
  // The one correction to this (older) document: webhook subscriptions accept the contact events
  // the webhook object itself lists and Chatwoot sends (REFERENCE.md).
  apiSpec.components.schemas.webhook_create_update_payload.properties.subscriptions.items.enum =
    apiSpec.components.schemas.webhook.properties.subscriptions.items.enum;
  // And: a contact is created without an inbox (Chatwoot's ContactsController#create skips the
  // contact inbox when inbox_id is blank), though the document marks inbox_id required.
  delete apiSpec.components.schemas.contact_create.required;
  // And, for the public client API (as Chatwoot's public/api/v1/models jbuilder views render it):
  // no token (two of its operations inherit the document's global api_access_token requirement);
  // ids, timestamps and message types are integers, content_attributes an object, and a
  // conversation's messages are public messages. The document types them as strings
  // (extension/chatwoot/spec/missing.ts types them the same way).
  for (const [route, item] of Object.entries(apiSpec.paths as Record<string, Record<string, { security?: unknown }>>)) {
    if (!route.startsWith('/public/api/v1/inboxes/')) continue;
    for (const method of ['get', 'post', 'patch']) if (item[method]) item[method].security = [];
  }
  Object.assign(apiSpec.components.schemas.public_message.properties, {
    id: { type: 'integer' },
    message_type: { type: 'integer' },
    created_at: { type: 'integer' },
    conversation_id: { type: 'integer' },
    content_attributes: { type: 'object' },
  });
  Object.assign(apiSpec.components.schemas.public_conversation.properties, {
    inbox_id: { type: 'integer' },
    messages: { type: 'array', items: { $ref: '#/components/schemas/public_message' } },
  });
  // And: Chatwoot answers the contact list as { meta: { count, current_page }, payload: [...] }
  // (ContactsController#index, api/v1/accounts/contacts/index.json.jbuilder), where this document
  // says a bare array; the items are still checked against the document's contact.
  apiSpec.paths['/api/v1/accounts/{account_id}/contacts'].get.responses['200'].content['application/json; charset=utf-8'].schema = {
    type: 'object',
    required: ['meta', 'payload'],
    properties: {
      meta: { type: 'object', required: ['count', 'current_page'], properties: { count: { type: 'integer' }, current_page: { type: 'integer' } } },
      payload: { $ref: '#/components/schemas/contact_list' },
    },
  };
  // And: creating a message answers 422 { error } when Chatwoot cannot create it
  // (MessagesController#create rescues and renders render_could_not_create_error); the document
  // lists no 422 there.
  apiSpec.paths['/api/v1/accounts/{account_id}/conversations/{conversation_id}/messages'].post.responses['422'] = {
    description: 'Could not create the message',
    content: { 'application/json; charset=utf-8': { schema: { type: 'object', properties: { error: { type: 'string' } } } } },
  };
  // And: a conversation that does not exist is answered 404 { error } (ApplicationController's
  // RecordNotFound handler); the document describes that 404 without a body.
  const messagesPath = apiSpec.paths['/api/v1/accounts/{account_id}/conversations/{conversation_id}/messages'];
  for (const operation of [messagesPath.get, messagesPath.post]) {
    operation.responses['404'] = { description: 'Conversation not found', content: { 'application/json; charset=utf-8': { schema: { type: 'object', properties: { error: { type: 'string' } } } } } };
  }
  // And: inboxes. Chatwoot lists them as { payload: [...] } (inboxes/index.json.jbuilder) where
  // the document says a bare array; creates API channels (`channel.type: 'api'`, optional
  // webhook_url) besides the web widget the document lists; and renders an API inbox with its
  // `inbox_identifier` and `webhook_url` (api/v1/models/_inbox.json.jbuilder).
  Object.assign(apiSpec.components.schemas.inbox.properties, { inbox_identifier: { type: 'string' }, webhook_url: { type: 'string' } });
  apiSpec.paths['/api/v1/accounts/{account_id}/inboxes'].get.responses['200'].content['application/json; charset=utf-8'].schema = {
    type: 'object',
    required: ['payload'],
    properties: { payload: { type: 'array', items: { $ref: '#/components/schemas/inbox' } } },
  };
  // And: the public client API finds the inbox, contact inbox and conversation with find_by!
  // (Public::Api::V1::InboxesController), so what does not exist (or no longer does) is answered
  // 404 { error } by ApplicationController's RecordNotFound handler; the document lists 401 only.
  // Its message list takes `before` (a message id: the 20 before it; MessageFinder), which the
  // document does not list.
  for (const [route, item] of Object.entries(apiSpec.paths as Record<string, Record<string, { responses?: Record<string, unknown>; parameters?: unknown[] }>>)) {
    if (!route.startsWith('/public/api/v1/inboxes/')) continue;
    for (const method of ['get', 'post', 'patch']) {
      const operation = item[method];
      if (operation?.responses) operation.responses['404'] = { description: 'Not found', content: { 'application/json; charset=utf-8': { schema: { type: 'object', properties: { error: { type: 'string' } } } } } };
    }
  }
  apiSpec.paths['/public/api/v1/inboxes/{inbox_identifier}/contacts/{contact_identifier}/conversations/{conversation_id}/messages'].get.parameters.push({
    name: 'before',
    in: 'query',
    required: false,
    description: 'A message id: the 20 messages before it',
    schema: { type: 'integer' },
  });
  // And: a public message may carry files, posted as multipart/form-data with `attachments[]`
  // beside content and echo_id (Public::Api::V1::Inboxes::MessagesController#create); the document
  // lists JSON only (extension/chatwoot/spec/missing.ts types it the same way).
  apiSpec.paths['/public/api/v1/inboxes/{inbox_identifier}/contacts/{contact_identifier}/conversations/{conversation_id}/messages'].post.requestBody.content['multipart/form-data'] = {
    schema: {
      type: 'object',
      additionalProperties: false,
      required: ['attachments[]'],
      properties: {
        content: { type: 'string' },
        echo_id: { type: 'string' },
        // The validator stands one file part in as a single value, several as an array.
        'attachments[]': { oneOf: [{ type: 'string', format: 'binary' }, { type: 'array', minItems: 1, items: { type: 'string', format: 'binary' } }] },
      },
    },
  };
  // And: two public client API conversation actions Chatwoot routes (public/api/v1/inboxes …
  // conversations: `post :toggle_typing`, `post :update_last_seen`, in
  // Public::Api::V1::Inboxes::ConversationsController) that the document lacks. toggle_typing takes
  // typing_status 'on' or 'off' and dispatches conversation_typing_on/off; update_last_seen sets the
  // conversation's contact_last_seen_at; both answer `head :ok` (no body).
  const publicConversationParams = ['inbox_identifier', 'contact_identifier', 'conversation_id'].map((name) => ({
    name,
    in: 'path',
    required: true,
    schema: name === 'conversation_id' ? { type: 'integer' } : { type: 'string' },
  }));
  const publicNotFound = { description: 'Not found', content: { 'application/json; charset=utf-8': { schema: { type: 'object', properties: { error: { type: 'string' } } } } } };
  apiSpec.paths['/public/api/v1/inboxes/{inbox_identifier}/contacts/{contact_identifier}/conversations/{conversation_id}/toggle_typing'] = {
    post: {
      security: [],
      parameters: publicConversationParams,
      requestBody: {
        required: true,
        content: { 'application/json': { schema: { type: 'object', additionalProperties: false, required: ['typing_status'], properties: { typing_status: { type: 'string', enum: ['on', 'off'] } } } } },
      },
      responses: { '200': { description: 'Success' }, '404': publicNotFound },
    },
  };
  apiSpec.paths['/public/api/v1/inboxes/{inbox_identifier}/contacts/{contact_identifier}/conversations/{conversation_id}/update_last_seen'] = {
    post: { security: [], parameters: publicConversationParams, responses: { '200': { description: 'Success' }, '404': publicNotFound } },
  };
  // And: creating a contact inbox for a contact or inbox that does not exist is answered 404 { error }
  // (ApplicationController's RecordNotFound handler); the document lists no 404 there.
  apiSpec.paths['/api/v1/accounts/{account_id}/contacts/{id}/contact_inboxes'].post.responses['404'] = {
    description: 'Contact not found',
    content: { 'application/json; charset=utf-8': { schema: { type: 'object', properties: { error: { type: 'string' } } } } },
  };
  const inboxChannel = apiSpec.paths['/api/v1/accounts/{account_id}/inboxes/'].post.requestBody.content['application/json; charset=utf-8'].schema.properties.channel;
  inboxChannel.properties.type.enum = ['web_widget', 'api'];
  inboxChannel.properties.webhook_url = { type: 'string', description: 'API channel: where Chatwoot posts the inbox’s events' };
  const agents = new Map<number, FakeAgent>();
  const fake = {
    url: '',
    violations: [] as string[],
    requests: [] as Array<{ method: string; path: string }>,
    outage: null as number | 'timeout' | null,
    swallowWrites: 0,
    conversations: new Map<string, FakeConversation>(),
    webhooks: [] as FakeChatwoot['webhooks'],
    dashboardApps: [] as FakeChatwoot['dashboardApps'],
    attributeDefinitions: [] as FakeChatwoot['attributeDefinitions'],
    contacts: [] as FakeContact[],
    webhookDelivery: 'signed' as FakeChatwoot['webhookDelivery'],
    webhookDeliveries: [] as FakeChatwoot['webhookDeliveries'],
    messageEvents: false,
    whatsappTemplates: [] as string[],
    windowRefusal: 'async' as FakeChatwoot['windowRefusal'],
  };
  /** Sends one event to the account's webhooks subscribed to it, after the API answer, one attempt, as Chatwoot's webhook job does. */
  const announce = (accountId: number, event: string, payload: Record<string, unknown>) => {
    if (fake.webhookDelivery === 'none') return;
    for (const hook of fake.webhooks.filter((h) => h.accountId === accountId && h.subscriptions.includes(event))) {
      const secret = fake.webhookDelivery === 'wrong_secret' ? `${hook.secret}-not-the-one` : hook.secret;
      const { body, headers } = chatwootDelivery(payload, { secret });
      setImmediate(() => {
        fetch(hook.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(5000) })
          .then((res) => fake.webhookDeliveries.push({ url: hook.url, event, status: res.status }))
          .catch((err: Error) => fake.webhookDeliveries.push({ url: hook.url, event, status: err.message }));
      });
    }
  };
  /**
   * A message event's payload as Chatwoot builds it (Message#webhook_data with `event` merged in):
   * no status field; a failure shows as content_attributes.external_error.
   */
  const messageEventPayload = (event: 'message_created' | 'message_updated', conversation: FakeConversation, m: FakeConversation['messages'][number]) => ({
    event,
    id: m.id,
    content: m.content,
    content_type: 'text',
    content_attributes: { ...m.content_attributes },
    additional_attributes: {},
    message_type: m.message_type,
    private: m.private,
    created_at: new Date(m.created_at * 1000).toISOString(),
    source_id: m.source_id ?? null,
    sender: m.message_type === 'incoming' ? { id: conversation.contactId ?? 44, name: 'Contact', type: 'contact' } : { id: 1, name: m.senderName ?? 'Installer Admin', type: 'user' },
    ...(m.attachments?.length
      ? { attachments: m.attachments.map((a, i) => ({ id: m.id * 100 + i, message_id: m.id, file_type: a.file_type, account_id: conversation.accountId, extension: null, data_url: a.data_url, thumb_url: a.thumb_url ?? '', file_size: a.file_size ?? 0 })) }
      : {}),
    conversation: {
      id: conversation.id,
      display_id: conversation.id,
      inbox_id: conversation.inboxId ?? 3,
      status: conversation.status ?? 'open',
      channel: conversation.channel ?? 'Channel::WebWidget',
      can_reply: conversation.canReply ?? true,
      contact_inbox: { contact_id: conversation.contactId ?? null, inbox_id: conversation.inboxId ?? 3, source_id: null },
      labels: conversation.labels ?? [],
      additional_attributes: {},
      custom_attributes: conversation.customAttributes,
    },
    inbox: { id: conversation.inboxId ?? 3, name: 'Inbox' },
    account: { id: conversation.accountId, name: `Account ${conversation.accountId}` },
  });
  const announceMessage = (event: 'message_created' | 'message_updated', conversation: FakeConversation, m: FakeConversation['messages'][number]) => {
    if (fake.messageEvents) announce(conversation.accountId, event, messageEventPayload(event, conversation, m));
  };
  /** Sends a contact event to the account's webhooks subscribed to it, as Chatwoot's webhook job does. */
  const deliverContactEvent = (event: 'contact_created' | 'contact_updated', contact: FakeContact) => {
    if (fake.webhookDelivery === 'none') return;
    for (const hook of fake.webhooks.filter((h) => h.accountId === contact.accountId && h.subscriptions.includes(event))) {
      const payload = contactEvent(event, { id: contact.id, name: contact.name, email: contact.email ?? undefined, phone_number: contact.phone_number ?? undefined, identifier: contact.identifier ?? undefined }, { id: contact.accountId, name: `Account ${contact.accountId}` });
      const secret = fake.webhookDelivery === 'wrong_secret' ? `${hook.secret}-not-the-one` : hook.secret;
      const { body, headers } = chatwootDelivery(payload, { secret });
      setImmediate(() => {
        fetch(hook.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(5000) })
          .then((res) => fake.webhookDeliveries.push({ url: hook.url, event, status: res.status }))
          .catch((err: Error) => fake.webhookDeliveries.push({ url: hook.url, event, status: err.message }));
      });
    }
  };
  let nextContactId = 9000;
  let nextConversationId = 7000;
  const contactInboxes: Array<{ accountId: number; contactId: number; inboxId: number; sourceId: string }> = [];
  const apiInboxes: FakeApiInbox[] = [];
  const presentContact = (c: FakeContact) => ({ id: c.id, name: c.name, phone_number: c.phone_number ?? undefined, email: c.email ?? undefined, custom_attributes: {}, additional_attributes: {} });
  let nextResourceId = 1;
  const adminOf = (req: express.Request) => {
    const agent = agentByToken(req.headers['api_access_token']);
    return agent?.accounts.some((a) => a.id === Number(req.params.accountId) && a.role === 'administrator') ? agent : undefined;
  };
  let nextMessageId = 1;
  /** The agent behind the request's token, if it belongs to the path's account. */
  const memberOf = (req: express.Request) => {
    const agent = agentByToken(req.headers['api_access_token']);
    return agent?.accounts.some((a) => a.id === Number(req.params.accountId)) ? agent : undefined;
  };
  const conversationOf = (req: express.Request) => fake.conversations.get(`${req.params.accountId}:${req.params.conversationId}`);
  /** Carries out a write, then — when asked to — never answers it. */
  const answerWrite = (res: express.Response, send: () => void) => {
    if (fake.swallowWrites > 0) {
      fake.swallowWrites--;
      return;
    }
    send();
  };
  const agentByToken = (token: unknown) => [...agents.values()].find((a) => a.token === token);
  let throttling: { afterRequests: number; retryAfter: string; times: number } | null = null;
  const throttled: Array<{ path: string; at: number }> = [];
  let failing = { times: 0, status: 500 };
  // Sorting 50,000 contacts for every page would make the fake the bottleneck: lists are kept
  // sorted until a contact is added or touched.
  let contactsVersion = 0;
  const sortedContacts = new Map<string, { version: number; length: number; list: FakeContact[] }>();

  const app = express();
  app.use((req, res, next) => {
    fake.requests.push({ method: req.method, path: req.path });
    // Rails reads `Api-Access-Token` and `api_access_token` alike; the spec names the latter.
    if (req.headers['api-access-token'] && !req.headers['api_access_token']) {
      req.headers['api_access_token'] = req.headers['api-access-token'] as string;
    }
    if (fake.outage === 'timeout') return; // never answers
    if (fake.outage) {
      res.status(fake.outage).json({ error: 'fake outage' });
      return;
    }
    if (failing.times > 0 && (req.path.startsWith('/api/') || req.path.startsWith('/public/api/'))) {
      failing.times--;
      res.status(failing.status).json({ error: 'fake passing failure' });
      return;
    }
    if (throttling && req.path.startsWith('/api/') && throttling.afterRequests-- <= 0 && throttling.times-- > 0) {
      throttled.push({ path: req.path, at: Date.now() });
      res.set('Retry-After', throttling.retryAfter).status(429).json({ error: 'Too many requests' });
      return;
    }
    next();
  });
  // Not part of Chatwoot's API: Onelink's dev host page (built into dist/web), served from this
  // origin so browser tests run the dashboard-app protocol across origins, as in Chatwoot.
  const webBuild = path.join(repoRoot, 'dist', 'web');
  app.use('/dev', express.static(path.join(webBuild, 'dev')));
  app.use('/assets', express.static(path.join(webBuild, 'assets')));
  // Not part of Chatwoot's API: a page that frames a dashboard app the way Chatwoot's
  // conversation view does, from this (the Chatwoot) origin. Browser tests load it.
  app.get('/__test/dashboard-host', (req, res) => {
    const appUrl = String(req.query.app ?? '');
    const escaped = appUrl.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
    res.type('html').send(`<!doctype html><html><head><title>Chatwoot (fake)</title></head>
<body style="margin:0;display:flex;height:100vh;font-family:sans-serif">
<div style="flex:1;padding:16px">Conversation</div>
<iframe id="dashboard-app" title="Onelink" src="${escaped}" style="width:360px;height:100%;border:0;border-left:1px solid #ddd"></iframe>
</body></html>`);
  });
  app.get('/favicon.ico', (_req, res) => {
    res.status(204).end();
  });
  app.use(express.json());
  // Not in Chatwoot's OpenAPI document (REFERENCE.md): validated here by hand. It replaces the set.
  app.post('/api/v1/accounts/:accountId/conversations/:conversationId/custom_attributes', (req, res) => {
    const body = req.body as { custom_attributes?: unknown };
    if (!memberOf(req)) return void res.status(401).end();
    if (!body || typeof body.custom_attributes !== 'object' || body.custom_attributes === null || Array.isArray(body.custom_attributes)) {
      fake.violations.push(`POST ${req.path}: body must be { custom_attributes: {…} }`);
      return void res.status(422).json({ error: 'custom_attributes required' });
    }
    const conversation = conversationOf(req);
    if (!conversation) return void res.status(404).json({ error: 'not found' });
    conversation.customAttributes = { ...(body.custom_attributes as Record<string, unknown>) };
    answerWrite(res, () => res.json({ custom_attributes: conversation.customAttributes }));
  });
  // Dashboard apps are not in Chatwoot's OpenAPI document (REFERENCE.md): validated here by hand.
  app.get('/api/v1/accounts/:accountId/dashboard_apps', (req, res) => {
    if (!memberOf(req)) return void res.status(401).end();
    res.json(fake.dashboardApps.filter((a) => a.accountId === Number(req.params.accountId)).map(({ accountId: _a, ...app }) => app));
  });
  app.post('/api/v1/accounts/:accountId/dashboard_apps', (req, res) => {
    if (!memberOf(req)) return void res.status(401).end();
    const body = req.body as { title?: unknown; content?: Array<{ type?: unknown; url?: unknown }> };
    const valid = typeof body?.title === 'string' && Array.isArray(body.content) && body.content.every((c) => c.type === 'frame' && typeof c.url === 'string');
    if (!valid) {
      fake.violations.push(`POST ${req.path}: body must be { title, content: [{ type: 'frame', url }] }`);
      return void res.status(422).json({ error: 'invalid dashboard app' });
    }
    const created = { id: nextResourceId++, accountId: Number(req.params.accountId), title: body.title as string, content: body.content as Array<{ type: string; url: string }> };
    fake.dashboardApps.push(created);
    res.json({ id: created.id, title: created.title, content: created.content });
  });
  app.delete('/api/v1/accounts/:accountId/dashboard_apps/:id', (req, res) => {
    if (!memberOf(req)) return void res.status(401).end();
    fake.dashboardApps = fake.dashboardApps.filter((a) => a.id !== Number(req.params.id));
    res.status(200).json({});
  });
  app.use(
    OpenApiValidator.middleware({
      apiSpec,
      validateRequests: { allowUnknownQueryParameters: false },
      validateResponses: true,
      validateSecurity: { handlers: { userApiKey: async () => true, agentBotApiKey: async () => true, platformAppApiKey: async () => true } },
      ignoreUndocumented: false,
    }),
  );

  app.get('/api/v1/profile', (req, res) => {
    const agent = agentByToken(req.headers['api_access_token']);
    if (!agent) {
      res.status(401).end(); // the spec documents this 401 with no body
      return;
    }
    res.type('application/json; charset=utf-8').send(
      JSON.stringify({
        id: agent.id,
        uid: agent.email,
        name: agent.name,
        available_name: agent.name,
        display_name: agent.name,
        email: agent.email,
        account_id: agent.accounts[0]?.id,
        role: agent.accounts[0]?.role,
        confirmed: true,
        accounts: agent.accounts.map((a) => ({ id: a.id, name: a.name, role: a.role })),
      }),
    );
  });

  app.get('/api/v1/accounts/:accountId/conversations/:conversationId', (req, res) => {
    if (!memberOf(req)) return void res.status(401).end();
    const conversation = conversationOf(req);
    if (!conversation) return void res.status(404).json({ error: 'not found' });
    res.type('application/json; charset=utf-8').send(
      JSON.stringify({ id: conversation.id, account_id: conversation.accountId, inbox_id: 3, status: 'open', custom_attributes: conversation.customAttributes, messages: [], meta: { sender: { id: 44, name: 'Contact' } } }),
    );
  });
  app.get('/api/v1/accounts/:accountId/webhooks', (req, res) => {
    if (!adminOf(req)) return void res.status(401).end();
    const hooks = fake.webhooks.filter((h) => h.accountId === Number(req.params.accountId));
    res.type('application/json; charset=utf-8').send(JSON.stringify(hooks.map((h) => ({ id: h.id, url: h.url, subscriptions: h.subscriptions, account_id: h.accountId }))));
  });
  app.post('/api/v1/accounts/:accountId/webhooks', (req, res) => {
    if (!adminOf(req)) return void res.status(401).end();
    const body = req.body as { url: string; subscriptions: string[] };
    const hook = { id: nextResourceId++, accountId: Number(req.params.accountId), url: body.url, subscriptions: body.subscriptions, secret: `whsec_${nextResourceId}_fake` };
    fake.webhooks.push(hook);
    res.type('application/json; charset=utf-8').send(JSON.stringify({ id: hook.id, url: hook.url, subscriptions: hook.subscriptions, account_id: hook.accountId, secret: hook.secret }));
  });
  app.patch('/api/v1/accounts/:accountId/webhooks/:webhookId', (req, res) => {
    if (!adminOf(req)) return void res.status(401).end();
    const hook = fake.webhooks.find((h) => h.accountId === Number(req.params.accountId) && h.id === Number(req.params.webhookId));
    if (!hook) return void res.status(404).end();
    const body = req.body as { url?: string; subscriptions?: string[] };
    Object.assign(hook, { ...(body.url !== undefined ? { url: body.url } : {}), ...(body.subscriptions !== undefined ? { subscriptions: body.subscriptions } : {}) });
    answerWrite(res, () => res.json({ id: hook.id, url: hook.url, subscriptions: hook.subscriptions, account_id: hook.accountId }));
  });
  app.delete('/api/v1/accounts/:accountId/webhooks/:webhookId', (req, res) => {
    if (!adminOf(req)) return void res.status(401).end();
    fake.webhooks = fake.webhooks.filter((h) => h.id !== Number(req.params.webhookId));
    res.status(200).end();
  });
  app.get('/api/v1/accounts/:accountId/custom_attribute_definitions', (req, res) => {
    if (!memberOf(req)) return void res.status(401).end();
    const list = fake.attributeDefinitions.filter((d) => d.accountId === Number(req.params.accountId) && String(d.attribute_model) === req.query.attribute_model);
    res.type('application/json; charset=utf-8').send(JSON.stringify(list.map(({ accountId: _a, ...d }) => d)));
  });
  app.post('/api/v1/accounts/:accountId/custom_attribute_definitions', (req, res) => {
    if (!adminOf(req)) return void res.status(401).end();
    const body = req.body as { attribute_key: string; attribute_display_name: string; attribute_display_type: number; attribute_model: number };
    const definition = { id: nextResourceId++, accountId: Number(req.params.accountId), ...body };
    fake.attributeDefinitions.push(definition);
    const { accountId: _a, ...shown } = definition;
    res.type('application/json; charset=utf-8').send(JSON.stringify(shown));
  });
  app.delete('/api/v1/accounts/:accountId/custom_attribute_definitions/:id', (req, res) => {
    if (!adminOf(req)) return void res.status(401).end();
    fake.attributeDefinitions = fake.attributeDefinitions.filter((d) => d.id !== Number(req.params.id));
    res.status(200).end();
  });
  const presentMessage = (conversation: FakeConversation, m: FakeConversation['messages'][number]) => ({
    id: m.id,
    content: m.content,
    content_type: 'text',
    content_attributes: m.content_attributes,
    message_type: m.message_type,
    created_at: m.created_at,
    private: m.private,
    sender: {},
    conversation_id: conversation.id,
    status: m.status ?? 'sent',
    ...(m.source_id ? { source_id: m.source_id } : {}),
  });
  app.get('/api/v1/accounts/:accountId/conversations/:conversationId/messages', (req, res) => {
    if (!memberOf(req)) return void res.status(401).end();
    const conversation = conversationOf(req);
    if (!conversation) return void res.status(404).json({ error: 'not found' });
    res.type('application/json; charset=utf-8').send(JSON.stringify(conversation.messages.map((m) => presentMessage(conversation, m))));
  });
  app.post('/api/v1/accounts/:accountId/conversations/:conversationId/messages', (req, res) => {
    if (!memberOf(req)) return void res.status(401).end();
    const conversation = conversationOf(req);
    if (!conversation) return void res.status(404).json({ error: 'not found' });
    const body = req.body as { content: string; private?: boolean; message_type?: string; content_attributes?: Record<string, unknown> };
    const message: FakeConversation['messages'][number] = {
      id: nextMessageId++,
      content: body.content,
      private: body.private ?? false,
      message_type: body.message_type ?? 'outgoing',
      content_attributes: body.content_attributes ?? {},
      created_at: Math.floor(Date.now() / 1000),
    };
    // What Chatwoot's SendReplyJob does with a public outgoing message on WhatsApp: outside the
    // 24-hour window (can_reply false) it looks for an approved template matching the text, and
    // fails the message when there is none.
    const toChannel = !message.private && message.message_type === 'outgoing';
    const whatsapp = toChannel && conversation.channel === 'Channel::Whatsapp';
    const refused = whatsapp && conversation.canReply === false && !fake.whatsappTemplates.some((t) => matchesTemplate(t, message.content));
    if (refused && fake.windowRefusal === 'sync') {
      return void res.status(422).type('application/json; charset=utf-8').send(JSON.stringify({ error: `${templateNotFoundError}: the 24 hour messaging window has passed` }));
    }
    conversation.messages.push(message);
    answerWrite(res, () => res.type('application/json; charset=utf-8').send(JSON.stringify(presentMessage(conversation, message))));
    announceMessage('message_created', conversation, message);
    if (whatsapp) {
      // The job runs after the answer; its outcome is announced as a message update.
      setImmediate(() => {
        if (refused) Object.assign(message, { status: 'failed', content_attributes: { ...message.content_attributes, external_error: templateNotFoundError } });
        else message.source_id = `wamid.${randomUUID().replace(/-/g, '')}`;
        announceMessage('message_updated', conversation, message);
      });
    }
  });

  // Contacts and conversations, as far as threading a phone call needs them.
  app.post('/api/v1/accounts/:accountId/contacts/filter', (req, res) => {
    if (!memberOf(req)) return void res.status(401).end();
    const filters = (req.body as { payload: Array<{ attribute_key: string; filter_operator: string; values: string[] }> }).payload;
    const found = fake.contacts.filter(
      (c) =>
        c.accountId === Number(req.params.accountId) &&
        filters.every((f) => f.attribute_key === 'phone_number' && f.filter_operator === 'equal_to' && f.values.includes(c.phone_number ?? '')),
    );
    // Chatwoot answers { meta, payload: [...] }.
    res.type('application/json; charset=utf-8').send(JSON.stringify({ meta: { count: found.length, current_page: 1 }, payload: found.map(presentContact) }));
  });
  app.post('/api/v1/accounts/:accountId/contacts', (req, res) => {
    if (!memberOf(req)) return void res.status(401).end();
    const body = req.body as { name?: string; phone_number?: string; email?: string; identifier?: string; inbox_id?: number };
    const accountId = Number(req.params.accountId);
    if (body.phone_number && fake.contacts.some((c) => c.accountId === accountId && c.phone_number === body.phone_number)) {
      return void res.status(422).json({ message: 'Phone number has already been taken' });
    }
    if (body.identifier && fake.contacts.some((c) => c.accountId === accountId && c.identifier === body.identifier)) {
      return void res.status(422).json({ message: 'Identifier has already been taken' });
    }
    const contact: FakeContact = { id: nextContactId++, accountId, name: body.name ?? '', phone_number: body.phone_number ?? null, email: body.email ?? null, identifier: body.identifier ?? null };
    fake.contacts.push(contact);
    const sourceId = body.inbox_id === undefined ? null : randomUUID();
    if (sourceId) contactInboxes.push({ accountId, contactId: contact.id, inboxId: body.inbox_id!, sourceId });
    const contactInbox = sourceId ? { source_id: sourceId, inbox: { id: body.inbox_id } } : { source_id: null, inbox: null };
    answerWrite(res, () => res.type('application/json; charset=utf-8').send(JSON.stringify({ payload: { contact: presentContact(contact), contact_inbox: contactInbox } })));
    deliverContactEvent('contact_created', contact);
  });
  app.put('/api/v1/accounts/:accountId/contacts/:id', (req, res) => {
    if (!memberOf(req)) return void res.status(401).end();
    const contact = fake.contacts.find((c) => c.accountId === Number(req.params.accountId) && c.id === Number(req.params.id));
    if (!contact) return void res.status(404).end();
    const body = req.body as { name?: string; phone_number?: string; email?: string; identifier?: string };
    Object.assign(contact, {
      ...(body.name !== undefined ? { name: body.name } : {}),
      ...(body.phone_number !== undefined ? { phone_number: body.phone_number } : {}),
      ...(body.email !== undefined ? { email: body.email } : {}),
      ...(body.identifier !== undefined ? { identifier: body.identifier } : {}),
    });
    answerWrite(res, () => res.status(204).end());
    deliverContactEvent('contact_updated', contact);
  });
  // Show contact: Chatwoot answers { payload: contact } (contacts/show.json.jbuilder).
  app.get('/api/v1/accounts/:accountId/contacts/:id', (req, res) => {
    if (!memberOf(req)) return void res.status(401).end();
    const contact = fake.contacts.find((c) => c.accountId === Number(req.params.accountId) && c.id === Number(req.params.id));
    if (!contact) return void res.status(404).end();
    res.type('application/json; charset=utf-8').send(JSON.stringify({ payload: presentContact(contact) }));
  });
  // Chatwoot sends no webhook for a deleted contact.
  app.delete('/api/v1/accounts/:accountId/contacts/:id', (req, res) => {
    if (!memberOf(req)) return void res.status(401).end();
    const index = fake.contacts.findIndex((c) => c.accountId === Number(req.params.accountId) && c.id === Number(req.params.id));
    if (index < 0) return void res.status(404).end();
    fake.contacts.splice(index, 1);
    answerWrite(res, () => res.status(200).end());
  });
  app.get('/api/v1/accounts/:accountId/contacts/:id/conversations', (req, res) => {
    if (!memberOf(req)) return void res.status(401).end();
    if (!fake.contacts.some((c) => c.accountId === Number(req.params.accountId) && c.id === Number(req.params.id))) return void res.status(404).end();
    const list = [...fake.conversations.values()].filter((c) => c.accountId === Number(req.params.accountId) && c.contactId === Number(req.params.id));
    res.type('application/json; charset=utf-8').send(
      JSON.stringify({ payload: list.map((c) => ({ id: c.id, account_id: c.accountId, inbox_id: c.inboxId, status: c.status ?? 'open', messages: [], custom_attributes: c.customAttributes })) }),
    );
  });
  app.post('/api/v1/accounts/:accountId/contacts/:id/contact_inboxes', (req, res) => {
    if (!memberOf(req)) return void res.status(401).end();
    const accountId = Number(req.params.accountId);
    const inboxId = (req.body as { inbox_id: number }).inbox_id;
    // ContactInboxesController finds the contact in the account (find: 404 when it is gone). The
    // inbox is found the same way, but the fake holds API inboxes only, so it is not checked here.
    if (!fake.contacts.some((c) => c.accountId === accountId && c.id === Number(req.params.id))) return void res.status(404).json({ error: 'Resource could not be found' });
    const existing = contactInboxes.find((ci) => ci.accountId === accountId && ci.contactId === Number(req.params.id) && ci.inboxId === inboxId);
    const entry = existing ?? { accountId, contactId: Number(req.params.id), inboxId, sourceId: randomUUID() };
    if (!existing) contactInboxes.push(entry);
    answerWrite(res, () => res.type('application/json; charset=utf-8').send(JSON.stringify({ source_id: entry.sourceId, inbox: { id: inboxId, name: 'Phone' } })));
  });
  app.post('/api/v1/accounts/:accountId/conversations', (req, res) => {
    if (!memberOf(req)) return void res.status(401).end();
    const body = req.body as { source_id: string; inbox_id: string; contact_id?: string; status?: 'open' | 'pending' | 'resolved' };
    const accountId = Number(req.params.accountId);
    const link = contactInboxes.find((ci) => ci.accountId === accountId && ci.sourceId === body.source_id && ci.inboxId === Number(body.inbox_id));
    if (!link) return void res.status(422).json({ message: 'Contact inbox not found for this source id' });
    const conversation: FakeConversation = { id: nextConversationId++, accountId, contactId: link.contactId, inboxId: link.inboxId, status: body.status ?? 'open', customAttributes: {}, messages: [] };
    fake.conversations.set(`${accountId}:${conversation.id}`, conversation);
    answerWrite(res, () => res.type('application/json; charset=utf-8').send(JSON.stringify({ id: conversation.id, account_id: accountId, inbox_id: link.inboxId })));
  });

  // Chatwoot never gives a deleted inbox's id to another.
  let highestInboxId = 49;
  const nextInboxId = () => highestInboxId + 1;
  const addInbox = (accountId: number, inboxId: number, name?: string) => {
    highestInboxId = Math.max(highestInboxId, inboxId);
    const inbox: FakeApiInbox = { accountId, inboxId, identifier: randomUUID().replace(/-/g, '').slice(0, 24), ...(name ? { name } : {}) };
    apiInboxes.push(inbox);
    return inbox;
  };
  // The public client API of API-channel inboxes: no token; the inbox identifier and the contact's source id name everything.
  const publicInbox = (req: express.Request) => apiInboxes.find((i) => i.identifier === req.params.inboxIdentifier);
  /** The contact inbox the path names (a deleted contact takes its contact inboxes with it). */
  const publicContactInbox = (req: express.Request) => {
    const inbox = publicInbox(req);
    const link =
      inbox &&
      contactInboxes.find((ci) => ci.inboxId === inbox.inboxId && ci.accountId === inbox.accountId && ci.sourceId === req.params.contactIdentifier && fake.contacts.some((c) => c.id === ci.contactId));
    return inbox && link ? { inbox, link } : undefined;
  };
  const notFound = (res: express.Response) => void res.status(404).json({ error: 'Resource could not be found' });
  const messageTypes: Record<string, number> = { incoming: 0, outgoing: 1, activity: 2, template: 3 };
  const presentPublicMessage = (conversation: FakeConversation, m: FakeConversation['messages'][number]) => ({
    id: m.id,
    content: m.content,
    message_type: messageTypes[m.message_type] ?? 0,
    content_type: 'text',
    content_attributes: m.content_attributes,
    created_at: m.created_at,
    conversation_id: conversation.id,
    // As Chatwoot's public message view renders them: attachments' push data, and the sender's.
    attachments: (m.attachments ?? []).map((a, i) => ({ id: m.id * 100 + i, message_id: m.id, file_type: a.file_type, account_id: conversation.accountId, data_url: a.data_url, thumb_url: a.thumb_url ?? '', file_size: a.file_size ?? 0 })),
    sender: m.message_type === 'incoming' ? { id: conversation.contactId ?? 44, name: 'Contact', type: 'contact' } : { id: 1, name: m.senderName ?? 'Installer Admin', available_name: m.senderName ?? 'Installer Admin', type: 'user' },
  });
  const presentPublicConversation = (c: FakeConversation) => {
    const contact = fake.contacts.find((k) => k.id === c.contactId);
    return {
      id: c.id,
      inbox_id: c.inboxId,
      status: c.status ?? 'open',
      messages: c.messages.filter((m) => !m.private).map((m) => presentPublicMessage(c, m)),
      contact: contact ? { id: contact.id, name: contact.name } : {},
    };
  };
  app.post('/public/api/v1/inboxes/:inboxIdentifier/contacts', (req, res) => {
    const inbox = publicInbox(req);
    if (!inbox) return notFound(res);
    const body = req.body as { identifier?: string; email?: string; name?: string; phone_number?: string };
    // Like ContactInboxWithContactBuilder: an existing contact of the account with this identifier, e-mail or phone is reused.
    const mine = fake.contacts.filter((c) => c.accountId === inbox.accountId);
    let contact =
      (body.identifier && mine.find((c) => c.identifier === body.identifier)) ||
      (body.email && mine.find((c) => c.email === body.email)) ||
      (body.phone_number && mine.find((c) => c.phone_number === body.phone_number)) ||
      undefined;
    if (!contact) {
      contact = { id: nextContactId++, accountId: inbox.accountId, name: body.name ?? '', phone_number: body.phone_number ?? null, email: body.email ?? null, identifier: body.identifier ?? null };
      fake.contacts.push(contact);
      contactsVersion++;
    }
    const link = { accountId: inbox.accountId, contactId: contact.id, inboxId: inbox.inboxId, sourceId: randomUUID() };
    contactInboxes.push(link);
    const shown = { id: contact.id, source_id: link.sourceId, name: contact.name, email: contact.email ?? undefined, phone_number: contact.phone_number ?? undefined, pubsub_token: randomUUID() };
    answerWrite(res, () => res.json(shown));
  });
  app.get('/public/api/v1/inboxes/:inboxIdentifier/contacts/:contactIdentifier', (req, res) => {
    const found = publicContactInbox(req);
    const contact = found && fake.contacts.find((c) => c.id === found.link.contactId);
    if (!found || !contact) return notFound(res);
    res.json({ id: contact.id, source_id: found.link.sourceId, name: contact.name, email: contact.email ?? undefined, pubsub_token: found.link.sourceId });
  });
  app.get('/public/api/v1/inboxes/:inboxIdentifier/contacts/:contactIdentifier/conversations', (req, res) => {
    const found = publicContactInbox(req);
    if (!found) return notFound(res);
    const list = [...fake.conversations.values()].filter((c) => c.accountId === found.inbox.accountId && c.contactId === found.link.contactId && c.inboxId === found.inbox.inboxId);
    res.json(list.map(presentPublicConversation));
  });
  app.post('/public/api/v1/inboxes/:inboxIdentifier/contacts/:contactIdentifier/conversations', (req, res) => {
    const found = publicContactInbox(req);
    if (!found) return notFound(res);
    const body = req.body as { custom_attributes?: Record<string, unknown> };
    const conversation: FakeConversation = {
      id: nextConversationId++,
      accountId: found.inbox.accountId,
      contactId: found.link.contactId,
      inboxId: found.inbox.inboxId,
      status: 'open',
      lastActivityAt: Math.floor(Date.now() / 1000),
      customAttributes: { ...(body.custom_attributes ?? {}) },
      messages: [],
      channel: 'Channel::Api',
    };
    fake.conversations.set(`${conversation.accountId}:${conversation.id}`, conversation);
    answerWrite(res, () => res.json(presentPublicConversation(conversation)));
  });
  const publicConversationOf = (req: express.Request) => {
    const found = publicContactInbox(req);
    const conversation = found && fake.conversations.get(`${found.inbox.accountId}:${req.params.conversationId}`);
    return conversation && conversation.contactId === found.link.contactId ? conversation : undefined;
  };
  app.get('/public/api/v1/inboxes/:inboxIdentifier/contacts/:contactIdentifier/conversations/:conversationId/messages', (req, res) => {
    const conversation = publicConversationOf(req);
    if (!conversation) return notFound(res);
    // MessageFinder: no private notes or activity; the latest 20 (before the message id `before`, if given), oldest first.
    const before = req.query.before === undefined ? Infinity : Number(req.query.before);
    const shown = conversation.messages.filter((m) => !m.private && m.message_type !== 'activity' && m.id < before);
    res.json(shown.slice(-20).map((m) => presentPublicMessage(conversation, m)));
  });
  app.post('/public/api/v1/inboxes/:inboxIdentifier/contacts/:contactIdentifier/conversations/:conversationId/messages', (req, res) => {
    const conversation = publicConversationOf(req);
    if (!conversation) return notFound(res);
    const body = req.body as { content?: string; echo_id?: string };
    // Multipart: every file part must be `attachments[]` (multer has them in memory); JSON carries none.
    const parts = (req as express.Request & { files?: Array<{ fieldname: string; originalname: string; mimetype: string; buffer: Buffer; size: number }> }).files ?? [];
    const stray = parts.filter((f) => f.fieldname !== 'attachments[]');
    if (stray.length) {
      fake.violations.push(`POST public messages: file parts must be named attachments[], not ${stray.map((f) => f.fieldname).join(', ')}`);
      return void res.status(422).json({ error: 'unexpected file field' });
    }
    if (req.is('multipart/form-data') && typeof body.content !== 'string') {
      fake.violations.push(`POST public messages: content must be a string part`);
      return void res.status(422).json({ error: 'content missing' });
    }
    const id = nextMessageId++;
    // Like Active Storage's redirect URL: the blob's signed id, then the file's name.
    const attachments: FakeAttachment[] = parts.map((f, i) => ({
      file_type: f.mimetype.startsWith('image/') ? 'image' : 'file',
      data_url: `https://chatwoot.example/rails/active_storage/blobs/redirect/${id}x${i}/${encodeURIComponent(f.originalname)}`,
      file_size: f.size,
      data: f.buffer,
      content_type: f.mimetype,
    }));
    const message: FakeConversation['messages'][number] = {
      id,
      content: body.content ?? '',
      ...(attachments.length ? { attachments } : {}),
      private: false,
      message_type: 'incoming',
      content_attributes: {},
      created_at: Math.floor(Date.now() / 1000),
      ...(body.echo_id ? { echoId: body.echo_id } : {}),
    };
    conversation.messages.push(message);
    conversation.lastActivityAt = message.created_at;
    answerWrite(res, () => res.json(presentPublicMessage(conversation, message)));
    announceMessage('message_created', conversation, message);
  });

  app.post('/public/api/v1/inboxes/:inboxIdentifier/contacts/:contactIdentifier/conversations/:conversationId/toggle_typing', (req, res) => {
    const conversation = publicConversationOf(req);
    if (!conversation) return notFound(res);
    conversation.contactTyping = (req.body as { typing_status: string }).typing_status === 'on';
    res.status(200).end();
  });
  app.post('/public/api/v1/inboxes/:inboxIdentifier/contacts/:contactIdentifier/conversations/:conversationId/update_last_seen', (req, res) => {
    const conversation = publicConversationOf(req);
    if (!conversation) return notFound(res);
    conversation.contactLastSeenAt = Math.floor(Date.now() / 1000);
    res.status(200).end();
  });

  // Inboxes: the API-channel ones (the only kind the fake holds), as the account API lists and creates them.
  const presentInbox = (i: FakeApiInbox) => ({ id: i.inboxId, name: i.name ?? `API inbox ${i.inboxId}`, channel_type: 'Channel::Api', inbox_identifier: i.identifier, webhook_url: i.webhookUrl ?? '', enable_auto_assignment: true, greeting_enabled: false });
  app.get('/api/v1/accounts/:accountId/inboxes', (req, res) => {
    if (!memberOf(req)) return void res.status(401).end();
    res.type('application/json; charset=utf-8').send(JSON.stringify({ payload: apiInboxes.filter((i) => i.accountId === Number(req.params.accountId)).map(presentInbox) }));
  });
  app.post('/api/v1/accounts/:accountId/inboxes/', (req, res) => {
    if (!adminOf(req)) return void res.status(401).end();
    const body = req.body as { name?: string; channel?: { type?: string } };
    if (body.channel?.type !== 'api' || !body.name) {
      fake.violations.push(`POST ${req.path}: the fake creates API-channel inboxes with a name only`);
      return void res.status(422).json({ error: 'not supported by the fake' });
    }
    const inbox = addInbox(Number(req.params.accountId), nextInboxId(), body.name);
    answerWrite(res, () => res.type('application/json; charset=utf-8').send(JSON.stringify(presentInbox(inbox))));
  });

  // The contact list, as Chatwoot pages it (15 a page; only contacts with an e-mail, phone or identifier).
  const contactOrder: Record<string, (a: FakeContact, b: FakeContact) => number> = {
    '-last_activity_at': (a, b) => (b.last_activity_at ?? -Infinity) - (a.last_activity_at ?? -Infinity) || b.id - a.id,
    last_activity_at: (a, b) => (a.last_activity_at ?? Infinity) - (b.last_activity_at ?? Infinity) || a.id - b.id,
    name: (a, b) => a.name.localeCompare(b.name) || a.id - b.id,
    '-name': (a, b) => b.name.localeCompare(a.name) || b.id - a.id,
    '': (a, b) => a.id - b.id,
  };
  app.get('/api/v1/accounts/:accountId/contacts', (req, res) => {
    if (!memberOf(req)) return void res.status(401).end();
    const accountId = Number(req.params.accountId);
    const sort = String(req.query.sort ?? '');
    const key = `${accountId}:${sort}`;
    let sorted = sortedContacts.get(key);
    if (!sorted || sorted.version !== contactsVersion || sorted.length !== fake.contacts.length) {
      const list = fake.contacts.filter((c) => c.accountId === accountId && (c.email || c.phone_number || c.identifier)).sort(contactOrder[sort] ?? contactOrder['']);
      sorted = { version: contactsVersion, length: fake.contacts.length, list };
      sortedContacts.set(key, sorted);
    }
    const page = Number(req.query.page ?? 1);
    const items = sorted.list.slice((page - 1) * 15, page * 15).map((c) => ({
      ...presentContact(c),
      identifier: c.identifier ?? undefined,
      thumbnail: '',
      availability_status: 'offline',
      blocked: false,
      ...(c.last_activity_at ? { last_activity_at: c.last_activity_at } : {}),
    }));
    res.json({ meta: { count: sorted.list.length, current_page: page }, payload: items });
  });
  // The conversation list (ConversationFinder): one status (open by default), latest activity first, 25 a page.
  app.get('/api/v1/accounts/:accountId/conversations', (req, res) => {
    if (!memberOf(req)) return void res.status(401).end();
    const accountId = Number(req.params.accountId);
    const status = String(req.query.status ?? 'open');
    const list = [...fake.conversations.values()]
      .filter((c) => c.accountId === accountId && (c.status ?? 'open') === status)
      .sort((a, b) => (b.lastActivityAt ?? 0) - (a.lastActivityAt ?? 0) || b.id - a.id);
    const page = Number(req.query.page ?? 1);
    const payload = list.slice((page - 1) * 25, page * 25).map((c) => {
      const contact = fake.contacts.find((k) => k.accountId === accountId && k.id === c.contactId);
      const sender = contact ? { ...presentContact(contact), thumbnail: '', type: 'contact' } : undefined;
      // Like Chatwoot's list, each conversation carries its last chat message (not a private note).
      const lastChat = c.messages.findLast((m) => !m.private && (m.message_type === 'incoming' || m.message_type === 'outgoing'));
      return {
        id: c.id,
        account_id: accountId,
        inbox_id: c.inboxId ?? 3,
        status: c.status ?? 'open',
        labels: c.labels ?? [],
        messages: lastChat ? [presentMessage(c, lastChat)] : [],
        meta: sender ? { sender } : {},
        ...(c.contactId ? { contact_inbox: { contact_id: c.contactId, inbox_id: c.inboxId ?? 3 } } : {}),
        custom_attributes: c.customAttributes,
        additional_attributes: {},
        unread_count: 0,
        ...(c.lastActivityAt ? { last_activity_at: c.lastActivityAt } : {}),
        ...(c.updatedAt ? { updated_at: c.updatedAt } : {}),
      };
    });
    res.json({ data: { meta: { mine_count: 0, assigned_count: 0, unassigned_count: list.length, all_count: list.length }, payload } });
  });

  const onError: ErrorRequestHandler = (err, req, res, _next) => {
    const status = (err as { status?: number }).status ?? 500;
    // A 401 for a missing token is Chatwoot behaviour, not a contract violation of ours.
    if (status !== 401) fake.violations.push(`${req.method} ${req.path}: ${(err as Error).message}`);
    res.status(status).json({ error: (err as Error).message });
  };
  app.use(onError);

  const server: Server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return Object.assign(fake, {
    addConversation(accountId: number, displayId: number, customAttributes: Record<string, unknown> = {}) {
      const conversation: FakeConversation = { id: displayId, accountId, customAttributes, messages: [] };
      fake.conversations.set(`${accountId}:${displayId}`, conversation);
      return conversation;
    },
    addContact(contact: Omit<FakeContact, 'id' | 'email'> & { email?: string | null }) {
      const created: FakeContact = { id: nextContactId++, email: null, ...contact };
      fake.contacts.push(created);
      return created;
    },
    seedContacts(accountId: number, count: number, make: (i: number) => Partial<FakeContact> = () => ({})) {
      const now = Math.floor(Date.now() / 1000);
      const created = Array.from({ length: count }, (_, i): FakeContact => {
        const id = nextContactId++;
        return { id, accountId, name: `Contact ${id}`, phone_number: `+1415${String(5_000_000 + (id % 5_000_000)).padStart(7, '0')}`, email: null, last_activity_at: now - 86_400 - i * 60, ...make(i) };
      });
      fake.contacts.push(...created);
      contactsVersion++;
      return created;
    },
    touchContact(contact: FakeContact, changes: Partial<Omit<FakeContact, 'id' | 'accountId'>>) {
      Object.assign(contact, changes);
      contactsVersion++;
    },
    throttle(options: { afterRequests: number; retryAfter: string; times?: number }) {
      throttling = { afterRequests: options.afterRequests, retryAfter: options.retryAfter, times: options.times ?? 1 };
    },
    throttled,
    updateMessageStatus(accountId: number, conversationId: number, messageId: number, status: 'delivered' | 'read' | 'failed', externalError?: string) {
      const conversation = fake.conversations.get(`${accountId}:${conversationId}`)!;
      const message = conversation.messages.find((m) => m.id === messageId)!;
      message.status = status;
      if (status === 'failed') message.content_attributes = { ...message.content_attributes, external_error: externalError ?? 'failed' };
      announceMessage('message_updated', conversation, message);
    },
    failNext(times: number, status = 500) {
      failing = { times, status };
    },
    apiInboxes,
    addApiInbox(accountId: number, inboxId = nextInboxId(), name?: string) {
      return addInbox(accountId, inboxId, name);
    },
    agentMessage(accountId: number, conversationId: number, input: { content: string; private?: boolean; attachments?: FakeAttachment[] }) {
      const conversation = fake.conversations.get(`${accountId}:${conversationId}`)!;
      const message: FakeConversation['messages'][number] = {
        id: nextMessageId++,
        content: input.content,
        private: input.private ?? false,
        message_type: 'outgoing',
        content_attributes: {},
        created_at: Math.floor(Date.now() / 1000),
        senderName: 'Dana Dispatch',
        ...(input.attachments ? { attachments: input.attachments } : {}),
      };
      conversation.messages.push(message);
      announceMessage('message_created', conversation, message);
      return message;
    },
    takeViolations() {
      return fake.violations.splice(0);
    },
    addAgent(agent: FakeAgent) {
      agents.set(agent.id, structuredClone(agent));
      return agent;
    },
    removeFromAccount(agentId: number, accountId: number) {
      const agent = agents.get(agentId)!;
      agent.accounts = agent.accounts.filter((a) => a.id !== accountId);
    },
    setRole(agentId: number, accountId: number, role: 'administrator' | 'agent') {
      agents.get(agentId)!.accounts.find((a) => a.id === accountId)!.role = role;
    },
    revokeToken(token: string) {
      const agent = agentByToken(token);
      if (agent) agent.token = `revoked-${agent.token}`;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
}
