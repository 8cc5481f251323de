// The VAPID key pair that signs web push requests (RFC 8292). Browsers bind each subscription to the
// public key it was made with, so the pair must stay the same across restarts and machines: like the
// encryption key (security/crypto.ts), it is generated and kept beside the data only with the
// embedded database, and must be configured with an external one.
import fs from 'node:fs';
import path from 'node:path';
import webpush from 'web-push';
import type { Config } from '../config.ts';

export interface VapidKeys {
  publicKey: string;
  privateKey: string;
  subject: string;
}

const embeddedSubject = 'mailto:admin@localhost';
const publicKeyPattern = /^[A-Za-z0-9_-]{80,100}$/;
const privateKeyPattern = /^[A-Za-z0-9_-]{40,50}$/;

export function resolveVapidKeys(config: Config, embedded: boolean): VapidKeys {
  const { ONELINK_VAPID_PUBLIC_KEY: publicKey, ONELINK_VAPID_PRIVATE_KEY: privateKey, ONELINK_VAPID_SUBJECT: configuredSubject } = config;
  if (Boolean(publicKey) !== Boolean(privateKey)) {
    throw new Error('ONELINK_VAPID_PUBLIC_KEY and ONELINK_VAPID_PRIVATE_KEY must be set together (generate a pair with `npx web-push generate-vapid-keys`).');
  }
  if (!embedded && !(publicKey && configuredSubject)) {
    throw new Error(
      'ONELINK_VAPID_PUBLIC_KEY, ONELINK_VAPID_PRIVATE_KEY and ONELINK_VAPID_SUBJECT must be set when DATABASE_URL is used (generate a key pair with `npx web-push generate-vapid-keys`; the subject is a mailto: or https:// contact).',
    );
  }
  const subject = configuredSubject ?? embeddedSubject;
  if (publicKey && privateKey) return { publicKey, privateKey, subject };
  return { ...keptKeys(config.dataDir), subject };
}

/** The pair kept in <data dir>/vapid.json, generated on the first start. */
function keptKeys(dataDir: string): Pick<VapidKeys, 'publicKey' | 'privateKey'> {
  const file = path.join(dataDir, 'vapid.json');
  if (!fs.existsSync(file)) {
    fs.mkdirSync(dataDir, { recursive: true });
    const generated = webpush.generateVAPIDKeys();
    try {
      fs.writeFileSync(file, JSON.stringify({ publicKey: generated.publicKey, privateKey: generated.privateKey }), { mode: 0o600, flag: 'wx' });
    } catch (err) {
      // Another process started at the same moment and wrote its pair first: use that one.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  let kept: unknown;
  try {
    kept = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    kept = null;
  }
  const { publicKey, privateKey } = (kept ?? {}) as Partial<Record<'publicKey' | 'privateKey', unknown>>;
  if (typeof publicKey !== 'string' || typeof privateKey !== 'string' || !publicKeyPattern.test(publicKey) || !privateKeyPattern.test(privateKey)) {
    throw new Error(`${file} does not hold a VAPID key pair; restore it from a backup, or delete it to generate a new pair (existing push subscriptions then stop working).`);
  }
  return { publicKey, privateKey };
}
