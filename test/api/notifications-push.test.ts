// Web push: the VAPID key pair, the portal's subscription routes, and the push channel against a
// local push service over real HTTPS that checks what a push service checks (the VAPID JWT signed
// with ES256 for its origin, aes128gcm content, a TTL) and, playing the browser too, decrypts the
// message with the subscription's keys (RFC 8291).
import { createDecipheriv, createECDH, createPublicKey, hkdfSync, randomBytes, randomUUID, verify, type ECDH } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo, LookupFunction } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import webpush from 'web-push';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../extension/config.ts';
import { issueToken } from '../../extension/auth/tokens.ts';
import { withAccountForTests as withAccount } from '../../extension/db/tenant.ts';
import type { EventName } from '../../extension/notifications/catalogue.ts';
import { pushChannel } from '../../extension/notifications/channels/push.ts';
import type { ChannelSender, OutgoingDelivery } from '../../extension/notifications/channels/types.ts';
import { resolveVapidKeys, type VapidKeys } from '../../extension/notifications/vapid.ts';
import { apiAs } from '../helpers/api.ts';
import type { TestApp } from '../helpers/app.ts';
import { createClientPortalSession, createVendorPortalSession, signInAgent, type SignedIn } from '../helpers/identity.ts';
import { useWorld } from '../helpers/world.ts';

const tmpDirs: string[] = [];
const tmpDir = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onelink-push-'));
  tmpDirs.push(dir);
  return dir;
};
afterAll(() => tmpDirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

const generated = webpush.generateVAPIDKeys();
const configWith = (env: Record<string, string>, dataDir = tmpDir()) => loadConfig({ NODE_ENV: 'test', ONELINK_DATA_DIR: dataDir, ...env });

describe('VAPID keys', () => {
  it('are generated once with the embedded database, kept owner-readable only, and reused', () => {
    const dir = tmpDir();
    const first = resolveVapidKeys(configWith({}, dir), true);
    expect(first.subject).toBe('mailto:admin@localhost');
    expect(Buffer.from(first.publicKey, 'base64url')).toHaveLength(65);
    expect(Buffer.from(first.privateKey, 'base64url')).toHaveLength(32);
    const file = path.join(dir, 'vapid.json');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const again = resolveVapidKeys(configWith({}, dir), true);
    expect(again).toEqual(first);
    expect(resolveVapidKeys(configWith({ ONELINK_VAPID_SUBJECT: 'mailto:ops@example.com' }, dir), true)).toEqual({ ...first, subject: 'mailto:ops@example.com' });
  });

  it('must be configured, with a subject, when an external database is used', () => {
    const dir = tmpDir();
    expect(() => resolveVapidKeys(configWith({}, dir), false)).toThrow(/ONELINK_VAPID_PUBLIC_KEY.*must be set when DATABASE_URL is used/);
    expect(fs.existsSync(path.join(dir, 'vapid.json'))).toBe(false);
    const keys = { ONELINK_VAPID_PUBLIC_KEY: generated.publicKey, ONELINK_VAPID_PRIVATE_KEY: generated.privateKey };
    expect(() => resolveVapidKeys(configWith(keys), false)).toThrow(/ONELINK_VAPID_SUBJECT/);
    expect(resolveVapidKeys(configWith({ ...keys, ONELINK_VAPID_SUBJECT: 'https://ops.example.com' }), false)).toEqual({
      publicKey: generated.publicKey,
      privateKey: generated.privateKey,
      subject: 'https://ops.example.com',
    });
  });

  it('uses configured keys in embedded mode too, without writing a file', () => {
    const dir = tmpDir();
    const keys = resolveVapidKeys(configWith({ ONELINK_VAPID_PUBLIC_KEY: generated.publicKey, ONELINK_VAPID_PRIVATE_KEY: generated.privateKey }, dir), true);
    expect(keys).toEqual({ publicKey: generated.publicKey, privateKey: generated.privateKey, subject: 'mailto:admin@localhost' });
    expect(fs.existsSync(path.join(dir, 'vapid.json'))).toBe(false);
  });

  it('refuses half a pair in either mode', () => {
    for (const embedded of [true, false]) {
      expect(() => resolveVapidKeys(configWith({ ONELINK_VAPID_PUBLIC_KEY: generated.publicKey, ONELINK_VAPID_SUBJECT: 'mailto:a@example.com' }), embedded)).toThrow(/set together/);
      expect(() => resolveVapidKeys(configWith({ ONELINK_VAPID_PRIVATE_KEY: generated.privateKey, ONELINK_VAPID_SUBJECT: 'mailto:a@example.com' }), embedded)).toThrow(/set together/);
    }
  });

  it('refuses a damaged key file rather than silently making a new pair', () => {
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, 'vapid.json'), '{"publicKey":"short"}');
    expect(() => resolveVapidKeys(configWith({}, dir), true)).toThrow(/does not hold a VAPID key pair/);
  });
});

