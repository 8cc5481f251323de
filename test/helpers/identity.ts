// Signing people in for tests through the real paths: a registered installation, Chatwoot
// agents in the fake, sign-in over HTTP; portal users through magic links; service tokens
// through the admin API.
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { issueToken } from '../../extension/auth/tokens.ts';
import { withAccountForTests as withAccount } from '../../extension/db/tenant.ts';
import { registerInstallation } from '../../extension/chatwoot/installations.ts';
import type { Permission } from '../../extension/auth/permissions.ts';
import type { OutgoingDelivery } from '../../extension/notifications/channels/types.ts';
import type { FakeChatwoot } from '../fakes/chatwoot.ts';
import type { TestApp } from './app.ts';

let nextAgentId = 1000;

export async function connectInstallation(t: TestApp, chatwoot: FakeChatwoot, chatwootAccountIds: number[]) {
  const adminToken = `admin-${randomBytes(8).toString('hex')}`;
  chatwoot.addAgent({
    id: nextAgentId++,
    name: 'Installer Admin',
    email: `installer-${adminToken}@example.com`,
    token: adminToken,
    accounts: chatwootAccountIds.map((id) => ({ id, name: `Account ${id}`, role: 'administrator' })),
  });
  return registerInstallation(t.db.knex, t.services.sealer, { chatwootUrl: chatwoot.url, apiToken: adminToken, timeoutMs: 2000 });
}

export interface SignedIn { token: string; accountId: number; userId: string; agentId: number; chatwootToken: string }

