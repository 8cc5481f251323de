// ============================================================================================
// HAND-TYPED: what Chatwoot's OpenAPI document (chatwoot-openapi.json, an older revision) lacks
// or gets wrong. This is the ONE place where Chatwoot shapes are written by hand; everything
// else comes from the generated `chatwoot-api.d.ts`. Each entry says what Chatwoot really does.
// The fake Chatwoot (test/fakes/chatwoot.ts) applies the same corrections to the document it
// validates against, so a wrong entry here fails the tests.
// ============================================================================================
import type { components, operations, paths } from './chatwoot-api.d.ts';

type Schemas = components['schemas'];
type Json<T> = { 'application/json': T };
type Ok<T> = { 200: { headers: { [name: string]: unknown }; content: Json<T> } };
/** An operation of the document with its success answer replaced. */
type Answering<Op, T> = Omit<Op, 'responses'> & { responses: Ok<T> };
/** An operation of the document with its request body replaced. */
type Taking<Op, B> = Omit<Op, 'requestBody'> & { requestBody: { content: Json<B> } };
/** An operation of the document with a query string it lacks. */
type Querying<Op extends { parameters: object }, Q> = Omit<Op, 'parameters'> & { parameters: Omit<Op['parameters'], 'query'> & { query?: Q } };
type NoParams = { query?: never; header?: never; path?: never; cookie?: never };
type AccountPath<Extra = object> = { query?: never; header?: never; path: { account_id: number } & Extra; cookie?: never };
type PublicConversationPath = { query?: never; header?: never; path: { inbox_identifier: string; contact_identifier: string; conversation_id: number }; cookie?: never };
/** An answer with no body (Rails' `head :ok`). */
type Empty = { 200: { headers: { [name: string]: unknown }; content?: never } };
/** A path item of the document with some of its operations replaced. */
type Replace<P extends keyof paths, Ops> = Omit<paths[P], keyof Ops> & Ops;

// --- Shapes the document describes only inside others ---

/** A contact's fields: the document lists them under `contact.payload.contact`; lists carry them flat. */
export type ContactFields = NonNullable<NonNullable<Schemas['contact']['payload']>['contact']>;
/** A contact as Chatwoot lists it: id and fields flat; `identifier` and `last_activity_at` are missing from the document. */
export type ContactListItem = Schemas['generic_id'] & ContactFields & { id: number; identifier?: string | null; last_activity_at?: number | null };
type ListMeta = { count?: number; current_page?: number | string };
/** The document's conversation statuses lack `snoozed` and its conversations lack `last_activity_at`. */
export type ContactConversation = Omit<Schemas['contact_conversations'][number], 'status'> & {
  id: number;
  status?: NonNullable<Schemas['conversation']['status']> | 'snoozed';
  last_activity_at?: number;
};
type Message = Schemas['generic_id'] & Schemas['message'];
/** Chatwoot 4.x returns the webhook's signing secret with the webhook; the document predates it. */
export type WebhookWithSecret = Schemas['webhook'] & { secret?: string | null };
/** Webhook subscriptions: the create payload's enum lacks the contact events the webhook object lists and Chatwoot sends. */
export type WebhookCreateBody = Omit<Schemas['webhook_create_update_payload'], 'subscriptions'> & { subscriptions?: NonNullable<Schemas['webhook']['subscriptions']> };
/** A contact is created without an inbox (ContactsController#create skips the contact inbox when inbox_id is blank). */
export type ContactCreateBody = Omit<Schemas['contact_create'], 'inbox_id'> & { inbox_id?: number };
/** The contact create answer: `{ payload: { contact, contact_inbox } }`; the document's contact has no id. */
export type ContactCreated = { payload?: { contact?: ContactFields & { id: number }; contact_inbox?: { source_id?: string | null; inbox?: { id?: number } | null } } };
/** Dashboard apps are not in the document (REFERENCE.md, dashboard apps). */
export type DashboardApp = { id: number; title: string; content?: Array<{ type: 'frame'; url: string }> };
export type DashboardAppBody = Omit<DashboardApp, 'id'>;