// ---------------------------------------------------------------------------------------------
// A push service on 127.0.0.1 under the name push.example.test, with a self-signed certificate.

const pushHost = 'push.example.test';

interface Browser { endpoint: string; keys: { p256dh: string; auth: string }; ecdh: ECDH; authSecret: Buffer }
interface Received { path: string; headers: Record<string, string | string[] | undefined>; problems: string[]; message: unknown }

interface FakePushService {
  port: number;
  agent: https.Agent;
  received: Received[];
  /** How the service answers a path (default 201 Created). */
  answers: Map<string, { status: number; headers?: Record<string, string> }>;
  newBrowser(): Browser;
  close(): Promise<void>;
}

/** The message of an aes128gcm body (RFC 8188) encrypted for the browser's keys (RFC 8291). */
function decryptForBrowser(body: Buffer, browser: Pick<Browser, 'ecdh' | 'authSecret'>): Buffer {
  const salt = body.subarray(0, 16);
  const idLength = body[20]!;
  const senderKey = body.subarray(21, 21 + idLength);
  const record = body.subarray(21 + idLength);
  const ecdhSecret = browser.ecdh.computeSecret(senderKey);
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), browser.ecdh.getPublicKey(), senderKey]);
  const ikm = Buffer.from(hkdfSync('sha256', ecdhSecret, browser.authSecret, keyInfo, 32));
  const cek = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
  const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
  const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
  decipher.setAuthTag(record.subarray(record.length - 16));
  const padded = Buffer.concat([decipher.update(record.subarray(0, record.length - 16)), decipher.final()]);
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end--;
  if (padded[end] !== 2) throw new Error('the only record must end with the last-record delimiter 0x02');
  return padded.subarray(0, end);
}

