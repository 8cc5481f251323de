// HTTP routes for calls: the account's Twilio connection and numbers (admins), the call log,
// links and dispositions, and recordings played through Onelink.
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import { phoneHint, toE164 } from '../../phones/e164.ts';
import { sendData, sendError } from '../../http/envelope.ts';
import { pageQuery } from '../../http/pagination.ts';
import { defineRoute } from '../../http/registry.ts';
import { chatwootId, chatwootIdParam, text, timestamp } from '../../http/schemas.ts';
import type { Services } from '../../services.ts';
import { getCall, linkCall, listCalls, openRecording, setDisposition } from './service.ts';
import { addNumber, getTwilioSettings, jobRules, listNumbers, removeNumber, saveTwilioSettings } from './settings.ts';
import { callDispositions, callStatuses } from './status.ts';

const e164 = z
  .string()
  .trim()
  .transform((value, issue) => {
    const number = toE164(value);
    if (!number) {
      issue.addIssue({ code: 'custom', message: phoneHint });
      return z.NEVER;
    }
    return number;
  });
const callParams = z.object({ callId: z.uuid() });

export function callRoutes(services: Services) {
  const readCalls = { permission: 'calls:read', capability: 'calls.twilio' } as const;
  const writeCalls = { permission: 'calls:write', capability: 'calls.twilio' } as const;
  const configure = { permission: 'calls:configure', capability: 'calls.twilio' } as const;
  const signer = services.urlSigner;
  return [
    defineRoute({
      method: 'get',
      path: '/twilio/settings',
      summary: 'The Twilio connection, call routing defaults and the webhook addresses to give Twilio (null until connected)',
      tags: ['calls'],
      access: configure,
      handler: async ({ ctx, res }) => sendData(res, await getTwilioSettings(ctx, services.config.PUBLIC_URL)),
    }),
    defineRoute({
      method: 'put',
      path: '/twilio/settings',
      summary: 'Connect Twilio (Account SID, auth token) and set forwarding, voicemail, the Chatwoot inbox for calls and the missed-call rules',
      tags: ['calls'],
      access: configure,
      body: z.object({
        account_sid: z.string().regex(/^AC[0-9a-f]{32}$/, 'a Twilio Account SID (AC followed by 32 hex digits)'),
        auth_token: z.string().min(16).max(200).optional().describe('Required the first time; sealed at rest, never shown again'),
        forward_to: z.array(e164).max(10),
        ring_timeout_seconds: z.number().int().min(5).max(120).optional(),
        voicemail_enabled: z.boolean().optional(),
        voicemail_greeting: text({ min: 1, max: 1000 }).nullable().optional(),
        transcribe_voicemail: z.boolean().optional(),
        chatwoot_inbox_id: chatwootId.nullable().optional().describe('The Chatwoot inbox (API or phone) where call threads are opened'),
        create_job_on: z.enum(jobRules).optional(),
        callback_due_minutes: z.number().int().min(1).max(10_080).optional(),
        callback_assignee_id: z.uuid().nullable().optional(),
        callback_team_id: chatwootId.nullable().optional(),
      }),
      handler: async ({ ctx, body, res }) => sendData(res, await saveTwilioSettings(ctx, services.sealer, services.config.PUBLIC_URL, body)),
    }),
    defineRoute({
      method: 'get',
      path: '/twilio/numbers',
      summary: 'The account’s Twilio numbers, by location',
      tags: ['calls'],
      access: configure,
      handler: async ({ ctx, res }) => sendData(res, await listNumbers(ctx)),
    }),
    defineRoute({
      method: 'post',
      path: '/twilio/numbers',
      summary: 'Register a Twilio number (with its location, and its own forwarding if it differs)',
      tags: ['calls'],
      access: configure,
      body: z.object({
        e164,
        label: text({ max: 100 }).nullable().optional(),
        location: text({ max: 100 }).nullable().optional(),
        forward_to: z.array(e164).max(10).nullable().optional(),
        ring_timeout_seconds: z.number().int().min(5).max(120).nullable().optional(),
      }),
      handler: async ({ ctx, body, res }) => sendData(res, await addNumber(ctx, body), {}, 201),
    }),
    defineRoute({
      method: 'delete',
      path: '/twilio/numbers/:numberId',
      summary: 'Forget a number',
      tags: ['calls'],
      access: configure,
      params: z.object({ numberId: z.uuid() }),
      handler: async ({ ctx, params, res }) => sendData(res, await removeNumber(ctx, params.numberId)),
    }),
    defineRoute({
      method: 'get',
      path: '/calls',
      summary: 'The call log, newest first; filters by status (comma list), direction, contact, conversation, job, number and time',
      tags: ['calls'],
      access: readCalls,
      query: pageQuery.extend({
        status: z.preprocess((v) => (typeof v === 'string' ? v.split(',').filter(Boolean) : v), z.array(z.enum(callStatuses)).max(callStatuses.length)).optional(),
        direction: z.enum(['inbound', 'outbound']).optional(),
        contact_id: chatwootIdParam.optional(),
        conversation_id: chatwootIdParam.optional(),
        job_id: z.uuid().optional(),
        number: e164.optional(),
        started_from: timestamp.optional(),
        started_to: timestamp.optional(),
      }),
      handler: async ({ ctx, query, res }) => {
        const { limit, cursor, ...filters } = query;
        const page = await listCalls(ctx, signer, filters, { limit, cursor });
        sendData(res, page.items, { next_cursor: page.nextCursor });
      },
    }),
    defineRoute({
      method: 'get',
      path: '/calls/recording',
      summary: 'A call’s recording behind a signed link (fetched from Twilio by the server)',
      tags: ['calls'],
      access: { public: true },
      rateLimitPerMinute: 300,
      query: z.object({ token: z.string().min(10).max(1000) }),
      handler: async ({ query, res }) => {
        const recording = await openRecording(
          { db: services.db, sealer: services.sealer, urlSigner: signer, twilioApiUrl: services.config.ONELINK_TWILIO_API_URL, timeoutMs: services.config.ONELINK_CHATWOOT_TIMEOUT_MS },
          query.token,
        ).catch(() => ({ unavailable: 502 }) as const);
        if (!recording) {
          sendError(res, 404, 'not_found', 'This link is invalid or has expired');
          return;
        }
        if ('unavailable' in recording) {
          sendError(res, 502, 'recording_unavailable', `Twilio did not hand over the recording (${recording.unavailable})`);
          return;
        }
        res.setHeader('Content-Type', recording.contentType);
        if (recording.length) res.setHeader('Content-Length', recording.length);
        res.setHeader('Content-Disposition', `inline; filename="${recording.sid}.mp3"`);
        res.setHeader('Cache-Control', 'private, max-age=3600');
        // pipeline, not pipe: a client that goes away closes the file (or connection) too.
        await pipeline(recording.stream, res).catch(() => undefined);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/calls/:callId',
      summary: 'One call with its transcript and a playable recording link',
      tags: ['calls'],
      access: readCalls,
      params: callParams,
      handler: async ({ ctx, params, res }) => sendData(res, await getCall(ctx, signer, params.callId)),
    }),
    defineRoute({
      method: 'post',
      path: '/calls/:callId/link',
      summary: 'Link the call to a job and/or a Chatwoot conversation (null unlinks)',
      tags: ['calls'],
      access: writeCalls,
      params: callParams,
      body: z.object({ job_id: z.uuid().nullable().optional(), conversation_id: chatwootId.nullable().optional() }),
      successStatus: 200,
      handler: async ({ ctx, params, body, res }) => sendData(res, await linkCall(ctx, signer, params.callId, body)),
    }),
    defineRoute({
      method: 'post',
      path: '/calls/:callId/disposition',
      summary: 'Say what the call was: booked, follow_up, quote, complaint, wrong_number, spam, other (null clears)',
      tags: ['calls'],
      access: writeCalls,
      params: callParams,
      body: z.object({ disposition: z.enum(callDispositions).nullable() }),
      successStatus: 200,
      handler: async ({ ctx, params, body, res }) => sendData(res, await setDisposition(ctx, signer, params.callId, body.disposition)),
    }),
  ];
}