// The public client API's answers, as Chatwoot's jbuilder views render them (public/api/v1/models):
// ids, timestamps and message types are integers, content_attributes an object; a conversation's
// messages are public messages. The document types all of these as strings.
export type PublicMessage = Omit<Schemas['public_message'], 'id' | 'message_type' | 'created_at' | 'conversation_id' | 'content_attributes'> & {
  id: number;
  /** 0 incoming (from the contact), 1 outgoing, 2 activity, 3 template. */
  message_type?: number;
  created_at?: number;
  conversation_id?: number;
  content_attributes?: Record<string, unknown> | null;
};
export type PublicConversation = Omit<Schemas['public_conversation'], 'id' | 'inbox_id' | 'messages'> & { id: number; inbox_id?: number; messages?: PublicMessage[] };
export type PublicContact = Schemas['public_contact'] & { source_id: string };
// Free-form objects (`type: object` with no properties listed) come out of the generator as
// Record<string, never>; Chatwoot stores whatever keys it is given in custom attributes.
type FreeForm = Record<string, unknown>;
export type PublicContactBody = Omit<Schemas['public_contact_create_update_payload'], 'custom_attributes'> & { custom_attributes?: FreeForm };
export type PublicConversationBody = Omit<Schemas['public_conversation_create_payload'], 'custom_attributes'> & { custom_attributes?: FreeForm };

/**
 * An inbox as Chatwoot renders it (api/v1/models/_inbox.json.jbuilder): an API channel's inbox
 * also carries `inbox_identifier` (what the public client API names it by) and `webhook_url`;
 * the document's inbox lacks both.
 */
export type InboxWithChannel = Schemas['inbox'] & { id: number; channel_type?: string; inbox_identifier?: string | null; webhook_url?: string | null };
/** Creating an inbox: the document lists only the web widget channel; Chatwoot also makes API channels (`type: 'api'`, optional `webhook_url`). */
export type InboxCreateBody = { name: string; channel: { type: 'api'; webhook_url?: string } };

/**
 * A public message with files: the create also takes multipart/form-data, the files in
 * `attachments[]` beside `content` and `echo_id` (Public::Api::V1::Inboxes::MessagesController#create
 * builds an attachment from each); the document lists JSON only. Content may be empty then.
 */
export type PublicMessageForm = { content?: string; echo_id?: string; 'attachments[]'?: Blob[] };
type TakingFiles<Op> = Omit<Op, 'requestBody'> & { requestBody: { content: Json<Schemas['public_message_create_payload']> & { 'multipart/form-data': PublicMessageForm } } };

type PublicContactPath = '/public/api/v1/inboxes/{inbox_identifier}/contacts';
type PublicConversationsPath = '/public/api/v1/inboxes/{inbox_identifier}/contacts/{contact_identifier}/conversations';
type PublicMessagesPath = '/public/api/v1/inboxes/{inbox_identifier}/contacts/{contact_identifier}/conversations/{conversation_id}/messages';

