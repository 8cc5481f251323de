// What a delivery channel is given and what it answers. The delivery loop (deliver.ts) claims due
// deliveries, checks what is common to every channel (opt-outs, escalations already read), and
// hands each one to its channel's sender; the answer decides what happens next:
//
//   sent       done (providerId: the SMS SID, Chatwoot message id or SMTP message id, for callbacks)
//   retry      a transient failure (timeout, 5xx, 429, SMTP 4xx): tried again with backoff, up to a limit
//   failed     a permanent failure (SMTP 5xx, no subscription, refused by Chatwoot): not retried; the
//              next channel of the recipient's chain is tried
//   opted_out  the recipient said STOP (Twilio 21610): recorded, never retried, next channel
import type { Knex } from 'knex';
import type { DeliveryChannel, EventName, RecipientKind } from '../catalogue.ts';

/** The message as rendered at fan-out (the same text on every retry and resend). */
export interface StoredMessage {
  title: string;
  body: string;
  /** Where the notification leads: an absolute URL for e-mail, SMS and push (null: none). */
  url: string | null;
  /** What it is about, for in-app links. */
  link: { resource_type: string; resource_id: string } | null;
  /** Customer messages (client audience): the text to send as is, already filled from the account's template. */
  customerText?: string;
}

export interface OutgoingDelivery {
  id: string;
  accountId: number;
  event: EventName;
  channel: DeliveryChannel;
  recipient: { kind: RecipientKind; id: string; name: string | null };
  /** E-mail address, E.164 phone number or Chatwoot conversation id (as text); null for push. */
  address: string | null;
  message: StoredMessage;
  /** Attempts before this one. */
  attempts: number;
  /** Sent at once, not from the outbox (a sign-in code): there is no delivery row for a provider's later report. */
  untracked?: boolean;
}

export type SendResult =
  | { outcome: 'sent'; providerId?: string | null }
  | { outcome: 'retry'; reason: string; retryAfterSeconds?: number }
  | { outcome: 'failed'; reason: string }
  | { outcome: 'opted_out'; reason: string };

export interface ChannelSender {
  /** Why this channel cannot send at all in this account right now (not configured), or null. */
  unavailable(db: Knex, accountId: number): Promise<string | null>;
  send(delivery: OutgoingDelivery): Promise<SendResult>;
}

export type ChannelSenders = Record<DeliveryChannel, ChannelSender>;
