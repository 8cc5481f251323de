// Twilio for tests. Its REST API is faked at the HTTP boundary (recordings, fetched with the
// account's Basic credentials, the way api.twilio.com serves them). Its webhooks are real
// requests to our app, signed by the real `twilio` library exactly as Twilio signs them.
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import request from 'supertest';
import twilio from 'twilio';
import type { Express } from 'express';

export interface FakeTwilio {
  url: string;
  accountSid: string;
  authToken: string;
  /** Recording bytes by RecordingSid. */
  recordings: Map<string, Buffer>;
  fetches: number;
  /** Every POST to the Messages resource, authenticated or not, in order. */
  messages: SentMessage[];
  /** Answers to give the next message requests instead of accepting them (first in, first out). */
  messageAnswers: MessageAnswer[];
  /** Every DELETE of a recording, authenticated or not, in order. */
  recordingDeletes: RecordingDelete[];
  /** Answers to give the next recording deletes instead of deleting (first in, first out). */
  recordingDeleteAnswers: MessageAnswer[];
  close(): Promise<void>;
}

export interface SentMessage {
  /** The account in the path. */
  accountSid: string;
  authorized: boolean;
  contentType: string | undefined;
  userAgent: string | undefined;
  /** The form body exactly as it came, and its fields. */
  raw: string;
  form: Record<string, string>;
  /** The SID given, when the message was accepted. */
  sid: string | null;
}

export interface RecordingDelete {
  accountSid: string;
  recordingSid: string;
  authorized: boolean;
  /** The status answered. */
  status: number;
}

export type MessageAnswer = { status: number; code?: number; message?: string };

export const hex = (bytes: number) => randomBytes(bytes).toString('hex');
export const newCallSid = () => `CA${hex(16)}`;
export const newRecordingSid = () => `RE${hex(16)}`;
export const newMessageSid = () => `SM${hex(16)}`;

// Twilio's magic "To" numbers (test credentials): each one fails the way the real API fails.
const magicTo: Record<string, MessageAnswer> = {
  '+15005550001': { status: 400, code: 21211, message: "The 'To' number +15005550001 is not a valid phone number." },
  '+15005550002': { status: 400, code: 21612, message: "The 'To' phone number: +15005550002, is not currently reachable using the 'From' phone number via SMS." },
  '+15005550003': { status: 400, code: 21408, message: 'Permission to send an SMS has not been enabled for the region indicated by the \'To\' number: +15005550003.' },
  '+15005550004': { status: 400, code: 21610, message: 'Attempt to send to unsubscribed recipient' },
  '+15005550009': { status: 400, code: 21614, message: "'To' number is not a valid mobile number" },
};

/** What the Messages resource refuses before sending, as Twilio does. */
function refusal(form: Record<string, string>): MessageAnswer | null {
  if (!form.To) return { status: 400, code: 21604, message: "A 'To' phone number is required." };
  if (!form.From && !form.MessagingServiceSid) return { status: 400, code: 21603, message: "A 'From' phone number is required." };
  if (!form.Body && !form.MediaUrl && !form.ContentSid) return { status: 400, code: 21602, message: 'Message body is required.' };
  if ([...form.Body!].length > 1600) return { status: 400, code: 21617, message: 'The concatenated message body exceeds the 1600 character limit.' };
  if (form.MessagingServiceSid && !/^MG[0-9a-f]{32}$/.test(form.MessagingServiceSid)) return { status: 400, code: 21701, message: 'The Messaging Service Sid is invalid.' };
  if (!/^\+[1-9]\d{6,14}$/.test(form.To)) return { status: 400, code: 21211, message: `The 'To' number ${form.To} is not a valid phone number.` };
  return magicTo[form.To] ?? null;
}

