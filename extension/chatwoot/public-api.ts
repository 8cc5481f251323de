// Chatwoot's public client API, for the portals: a customer (or vendor) talks to the account as a
// contact of an API-channel inbox. The credentials are the inbox identifier and the contact's
// source id (no token), so these calls are made from our server only, never from a browser.
// Creating a contact, a conversation or a message is not repeated blindly when its answer is lost
// (`outcome_unknown`): list what exists first.
import type { components } from './spec/chatwoot-api.d.ts';
import type { PublicContact, PublicContactBody, PublicConversation, PublicConversationBody, PublicMessage, PublicMessageForm } from './spec/missing.ts';
import { ChatwootError } from './http.ts';
import { answer, chatwootPublicApi, done, type ChatwootTarget } from './sdk.ts';

export type { PublicContact, PublicContactBody, PublicConversation, PublicConversationBody, PublicMessage } from './spec/missing.ts';
type Schemas = components['schemas'];
export type PublicMessageBody = Schemas['public_message_create_payload'];

/** Where a portal talks to Chatwoot: the installation's address and an API-channel inbox's identifier. */
export interface PublicInbox extends Omit<ChatwootTarget, 'token'> { inboxIdentifier: string }

const api = (inbox: PublicInbox) => chatwootPublicApi(inbox);
const contactPath = (inbox: PublicInbox, sourceId: string) => ({ inbox_identifier: inbox.inboxIdentifier, contact_identifier: sourceId });

/** Creates a contact in the inbox; its `source_id` is what later calls name it by. */
export async function createPublicContact(inbox: PublicInbox, body: PublicContactBody): Promise<PublicContact> {
  const contact = await answer(api(inbox).POST('/public/api/v1/inboxes/{inbox_identifier}/contacts', { params: { path: { inbox_identifier: inbox.inboxIdentifier } }, body }), 'POST public contacts');
  if (typeof contact.source_id !== 'string' || !contact.source_id) throw new ChatwootError('bad_response', 'Chatwoot created a contact but gave no source id');
  return contact;
}

export function getPublicContact(inbox: PublicInbox, sourceId: string) {
  return answer(api(inbox).GET('/public/api/v1/inboxes/{inbox_identifier}/contacts/{contact_identifier}', { params: { path: contactPath(inbox, sourceId) } }), 'GET public contact');
}

export function listPublicConversations(inbox: PublicInbox, sourceId: string): Promise<PublicConversation[]> {
  return answer(
    api(inbox).GET('/public/api/v1/inboxes/{inbox_identifier}/contacts/{contact_identifier}/conversations', { params: { path: contactPath(inbox, sourceId) } }),
    'GET public conversations',
  );
}

export async function createPublicConversation(inbox: PublicInbox, sourceId: string, body: PublicConversationBody = {}): Promise<PublicConversation> {
  const conversation = await answer(
    api(inbox).POST('/public/api/v1/inboxes/{inbox_identifier}/contacts/{contact_identifier}/conversations', { params: { path: contactPath(inbox, sourceId) }, body }),
    'POST public conversations',
  );
  if (typeof conversation.id !== 'number') throw new ChatwootError('bad_response', 'Chatwoot opened a conversation but did not say which');
  return conversation;
}

/** Chatwoot's page of a conversation's public message list. */
export const publicMessagePage = 20;

/**
 * The conversation's messages as the contact sees them (no private notes, no activity): the
 * latest 20, oldest first, or the 20 before the message id `before`.
 */
export function listPublicMessages(inbox: PublicInbox, sourceId: string, conversationId: number, before?: number): Promise<PublicMessage[]> {
  return answer(
    api(inbox).GET('/public/api/v1/inboxes/{inbox_identifier}/contacts/{contact_identifier}/conversations/{conversation_id}/messages', {
      params: { path: { ...contactPath(inbox, sourceId), conversation_id: conversationId }, ...(before === undefined ? {} : { query: { before } }) },
    }),
    'GET public messages',
  );
}

/**
 * Pages back through a conversation's public messages, latest first, until `enough` says so
 * (given each page, oldest first) or the conversation's start; at most `maxPages` pages.
 */
