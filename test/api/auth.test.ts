import request from 'supertest';
import { beforeAll, describe, expect, it } from 'vitest';
import { withAccountForTests as withAccount } from '../../extension/db/tenant.ts';
import type { FakeChatwoot } from '../fakes/chatwoot.ts';
import type { TestApp } from '../helpers/app.ts';
import { useWorld } from '../helpers/world.ts';
import { createServiceToken, signInAgent, type SignedIn } from '../helpers/identity.ts';

const world = useWorld([1, 2]);
let t: TestApp;
let chatwoot: FakeChatwoot;
beforeAll(async () => {
  ({ t, chatwoot } = world);
});

const me = (token: string) => request(t.app).get('/api/v1/me').set('Authorization', `Bearer ${token}`);

async function ageSession(agent: SignedIn, minutes: number) {
  await withAccount(t.db.knex, agent.accountId, { readOnly: false }, (trx) =>
    trx('sessions').where({ account_id: agent.accountId }).update({ verified_at: trx.raw(`now() - interval '${minutes} minutes'`) }),
  );
}

describe('agent sign-in with a Chatwoot access token', () => {
  it('verifies the token with Chatwoot and returns our own session', async () => {
    const agent = await signInAgent(t, chatwoot, 1, 'agent', 'Dana Agent');
    expect(agent.token).toMatch(/^ols_\d+_/);
    const res = await me(agent.token);
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({
      caller: { type: 'user', name: 'Dana Agent', chatwoot_user_id: agent.agentId, roles: ['agent'] },
      account: { chatwoot_account_id: 1, profile: 'generic' },
      role: 'agent',
      chatwoot: { base_url: chatwoot.url },
    });
    expect(res.body.data.permissions).toContain('deals:write');
    expect(res.body.data.permissions).not.toContain('admin:capabilities');
    expect(res.body.data.capabilities).toEqual(['crm.deals', 'crm.pipelines', 'crm.tasks', 'portal.client']);
    expect(chatwoot.requests).toContainEqual({ method: 'GET', path: '/api/v1/profile' });
  });

  it('maps a Chatwoot administrator to our admin role', async () => {
    const admin = await signInAgent(t, chatwoot, 1, 'administrator');
    const res = await me(admin.token);
    expect(res.body.data.role).toBe('admin');
    expect(res.body.data.permissions).toContain('admin:capabilities');
  });

  it('refuses a token Chatwoot does not accept', async () => {
    const res = await request(t.app).post('/api/v1/auth/chatwoot').send({ access_token: 'not-a-real-token', chatwoot_url: chatwoot.url, account_id: 1 });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('invalid_chatwoot_token');
  });

  it('refuses an account the agent does not belong to', async () => {
    chatwoot.addAgent({ id: 77, name: 'Only One', email: 'one@example.com', token: 'token-of-77', accounts: [{ id: 1, name: 'Account 1', role: 'agent' }] });
    const res = await request(t.app).post('/api/v1/auth/chatwoot').send({ access_token: 'token-of-77', chatwoot_url: chatwoot.url, account_id: 2 });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('not_a_member');
  });

  it('asks which account when the agent belongs to several', async () => {
    chatwoot.addAgent({
      id: 78,
      name: 'Two Accounts',
      email: 'two@example.com',
      token: 'token-of-78',
      accounts: [
        { id: 1, name: 'Account 1', role: 'agent' },
        { id: 2, name: 'Account 2', role: 'agent' },
      ],
    });
    const res = await request(t.app).post('/api/v1/auth/chatwoot').send({ access_token: 'token-of-78', chatwoot_url: chatwoot.url });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('account_required');
    expect(res.body.error.details.accounts).toHaveLength(2);
  });

  it('only verifies tokens against a connected Chatwoot (never one named by the caller)', async () => {
    const res = await request(t.app).post('/api/v1/auth/chatwoot').send({ access_token: 'whatever-token', chatwoot_url: 'https://evil.example.com', account_id: 1 });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('unknown_installation');
  });

  it('ignores a spoofed appContext: identity comes only from the verified token', async () => {
    const victim = await signInAgent(t, chatwoot, 1, 'administrator', 'Victim Admin');
    const attacker = await signInAgent(t, chatwoot, 1, 'agent', 'Attacker');
    // What a page posing as Chatwoot could claim, sent every way it could be sent.
    const spoofed = { event: 'appContext', data: { currentAgent: { id: victim.agentId, name: 'Victim Admin', email: 'victim@example.com' } } };
    const signIn = await request(t.app)
      .post('/api/v1/auth/chatwoot')
      .set('X-Chatwoot-Agent-Id', String(victim.agentId))
      .send({ access_token: attacker.chatwootToken, chatwoot_url: chatwoot.url, account_id: 1, ...spoofed, current_agent: spoofed.data.currentAgent });
    expect(signIn.status).toBe(201);
    expect(signIn.body.data.user_id).toBe(attacker.userId);
    const res = await me(signIn.body.data.token).set('X-Chatwoot-Agent-Id', String(victim.agentId));
    expect(res.body.data.caller.name).toBe('Attacker');
    expect(res.body.data.role).toBe('agent');
    const noToken = await request(t.app).get('/api/v1/me').set('X-Chatwoot-Agent-Id', String(victim.agentId)).query(spoofed.data.currentAgent);
    expect(noToken.status).toBe(401);
  });
});

