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
  close(): Promise<void>;
}

export const hex = (bytes: number) => randomBytes(bytes).toString('hex');
export const newCallSid = () => `CA${hex(16)}`;
export const newRecordingSid = () => `RE${hex(16)}`;

export async function startFakeTwilio(): Promise<FakeTwilio> {
  const fake = { url: '', accountSid: `AC${hex(16)}`, authToken: hex(16), recordings: new Map<string, Buffer>(), fetches: 0 };
  const app = express();
  app.get('/2010-04-01/Accounts/:sid/Recordings/:file', (req, res) => {
    fake.fetches++;
    const expected = `Basic ${Buffer.from(`${fake.accountSid}:${fake.authToken}`).toString('base64')}`;
    if (req.params.sid !== fake.accountSid || req.headers.authorization !== expected) return void res.status(401).json({ code: 20003, message: 'Authenticate' });
    const bytes = fake.recordings.get(req.params.file.replace(/\.mp3$/, ''));
    if (!bytes) return void res.status(404).json({ code: 20404, message: 'The requested resource was not found' });
    res.type('audio/mpeg').send(bytes);
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
