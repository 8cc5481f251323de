// Webhook payloads shaped like Chatwoot's (app/listeners/webhook_listener.rb: the object's
// webhook_data with `event` merged in), signed like Chatwoot 4.11+ signs them.
import { randomUUID } from 'node:crypto';
import { signChatwootBody } from '../../webhooks/chatwoot/verify.ts';

export function contactEvent(event: 'contact_created' | 'contact_updated', contact: { id: number; name: string; email?: string; phone_number?: string; identifier?: string; updated_at?: string }, account = { id: 1, name: 'Account 1' }) {
  return {
    event,
    id: contact.id,
    name: contact.name,
    email: contact.email ?? null,
    phone_number: contact.phone_number ?? null,
    identifier: contact.identifier ?? null,
    thumbnail: '',
    additional_attributes: {},
    custom_attributes: {},
    account,
    created_at: '2026-11-20T10:00:00.000Z',
    updated_at: contact.updated_at ?? new Date().toISOString(),
    ...(event === 'contact_updated' ? { changed_attributes: [{ name: { previous_value: 'Old', current_value: contact.name } }] } : {}),
  };
}

export function conversationEvent(
  event: 'conversation_created' | 'conversation_updated' | 'conversation_status_changed',
  conversation: { id: number; contactId: number; status?: string; assigneeId?: number; labels?: string[]; updated_at?: number },
  account = { id: 1, name: 'Account 1' },
) {
  const now = Math.floor(Date.now() / 1000);
  return {
    event,
    id: conversation.id,
    account_id: account.id,
    inbox_id: 3,
    status: conversation.status ?? 'open',
    labels: conversation.labels ?? [],
    meta: {
      sender: { id: conversation.contactId, name: 'Contact', type: 'contact' },
      assignee: conversation.assigneeId ? { id: conversation.assigneeId, name: 'Agent', type: 'user' } : null,
      channel: 'Channel::WebWidget',
    },
    messages: [],
    additional_attributes: {},
    custom_attributes: {},
    agent_last_seen_at: now,
    contact_last_seen_at: now,
    timestamp: conversation.updated_at ?? now,
    updated_at: conversation.updated_at ?? now,
    unread_count: 0,
    ...(event !== 'conversation_created' ? { changed_attributes: [{ status: { previous_value: 'pending', current_value: conversation.status ?? 'open' } }] } : {}),
  };
}

export function messageEvent(message: { id: number; conversationId: number; content: string; private?: boolean }, account = { id: 1, name: 'Account 1' }) {
  return {
    event: 'message_created',
    id: message.id,
    content: message.content,
    message_type: 'incoming',
    private: message.private ?? false,
    content_type: 'text',
    content_attributes: {},
    created_at: new Date().toISOString(),
    source_id: null,
    sender: { id: 44, name: 'Contact', type: 'contact' },
    conversation: { display_id: message.conversationId, status: 'open', contact_inbox: { source_id: randomUUID() } },
    inbox: { id: 3, name: 'Website' },
    account,
    additional_attributes: {},
    attachments: [],
  };
}

export interface SignedDelivery { body: string; headers: Record<string, string> }

/** The body and headers Chatwoot sends for a payload (signed when given a secret). */
export function chatwootDelivery(payload: unknown, options: { secret?: string; deliveryId?: string | null; timestamp?: number } = {}): SignedDelivery {
  const body = JSON.stringify(payload);
  const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
  const headers: Record<string, string> = { 'Content-Type': 'application/json', 'User-Agent': 'Chatwoot' };
  if (options.deliveryId !== null) headers['X-Chatwoot-Delivery'] = options.deliveryId ?? randomUUID();
  if (options.secret) {
    headers['X-Chatwoot-Timestamp'] = timestamp;
    headers['X-Chatwoot-Signature'] = signChatwootBody(options.secret, timestamp, body);
  }
  return { body, headers };
}
