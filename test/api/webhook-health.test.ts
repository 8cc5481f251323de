// Refused Chatwoot deliveries are counted per installation and reason, without their bodies,
// and admins see them (GET /api/v1/admin/webhook-health) with "failing since" while nothing
// has been accepted after them.
import request from 'supertest';
import { beforeAll, describe, expect, it } from 'vitest';
import { signChatwootBody } from '../../webhooks/chatwoot/verify.ts';
import { chatwootDelivery, contactEvent } from '../fakes/chatwoot-webhooks.ts';
import { signInAgent, type SignedIn } from '../helpers/identity.ts';
import { useWorld } from '../helpers/world.ts';

const world = useWorld([1]);
const secret = 'health-test-secret';
const marker = 'refused-body-marker-5521';
let admin: SignedIn;
let agent: SignedIn;
let path: string;
let installationId: string;

interface Health {
  webhook_url: string | null;
  last_accepted_at: string | null;
  failing: { since: string; refused: number; reason: string; reasons: string[]; last_refused_at: string } | null;
  refusals: Array<{ reason: string; refused: number; first_refused_at: string; last_refused_at: string }>;
}

const health = async () => {
  const res = await request(world.t.app).get('/api/v1/admin/webhook-health').set('Authorization', `Bearer ${admin.token}`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.data as Health;
};
const counts = async () => Object.fromEntries((await health()).refusals.map((r) => [r.reason, r.refused]));
const post = (to: string, delivery: { body: string; headers: Record<string, string> }) => request(world.t.app).post(to).set(delivery.headers).send(delivery.body);
const event = (id: number) => contactEvent('contact_created', { id, name: `${marker} ${id}` });

beforeAll(async () => {
  const { t, chatwoot } = world;
  admin = await signInAgent(t, chatwoot, 1, 'administrator');
  agent = await signInAgent(t, chatwoot, 1, 'agent');
  const installation = await t.db.knex('installations').first('id', 'webhook_path_token');
  installationId = installation.id;
  path = `/webhooks/chatwoot/${installation.webhook_path_token}`;
  await t.db.knex('installations').where({ id: installationId }).update({ webhook_secret_sealed: t.services.sealer.seal(secret) });
});

describe('refused Chatwoot deliveries', () => {
  it('are counted per reason, with no body kept, and shown to admins as failing since the first one', async () => {
    const before = Date.now();
    for (const id of [1, 2, 3]) expect((await post(path, chatwootDelivery(event(id), { secret: 'not-the-secret' }))).status).toBe(401);
    expect((await post(path, chatwootDelivery(event(4)))).status).toBe(401); // unsigned
    for (const id of [5, 6]) expect((await post(path, chatwootDelivery(event(id), { secret, timestamp: Math.floor(Date.now() / 1000) - 3600 }))).status).toBe(401);
    // Signed over the exact bytes, a raw NUL included: verified, then refused as unstorable.
    const nulBody = JSON.stringify(event(7)).replace(marker, `${marker}\u0000`);
    const timestamp = String(Math.floor(Date.now() / 1000));
    const nulHeaders = { 'Content-Type': 'application/json', 'X-Chatwoot-Timestamp': timestamp, 'X-Chatwoot-Signature': signChatwootBody(secret, timestamp, nulBody) };
    expect((await post(path, { body: nulBody, headers: nulHeaders })).status).toBe(400);
    for (const token of ['x'.repeat(24), 'short']) expect((await post(`/webhooks/chatwoot/${token}`, chatwootDelivery(event(8), { secret }))).status).toBe(404);

    await expect.poll(counts, { timeout: 5000 }).toEqual({ invalid_signature: 3, missing_signature: 1, stale_timestamp: 2, invalid_body: 1 });
    const seen = await health();
    expect(seen.last_accepted_at).toBeNull();
    expect(seen.failing).toMatchObject({ refused: 7, reason: 'invalid_signature' });
    expect(seen.failing!.reasons.sort()).toEqual(['invalid_body', 'invalid_signature', 'missing_signature', 'stale_timestamp']);
    expect(new Date(seen.failing!.since).getTime()).toBeGreaterThanOrEqual(before - 1000);

    // Nothing of a refused delivery is stored: no delivery row, no trace of its body anywhere.
    const db = world.t.db.knex;
    expect(await db('webhook_deliveries').where({ installation_id: installationId }).count({ n: '*' }).first()).toEqual({ n: 0 });
    expect(JSON.stringify(await db('webhook_refusals').select('*'))).not.toContain(marker);
    expect(await db('webhook_refusals').columnInfo()).not.toHaveProperty('body');
    // Unknown addresses name no installation and are not shown to an account's admins.
    expect(await db('webhook_refusals').whereNull('installation_id').first('reason', 'refused')).toEqual({ reason: 'unknown_address', refused: 2 });
    expect(seen.refusals.map((r) => r.reason)).not.toContain('unknown_address');
  });

  it('stop raising the alarm once a delivery is accepted, and start a new run after it', async () => {
    expect((await post(path, chatwootDelivery(contactEvent('contact_created', { id: 20, name: 'Fine' }), { secret }))).status).toBe(202);
    await expect.poll(async () => (await health()).failing, { timeout: 5000 }).toBeNull();
    const accepted = (await health()).last_accepted_at!;
    expect(accepted).not.toBeNull();

    // Counters keep advancing at most once a second: the next refusal lands in a later flush.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await post(path, chatwootDelivery(event(21), { secret: 'not-the-secret' }))).status).toBe(401);
    await expect.poll(async () => (await health()).failing?.refused, { timeout: 5000 }).toBe(1);
    const again = await health();
    expect(again.failing).toMatchObject({ reason: 'invalid_signature', reasons: ['invalid_signature'] });
    expect(new Date(again.failing!.since).getTime()).toBeGreaterThan(new Date(accepted).getTime());
    expect(again.refusals.find((r) => r.reason === 'invalid_signature')!.refused).toBe(4); // all-time total
  });

  it('is for admins only', async () => {
    const res = await request(world.t.app).get('/api/v1/admin/webhook-health').set('Authorization', `Bearer ${agent.token}`);
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBeTruthy();
  });
});
