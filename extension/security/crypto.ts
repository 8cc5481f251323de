// Secrets at rest (Chatwoot tokens, webhook secrets) are sealed with AES-256-GCM; bearer
// tokens we issue are random and stored only as SHA-256 hashes.
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export interface Sealer {
  seal(plaintext: string): string;
  open(sealed: string): string;
}

const version = 'v1';

export function createSealer(key: Buffer): Sealer {
  if (key.length !== 32) throw new Error('The encryption key must be 32 bytes');
  return {
    seal(plaintext) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return [version, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), body.toString('base64url')].join('.');
    },
    open(sealed) {
      const [v, iv, tag, body] = sealed.split('.');
      if (v !== version || !iv || !tag || body === undefined) throw new Error('Unknown sealed value format');
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
    },
  };
}

/**
 * The key comes from ONELINK_ENCRYPTION_KEY. With the embedded database only, a key is
 * generated once and kept beside the data, so a zero-configuration start works; with an
 * external database the key must be configured, or sealed secrets would not survive a
 * move to another machine.
 */
export function resolveEncryptionKey(configured: string | undefined, dataDir: string, embedded: boolean): Buffer {
  if (configured) return Buffer.from(configured, 'base64');
  if (!embedded) {
    throw new Error(
      'ONELINK_ENCRYPTION_KEY must be set when DATABASE_URL is used (32 random bytes in base64; generate one with `openssl rand -base64 32`).',
    );
  }
  const file = path.join(dataDir, 'encryption.key');
  if (!fs.existsSync(file)) {
    fs.mkdirSync(dataDir, { recursive: true });
    fs.writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' });
  }
  return Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'base64');
}

export function sha256(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

export function safeEqual(a: string, b: string): boolean {
  const left = sha256(a);
  const right = sha256(b);
  return timingSafeEqual(left, right);
}

export interface UrlSigner {
  /** A token carrying `claims` until `expiresAt`, readable by anyone, forgeable by no one. */
  sign(claims: Record<string, string | number>, expiresAt: Date): string;
  /** The claims of a valid, unexpired token; null otherwise. */
  verify(token: string, now?: Date): Record<string, string | number> | null;
}

/**
 * Signs short-lived download links (an <img> cannot send our headers). The HMAC key is derived
 * from the encryption key for this one purpose, so a link never reveals or reuses the key itself.
 */
export function createUrlSigner(key: Buffer): UrlSigner {
  const signingKey = createHmac('sha256', key).update('onelink download links v1').digest();
  const mac = (payload: string) => createHmac('sha256', signingKey).update(payload).digest('base64url');
  return {
    sign(claims, expiresAt) {
      const payload = Buffer.from(JSON.stringify({ ...claims, exp: Math.floor(expiresAt.getTime() / 1000) })).toString('base64url');
      return `${payload}.${mac(payload)}`;
    },
    verify(token, now = new Date()) {
      const [payload, signature] = token.split('.');
      if (!payload || !signature || !safeEqual(signature, mac(payload))) return null;
      try {
        const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, string | number>;
        return typeof claims.exp === 'number' && claims.exp * 1000 > now.getTime() ? claims : null;
      } catch {
        return null;
      }
    },
  };
}
