// POST /webhooks/twilio/:accountId/:token/:event — Twilio's voice webhooks for one account.
// Every request is checked with Twilio's signature scheme (X-Twilio-Signature over the public
// URL Twilio called and the form fields, with the account's auth token) before anything is
// stored; then it is stored in the webhook inbox (deduplicated per CallSid and event) and
// answered at once — with TwiML where Twilio waits for instructions. Processing is queued.
import { z } from 'zod';
import { isDatabaseUnavailable } from '../../extension/db/errors.ts';
import { read } from '../../extension/db/tenant.ts';
import { sendError } from '../../extension/http/envelope.ts';
import { defineRoute } from '../../extension/http/registry.ts';
import { idParam } from '../../extension/http/schemas.ts';
import { routingFor, loadTwilioSettings, type TwilioSettingsRow } from '../../extension/modules/calls/settings.ts';
import type { Services } from '../../extension/services.ts';
import { shortLived } from '../cache.ts';
import { deliveryInbox } from '../inbox.ts';
import { deliveryNudger } from '../nudge.ts';
import { twilioMessagingRoute } from './messaging.ts';
import { verifiedTwilioForm, type TwilioAccount } from './verify.ts';
import { afterDial, answerCall, hangUp, type CallRouting } from './twiml.ts';

export const twilioEvents = ['voice', 'dial', 'voicemail', 'status', 'recording', 'transcription'] as const;
export type TwilioEvent = (typeof twilioEvents)[number];

/** What makes two callbacks the same delivery: Twilio retries resend identical fields. */
export function twilioDedupeKey(accountId: number, event: TwilioEvent, p: Record<string, string>) {
  const part = {
    voice: '',
    dial: p.DialCallStatus ?? '',
    voicemail: p.RecordingSid ?? '',
    status: p.CallStatus ?? '',
    recording: `${p.RecordingSid ?? ''}:${p.RecordingStatus ?? ''}`,
    transcription: `${p.TranscriptionSid ?? ''}:${p.TranscriptionStatus ?? ''}`,
  }[event];
  // The account leads: another account of the installation can never pre-empt this call's key.
  return `${accountId}:${p.CallSid}:${event}:${part}`;
}

interface AccountTwilio extends TwilioAccount { settings: TwilioSettingsRow }

/** Settings per account, with the auth token opened: every callback needs them. */
function settingsCache(services: Services) {
  return shortLived(
    (accountId: number): Promise<AccountTwilio | undefined> =>
      read({ db: services.db, accountId }, async (trx) => {
        const settings = await loadTwilioSettings(trx, accountId);
        const account = await trx('accounts').where({ account_id: accountId }).first('installation_id');
        return settings && account ? { settings, authToken: services.sealer.open(settings.auth_token_sealed), installationId: account.installation_id as string } : undefined;
      }),
    { maxEntries: 10_000 },
  );
}

export function twilioWebhookRoutes(services: Services) {
  const settingsOf = settingsCache(services);
  const store = deliveryInbox(services.db);
  const nudge = deliveryNudger(services.db);
  const publicUrl = services.config.PUBLIC_URL;
  return [
    defineRoute({
      method: 'post',
      prefix: '',
      path: '/webhooks/twilio/:accountId/:token/:event',
      summary: 'Twilio voice webhooks (X-Twilio-Signature checked): voice, dial, voicemail, status, recording, transcription',
      tags: ['webhooks'],
      access: { public: true },
      // Only refused requests count: Twilio's own traffic is never throttled, while a source of
      // unsigned or misaddressed noise is cut off after a few hundred a minute.
      rateLimitPerMinute: 300,
      rateLimitFailuresOnly: true,
      rawBody: true,
      params: z.object({ accountId: idParam, token: z.string().min(16).max(100), event: z.enum(twilioEvents) }),
      handler: async ({ params, req, res }) => {
        // Settings that cannot be opened read as no settings (404); a database that is down is a 503,
        // so Twilio's request fails loudly instead of looking like a wrong address.
        const account = await settingsOf(params.accountId).catch((err: unknown) => {
          if (isDatabaseUnavailable(err)) throw err;
          return undefined;
        });
        const form = verifiedTwilioForm(req, res, account, params.token, publicUrl);
        if (!form || !account) return;
        const { raw, fields, url } = form;
        if (!/^CA[0-9a-f]{32}$/.test(fields.CallSid ?? '')) {
          sendError(res, 400, 'invalid_body', 'A Twilio voice callback names its CallSid');
          return;
        }
        const stored = await store({
          installationId: account.installationId,
          accountId: params.accountId,
          source: 'twilio',
          dedupeKey: twilioDedupeKey(params.accountId, params.event, fields),
          event: `twilio.${params.event}`,
          headers: { 'x-twilio-signature': req.get('x-twilio-signature') ?? null, 'user-agent': req.get('user-agent') ?? null, url },
          body: raw,
          status: 'received',
          lastError: null,
        });
        if (stored && stored.status === 'received') nudge(); // the queue's sweep covers a lost nudge

        const base = `${publicUrl}/webhooks/twilio/${params.accountId}/${params.token}`;
        const routing = async (): Promise<CallRouting> => {
          const route = await read({ db: services.db, accountId: params.accountId }, (trx) => routingFor(trx, params.accountId, account.settings, fields.To ?? null));
          return {
            forwardTo: route.forwardTo,
            timeout: route.timeout,
            voicemail: account.settings.voicemail_enabled,
            greeting: account.settings.voicemail_greeting,
            transcribe: account.settings.transcribe_voicemail,
            urls: { dial: `${base}/dial`, voicemail: `${base}/voicemail`, recording: `${base}/recording`, transcription: `${base}/transcription` },
          };
        };
        if (params.event === 'voice') res.type('text/xml').send(answerCall(await routing()));
        else if (params.event === 'dial') res.type('text/xml').send(afterDial(await routing(), fields.DialCallStatus));
        else if (params.event === 'voicemail') res.type('text/xml').send(hangUp());
        else res.status(204).end();
      },
    }),
    // SMS status callbacks and incoming replies (messaging.ts): same checks, same inbox.
    twilioMessagingRoute({ settingsOf, store, nudge, publicUrl }),
  ];
}
