// Twilio's messaging webhooks for one account, on the same durable path as the voice ones:
//
//   POST /webhooks/twilio/:accountId/:token/messaging/status   status callback of an SMS we sent
//        (given as StatusCallback with each message; addresses: smsWebhookUrls in notifications/channels/sms.ts)
//   POST /webhooks/twilio/:accountId/:token/messaging/inbound  "a message comes in" of the sender
//        number or Messaging Service: STOP and START replies
//
// The X-Twilio-Signature is checked with the account's auth token before anything is stored; a
// callback that matters (a final status, an opt-out or opt-in keyword) is stored in the webhook
// inbox, deduplicated, and answered at once; the delivery worker processes it (process.ts).
import type { Knex } from 'knex';
import twilio from 'twilio';
import { z } from 'zod';
import { systemContext, write } from '../../extension/db/tenant.ts';
import { sendError } from '../../extension/http/envelope.ts';
import { defineRoute } from '../../extension/http/registry.ts';
import { idParam } from '../../extension/http/schemas.ts';
import { clearSmsOptOut, recordSmsOptOut, settleByProvider, type ProviderResult } from '../../extension/notifications/deliver.ts';
import { smsOptOutCode } from '../../extension/notifications/channels/sms.ts';
import type { IncomingDelivery, StoredDelivery } from '../inbox.ts';
import { PermanentFailure } from '../permanent-failure.ts';
import { verifiedTwilioForm, type TwilioAccount } from './verify.ts';

export const messagingKinds = ['status', 'inbound'] as const;
export type MessagingKind = (typeof messagingKinds)[number];
export const messagingProcess = 'twilio-messaging';

const messageSid = /^(SM|MM)[0-9a-f]{32}$/;
const e164 = /^\+[1-9]\d{6,14}$/;

// Twilio's default opt-out and opt-in keywords: the whole message, in any case.
const optOutKeywords = new Set(['STOP', 'STOPALL', 'UNSUBSCRIBE', 'CANCEL', 'END', 'QUIT']);
const optInKeywords = new Set(['START', 'UNSTOP', 'YES']);

/** What an incoming message asks of us: to stop, to start again, or nothing. */
export function optIntent(fields: Record<string, string>): 'out' | 'in' | null {
  // Messaging Services with Advanced Opt-Out say it themselves (their keywords may be custom).
  const type = (fields.OptOutType ?? '').toUpperCase();
  if (type === 'STOP') return 'out';
  if (type === 'START') return 'in';
  if (type) return null; // HELP
  const word = (fields.Body ?? '').trim().replace(/[.!]+$/, '').toUpperCase();
  if (optOutKeywords.has(word)) return 'out';
  if (optInKeywords.has(word)) return 'in';
  return null;
}

/** What a status callback says about a message, or null for the steps on the way (queued, sent…). */
export function statusResult(fields: Record<string, string>): ProviderResult | null {
  const status = fields.MessageStatus ?? '';
  if (status === 'delivered') return { status: 'delivered' };
  if (status !== 'undelivered' && status !== 'failed') return null;
  const code = Number(fields.ErrorCode ?? '');
  if (code === smsOptOutCode) return { status: 'opted_out', reason: 'the number replied STOP to our messages (Twilio 21610)' };
  return { status: 'failed', reason: `Twilio reported the message ${status}${fields.ErrorCode ? ` (error ${fields.ErrorCode})` : ''}` };
}

/**
 * What makes two messaging callbacks the same delivery. The second part groups what must be
 * processed in order (process.ts): a message's statuses by its SID, a number's replies by the number.
 */
export function messagingDedupeKey(accountId: number, kind: MessagingKind, fields: Record<string, string>) {
  return kind === 'status'
    ? `${accountId}:${fields.MessageSid}:messaging.status:${fields.MessageStatus ?? ''}`
    : `${accountId}:${fields.From}:messaging.inbound:${fields.MessageSid}`;
}

interface MessagingRouteDeps {
  settingsOf: (accountId: number) => Promise<TwilioAccount | undefined>;
  store: (delivery: IncomingDelivery) => Promise<StoredDelivery>;
  nudge: () => void;
  publicUrl: string;
}

/** An empty answer to an incoming message: we never reply ourselves. */
const noReply = () => new twilio.twiml.MessagingResponse().toString();