export async function scanPublicMessages(
  inbox: PublicInbox,
  sourceId: string,
  conversationId: number,
  enough: (page: PublicMessage[]) => boolean,
  maxPages = 50,
): Promise<PublicMessage[]> {
  const seen: PublicMessage[] = [];
  let before: number | undefined;
  for (let n = 0; n < maxPages; n++) {
    const page = await listPublicMessages(inbox, sourceId, conversationId, before);
    seen.unshift(...page);
    if (page.length < publicMessagePage || enough(page)) break;
    before = Math.min(...page.map((m) => m.id));
  }
  return seen;
}

/** Posts an incoming message from the contact. */
export async function createPublicMessage(inbox: PublicInbox, sourceId: string, conversationId: number, body: PublicMessageBody): Promise<PublicMessage> {
  const message = await answer(
    api(inbox).POST('/public/api/v1/inboxes/{inbox_identifier}/contacts/{contact_identifier}/conversations/{conversation_id}/messages', {
      params: { path: { ...contactPath(inbox, sourceId), conversation_id: conversationId } },
      body,
    }),
    'POST public messages',
  );
  if (typeof message.id !== 'number') throw new ChatwootError('bad_response', 'Chatwoot stored a message but did not say which');
  return message;
}

/** A file to post with a message: its bytes (a Blob is streamed as it is sent, not copied), the name Chatwoot shows and its media type. */
export interface PublicMessageFile { filename: string; contentType: string; data: Blob | Uint8Array<ArrayBuffer> }

/**
 * Posts an incoming message from the contact with files, as multipart/form-data (`attachments[]`,
 * in order); like any create it is never repeated blindly when its answer is lost.
 */
export async function createPublicMessageWithFiles(
  inbox: PublicInbox,
  sourceId: string,
  conversationId: number,
  input: { content: string; echo_id?: string; files: PublicMessageFile[] },
): Promise<PublicMessage> {
  const form: PublicMessageForm = {
    content: input.content,
    ...(input.echo_id ? { echo_id: input.echo_id } : {}),
    // A File over a Blob refers to its bytes (a file on disk stays on disk until the upload reads it).
    'attachments[]': input.files.map((f) => new File([f.data], f.filename, { type: f.contentType })),
  };
  const message = await answer(
    api(inbox).POST('/public/api/v1/inboxes/{inbox_identifier}/contacts/{contact_identifier}/conversations/{conversation_id}/messages', {
      params: { path: { ...contactPath(inbox, sourceId), conversation_id: conversationId } },
      body: form,
      // The fetch sets the multipart type with its boundary.
      bodySerializer: (body) => {
        const data = new FormData();
        const fields = body as PublicMessageForm;
        if (fields.content !== undefined) data.append('content', fields.content);
        if (fields.echo_id) data.append('echo_id', fields.echo_id);
        for (const file of fields['attachments[]'] ?? []) data.append('attachments[]', file);
        return data;
      },
    }),
    'POST public messages',
  );
  if (typeof message.id !== 'number') throw new ChatwootError('bad_response', 'Chatwoot stored a message but did not say which');
  return message;
}

/** The contact is typing in a conversation (on) or stopped (off); agents see it live. Not retried: a lost one is outdated anyway. */
export function togglePublicTyping(inbox: PublicInbox, sourceId: string, conversationId: number, on: boolean): Promise<void> {
  return done(
    chatwootPublicApi(inbox, { retries: 0 }).POST('/public/api/v1/inboxes/{inbox_identifier}/contacts/{contact_identifier}/conversations/{conversation_id}/toggle_typing', {
      params: { path: { ...contactPath(inbox, sourceId), conversation_id: conversationId } },
      body: { typing_status: on ? 'on' : 'off' },
    }),
    'POST public toggle_typing',
  );
}

/** The contact has read a conversation up to now (Chatwoot's contact_last_seen_at). */
export function updatePublicLastSeen(inbox: PublicInbox, sourceId: string, conversationId: number): Promise<void> {
  return done(
    api(inbox).POST('/public/api/v1/inboxes/{inbox_identifier}/contacts/{contact_identifier}/conversations/{conversation_id}/update_last_seen', {
      params: { path: { ...contactPath(inbox, sourceId), conversation_id: conversationId } },
    }),
    'POST public update_last_seen',
  );
}
