// Customer messages on the customer's own Chatwoot conversation: a public outgoing message, which
// Chatwoot sends on that conversation's channel (WhatsApp, SMS, e-mail, web widget, API inbox) and
// the agent sees in the thread. The address is the conversation's display id, chosen at fan-out.
//
// Exactly once in effect: the message carries { onelink_delivery_id } in its content_attributes;
// a retry after an attempt whose answer was lost looks for it first and adopts it.
//
// How Chatwoot refuses: it answers the POST before handing the message to the channel (its
// SendReplyJob). A WhatsApp conversation outside the 24-hour window gets a template instead, and
// when no approved template matches the text, the message is set to status failed with
// content_attributes.external_error and Chatwoot sends message_updated (handled by the webhook
// processor, see deliveryReportOf below). The provider's own refusals (Meta 131047, Twilio 63016)
// arrive the same way. A synchronous 4xx is handled too: some versions refuse at once.
import type { Knex } from 'knex';
import { chatwootTargetFor } from '../../chatwoot/outbox.ts';
import { ChatwootError, createOutgoingMessage, listMessages, type ChatwootMessage } from '../../chatwoot/client.ts';
import type { Sealer } from '../../security/crypto.ts';
import type { ChannelSender, OutgoingDelivery, SendResult } from './types.ts';

export const deliveryMarkerKey = 'onelink_delivery_id';

/** Refusals that mean "no free-form message on this conversation now": the WhatsApp window, a template required. */
const windowRefusal = /24.?hour|window|template|re-?engagement|131047|63016|can.?not reply|can't reply/i;

/** The reason recorded for a message Chatwoot (or its channel) would not send, in words an admin can act on. */
export function chatwootRefusalReason(said: string): string {
  const text = said.trim().slice(0, 500) || 'no reason given';
  return windowRefusal.test(text)
    ? `Chatwoot could not send a free-form message on this conversation (WhatsApp allows one only within 24 hours of the customer's last message; otherwise an approved template): ${text}`
    : `Chatwoot could not send the message: ${text}`;
}

/** What a message's own state says: failed (with Chatwoot's reason), or accepted. */
function outcomeOf(message: ChatwootMessage & { status?: unknown }): SendResult {
  const attributes = (message.content_attributes ?? {}) as Record<string, unknown>;
  const error = typeof attributes.external_error === 'string' ? attributes.external_error : null;
  if (message.status === 'failed' || error) return { outcome: 'failed', reason: chatwootRefusalReason(error ?? 'the message failed') };
  return { outcome: 'sent', providerId: String(message.id) };
}

/** The text of Chatwoot's refusal: its JSON { error } / { message } or the body as is. */
function refusalText(detail: string | undefined): string {
  if (!detail) return '';
  try {
    const body = JSON.parse(detail) as { error?: unknown; message?: unknown; errors?: unknown };
    const said = body.error ?? body.message ?? body.errors;
    return typeof said === 'string' ? said : JSON.stringify(said ?? body);
  } catch {
    return detail;
  }
}

function outcomeOfError(err: unknown): SendResult {
  if (!(err instanceof ChatwootError)) return { outcome: 'retry', reason: (err as Error)?.message ?? String(err) };
  switch (err.kind) {
    case 'outcome_unknown':
      return { outcome: 'retry', reason: `${err.message} (the next attempt adopts the message if it was created)` };
    case 'unreachable':
      return { outcome: 'retry', reason: err.message };
    case 'unauthorized':
      return { outcome: 'failed', reason: 'Chatwoot refused the token Onelink acts with: reinstall or reconnect the account' };
    case 'bad_response': {
      // A 2xx whose body could not be read: the message may well exist; the next attempt looks for it.
      if (!err.status || err.status < 400) return { outcome: 'retry', reason: err.message };
      if (err.status === 404) return { outcome: 'failed', reason: 'conversation gone: Chatwoot no longer has this conversation' };
      const said = refusalText(err.detail);
      // Chatwoot's flood guard (too many messages in a minute on one conversation) passes.
      if (/too many messages/i.test(said)) return { outcome: 'retry', reason: `Chatwoot is holding messages back on this conversation: ${said}` };
      return { outcome: 'failed', reason: said ? chatwootRefusalReason(said) : `Chatwoot refused the message (${err.status})` };
    }
  }
}

