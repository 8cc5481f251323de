import request from 'supertest';
import { beforeAll, describe, expect, it } from 'vitest';
import { withAccountForTests as withAccount } from '../../extension/db/tenant.ts';
import { createSealer } from '../../extension/security/crypto.ts';
import type { FakeChatwoot } from '../fakes/chatwoot.ts';
import { createTestApp, type TestApp } from '../helpers/app.ts';
import { useWorld } from '../helpers/world.ts';
import { createServiceToken, signInAgent, type SignedIn } from '../helpers/identity.ts';

const world = useWorld([1]);
let t: TestApp;
let chatwoot: FakeChatwoot;
let admin: SignedIn;
let agent: SignedIn;
beforeAll(async () => {
  ({ t, chatwoot } = world);
  admin = await signInAgent(t, chatwoot, 1, 'administrator');
  agent = await signInAgent(t, chatwoot, 1, 'agent');
});

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
let contactSeq = 100;

async function newClient(body: Record<string, unknown> = {}) {
  const res = await request(t.app)
    .post('/api/v1/portal/clients')
    .set(bearer(agent.token))
    .send({ chatwoot_contact_id: contactSeq++, name: 'Pat Client', ...body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.data as { id: string; chatwoot_contact_id: number; phone: string | null };
}
const issueLink = (portalUserId: string) => request(t.app).post(`/api/v1/portal/clients/${portalUserId}/magic-links`).set(bearer(agent.token));
const exchange = (token: string) => request(t.app).post('/api/v1/portal/sessions').send({ token });

describe('client portal accounts', () => {
  it('binds a client to one Chatwoot contact and stores the phone in E.164', async () => {
    const client = await newClient({ phone: '+1 (415) 555-0123' });
    expect(client.phone).toBe('+14155550123');
    const dup = await request(t.app).post('/api/v1/portal/clients').set(bearer(agent.token)).send({ chatwoot_contact_id: client.chatwoot_contact_id, name: 'Again' });
    expect(dup.status).toBe(409);
  });

  it('rejects an invalid phone number with a 422 naming the field', async () => {
    const res = await request(t.app).post('/api/v1/portal/clients').set(bearer(agent.token)).send({ chatwoot_contact_id: 999, name: 'X', phone: '12345' });
    expect(res.status).toBe(422);
    expect(res.body.error.details.fields[0].path).toBe('body.phone');
  });
});

describe('magic-link sign-in', () => {
  it('exchanges a link once for a session bound to the client’s contact', async () => {
    const client = await newClient();
    const link = await issueLink(client.id);
    expect(link.status).toBe(201);
    expect(link.body.data.url).toContain('/portal/client/sign-in#token=olm_');
    const session = await exchange(link.body.data.token);
    expect(session.status).toBe(201);
    const me = await request(t.app).get('/api/v1/me').set(bearer(session.body.data.token));
    expect(me.body.data).toMatchObject({ role: 'client', caller: { type: 'portal_user', kind: 'client', chatwoot_contact_id: client.chatwoot_contact_id, contact_id: client.chatwoot_contact_id } });
    expect(me.body.data.permissions).toEqual(['me:read', 'jobs:read', 'notifications:read', 'client_portal:use']);
    const again = await exchange(link.body.data.token);
    expect(again.status).toBe(401);
  });

  it('stores only a hash of the link', async () => {
    const client = await newClient();
    const link = await issueLink(client.id);
    const stored = await withAccount(t.db.knex, agent.accountId, { readOnly: true }, (trx) => trx('magic_links').where({ portal_user_id: client.id }));
    expect(JSON.stringify(stored)).not.toContain(link.body.data.token);
  });

  it('refuses an expired link', async () => {
    const client = await newClient();
    const link = await issueLink(client.id);
    await withAccount(t.db.knex, agent.accountId, { readOnly: false }, (trx) =>
      trx('magic_links').where({ portal_user_id: client.id }).update({ expires_at: trx.raw(`now() - interval '1 second'`) }),
    );
    expect((await exchange(link.body.data.token)).status).toBe(401);
  });

  it('limits links to five per user per 15 minutes', async () => {
    const client = await newClient();
    for (let i = 0; i < 5; i++) expect((await issueLink(client.id)).status).toBe(201);
    const sixth = await issueLink(client.id);
    expect(sixth.status).toBe(429);
    expect(sixth.body.error.code).toBe('rate_limited');
  });

  it('signs a deactivated client out and refuses its links', async () => {
    const client = await newClient();
    const link = await issueLink(client.id);
    const session = await exchange(link.body.data.token);
    const second = await issueLink(client.id);
    const off = await request(t.app).put(`/api/v1/portal/clients/${client.id}/active`).set(bearer(agent.token)).send({ active: false });
    expect(off.status).toBe(200);
    expect((await request(t.app).get('/api/v1/me').set(bearer(session.body.data.token))).status).toBe(401);
    expect((await exchange(second.body.data.token)).status).toBe(401);
    expect((await issueLink(client.id)).status).toBe(409);
  });

  it('rejects malformed tokens without a database lookup leak', async () => {
    for (const token of ['nonsense-token', `olm_1_${'x'.repeat(10)}`, `ols_1_${'A'.repeat(43)}`]) {
      const res = await exchange(token);
      expect(res.status).toBe(401);
    }
  });
});

describe('service tokens', () => {
  it('are shown once, stored hashed, scoped, and track last use', async () => {
    const created = await createServiceToken(t, admin, ['deals:read']);
    expect(created.token).toMatch(/^olt_\d+_/);
    const list = await request(t.app).get('/api/v1/admin/service-tokens').set(bearer(admin.token));
    expect(JSON.stringify(list.body)).not.toContain(created.token);
    const listed = list.body.data.find((row: { id: string }) => row.id === created.id);
    expect(listed).toMatchObject({ scopes: ['deals:read'], token_hint: created.token.slice(-4), last_used_at: null });

    const me = await request(t.app).get('/api/v1/me').set(bearer(created.token));
    expect(me.body.data).toMatchObject({ role: 'service', caller: { type: 'service', id: created.id } });
    expect(me.body.data.permissions).toEqual(['me:read', 'deals:read']);
    const portal = await request(t.app).get('/api/v1/portal/clients').set(bearer(created.token));
    expect(portal.status).toBe(403);

    const after = await request(t.app).get('/api/v1/admin/service-tokens').set(bearer(admin.token));
    expect(after.body.data.find((row: { id: string }) => row.id === created.id).last_used_at).not.toBeNull();
  });

  it('cannot carry administration scopes', async () => {
    const res = await request(t.app)
      .post('/api/v1/admin/service-tokens')
      .set(bearer(admin.token))
      .send({ name: 'too strong', scopes: ['admin:tokens'] });
    expect(res.status).toBe(422);
  });

  it('stop working when expired', async () => {
    const created = await createServiceToken(t, admin, ['deals:read']);
    await withAccount(t.db.knex, admin.accountId, { readOnly: false }, (trx) =>
      trx('service_tokens').where({ id: created.id }).update({ expires_at: trx.raw(`now() - interval '1 second'`) }),
    );
    expect((await request(t.app).get('/api/v1/me').set(bearer(created.token))).status).toBe(401);
  });
});

describe('secrets at rest', () => {
  it('seals with AES-256-GCM: round-trips, differs each time, and detects tampering', () => {
    const sealer = createSealer(Buffer.alloc(32, 7));
    const a = sealer.seal('chatwoot-token');
    expect(a).not.toContain('chatwoot-token');
    expect(sealer.seal('chatwoot-token')).not.toBe(a);
    expect(sealer.open(a)).toBe('chatwoot-token');
    const tampered = a.slice(0, -2) + (a.at(-2) === 'A' ? 'B' : 'A') + a.slice(-1); // always a different character
    expect(() => sealer.open(tampered)).toThrow();
    expect(() => createSealer(Buffer.alloc(32, 8)).open(a)).toThrow();
  });

  it('keeps the agent’s Chatwoot token sealed in the session row', async () => {
    const rows = await withAccount(t.db.knex, agent.accountId, { readOnly: true }, (trx) => trx('sessions').select('chatwoot_token_sealed'));
    expect(JSON.stringify(rows)).not.toContain(agent.chatwootToken);
    expect(rows.some((r: { chatwoot_token_sealed: string | null }) => r.chatwoot_token_sealed?.startsWith('v1.'))).toBe(true);
  });
});

describe('dispatcher role grants', () => {
  it('are given and withdrawn by admins, audited, and change permissions', async () => {
    const person = await signInAgent(t, chatwoot, 1, 'agent');
    const grant = await request(t.app).put(`/api/v1/admin/users/${person.userId}/dispatcher`).set(bearer(admin.token)).send({ granted: true });
    expect(grant.body.data.roles).toEqual(['agent', 'dispatcher']);
    expect((await request(t.app).get('/api/v1/me').set(bearer(person.token))).body.data.permissions).toContain('jobs:assign');
    await request(t.app).put(`/api/v1/admin/users/${person.userId}/dispatcher`).set(bearer(admin.token)).send({ granted: false });
    expect((await request(t.app).get('/api/v1/me').set(bearer(person.token))).body.data.permissions).not.toContain('jobs:assign');
    const trail = await request(t.app).get('/api/v1/admin/audit-events').query({ action: 'user.roles_changed', resource_id: person.userId }).set(bearer(admin.token));
    expect(trail.body.data).toHaveLength(2);
    const self = await request(t.app).put(`/api/v1/admin/users/${person.userId}/dispatcher`).set(bearer(person.token)).send({ granted: true });
    expect(self.status).toBe(403);
  });
});

describe('sign-in attempts per client address', () => {
  it('are limited, with a 429 in the envelope', async () => {
    const limited = await createTestApp({ env: { ONELINK_SIGN_IN_ATTEMPTS_PER_MINUTE: '3' } });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await request(limited.app).post('/api/v1/portal/sessions').send({ token: 'olm_1_guessing-a-token' })).status);
      expect(statuses).toEqual([401, 401, 401, 429]);
      const blocked = await request(limited.app).post('/api/v1/auth/chatwoot').send({ access_token: 'guessing-a-token' });
      expect(blocked.status).not.toBe(429); // each entry point counts on its own
    } finally {
      await limited.close();
    }
  });
});