export async function startFakeTwilio(): Promise<FakeTwilio> {
  const fake = { url: '', accountSid: `AC${hex(16)}`, authToken: hex(16), recordings: new Map<string, Buffer>(), fetches: 0, messages: [] as SentMessage[], messageAnswers: [] as MessageAnswer[], recordingDeletes: [] as RecordingDelete[], recordingDeleteAnswers: [] as MessageAnswer[] };
  const app = express();
  const twilioError = (res: express.Response, answer: MessageAnswer) =>
    void res.status(answer.status).json({ code: answer.code ?? null, message: answer.message ?? 'Error', more_info: answer.code ? `https://www.twilio.com/docs/errors/${answer.code}` : null, status: answer.status });
  // Sending an SMS: POST /2010-04-01/Accounts/{AccountSid}/Messages.json, form-encoded, Basic auth.
  app.post('/2010-04-01/Accounts/:sid/Messages.json', express.text({ type: () => true }), (req, res) => {
    const raw = typeof req.body === 'string' ? req.body : '';
    const form = Object.fromEntries(new URLSearchParams(raw));
    const expected = `Basic ${Buffer.from(`${fake.accountSid}:${fake.authToken}`).toString('base64')}`;
    const sent: SentMessage = {
      accountSid: req.params.sid,
      authorized: req.params.sid === fake.accountSid && req.headers.authorization === expected,
      contentType: req.headers['content-type'],
      userAgent: req.headers['user-agent'],
      raw,
      form,
      sid: null,
    };
    fake.messages.push(sent);
    if (!sent.authorized) return twilioError(res, { status: 401, code: 20003, message: 'Authenticate' });
    const answer = fake.messageAnswers.shift() ?? refusal(form);
    if (answer) return twilioError(res, answer);
    sent.sid = newMessageSid();
    const now = new Date().toUTCString().replace('GMT', '+0000');
    res.status(201).json({
      account_sid: fake.accountSid,
      api_version: '2010-04-01',
      body: form.Body,
      date_created: now,
      date_sent: null,
      date_updated: now,
      direction: 'outbound-api',
      error_code: null,
      error_message: null,
      from: form.From ?? null,
      messaging_service_sid: form.MessagingServiceSid ?? null,
      num_media: '0',
      num_segments: '1',
      price: null,
      price_unit: 'USD',
      sid: sent.sid,
      status: form.MessagingServiceSid ? 'accepted' : 'queued',
      subresource_uris: { media: `/2010-04-01/Accounts/${fake.accountSid}/Messages/${sent.sid}/Media.json` },
      to: form.To,
      uri: `/2010-04-01/Accounts/${fake.accountSid}/Messages/${sent.sid}.json`,
    });
  });
  app.get('/2010-04-01/Accounts/:sid/Recordings/:file', (req, res) => {
    fake.fetches++;
    const expected = `Basic ${Buffer.from(`${fake.accountSid}:${fake.authToken}`).toString('base64')}`;
    if (req.params.sid !== fake.accountSid || req.headers.authorization !== expected) return void res.status(401).json({ code: 20003, message: 'Authenticate' });
    const bytes = fake.recordings.get(req.params.file.replace(/\.mp3$/, ''));
    if (!bytes) return void res.status(404).json({ code: 20404, message: 'The requested resource was not found' });
    res.type('audio/mpeg').send(bytes);
  });
  // Deleting a recording: DELETE /2010-04-01/Accounts/{AccountSid}/Recordings/{RecordingSid}.json → 204, 404 once gone.
  app.delete('/2010-04-01/Accounts/:sid/Recordings/:file', (req, res) => {
    const expected = `Basic ${Buffer.from(`${fake.accountSid}:${fake.authToken}`).toString('base64')}`;
    const call: RecordingDelete = { accountSid: req.params.sid, recordingSid: req.params.file.replace(/\.json$/, ''), authorized: req.params.sid === fake.accountSid && req.headers.authorization === expected, status: 204 };
    fake.recordingDeletes.push(call);
    const answer = !call.authorized ? { status: 401, code: 20003, message: 'Authenticate' } : (fake.recordingDeleteAnswers.shift() ?? (fake.recordings.has(call.recordingSid) ? null : { status: 404, code: 20404, message: 'The requested resource was not found' }));
    if (answer) {
      call.status = answer.status;
      return twilioError(res, answer);
    }
    fake.recordings.delete(call.recordingSid);
    res.status(204).end();
  });
  const server: Server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return Object.assign(fake, {
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
}

/** The address Twilio's REST API gives a recording (we append .mp3 to fetch it). */
export const recordingUrl = (fake: FakeTwilio, recordingSid: string) => `${fake.url}/2010-04-01/Accounts/${fake.accountSid}/Recordings/${recordingSid}`;

/**
 * Posts a callback to our app the way Twilio does: form-encoded, signed over the public URL
 * (PUBLIC_URL + path) and the fields with the account's auth token.
 */
export function sendTwilioCallback(app: Express, publicUrl: string, path: string, fields: Record<string, string>, authToken: string, options: { signature?: string } = {}) {
  const signature = options.signature ?? twilio.getExpectedTwilioSignature(authToken, `${publicUrl}${path}`, fields);
  return request(app).post(path).type('form').set('X-Twilio-Signature', signature).set('User-Agent', 'TwilioProxy/1.1').send(fields);
}