export async function signInAgent(
  t: TestApp,
  chatwoot: FakeChatwoot,
  chatwootAccountId: number,
  role: 'administrator' | 'agent',
  name = `${role} ${nextAgentId}`,
): Promise<SignedIn> {
  const chatwootToken = `cw-${randomBytes(12).toString('hex')}`;
  const agentId = nextAgentId++;
  chatwoot.addAgent({
    id: agentId,
    name,
    email: `agent${agentId}@example.com`,
    token: chatwootToken,
    accounts: [{ id: chatwootAccountId, name: `Account ${chatwootAccountId}`, role }],
  });
  const res = await request(t.app)
    .post('/api/v1/auth/chatwoot')
    .send({ access_token: chatwootToken, chatwoot_url: chatwoot.url, account_id: chatwootAccountId });
  if (res.status !== 201) throw new Error(`sign-in failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { token: res.body.data.token, accountId: res.body.data.account_id, userId: res.body.data.user_id, agentId, chatwootToken };
}

export async function signInDispatcher(t: TestApp, chatwoot: FakeChatwoot, chatwootAccountId: number, admin: SignedIn) {
  const agent = await signInAgent(t, chatwoot, chatwootAccountId, 'agent', 'Dispatcher');
  const res = await request(t.app)
    .put(`/api/v1/admin/users/${agent.userId}/dispatcher`)
    .set('Authorization', `Bearer ${admin.token}`)
    .send({ granted: true });
  if (res.status !== 200) throw new Error(`granting dispatcher failed: ${res.status} ${JSON.stringify(res.body)}`);
  return agent;
}

export async function createClientPortalSession(t: TestApp, staff: SignedIn, chatwootContactId: number) {
  const created = await request(t.app)
    .post('/api/v1/portal/clients')
    .set('Authorization', `Bearer ${staff.token}`)
    .send({ chatwoot_contact_id: chatwootContactId, name: `Client ${chatwootContactId}`, email: `client${chatwootContactId}@example.com` });
  if (created.status !== 201) throw new Error(`portal user failed: ${created.status} ${JSON.stringify(created.body)}`);
  const link = await request(t.app)
    .post(`/api/v1/portal/clients/${created.body.data.id}/magic-links`)
    .set('Authorization', `Bearer ${staff.token}`);
  const session = await request(t.app).post('/api/v1/portal/sessions').send({ token: link.body.data.token });
  if (session.status !== 201) throw new Error(`portal session failed: ${session.status} ${JSON.stringify(session.body)}`);
  return { token: session.body.data.token as string, portalUserId: created.body.data.id as string };
}

export async function createServiceToken(t: TestApp, admin: SignedIn, scopes: Permission[]) {
  const res = await request(t.app)
    .post('/api/v1/admin/service-tokens')
    .set('Authorization', `Bearer ${admin.token}`)
    .send({ name: `integration ${scopes.join(',')}`, scopes });
  if (res.status !== 201) throw new Error(`service token failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { token: res.body.data.token as string, id: res.body.data.id as string };
}

/**
 * A vendor portal session bound to `vendorId`, the portal user bound directly through the same
 * tables sign-in uses (quick, for tests about what vendors may do). Tests about who gets in use
 * inviteVendorUser below, which goes through invitation and sign-in.
 */
export async function createVendorPortalSession(t: TestApp, accountId: number, vendorId: string, vendorRole: 'owner' | 'technician' = 'owner') {
  return withAccount(t.db.knex, accountId, { readOnly: false }, async (trx) => {
    const [user] = await trx('portal_users').insert({ account_id: accountId, kind: 'vendor', vendor_id: vendorId, vendor_role: vendorRole, name: 'Vendor crew' }).returning('id');
    const { token, hash } = issueToken('session', accountId);
    await trx('sessions').insert({ account_id: accountId, subject_type: 'portal_user', subject_id: user.id, token_hash: hash, expires_at: new Date(Date.now() + 3600_000) });
    return { token, portalUserId: user.id as string };
  });
}

/**
 * Runs `work` with a recording e-mail sender in the app's place: sign-in messages are kept and
 * answered 'sent'; the app's own sender is back afterwards. SMTP itself is exercised in
 * vendor-users.test.ts.
 */
export async function withRecordedMail<T>(t: TestApp, work: (mail: OutgoingDelivery[]) => Promise<T>): Promise<T> {
  const senders = t.services.notifications.senders;
  const original = senders.email;
  const mail: OutgoingDelivery[] = [];
  senders.email = {
    unavailable: async () => null,
    send: async (delivery) => {
      mail.push(delivery);
      return { outcome: 'sent', providerId: delivery.id };
    },
  };
  try {
    return await work(mail);
  } finally {
    senders.email = original;
  }
}

let nextVendorUser = 1;

/**
 * A vendor user through the real path: invited by staff (`POST /vendors/:vendorId/users`) or by
 * their owner (`POST /portal/vendor/users`, a technician), then signed in with the code mailed to them.
 */
export async function inviteVendorUser(
  t: TestApp,
  options: { accountId: number; vendorId?: string; staffToken?: string; ownerToken?: string; role?: 'owner' | 'technician'; name?: string },
) {
  return withRecordedMail(t, async (mail) => {
    const email = `vendor-user-${nextVendorUser++}-${randomBytes(3).toString('hex')}@example.com`;
    const name = options.name ?? `Vendor user ${email.split('@')[0]}`;
    const invite = options.ownerToken
      ? request(t.app).post('/api/v1/portal/vendor/users').set('Authorization', `Bearer ${options.ownerToken}`).send({ name, email })
      : request(t.app).post(`/api/v1/vendors/${options.vendorId}/users`).set('Authorization', `Bearer ${options.staffToken}`).send({ name, email, role: options.role ?? 'owner' });
    const invited = await invite;
    if (invited.status !== 201) throw new Error(`invitation failed: ${invited.status} ${JSON.stringify(invited.body)}`);
    const message = mail.filter((m) => m.address === email).at(-1);
    if (!message) throw new Error(`no sign-in message reached ${email}`);
    const code = /^(\d{6}) /.exec(message.message.title)?.[1];
    const session = await request(t.app).post('/api/v1/portal/vendor/sessions').send({ account: options.accountId, email, code });
    if (session.status !== 201) throw new Error(`vendor sign-in failed: ${session.status} ${JSON.stringify(session.body)}`);
    return { token: session.body.data.token as string, portalUserId: invited.body.data.id as string, email, vendorId: invited.body.data.vendor_id as string };
  });
}