/** Corrections to paths the document has. */
interface Corrected {
  '/api/v1/accounts/{account_id}/contacts': Replace<
    '/api/v1/accounts/{account_id}/contacts',
    {
      // Answered { meta: { count, current_page }, payload } where the document says a bare array.
      get: Answering<operations['contactList'], { meta?: ListMeta; payload?: ContactListItem[] }>;
      post: Answering<Taking<operations['contactCreate'], ContactCreateBody>, ContactCreated>;
    }
  >;
  '/api/v1/accounts/{account_id}/contacts/filter': Replace<
    '/api/v1/accounts/{account_id}/contacts/filter',
    { post: Answering<operations['contactFilter'], { meta?: ListMeta; payload?: ContactListItem[] }> }
  >;
  '/api/v1/accounts/{account_id}/contacts/{id}/conversations': Replace<
    '/api/v1/accounts/{account_id}/contacts/{id}/conversations',
    // Answered { payload: [...] } where the document says a bare array.
    { get: Answering<operations['contactConversations'], { payload?: ContactConversation[] }> }
  >;
  '/api/v1/accounts/{account_id}/conversations/{conversation_id}/messages': Replace<
    '/api/v1/accounts/{account_id}/conversations/{conversation_id}/messages',
    // Chatwoot answers { meta, payload: [...] }; the document (and older Chatwoots) a bare array.
    { get: Answering<operations['list-all-messages'], Message[] | { meta?: unknown; payload?: Message[] }> }
  >;
  '/api/v1/accounts/{account_id}/webhooks': Replace<
    '/api/v1/accounts/{account_id}/webhooks',
    {
      // Newer Chatwoots answer { payload: [...] }; both are read.
      get: Answering<operations['list-all-webhooks'], WebhookWithSecret[] | { payload?: WebhookWithSecret[] }>;
      post: Answering<Taking<operations['create-a-webhook'], WebhookCreateBody>, WebhookWithSecret>;
    }
  >;
  '/api/v1/accounts/{account_id}/webhooks/{webhook_id}': Replace<
    '/api/v1/accounts/{account_id}/webhooks/{webhook_id}',
    // The same subscription list as the create payload (with the contact events).
    { patch: Answering<Taking<operations['update-a-webhook'], WebhookCreateBody>, WebhookWithSecret> }
  >;
  '/api/v1/accounts/{account_id}/inboxes': Replace<
    '/api/v1/accounts/{account_id}/inboxes',
    // Answered { payload: [...] } (inboxes/index.json.jbuilder) where the document says a bare array; both are read.
    { get: Answering<operations['listAllInboxes'], InboxWithChannel[] | { payload?: InboxWithChannel[] }> }
  >;
  '/api/v1/accounts/{account_id}/inboxes/': Replace<'/api/v1/accounts/{account_id}/inboxes/', { post: Answering<Taking<operations['inboxCreation'], InboxCreateBody>, InboxWithChannel> }>;
  '/public/api/v1/inboxes/{inbox_identifier}/contacts': Replace<PublicContactPath, { post: Answering<Taking<operations['create-a-contact'], PublicContactBody>, PublicContact> }>;
  '/public/api/v1/inboxes/{inbox_identifier}/contacts/{contact_identifier}/conversations': Replace<
    PublicConversationsPath,
    { get: Answering<operations['list-all-contact-conversations'], PublicConversation[]>; post: Answering<Taking<operations['create-a-conversation'], PublicConversationBody>, PublicConversation> }
  >;
  '/public/api/v1/inboxes/{inbox_identifier}/contacts/{contact_identifier}/conversations/{conversation_id}/messages': Replace<PublicMessagesPath, {
      // The latest 20 messages, oldest first; `before` (a message id) pages back (Public::Api::V1::Inboxes::MessagesController, MessageFinder).
      get: Querying<Answering<operations['list-all-converation-messages'], PublicMessage[]>, { before?: number }>;
      post: Answering<TakingFiles<operations['create-a-message']>, PublicMessage> }>;
}

/** Endpoints the document lacks. */
interface Missing {
  // Replaces the conversation's whole custom attribute set (REFERENCE.md).
  '/api/v1/accounts/{account_id}/conversations/{conversation_id}/custom_attributes': {
    parameters: NoParams;
    post: {
      parameters: AccountPath<{ conversation_id: number }>;
      requestBody: { content: Json<{ custom_attributes: Record<string, unknown> }> };
      responses: Ok<{ custom_attributes?: Record<string, unknown> }>;
    };
  };
  '/api/v1/accounts/{account_id}/dashboard_apps': {
    parameters: NoParams;
    get: { parameters: AccountPath; requestBody?: never; responses: Ok<DashboardApp[]> };
    post: { parameters: AccountPath; requestBody: { content: Json<DashboardAppBody> }; responses: Ok<DashboardApp> };
  };
  '/api/v1/accounts/{account_id}/dashboard_apps/{id}': {
    parameters: NoParams;
    delete: { parameters: AccountPath<{ id: number }>; requestBody?: never; responses: Ok<unknown> };
  };
  // The contact is typing in the conversation, or stopped (Chatwoot's routes: public/api/v1/inboxes
  // conversations `post :toggle_typing`; ConversationsController#toggle_typing dispatches
  // conversation_typing_on/off for typing_status 'on'/'off' and answers `head :ok`).
  '/public/api/v1/inboxes/{inbox_identifier}/contacts/{contact_identifier}/conversations/{conversation_id}/toggle_typing': {
    parameters: NoParams;
    post: { parameters: PublicConversationPath; requestBody: { content: Json<{ typing_status: 'on' | 'off' }> }; responses: Empty };
  };
  // The contact has read the conversation up to now (Chatwoot's routes: `post :update_last_seen`;
  // ConversationsController#update_last_seen sets contact_last_seen_at, which agents see as read,
  // and answers `head :ok`).
  '/public/api/v1/inboxes/{inbox_identifier}/contacts/{contact_identifier}/conversations/{conversation_id}/update_last_seen': {
    parameters: NoParams;
    post: { parameters: PublicConversationPath; requestBody?: never; responses: Empty };
  };
}

/** Chatwoot's API as we call it: the generated document, corrected and completed above. */
export type ChatwootPaths = Omit<paths, keyof Corrected> & Corrected & Missing;
