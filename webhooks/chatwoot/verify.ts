// Chatwoot's webhook signature (4.11+): X-Chatwoot-Signature = "sha256=" + hex HMAC-SHA256 of
// "<X-Chatwoot-Timestamp>.<raw body>" keyed with the webhook's secret. Compared in constant time.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const maxClockSkewSeconds = 300;

export type SignatureCheck = { ok: true } | { ok: false; code: 'missing_signature' | 'stale_timestamp' | 'invalid_signature' };

export function signChatwootBody(secret: string, timestamp: string, rawBody: Buffer | string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest('hex')}`;
}

export function verifyChatwootSignature(
  secret: string,
  headers: { timestamp?: string; signature?: string },
  rawBody: Buffer,
  nowSeconds = Math.floor(Date.now() / 1000),
): SignatureCheck {
  const { timestamp, signature } = headers;
  if (!timestamp || !signature) return { ok: false, code: 'missing_signature' };
  const sent = Number(timestamp);
  if (!Number.isFinite(sent) || Math.abs(nowSeconds - sent) > maxClockSkewSeconds) return { ok: false, code: 'stale_timestamp' };
  const expected = Buffer.from(signChatwootBody(secret, timestamp, rawBody));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return { ok: false, code: 'invalid_signature' };
  return { ok: true };
}