describe('the partitioned session cookie (for apps inside Chatwoot’s iframe)', () => {
  it('is set at sign-in: HttpOnly, Secure, SameSite=None, Partitioned', async () => {
    chatwoot.addAgent({ id: 90, name: 'Cookie Agent', email: 'cookie@example.com', token: 'cookie-token-90', accounts: [{ id: 1, name: 'Account 1', role: 'agent' }] });
    const res = await request(t.app).post('/api/v1/auth/chatwoot').send({ access_token: 'cookie-token-90', chatwoot_url: chatwoot.url, account_id: 1 });
    const cookie = res.headers['set-cookie']![0]!;
    expect(cookie).toMatch(/^onelink_session=ols_/);
    for (const attribute of ['HttpOnly', 'Secure', 'SameSite=None', 'Partitioned', 'Path=/']) expect(cookie).toContain(attribute);
  });

  it('authenticates only together with the app header, so other sites cannot ride on it', async () => {
    const agent = await signInAgent(t, chatwoot, 1, 'agent');
    const cookie = `onelink_session=${agent.token}`;
    expect((await request(t.app).get('/api/v1/me').set('Cookie', cookie)).status).toBe(401);
    const ok = await request(t.app).get('/api/v1/me').set('Cookie', cookie).set('X-Requested-With', 'onelink');
    expect(ok.status).toBe(200);
    const out = await request(t.app).delete('/api/v1/auth/session').set('Cookie', cookie).set('X-Requested-With', 'onelink');
    expect(out.headers['set-cookie']![0]).toMatch(/^onelink_session=;/);
    expect((await request(t.app).get('/api/v1/me').set('Cookie', cookie).set('X-Requested-With', 'onelink')).status).toBe(401);
  });
});