export function twilioMessagingRoute(deps: MessagingRouteDeps) {
  return defineRoute({
    method: 'post',
    prefix: '',
    path: '/webhooks/twilio/:accountId/:token/messaging/:kind',
    summary: 'Twilio messaging webhooks (X-Twilio-Signature checked): SMS status callbacks and incoming STOP/START replies',
    tags: ['webhooks'],
    access: { public: true },
    rateLimitPerMinute: 300,
    rateLimitFailuresOnly: true,
    rawBody: true,
    params: z.object({ accountId: idParam, token: z.string().min(16).max(100), kind: z.enum(messagingKinds) }),
    handler: async ({ params, req, res }) => {
      const account = await deps.settingsOf(params.accountId).catch(() => undefined);
      const form = verifiedTwilioForm(req, res, account, params.token, deps.publicUrl);
      if (!form || !account) return;
      const { raw, fields, url } = form;
      if (!messageSid.test(fields.MessageSid ?? '')) {
        sendError(res, 400, 'invalid_body', 'A Twilio messaging callback names its MessageSid');
        return;
      }
      // Only what changes something is kept: final statuses, and replies that opt out or back in.
      const matters = params.kind === 'status' ? statusResult(fields) !== null : optIntent(fields) !== null && e164.test(fields.From ?? '');
      if (matters) {
        const stored = await deps.store({
          installationId: account.installationId,
          accountId: params.accountId,
          source: 'twilio',
          dedupeKey: messagingDedupeKey(params.accountId, params.kind, fields),
          event: `twilio.messaging.${params.kind}`,
          headers: { 'x-twilio-signature': req.get('x-twilio-signature') ?? null, 'user-agent': req.get('user-agent') ?? null, url },
          body: raw,
          status: 'received',
          lastError: null,
        });
        if (stored && stored.status === 'received') deps.nudge();
      }
      // Twilio answers STOP itself (for a Messaging Service with Advanced Opt-Out, in its own
      // words; for a plain number, its standard reply), and blocks further messages to the number
      // with error 21610: we record the opt-out and send nothing back.
      if (params.kind === 'inbound') res.type('text/xml').send(noReply());
      else res.status(204).end();
    },
  });
}

/** How long a status callback may wait for its message's SID to be recorded (the send is settled after the callback can arrive). */
const awaitSendMs = 15 * 60_000;

async function optedOut(trx: Knex.Transaction, accountId: number, phone: string) {
  return (await trx('sms_opt_outs').where({ account_id: accountId, phone_e164: phone }).first('source')) as { source: string } | undefined;
}

/** Processes one stored messaging callback; throws to be retried. Running it twice changes nothing more. */
export async function handleMessagingCallback(db: Knex, accountId: number, kind: MessagingKind, fields: Record<string, string>, receivedAt: Date) {
  if (!messageSid.test(fields.MessageSid ?? '')) throw new PermanentFailure('no MessageSid');
  const ctx = await systemContext(db, accountId, messagingProcess);
  if (kind === 'status') {
    const result = statusResult(fields);
    if (!result) return;
    const found = await write(ctx, async (trx, audit) => {
      const delivery = (await trx('notification_deliveries').where({ account_id: accountId, channel: 'sms', provider_id: fields.MessageSid }).first('address')) as
        | { address: string | null }
        | undefined;
      const phone = delivery?.address;
      const wasOptedOut = phone ? Boolean(await optedOut(trx, accountId, phone)) : true;
      const settled = await settleByProvider(trx, accountId, 'sms', fields.MessageSid!, result);
      if (!settled) {
        audit.nothingChanged();
        return false;
      }
      // A 21610 means the number said STOP: the opt-out settleByProvider records is worth a trail.
      if (result.status === 'opted_out' && phone && !wasOptedOut && (await optedOut(trx, accountId, phone))) {
        await audit({ action: 'notification.sms_opted_out', resourceType: 'sms_opt_out', resourceId: phone, after: { phone_e164: phone, source: 'twilio_21610' } });
      } else {
        audit.bookkeeping('notification_deliveries');
      }
      return true;
    });
    if (!found) {
      // The callback can overtake the settling of the send that carries the SID: wait for it a while.
      if (Date.now() - receivedAt.getTime() < awaitSendMs) throw new Error(`no SMS delivery has message ${fields.MessageSid} yet`);
      throw new PermanentFailure(`no SMS delivery has message ${fields.MessageSid}`);
    }
    return;
  }

  const intent = optIntent(fields);
  const phone = fields.From ?? '';
  if (!intent || !e164.test(phone)) return;
  await write(ctx, async (trx, audit) => {
    const before = await optedOut(trx, accountId, phone);
    if (intent === 'out') {
      if (before) return audit.nothingChanged();
      await recordSmsOptOut(trx, accountId, phone, 'keyword');
      await audit({ action: 'notification.sms_opted_out', resourceType: 'sms_opt_out', resourceId: phone, after: { phone_e164: phone, source: 'keyword' } });
    } else {
      if (!before || !(await clearSmsOptOut(trx, accountId, phone))) return audit.nothingChanged();
      await audit({ action: 'notification.sms_opted_in', resourceType: 'sms_opt_out', resourceId: phone, before: { phone_e164: phone, source: before.source } });
    }
  });
}
