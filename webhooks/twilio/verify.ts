// The one door of every Twilio webhook (voice and messaging): the account's webhook address (its
// token), then Twilio's signature (X-Twilio-Signature over the public URL Twilio called and the
// form fields, with the account's auth token), then text Postgres can store — all before anything
// is stored. A refusal is answered here; the caller gets the verified form or nothing.
import type { Request, Response } from 'express';
import twilio from 'twilio';
import { sendError } from '../../extension/http/envelope.ts';
import { hasBadCharacters } from '../../extension/http/schemas.ts';
import { safeEqual } from '../../extension/security/crypto.ts';

export interface TwilioAccount { settings: { webhook_token: string }; authToken: string; installationId: string }

export interface VerifiedForm { raw: string; fields: Record<string, string>; url: string; signature: string }

export function verifiedTwilioForm(req: Request, res: Response, account: TwilioAccount | undefined, token: string, publicUrl: string): VerifiedForm | null {
  if (!account || !safeEqual(token, account.settings.webhook_token)) {
    sendError(res, 404, 'not_found', 'Unknown webhook address');
    return null;
  }
  const raw = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '';
  const fields = Object.fromEntries(new URLSearchParams(raw));
  // Twilio signs the URL it called, which behind a proxy is the public one, not ours.
  const url = `${publicUrl}${req.originalUrl}`;
  const signature = req.get('x-twilio-signature') ?? '';
  if (!twilio.validateRequest(account.authToken, signature, url, fields)) {
    sendError(res, 403, 'invalid_signature', 'The Twilio signature is missing or wrong');
    return null;
  }
  // Signed, yet unstorable: Postgres refuses NUL in text. Refused before anything is stored.
  if (Object.entries(fields).some(([name, value]) => hasBadCharacters(name) || hasBadCharacters(value))) {
    sendError(res, 400, 'invalid_body', 'A form field contains NUL or unpaired surrogate characters');
    return null;
  }
  return { raw, fields, url, signature };
}
