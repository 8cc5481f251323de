// SMS through Twilio's Messaging API, with the account's own Twilio connection (the one calls use,
// twilio_settings) and the sender chosen in the notification settings: a Messaging Service SID
// (which wins: Twilio picks the number and handles STOP itself) or a sender number.
//
// Sent with the real `twilio` library. Its request client is kept as is except for the host: the
// library always addresses api.twilio.com, and ONELINK_TWILIO_API_URL (a fake in tests) takes its
// place, so what reaches that address is exactly what the library sends.
//
// Twilio's answer decides the outcome: 21610 (the number replied STOP) → opted_out; 429, 5xx and
// no answer at all → retry; any other refusal (21211 invalid number, 21614 not a mobile, 21408 no
// permission for the region, 20003 wrong credentials, …) → failed, so the chain moves on.
import type { Knex } from 'knex';
import twilio from 'twilio';
import { RedirectedRequestClient } from '../../phones/twilio-rest.ts';
import { read } from '../../db/tenant.ts';
import type { Sealer } from '../../security/crypto.ts';
import type { ChannelSender, OutgoingDelivery, SendResult, StoredMessage } from './types.ts';

/** Twilio's hard limit for one message body. */
const twilioMaxBody = 1600;
/** What a notification of ours may take: four GSM segments, enough for a title, a line and a link. */
const notificationMaxBody = 640;
const e164 = /^\+[1-9]\d{6,14}$/;

export const smsOptOutCode = 21610;

interface SmsAccount {
  accountSid: string;
  authToken: string;
  webhookToken: string;
  sender: { messagingServiceSid: string } | { from: string };
}

type Lookup = { ok: SmsAccount } | { unavailable: string };

/** Loads what sending needs, or says why the account cannot send SMS. */
async function lookup(db: Knex, sealer: Sealer, accountId: number): Promise<Lookup> {
  const { twilioRow, settings } = await read({ db, accountId }, async (trx) => ({
    twilioRow: (await trx('twilio_settings').where({ account_id: accountId }).first('account_sid', 'auth_token_sealed', 'webhook_token')) as
      | { account_sid: string; auth_token_sealed: string; webhook_token: string }
      | undefined,
    settings: (await trx('notification_settings').where({ account_id: accountId }).first('sms_from', 'sms_messaging_service_sid')) as
      | { sms_from: string | null; sms_messaging_service_sid: string | null }
      | undefined,
  }));
  if (!twilioRow) return { unavailable: 'Twilio is not connected: add the account SID and auth token in the Twilio settings' };
  const service = settings?.sms_messaging_service_sid?.trim();
  const from = settings?.sms_from?.trim();
  if (!service && !from) return { unavailable: 'No SMS sender: set a sender number or a Messaging Service SID in the notification settings' };
  return {
    ok: {
      accountSid: twilioRow.account_sid,
      authToken: sealer.open(twilioRow.auth_token_sealed),
      webhookToken: twilioRow.webhook_token,
      sender: service ? { messagingServiceSid: service } : { from: from! },
    },
  };
}

/**
 * Our messaging webhooks for an account, next to its voice ones (webhooks/twilio/messaging.ts): the
 * status callback, given with every message, and the address for the number's or Messaging
 * Service's incoming messages (STOP and START replies).
 */
export function smsWebhookUrls(publicUrl: string, accountId: number, token: string) {
  const base = `${publicUrl}/webhooks/twilio/${accountId}/${token}/messaging`;
  return { sms_status_callback: `${base}/status`, sms_incoming: `${base}/inbound` };
}

/** The text to send: a customer message as the account wrote it, else title, body and link. */
export function smsBody(message: StoredMessage): string {
  if (message.customerText != null && message.customerText.trim() !== '') return cut(message.customerText.trim(), twilioMaxBody);
  const link = message.url ? `\n${message.url}` : '';
  // The link is what the reader acts on: the text gives way to it, never the other way round.
  const text = cut([message.title, message.body].map((s) => s.trim()).filter(Boolean).join('\n'), Math.max(notificationMaxBody - link.length, 1));
  return `${text}${link}`.slice(0, twilioMaxBody);
}

/** Cuts to `max` characters (code points, so no half emoji), with an ellipsis when cut. */
function cut(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('').trimEnd()}…`;
}

function outcomeOfError(err: unknown): SendResult {
  if (err instanceof twilio.RestException) {
    const what = `Twilio ${err.status}${err.code ? ` (${err.code})` : ''}: ${err.message}`.slice(0, 500);
    if (err.code === smsOptOutCode) return { outcome: 'opted_out', reason: 'the number replied STOP to our messages (Twilio 21610)' };
    if (err.status === 429 || err.status >= 500) return { outcome: 'retry', reason: what };
    return { outcome: 'failed', reason: what };
  }
  // No answer (refused, reset, timed out): Twilio may try again later.
  return { outcome: 'retry', reason: `Twilio could not be reached: ${(err as Error)?.message ?? String(err)}`.slice(0, 500) };
}

export function smsChannel(options: { db: Knex; sealer: Sealer; twilioApiUrl: string; publicUrl: string; timeoutMs?: number }): ChannelSender {
  const httpClient = new RedirectedRequestClient(new URL(options.twilioApiUrl), options.timeoutMs ?? 10_000);
  return {
    async unavailable(db, accountId) {
      const found = await lookup(db, options.sealer, accountId);
      return 'unavailable' in found ? found.unavailable : null;
    },

    async send(delivery: OutgoingDelivery): Promise<SendResult> {
      const found = await lookup(options.db, options.sealer, delivery.accountId);
      if ('unavailable' in found) return { outcome: 'failed', reason: found.unavailable };
      const to = delivery.address?.trim() ?? '';
      if (!e164.test(to)) return { outcome: 'failed', reason: to ? 'the phone number is not in international (E.164) form' : 'no mobile number' };
      const account = found.ok;
      const client = twilio(account.accountSid, account.authToken, { httpClient });
      try {
        const message = await client.messages.create({
          to,
          body: smsBody(delivery.message),
          ...account.sender,
          // Reports come back only for outbox deliveries; nothing would be waiting for the others'.
          ...(delivery.untracked ? {} : { statusCallback: smsWebhookUrls(options.publicUrl, delivery.accountId, account.webhookToken).sms_status_callback }),
        });
        return { outcome: 'sent', providerId: message.sid };
      } catch (err) {
        return outcomeOfError(err);
      }
    },
  };
}