describe('tokens that must not work', () => {
  it('rejects missing, malformed and made-up tokens', async () => {
    expect((await request(t.app).get('/api/v1/me')).status).toBe(401);
    expect((await me('garbage')).status).toBe(401);
    expect((await me(`ols_1_${'A'.repeat(43)}`)).status).toBe(401);
    expect((await me(`ols_999999_${'A'.repeat(43)}`)).status).toBe(401);
  });

  it('rejects a signed-out session', async () => {
    const agent = await signInAgent(t, chatwoot, 1, 'agent');
    const out = await request(t.app).delete('/api/v1/auth/session').set('Authorization', `Bearer ${agent.token}`);
    expect(out.status).toBe(200);
    expect((await me(agent.token)).status).toBe(401);
  });

  it('rejects an expired session', async () => {
    const agent = await signInAgent(t, chatwoot, 1, 'agent');
    await withAccount(t.db.knex, agent.accountId, { readOnly: false }, (trx) =>
      trx('sessions').where({ account_id: agent.accountId, subject_id: agent.userId }).update({ expires_at: trx.raw(`now() - interval '1 second'`) }),
    );
    const res = await me(agent.token);
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('unauthorized');
  });

  it('rejects a session token moved to another account (the account is part of the token)', async () => {
    const agent = await signInAgent(t, chatwoot, 1, 'agent');
    const other = await signInAgent(t, chatwoot, 2, 'agent');
    const forged = agent.token.replace(`ols_${agent.accountId}_`, `ols_${other.accountId}_`);
    expect((await me(forged)).status).toBe(401);
  });

  it('rejects a revoked or expired service token and a magic-link token used as a bearer', async () => {
    const admin = await signInAgent(t, chatwoot, 1, 'administrator');
    const service = await createServiceToken(t, admin, ['deals:read']);
    expect((await me(service.token)).status).toBe(200);
    const revoke = await request(t.app).delete(`/api/v1/admin/service-tokens/${service.id}`).set('Authorization', `Bearer ${admin.token}`);
    expect(revoke.status).toBe(200);
    expect((await me(service.token)).status).toBe(401);
    expect((await me(`olm_${admin.accountId}_${'B'.repeat(43)}`)).status).toBe(401);
  });
});

describe('periodic re-verification with Chatwoot', () => {
  it('does not call Chatwoot again within the re-verification interval', async () => {
    const agent = await signInAgent(t, chatwoot, 1, 'agent');
    const before = chatwoot.requests.length;
    await me(agent.token);
    await me(agent.token);
    expect(chatwoot.requests.length).toBe(before);
  });

  it('takes access away from an agent removed from the account in Chatwoot', async () => {
    const agent = await signInAgent(t, chatwoot, 1, 'agent');
    chatwoot.removeFromAccount(agent.agentId, 1);
    expect((await me(agent.token)).status).toBe(200); // not yet due
    await ageSession(agent, 16);
    const res = await me(agent.token);
    expect(res.status).toBe(401);
    expect(res.body.error.message).toMatch(/removed/);
    const user = await withAccount(t.db.knex, agent.accountId, { readOnly: true }, (trx) => trx('users').where({ id: agent.userId }).first());
    expect(user.active).toBe(false);
  });

  it('takes access away when the agent’s Chatwoot token is revoked', async () => {
    const agent = await signInAgent(t, chatwoot, 1, 'agent');
    chatwoot.revokeToken(agent.chatwootToken);
    await ageSession(agent, 16);
    expect((await me(agent.token)).status).toBe(401);
  });

  it('follows a role change made in Chatwoot', async () => {
    const agent = await signInAgent(t, chatwoot, 1, 'agent');
    chatwoot.setRole(agent.agentId, 1, 'administrator');
    await ageSession(agent, 16);
    expect((await me(agent.token)).body.data.role).toBe('admin');
  });

  it('tolerates a short Chatwoot outage, then refuses once the grace period is over', async () => {
    const agent = await signInAgent(t, chatwoot, 1, 'agent');
    chatwoot.outage = 500;
    await ageSession(agent, 16);
    expect((await me(agent.token)).status).toBe(200);
    await ageSession(agent, 61);
    const res = await me(agent.token);
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('chatwoot_unreachable');
    chatwoot.outage = null;
    expect((await me(agent.token)).status).toBe(200);
  });
});

describe('audit of identity changes', () => {
  it('records sign-in, account and user creation', async () => {
    const admin = await signInAgent(t, chatwoot, 1, 'administrator');
    const res = await request(t.app).get('/api/v1/admin/audit-events').query({ actor_id: admin.userId }).set('Authorization', `Bearer ${admin.token}`);
    expect(res.status).toBe(200);
    expect(res.body.data.map((e: { action: string }) => e.action)).toContain('session.created');
    const all = await request(t.app).get('/api/v1/admin/audit-events').query({ resource_type: 'user', resource_id: admin.userId }).set('Authorization', `Bearer ${admin.token}`);
    expect(all.body.data).toContainEqual(expect.objectContaining({ action: 'user.created', actor_type: 'system', actor_id: 'onelink' }));
  });
});