/** The text a customer gets: the account's template as filled at fan-out, else the notification's text. */
function customerText(delivery: OutgoingDelivery): string {
  const text = delivery.message.customerText?.trim();
  return text || delivery.message.body.trim();
}

/** Why the account cannot write to Chatwoot at all, or null. */
async function whyUnavailable(db: Knex, accountId: number): Promise<string | null> {
  const row = (await db('accounts as a')
    .leftJoin('installations as i', 'i.id', 'a.installation_id')
    .where('a.account_id', accountId)
    .first('i.base_url', 'i.api_token_sealed', 'a.chatwoot_api_token_sealed', 'a.chatwoot_account_id')) as
    | { base_url: string | null; api_token_sealed: string | null; chatwoot_api_token_sealed: string | null; chatwoot_account_id: number | null }
    | undefined;
  if (!row?.base_url || !row.chatwoot_account_id) return 'Chatwoot is not connected: install Onelink in the Chatwoot account';
  if (!row.chatwoot_api_token_sealed && !row.api_token_sealed) return 'No Chatwoot token to send with: run the installer for this account';
  return null;
}

export function chatwootChannel(options: { db: Knex; sealer: Sealer; timeoutMs: number }): ChannelSender {
  return {
    unavailable: whyUnavailable,

    async send(delivery) {
      const conversationId = Number(delivery.address);
      if (!delivery.address || !Number.isSafeInteger(conversationId) || conversationId <= 0) {
        return { outcome: 'failed', reason: 'no Chatwoot conversation to write to' };
      }
      const content = customerText(delivery);
      if (!content) return { outcome: 'failed', reason: 'the message is empty' };
      let connection: Awaited<ReturnType<typeof chatwootTargetFor>>;
      try {
        connection = await chatwootTargetFor(options.db, options.sealer, delivery.accountId, options.timeoutMs);
      } catch (err) {
        const why = await whyUnavailable(options.db, delivery.accountId);
        return why ? { outcome: 'failed', reason: why } : { outcome: 'retry', reason: (err as Error).message };
      }
      const { target, chatwootAccountId } = connection;
      const marker = { [deliveryMarkerKey]: delivery.id };
      try {
        if (delivery.attempts > 0) {
          // An earlier attempt may have reached Chatwoot without us hearing back: adopt that message.
          const earlier = (await listMessages(target, chatwootAccountId, conversationId)).find(
            (m) => !m.private && (m.content_attributes as Record<string, unknown> | undefined)?.[deliveryMarkerKey] === delivery.id,
          );
          if (earlier) return outcomeOf(earlier);
        }
        return outcomeOf(await createOutgoingMessage(target, chatwootAccountId, conversationId, content, marker));
      } catch (err) {
        return outcomeOfError(err);
      }
    },
  };
}

export type DeliveryReport = {
  messageId: number;
  /** Our delivery id, from the marker (null: a message without one, matched by its id alone). */
  deliveryId: string | null;
  result: { status: 'delivered' } | { status: 'failed'; reason: string };
};

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * What a message_created / message_updated payload says about one of our deliveries: failed (its
 * content_attributes carry external_error; Chatwoot's webhook payload has no status field, but a
 * status is read when present), or delivered/read. Null for anything else (incoming messages,
 * notes, an outgoing message with nothing to report).
 */
export function deliveryReportOf(payload: Record<string, unknown>): DeliveryReport | null {
  const messageId = Number(payload.id);
  if (!Number.isSafeInteger(messageId) || messageId <= 0) return null;
  const type = payload.message_type;
  if (!(type === 'outgoing' || type === 1) || payload.private === true) return null;
  const attributes = (typeof payload.content_attributes === 'object' && payload.content_attributes !== null ? payload.content_attributes : {}) as Record<string, unknown>;
  const marked = attributes[deliveryMarkerKey];
  const deliveryId = typeof marked === 'string' && uuid.test(marked) ? marked : null;
  const error = typeof attributes.external_error === 'string' && attributes.external_error.trim() ? attributes.external_error : null;
  const status = typeof payload.status === 'string' ? payload.status : null;
  if (error || status === 'failed') return { messageId, deliveryId, result: { status: 'failed', reason: chatwootRefusalReason(error ?? 'the message failed') } };
  if (status === 'delivered' || status === 'read') return { messageId, deliveryId, result: { status: 'delivered' } };
  return null;
}