/** What a push service refuses in a request (RFC 8030, 8291, 8292), as sentences; [] when it is acceptable. */
function problemsOf(headers: Received['headers'], body: Buffer, origin: string, vapid: VapidKeys): string[] {
  const problems: string[] = [];
  const authorization = String(headers.authorization ?? '');
  const match = /^vapid t=([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+), k=([A-Za-z0-9_-]+)$/.exec(authorization);
  if (!match) {
    problems.push(`Authorization is not "vapid t=<JWT>, k=<key>": ${authorization}`);
  } else {
    const [, jwt, k] = match as unknown as [string, string, string];
    if (k !== vapid.publicKey) problems.push('k is not the VAPID public key');
    const point = Buffer.from(k, 'base64url');
    const key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33, 65).toString('base64url') }, format: 'jwk' });
    const [header, claims, signature] = jwt.split('.') as [string, string, string];
    const signed = verify('sha256', Buffer.from(`${header}.${claims}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(signature, 'base64url'));
    if (!signed) problems.push('the JWT signature does not verify with ES256 against k');
    const head = JSON.parse(Buffer.from(header, 'base64url').toString()) as { alg?: string };
    if (head.alg !== 'ES256') problems.push(`JWT alg is ${head.alg}`);
    const payload = JSON.parse(Buffer.from(claims, 'base64url').toString()) as { aud?: string; exp?: number; sub?: string };
    const now = Date.now() / 1000;
    if (payload.aud !== origin) problems.push(`aud ${payload.aud} is not ${origin}`);
    if (typeof payload.exp !== 'number' || payload.exp <= now || payload.exp > now + 24 * 3600) problems.push(`exp ${payload.exp} is not within the next 24 hours`);
    if (payload.sub !== vapid.subject) problems.push(`sub ${payload.sub} is not ${vapid.subject}`);
  }
  if (headers['content-encoding'] !== 'aes128gcm') problems.push(`Content-Encoding is ${headers['content-encoding']}`);
  if (!/^\d+$/.test(String(headers.ttl ?? ''))) problems.push(`TTL is ${headers.ttl}`);
  if (body.length <= 86) problems.push('the body is not an aes128gcm message (header and one record)');
  return problems;
}

async function startFakePushService(vapid: VapidKeys): Promise<FakePushService> {
  const dir = tmpDir();
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'),
    '-subj', `/CN=${pushHost}`, '-addext', `subjectAltName=DNS:${pushHost}`,
  ], { stdio: 'pipe' });
  const cert = fs.readFileSync(path.join(dir, 'cert.pem'));
  const browsers = new Map<string, Browser>();
  const received: Received[] = [];
  const answers = new Map<string, { status: number; headers?: Record<string, string> }>();
  let origin = '';
  const server = https.createServer({ key: fs.readFileSync(path.join(dir, 'key.pem')), cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const problems = req.method === 'POST' ? problemsOf(req.headers, body, origin, vapid) : [`method ${req.method}`];
      const browser = browsers.get(req.url ?? '');
      let message: unknown = null;
      if (!problems.length && browser) {
        try {
          message = JSON.parse(decryptForBrowser(body, browser).toString('utf8'));
        } catch (err) {
          problems.push(`cannot decrypt: ${(err as Error).message}`);
        }
      }
      received.push({ path: req.url ?? '', headers: req.headers, problems, message });
      if (problems.length) {
        res.writeHead(problems.some((p) => /JWT|Authorization|aud|exp|sub|k is/.test(p)) ? 403 : 400).end(problems.join('\n'));
        return;
      }
      const answer = answers.get(req.url ?? '') ?? { status: 201, headers: { Location: `https://${pushHost}/m/${randomUUID()}` } };
      res.writeHead(answer.status, answer.headers ?? {}).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  origin = `https://${pushHost}:${port}`;
  // The push service's name resolves to this machine; any other name does not resolve at all.
  const lookup = ((hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (hostname !== pushHost) return callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }));
    return options?.all ? callback(null, [{ address: '127.0.0.1', family: 4 }]) : callback(null, '127.0.0.1', 4);
  }) as unknown as LookupFunction;
  const agent = new https.Agent({ ca: cert, lookup });
  return {
    port,
    agent,
    received,
    answers,
    newBrowser() {
      const ecdh = createECDH('prime256v1');
      ecdh.generateKeys();
      const authSecret = randomBytes(16);
      const subscriptionPath = `/wpush/${randomUUID()}`;
      const browser = { endpoint: `${origin}${subscriptionPath}`, keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: authSecret.toString('base64url') }, ecdh, authSecret };
      browsers.set(subscriptionPath, browser);
      return browser;
    },
    close: async () => {
      agent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// ---------------------------------------------------------------------------------------------

const vapid = resolveVapidKeys(
  configWith({ ONELINK_VAPID_PUBLIC_KEY: generated.publicKey, ONELINK_VAPID_PRIVATE_KEY: generated.privateKey, ONELINK_VAPID_SUBJECT: 'mailto:ops@example.com' }),
  false,
);
// The app serves the push routes with its own key pair (test/helpers/app.ts); the channel here signs with `vapid`.
const world = useWorld([1, 2]);
let t: TestApp;
let push: FakePushService;
let channel: ChannelSender;
let agentA: SignedIn;
let agentB: SignedIn;
let contactSeq = 7000;

beforeAll(async () => {
  t = world.t;
  push = await startFakePushService(vapid);
  channel = pushChannel({ db: t.db.knex, vapid, agent: push.agent, timeoutMs: 5000 });
  agentA = await signInAgent(t, world.chatwoot, 1, 'agent');
  agentB = await signInAgent(t, world.chatwoot, 2, 'agent');
});
afterAll(async () => {
  await push?.close();
});

async function newVendor(accountId: number) {
  const [vendor] = await withAccount(t.db.knex, accountId, { readOnly: false }, (trx) => trx('vendors').insert({ account_id: accountId, name: 'Pipe Crew' }).returning('id'));
  const session = await createVendorPortalSession(t, accountId, vendor.id);
  return { vendorId: vendor.id as string, ...session };
}

async function newClient(staff: SignedIn) {
  const contactId = contactSeq++;
  return { contactId, ...(await createClientPortalSession(t, staff, contactId)) };
}

async function subscribe(token: string, browser: Browser) {
  const res = await apiAs(t, token).post('/push/subscriptions', { endpoint: browser.endpoint, keys: browser.keys, user_agent: 'Test Phone' });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.data as { id: string; endpoint: string };
}

function delivery(accountId: number, recipient: OutgoingDelivery['recipient'], event: EventName = 'vendor.job_assigned'): OutgoingDelivery {
  return {
    id: randomUUID(),
    accountId,
    event,
    channel: 'push',
    recipient,
    address: null,
    message: { title: 'New job: leaking pipe', body: 'Kitchen sink, 12 Elm St, today 14:00–16:00', url: 'http://onelink.test/portal/vendor/jobs/1', link: null },
    attempts: 0,
  };
}

const subscriptionsOf = (accountId: number, portalUserId: string) =>
  withAccount(t.db.knex, accountId, { readOnly: true }, (trx) => trx('push_subscriptions').where({ account_id: accountId, portal_user_id: portalUserId }).orderBy('created_at'));
const receivedAt = (browser: Browser) => push.received.filter((r) => browser.endpoint.endsWith(r.path));

describe('push channel', () => {
  it('sends a vendor’s notification to each of its browsers, signed and encrypted as push services require', async () => {
    const vendor = await newVendor(agentA.accountId);
    const phone = push.newBrowser();
    const laptop = push.newBrowser();
    await subscribe(vendor.token, phone);
    await subscribe(vendor.token, laptop);
    const sent = delivery(agentA.accountId, { kind: 'vendor', id: vendor.vendorId, name: 'Pipe Crew' });

    expect(await channel.unavailable(t.db.knex, agentA.accountId)).toBeNull();
    expect(await channel.send(sent)).toEqual({ outcome: 'sent', providerId: null });

    for (const browser of [phone, laptop]) {
      const [got, ...more] = receivedAt(browser);
      expect(more).toEqual([]);
      expect(got!.problems).toEqual([]);
      expect(got!.message).toEqual({ title: sent.message.title, body: sent.message.body, url: sent.message.url, tag: sent.id });
      expect(got!.headers.ttl).toBe('86400');
      expect(got!.headers.urgency).toBe('high'); // vendor.job_assigned is urgent
    }
    const rows = await subscriptionsOf(agentA.accountId, vendor.portalUserId);
    expect(rows.map((r) => r.user_agent)).toEqual(['Test Phone', 'Test Phone']);
    expect(rows.every((r) => r.last_success_at instanceof Date)).toBe(true);
  });

  it('sends a client’s notification to the portal user bound to the contact, and stops when that user is deactivated', async () => {
    const client = await newClient(agentA);
    const browser = push.newBrowser();
    await subscribe(client.token, browser);
    const toClient = () => delivery(agentA.accountId, { kind: 'contact', id: String(client.contactId), name: null }, 'client.job_completed');

    expect(await channel.send(toClient())).toMatchObject({ outcome: 'sent' });
    expect(receivedAt(browser)).toHaveLength(1);
    expect(receivedAt(browser)[0]!.headers.urgency).toBe('normal');

    const off = await apiAs(t, agentA.token).put(`/portal/clients/${client.portalUserId}/active`, { active: false });
    expect(off.status).toBe(200);
    expect(await channel.send(toClient())).toEqual({ outcome: 'failed', reason: 'no push subscription' });
    expect(receivedAt(browser)).toHaveLength(1);
  });

  it('stops pushing to a browser once the session it was registered in is signed out, revoked or expired', async () => {
    const vendor = await newVendor(agentA.accountId);
    const secondSession = async (expiresAt = new Date(Date.now() + 3600_000)) =>
      withAccount(t.db.knex, agentA.accountId, { readOnly: false }, async (trx) => {
        const { token, hash } = issueToken('session', agentA.accountId);
        const [row] = await trx('sessions').insert({ account_id: agentA.accountId, subject_type: 'portal_user', subject_id: vendor.portalUserId, token_hash: hash, expires_at: expiresAt }).returning('id');
        return { token, id: row.id as string };
      });
    const phone = push.newBrowser();
    const laptop = push.newBrowser();
    const tablet = push.newBrowser();
    const laptopSession = await secondSession();
    const tabletSession = await secondSession();
    await subscribe(vendor.token, phone);
    await subscribe(laptopSession.token, laptop);
    await subscribe(tabletSession.token, tablet);
    const toVendor = () => delivery(agentA.accountId, { kind: 'vendor', id: vendor.vendorId, name: 'Pipe Crew' });

    expect(await channel.send(toVendor())).toMatchObject({ outcome: 'sent' });
    expect([phone, laptop, tablet].map((b) => receivedAt(b).length)).toEqual([1, 1, 1]);

    // The phone signs itself out; the person revokes the laptop's session from the list; the tablet's session runs out.
    expect((await apiAs(t, vendor.token).delete('/auth/session')).status).toBe(200);
    expect((await apiAs(t, tabletSession.token).delete(`/portal/sessions/${laptopSession.id}`)).status).toBe(200);
    expect(await channel.send(toVendor())).toMatchObject({ outcome: 'sent' });
    expect([phone, laptop, tablet].map((b) => receivedAt(b).length)).toEqual([1, 1, 2]);

    await withAccount(t.db.knex, agentA.accountId, { readOnly: false }, (trx) =>
      trx('sessions').where({ account_id: agentA.accountId, id: tabletSession.id }).update({ expires_at: new Date(Date.now() - 1000) }),
    );
    expect(await channel.send(toVendor())).toEqual({ outcome: 'failed', reason: 'no push subscription' });
    expect([phone, laptop, tablet].map((b) => receivedAt(b).length)).toEqual([1, 1, 2]);
  });

  it('deletes a subscription the push service says is gone (410), and fails over when none is left', async () => {
    const vendor = await newVendor(agentA.accountId);
    const stale = push.newBrowser();
    const live = push.newBrowser();
    await subscribe(vendor.token, stale);
    await subscribe(vendor.token, live);
    push.answers.set(new URL(stale.endpoint).pathname, { status: 410 });
    const recipient = { kind: 'vendor' as const, id: vendor.vendorId, name: null };

    expect(await channel.send(delivery(agentA.accountId, recipient))).toMatchObject({ outcome: 'sent' });
    expect((await subscriptionsOf(agentA.accountId, vendor.portalUserId)).map((r) => r.endpoint)).toEqual([live.endpoint]);

    push.answers.set(new URL(live.endpoint).pathname, { status: 404 });
    expect(await channel.send(delivery(agentA.accountId, recipient))).toEqual({ outcome: 'failed', reason: 'no push subscription' });
    expect(await subscriptionsOf(agentA.accountId, vendor.portalUserId)).toEqual([]);
    expect(await channel.send(delivery(agentA.accountId, recipient))).toEqual({ outcome: 'failed', reason: 'no push subscription' });
  });

  it('retries when the push service is busy or unreachable, keeping the subscription', async () => {
    const vendor = await newVendor(agentA.accountId);
    const browser = push.newBrowser();
    await subscribe(vendor.token, browser);
    const recipient = { kind: 'vendor' as const, id: vendor.vendorId, name: null };
    const pathname = new URL(browser.endpoint).pathname;

    push.answers.set(pathname, { status: 429, headers: { 'Retry-After': '120' } });
    expect(await channel.send(delivery(agentA.accountId, recipient))).toEqual({ outcome: 'retry', reason: 'push service answered 429', retryAfterSeconds: 120 });
    push.answers.set(pathname, { status: 503 });
    expect(await channel.send(delivery(agentA.accountId, recipient))).toEqual({ outcome: 'retry', reason: 'push service answered 503' });
    expect(await subscriptionsOf(agentA.accountId, vendor.portalUserId)).toHaveLength(1);

    // A push service whose name does not resolve.
    const unreachable = { ...push.newBrowser() };
    unreachable.endpoint = unreachable.endpoint.replace(pushHost, 'gone.example.test');
    const other = await newVendor(agentA.accountId);
    await subscribe(other.token, unreachable);
    const result = await channel.send(delivery(agentA.accountId, { kind: 'vendor', id: other.vendorId, name: null }));
    expect(result).toMatchObject({ outcome: 'retry', reason: expect.stringContaining('ENOTFOUND') });
  });

  it('fails, without retrying or deleting, when the push service refuses the signature (another VAPID key)', async () => {
    const vendor = await newVendor(agentA.accountId);
    const browser = push.newBrowser();
    await subscribe(vendor.token, browser);
    const otherKeys = webpush.generateVAPIDKeys();
    const misconfigured = pushChannel({ db: t.db.knex, vapid: { ...vapid, ...otherKeys }, agent: push.agent });
    const result = await misconfigured.send(delivery(agentA.accountId, { kind: 'vendor', id: vendor.vendorId, name: null }));
    expect(result).toEqual({ outcome: 'failed', reason: 'push service answered 403' });
    expect(receivedAt(browser)[0]!.problems).toEqual(['k is not the VAPID public key']);
    expect(await subscriptionsOf(agentA.accountId, vendor.portalUserId)).toHaveLength(1);
  });

  it('fails without a subscription, for staff, and for a recipient of another account', async () => {
    const vendor = await newVendor(agentA.accountId);
    expect(await channel.send(delivery(agentA.accountId, { kind: 'vendor', id: vendor.vendorId, name: null }))).toEqual({ outcome: 'failed', reason: 'no push subscription' });
    expect(await channel.send(delivery(agentA.accountId, { kind: 'user', id: agentA.userId, name: null }))).toEqual({ outcome: 'failed', reason: 'staff receive no web push' });

    const browser = push.newBrowser();
    await subscribe(vendor.token, browser);
    expect(await channel.send(delivery(agentB.accountId, { kind: 'vendor', id: vendor.vendorId, name: null }))).toEqual({ outcome: 'failed', reason: 'no push subscription' });
    expect(await channel.send(delivery(agentA.accountId, { kind: 'vendor', id: 'not-a-uuid', name: null }))).toEqual({ outcome: 'failed', reason: 'no push subscription' });
    expect(receivedAt(browser)).toEqual([]);
  });
});

describe('push subscription routes', () => {
  it('give the VAPID public key to portal users and staff', async () => {
    const vendor = await newVendor(agentA.accountId);
    const client = await newClient(agentA);
    for (const token of [vendor.token, client.token, agentA.token]) {
      const res = await apiAs(t, token).get('/push/public-key');
      expect(res.status).toBe(200);
      expect(res.body.data).toEqual({ public_key: t.services.notifications.vapidPublicKey });
    }
    expect((await request(t.app).get('/api/v1/push/public-key')).status).toBe(401);
  });

  it('refuse subscriptions from staff with a clear reason', async () => {
    const browser = push.newBrowser();
    const res = await apiAs(t, agentA.token).post('/push/subscriptions', { endpoint: browser.endpoint, keys: browser.keys });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('portal_users_only');
    expect(res.body.error.message).toMatch(/portal users/);
    expect((await apiAs(t, agentA.token).delete('/push/subscriptions', { endpoint: browser.endpoint })).status).toBe(403);
  });

  it('refuse keys that cannot be encrypted for, and endpoints that are not a public https push service', async () => {
    const vendor = await newVendor(agentA.accountId);
    const browser = push.newBrowser();
    const notOnCurve = Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 1)]).toString('base64url');
    const cases: Array<[object, string]> = [
      [{ keys: { ...browser.keys, p256dh: browser.keys.p256dh.slice(0, 40) } }, 'body.keys.p256dh'],
      [{ keys: { ...browser.keys, p256dh: notOnCurve } }, 'body.keys.p256dh'],
      [{ keys: { ...browser.keys, p256dh: `${browser.keys.p256dh.slice(0, -2)}+/` } }, 'body.keys.p256dh'],
      [{ keys: { ...browser.keys, auth: randomBytes(8).toString('base64url') } }, 'body.keys.auth'],
      [{ keys: { p256dh: browser.keys.p256dh } }, 'body.keys.auth'],
      [{ endpoint: browser.endpoint.replace('https:', 'http:') }, 'body.endpoint'],
      [{ endpoint: 'https://127.0.0.1/wpush/1' }, 'body.endpoint'],
      [{ endpoint: 'https://[::1]/wpush/1' }, 'body.endpoint'],
      [{ endpoint: 'https://localhost/wpush/1' }, 'body.endpoint'],
      [{ endpoint: `https://${pushHost}/${'x'.repeat(2000)}` }, 'body.endpoint'],
      [{ endpoint: 'not a url' }, 'body.endpoint'],
    ];
    for (const [change, field] of cases) {
      const res = await apiAs(t, vendor.token).post('/push/subscriptions', { endpoint: browser.endpoint, keys: browser.keys, ...change });
      expect(res.status, JSON.stringify(change)).toBe(422);
      expect(res.body.error.details.fields.map((f: { path: string }) => f.path), JSON.stringify(change)).toContain(field);
    }
    expect(await subscriptionsOf(agentA.accountId, vendor.portalUserId)).toEqual([]);
  });

  it('move an endpoint registered again to the new portal user, and let only its owner remove it', async () => {
    const first = await newVendor(agentA.accountId);
    const second = await newClient(agentA);
    const browser = push.newBrowser();
    const made = await subscribe(first.token, browser);
    const moved = await subscribe(second.token, browser);
    expect(moved.id).toBe(made.id);
    expect(await subscriptionsOf(agentA.accountId, first.portalUserId)).toEqual([]);
    expect(await subscriptionsOf(agentA.accountId, second.portalUserId)).toHaveLength(1);

    // The previous holder no longer owns it.
    const notTheirs = await apiAs(t, first.token).delete('/push/subscriptions', { endpoint: browser.endpoint });
    expect(notTheirs.status).toBe(404);
    expect(await subscriptionsOf(agentA.accountId, second.portalUserId)).toHaveLength(1);

    const missing = await apiAs(t, second.token).delete('/push/subscriptions', {});
    expect(missing.status).toBe(422);
    const removed = await apiAs(t, second.token).delete('/push/subscriptions').query({ endpoint: browser.endpoint });
    expect(removed.status, JSON.stringify(removed.body)).toBe(200);
    expect(await subscriptionsOf(agentA.accountId, second.portalUserId)).toEqual([]);
    expect((await apiAs(t, second.token).delete('/push/subscriptions', { endpoint: browser.endpoint })).status).toBe(404);

    // Removing by body works as well.
    await subscribe(second.token, browser);
    expect((await apiAs(t, second.token).delete('/push/subscriptions', { endpoint: browser.endpoint })).status).toBe(200);
  });

  it('keep accounts apart: the same endpoint in another account is another subscription, out of reach', async () => {
    const inA = await newVendor(agentA.accountId);
    const inB = await newClient(agentB);
    const browser = push.newBrowser();
    await subscribe(inA.token, browser);
    await subscribe(inB.token, browser);
    expect(await subscriptionsOf(agentA.accountId, inA.portalUserId)).toHaveLength(1);
    expect(await subscriptionsOf(agentB.accountId, inB.portalUserId)).toHaveLength(1);

    expect((await apiAs(t, inB.token).delete('/push/subscriptions', { endpoint: browser.endpoint })).status).toBe(200);
    expect(await subscriptionsOf(agentA.accountId, inA.portalUserId)).toHaveLength(1);
    expect((await apiAs(t, inB.token).delete('/push/subscriptions', { endpoint: browser.endpoint })).status).toBe(404);
    expect(await subscriptionsOf(agentA.accountId, inA.portalUserId)).toHaveLength(1);
  });
});
