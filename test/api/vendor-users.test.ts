// Vendor users and password-less sign-in, through the app's own channels: a real SMTP server takes
// the e-mails and Twilio's REST API is faked at the HTTP boundary for SMS. Staff invite an owner,
// the owner invites technicians; codes and links are single use, live 10 minutes, die after five
// wrong codes; requests never say whether someone exists; sessions are long, renewed on use,
// listed and revocable; deactivation signs a person out everywhere.
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { withAccountForTests as withAccount } from '../../extension/db/tenant.ts';
import { capabilities } from '../../extension/capabilities/profiles.ts';
import { ownerInvitationsPerDay } from '../../extension/portal/vendor-users.ts';
import { startFakeTwilio, type FakeTwilio } from '../fakes/twilio.ts';
import { apiAs } from '../helpers/api.ts';
import { createTestApp, type TestApp } from '../helpers/app.ts';
import { inviteVendorUser, signInAgent, signInDispatcher, type SignedIn } from '../helpers/identity.ts';
import { startTestSmtp } from '../helpers/smtp.ts';
import { useWorld } from '../helpers/world.ts';

const smtp = await startTestSmtp();
const mails = smtp.mails;
const twilioFake: FakeTwilio = await startFakeTwilio();
const smtpUrl = smtp.url;

const world = useWorld([1, 2], { env: { SMTP_URL: smtpUrl, ONELINK_TWILIO_API_URL: twilioFake.url } });
let t: TestApp;
let admin: SignedIn;
let adminB: SignedIn;
let dispatcher: SignedIn;
let vendorA: string;
let vendorA2: string;
let vendorB: string;

afterAll(async () => {
  await smtp.close();
  await twilioFake.close();
});

/** Quoted-printable soft breaks and `=3D` undone: enough to read a code and a link out of a mail. */
const plain = (raw: string) => raw.replace(/=\r?\n/g, '').replace(/=3D/gi, '=');

/** The sign-in mail that reached `address` after `seen` earlier ones: its code and link token. */
async function signInMail(address: string, seen = 0) {
  const mail = await vi.waitFor(
    () => {
      const found = mails.filter((m) => m.to.includes(address));
      if (found.length <= seen) throw new Error(`no new mail for ${address}`);
      return found[seen]!;
    },
    { timeout: 5000, interval: 20 },
  );
  const text = plain(mail.raw);
  const code = /^Subject: (\d{6}) is your sign-in code for /m.exec(text)?.[1];
  const token = /\/portal\/vendor\/sign-in#token=(olm_[A-Za-z0-9_-]+)/.exec(text)?.[1];
  expect(code, 'code in the subject').toMatch(/^\d{6}$/);
  expect(token, 'link in the body').toBeTruthy();
  return { code: code!, token: token!, text };
}

const mailsTo = (address: string) => mails.filter((m) => m.to.includes(address)).length;
const anon = () => request(t.app);
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
const exchange = (body: object) => anon().post('/api/v1/portal/vendor/sessions').send(body);
const askSignIn = (body: object) => anon().post('/api/v1/portal/vendor/sign-in').send(body);
const me = (token: string) => anon().get('/api/v1/me').set(bearer(token));
let emails = 0;
const newEmail = (who: string) => `${who}-${++emails}@crew.example`;

/** Staff invite a vendor user by e-mail and the person signs in with the mailed code. */
async function invitedByStaff(vendorId: string, role: 'owner' | 'technician' = 'owner') {
  const email = newEmail(role);
  const res = await apiAs(t, admin.token).post(`/vendors/${vendorId}/users`, { name: `The ${role}`, email, role });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const { code } = await signInMail(email);
  const session = await exchange({ account: admin.accountId, email, code });
  expect(session.status, JSON.stringify(session.body)).toBe(201);
  return { id: res.body.data.id as string, email, token: session.body.data.token as string };
}

const pendingLinks = (portalUserId: string) =>
  withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) => trx('magic_links').where({ account_id: admin.accountId, portal_user_id: portalUserId }).orderBy('created_at'));

beforeAll(async () => {
  t = world.t;
  admin = await signInAgent(t, world.chatwoot, 1, 'administrator', 'Ada Admin');
  adminB = await signInAgent(t, world.chatwoot, 2, 'administrator', 'Bob Admin');
  const allOn = Object.fromEntries(capabilities.map((c) => [c, true]));
  for (const a of [admin, adminB]) expect((await apiAs(t, a.token).patch('/admin/capabilities', { overrides: allOn })).status).toBe(200);
  dispatcher = await signInDispatcher(t, world.chatwoot, 1, admin);
  vendorA = (await apiAs(t, admin.token).post('/vendors', { name: 'Pipes & Co' })).body.data.id;
  vendorA2 = (await apiAs(t, admin.token).post('/vendors', { name: 'Sparks Ltd' })).body.data.id;
  vendorB = (await apiAs(t, adminB.token).post('/vendors', { name: 'Vendor of account B' })).body.data.id;
  expect([vendorA, vendorA2, vendorB].every(Boolean)).toBe(true);
});

describe('staff invite an owner', () => {
  it('sends a code by e-mail; the code opens a 30-day session that works on vendor routes', async () => {
    const email = newEmail('owner');
    const invited = await apiAs(t, dispatcher.token).post(`/vendors/${vendorA}/users`, { name: 'Olive Owner', email, role: 'owner' });
    expect(invited.status, JSON.stringify(invited.body)).toBe(201);
    expect(invited.body.data).toMatchObject({ vendor_id: vendorA, vendor_role: 'owner', name: 'Olive Owner', email, active: true, invitation: { channel: 'email', sent: true } });

    const { code, text } = await signInMail(email);
    expect(text).toContain('Account 1'); // the account's name, so the person knows who writes
    const signedIn = await exchange({ account: admin.accountId, email: email.toUpperCase(), code });
    expect(signedIn.status, JSON.stringify(signedIn.body)).toBe(201);
    expect(String(signedIn.headers['set-cookie'])).toMatch(/onelink_session=ols_/);
    expect(signedIn.body.data.portal_user).toEqual({ id: invited.body.data.id, kind: 'vendor', name: 'Olive Owner', vendor_id: vendorA, vendor_role: 'owner' });
    const days = (new Date(signedIn.body.data.expires_at).getTime() - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29.9);
    expect(days).toBeLessThanOrEqual(30);

    const token = signedIn.body.data.token as string;
    const boot = await me(token);
    expect(boot.body.data.caller).toMatchObject({ type: 'portal_user', kind: 'vendor', vendor_id: vendorA, vendor_role: 'owner' });
    expect(boot.body.data.permissions).toEqual(expect.arrayContaining(['jobs:read', 'vendor_team:manage']));
    const jobs = await anon().get('/api/v1/jobs').set(bearer(token));
    expect(jobs.status).toBe(200);

    // Single use: the same code again proves nothing.
    expect((await exchange({ account: admin.accountId, email, code })).status).toBe(401);
    const audit = await apiAs(t, admin.token).get('/admin/audit-events', { resource_id: invited.body.data.id });
    expect(audit.body.data.map((e: { action: string }) => e.action)).toEqual(expect.arrayContaining(['portal_user.invited']));
  });

  it('sends the code by SMS to a person invited with a phone number only', async () => {
    const asAdmin = apiAs(t, admin.token);
    expect((await asAdmin.put('/twilio/settings', { account_sid: twilioFake.accountSid, auth_token: twilioFake.authToken, forward_to: ['+14155550100'] })).status).toBe(200);
    expect((await asAdmin.put('/admin/notifications/settings', { sms_from: '+14155550199' })).status).toBe(200);
    const invited = await asAdmin.post(`/vendors/${vendorA2}/users`, { name: 'Sam Sms', phone: '(415) 555-0142', role: 'owner' });
    expect(invited.status, JSON.stringify(invited.body)).toBe(201);
    expect(invited.body.data).toMatchObject({ phone: '+14155550142', invitation: { channel: 'sms', sent: true } });
    const sms = twilioFake.messages.at(-1)!;
    expect(sms).toMatchObject({ authorized: true, form: { To: '+14155550142', From: '+14155550199' } });
    const code = /^(\d{6}) is your sign-in code/.exec(sms.form.Body!)?.[1];
    expect(sms.form.Body).toMatch(/\/portal\/vendor\/sign-in#token=olm_/);
    // The number may be given as the person knows it.
    const signedIn = await exchange({ account: admin.accountId, phone: '415-555-0142', code });
    expect(signedIn.status, JSON.stringify(signedIn.body)).toBe(201);

    // Asking again by phone sends another SMS.
    const before = twilioFake.messages.length;
    expect((await askSignIn({ account: admin.accountId, phone: '+1 415 555 0142' })).status).toBe(202);
    await vi.waitFor(() => expect(twilioFake.messages.length).toBe(before + 1), { timeout: 5000, interval: 20 });
  });

  it('refuses an invitation without an address, a duplicate address, and an unknown vendor', async () => {
    const asAdmin = apiAs(t, admin.token);
    const bare = await asAdmin.post(`/vendors/${vendorA}/users`, { name: 'No Address', role: 'owner' });
    expect(bare.status).toBe(422);
    expect(bare.body.error.details.fields.map((f: { path: string }) => f.path)).toContain('body.email');
    const email = newEmail('dup');
    expect((await asAdmin.post(`/vendors/${vendorA}/users`, { name: 'First', email })).status).toBe(201);
    const again = await asAdmin.post(`/vendors/${vendorA2}/users`, { name: 'Second', email: email.toUpperCase() });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('vendor_user_exists');
    expect((await asAdmin.post(`/vendors/00000000-0000-4000-8000-000000000000/users`, { name: 'Nobody', email: newEmail('x') })).status).toBe(404);
    // Agents do not manage vendors.
    const agent = await signInAgent(t, world.chatwoot, 1, 'agent');
    expect((await apiAs(t, agent.token).post(`/vendors/${vendorA}/users`, { name: 'Nope', email: newEmail('x') })).status).toBe(403);
  });
});

describe('signing in', () => {
  let owner: { id: string; email: string; token: string };
  beforeAll(async () => {
    owner = await invitedByStaff(vendorA);
  });

  it('by the link: once, and the code sent with it dies with it', async () => {
    const seen = mailsTo(owner.email);
    const asked = await askSignIn({ account: admin.accountId, email: owner.email });
    expect(asked.status).toBe(202);
    const { code, token } = await signInMail(owner.email, seen);
    const first = await exchange({ token });
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    expect(first.body.data.portal_user).toMatchObject({ id: owner.id, vendor_role: 'owner' });
    expect((await me(first.body.data.token)).status).toBe(200);
    expect((await exchange({ token })).status).toBe(401);
    expect((await exchange({ account: admin.accountId, email: owner.email, code })).status).toBe(401);
  });

  it('answers an unknown person, account or deactivated user exactly as a known one, and sends them nothing', async () => {
    const known = await askSignIn({ account: admin.accountId, email: owner.email });
    const unknownPerson = await askSignIn({ account: admin.accountId, email: 'nobody@crew.example' });
    const unknownAccount = await askSignIn({ account: 987654, email: owner.email });
    const otherAccount = await askSignIn({ account: adminB.accountId, email: owner.email });
    for (const res of [known, unknownPerson, unknownAccount, otherAccount]) {
      expect(res.status).toBe(202);
      expect(res.body).toEqual(known.body);
    }
    const rows = await withAccount(t.db.knex, adminB.accountId, { readOnly: true }, (trx) => trx('magic_links').where({ account_id: adminB.accountId }));
    expect(rows).toEqual([]);
    // An invalid request is still a 422 (it says nothing about anyone).
    expect((await askSignIn({ account: admin.accountId })).status).toBe(422);
    expect((await askSignIn({ account: admin.accountId, email: owner.email, phone: '+14155550100' })).status).toBe(422);
    // A code for someone unknown is the same 401 as a wrong one.
    const unknownCode = await exchange({ account: admin.accountId, email: 'nobody@crew.example', code: '123456' });
    expect(unknownCode.status).toBe(401);
  });

  it('keeps a code 10 minutes', async () => {
    const user = await invitedByStaff(vendorA, 'technician');
    const seen = mailsTo(user.email);
    await askSignIn({ account: admin.accountId, email: user.email });
    const { code } = await signInMail(user.email, seen);
    const row = (await pendingLinks(user.id)).at(-1)!;
    expect(row.channel).toBe('email');
    const minutes = (row.expires_at.getTime() - row.created_at.getTime()) / 60_000;
    expect(minutes).toBeGreaterThan(9.9);
    expect(minutes).toBeLessThan(10.1);
    // Ten minutes later (the row's clock moved on): refused.
    await withAccount(t.db.knex, admin.accountId, { readOnly: false }, (trx) =>
      trx('magic_links').where({ account_id: admin.accountId, id: row.id }).update({ created_at: trx.raw(`now() - interval '10 minutes 1 second'`), expires_at: trx.raw(`now() - interval '1 second'`) }),
    );
    expect((await exchange({ account: admin.accountId, email: user.email, code })).status).toBe(401);
  });

  it('kills a code after five wrong ones', async () => {
    const user = await invitedByStaff(vendorA, 'technician');
    const seen = mailsTo(user.email);
    await askSignIn({ account: admin.accountId, email: user.email });
    const { code } = await signInMail(user.email, seen);
    const wrong = (k: number) => String((Number(code) + k) % 1_000_000).padStart(6, '0');
    for (let k = 1; k <= 5; k++) {
      const res = await exchange({ account: admin.accountId, email: user.email, code: wrong(k) });
      expect(res.status).toBe(401);
      expect(res.body.error.message).toMatch(/wrong, expired or already used/);
    }
    expect((await exchange({ account: admin.accountId, email: user.email, code })).status).toBe(401);
    expect((await pendingLinks(user.id)).at(-1)!.attempts).toBe(5);
    const refused = await apiAs(t, admin.token).get('/admin/audit-events', { action: 'sign_in.code_refused', resource_id: user.id });
    expect(refused.body.data.map((e: { after: { attempts_left: number } }) => e.after.attempts_left)).toEqual(expect.arrayContaining([4, 0]));
    // A new code works again.
    const again = mailsTo(user.email);
    await askSignIn({ account: admin.accountId, email: user.email });
    const fresh = await signInMail(user.email, again);
    expect((await exchange({ account: admin.accountId, email: user.email, code: fresh.code })).status).toBe(201);
  });

  it('honours at most five requests per person per 15 minutes (the rest still answer 202)', async () => {
    const email = newEmail('busy');
    const invited = await apiAs(t, admin.token).post(`/vendors/${vendorA}/users`, { name: 'Busy Bee', email, role: 'technician' });
    expect(invited.status).toBe(201); // the invitation's message is the first of five
    for (let i = 0; i < 6; i++) expect((await askSignIn({ account: admin.accountId, email })).status).toBe(202);
    expect(await pendingLinks(invited.body.data.id)).toHaveLength(5);
  });

  it('renews a session on use', async () => {
    const user = await invitedByStaff(vendorA, 'technician');
    const session = await withAccount(t.db.knex, admin.accountId, { readOnly: false }, async (trx) => {
      const where = { account_id: admin.accountId, subject_type: 'portal_user', subject_id: user.id };
      await trx('sessions').where(where).update({ expires_at: trx.raw(`now() + interval '1 hour'`), last_used_at: trx.raw(`now() - interval '2 minutes'`) });
      return trx('sessions').where(where).first();
    });
    expect(session.renew_hours).toBe(24 * 30);
    expect((await me(user.token)).status).toBe(200);
    const after = await withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) => trx('sessions').where({ account_id: admin.accountId, id: session.id }).first());
    expect((after.expires_at.getTime() - Date.now()) / 86_400_000).toBeGreaterThan(29.9);
  });

  it('limits each client address (429), on asking and on exchanging', async () => {
    const limited = await createTestApp({ env: { ONELINK_SIGN_IN_ATTEMPTS_PER_MINUTE: '3', SMTP_URL: smtpUrl } });
    try {
      const ask = () => request(limited.app).post('/api/v1/portal/vendor/sign-in').send({ account: 1, email: 'someone@crew.example' });
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await ask()).status);
      expect(statuses).toEqual([202, 202, 202, 429]);
      const blocked = await ask();
      expect(blocked.body.error.code).toBe('rate_limited');
      const guesses: number[] = [];
      for (let i = 0; i < 4; i++) guesses.push((await request(limited.app).post('/api/v1/portal/vendor/sessions').send({ account: 1, email: 'someone@crew.example', code: '000000' })).status);
      expect(guesses).toEqual([401, 401, 401, 429]);
    } finally {
      await limited.close();
    }
  });
});

describe('the owner’s team', () => {
  let owner: { id: string; email: string; token: string };
  let technician: { id: string; email: string; token: string };
  beforeAll(async () => {
    owner = await invitedByStaff(vendorA2);
    const email = newEmail('tech');
    const invited = await apiAs(t, owner.token).post('/portal/vendor/users', { name: 'Tina Tech', email });
    expect(invited.status, JSON.stringify(invited.body)).toBe(201);
    expect(invited.body.data).toMatchObject({ vendor_id: vendorA2, vendor_role: 'technician', invitation: { channel: 'email', sent: true } });
    const { code } = await signInMail(email);
    const session = await exchange({ account: admin.accountId, email, code });
    expect(session.status).toBe(201);
    technician = { id: invited.body.data.id, email, token: session.body.data.token };
  });

  it('a technician is a technician: sees vendor routes, cannot invite or manage the team', async () => {
    const boot = await me(technician.token);
    expect(boot.body.data.caller).toMatchObject({ vendor_id: vendorA2, vendor_role: 'technician' });
    expect(boot.body.data.permissions).not.toContain('vendor_team:manage');
    expect((await anon().get('/api/v1/jobs').set(bearer(technician.token))).status).toBe(200);
    const invite = await apiAs(t, technician.token).post('/portal/vendor/users', { name: 'Sneaky', email: newEmail('sneaky') });
    expect(invite.status).toBe(403);
    expect(invite.body.error.code).toBe('forbidden');
    expect((await apiAs(t, technician.token).get('/portal/vendor/users')).status).toBe(403);
    expect((await apiAs(t, technician.token).put(`/portal/vendor/users/${owner.id}/active`, { active: false })).status).toBe(403);
  });

  it('the owner lists the team and may not manage owners (staff do)', async () => {
    const team = await apiAs(t, owner.token).get('/portal/vendor/users');
    expect(team.status).toBe(200);
    const roles = new Map(team.body.data.map((u: { id: string; vendor_id: string; vendor_role: string }) => [u.id, `${u.vendor_id} ${u.vendor_role}`]));
    expect(roles.get(owner.id)).toBe(`${vendorA2} owner`);
    expect(roles.get(technician.id)).toBe(`${vendorA2} technician`);
    expect(new Set(team.body.data.map((u: { vendor_id: string }) => u.vendor_id))).toEqual(new Set([vendorA2]));
    const self = await apiAs(t, owner.token).put(`/portal/vendor/users/${owner.id}/active`, { active: false });
    expect(self.status).toBe(403);
    expect(self.body.error.code).toBe('owner_managed_by_staff');
    // Staff see the same team under the vendor.
    const staffView = await apiAs(t, admin.token).get(`/vendors/${vendorA2}/users`);
    expect(staffView.body.data.map((u: { id: string }) => u.id)).toEqual(expect.arrayContaining([owner.id, technician.id]));
    // Staff have no team of their own under /portal/vendor.
    expect((await apiAs(t, admin.token).get('/portal/vendor/users')).body.data).toEqual([]);
    expect((await apiAs(t, admin.token).post('/portal/vendor/users', { name: 'X', email: newEmail('x') })).body.error.code).toBe('vendor_owners_only');
  });

  it('lists and revokes sessions: mine, my technicians’ (owner) and any vendor user’s (staff)', async () => {
    // A second device for the technician, by the link this time.
    const seen = mailsTo(technician.email);
    await askSignIn({ account: admin.accountId, email: technician.email });
    const { token: link } = await signInMail(technician.email, seen);
    const phone = await anon().post('/api/v1/portal/vendor/sessions').set('User-Agent', 'Phone Browser/1.0').send({ token: link });
    expect(phone.status).toBe(201);
    const phoneToken = phone.body.data.token as string;

    const mine = await apiAs(t, phoneToken).get('/portal/sessions');
    expect(mine.status).toBe(200);
    expect(mine.body.data).toHaveLength(2);
    const current = mine.body.data.find((s: { current: boolean }) => s.current);
    expect(current).toMatchObject({ user_agent: 'Phone Browser/1.0' });
    expect(current.ip).toBeTruthy();
    const other = mine.body.data.find((s: { current: boolean }) => !s.current);

    // The owner sees the technician's two sessions and signs the first device out.
    const byOwner = await apiAs(t, owner.token).get(`/portal/vendor/users/${technician.id}/sessions`);
    expect(byOwner.body.data.map((s: { id: string }) => s.id).sort()).toEqual([current.id, other.id].sort());
    expect(byOwner.body.data.every((s: { current: boolean }) => !s.current)).toBe(true);
    expect((await apiAs(t, owner.token).delete(`/portal/vendor/users/${technician.id}/sessions/${other.id}`)).status).toBe(200);
    expect((await me(technician.token)).status).toBe(401);
    expect((await me(phoneToken)).status).toBe(200);
    expect((await apiAs(t, owner.token).delete(`/portal/vendor/users/${technician.id}/sessions/${other.id}`)).status).toBe(404);

    // Staff see what is left; the technician signs the phone out themselves.
    const byStaff = await apiAs(t, admin.token).get(`/vendors/${vendorA2}/users/${technician.id}/sessions`);
    expect(byStaff.body.data.map((s: { id: string }) => s.id)).toEqual([current.id]);
    expect((await apiAs(t, phoneToken).delete(`/portal/sessions/${owner.id}`)).status).toBe(404);
    const out = await apiAs(t, phoneToken).delete(`/portal/sessions/${current.id}`);
    expect(out.status).toBe(200);
    expect(out.body.data).toMatchObject({ revoked: true, current: true });
    expect(String(out.headers['set-cookie'])).toMatch(/onelink_session=;/);
    expect((await me(phoneToken)).status).toBe(401);

    // Staff revoke an owner's session.
    const ownerSessions = await apiAs(t, admin.token).get(`/vendors/${vendorA2}/users/${owner.id}/sessions`);
    expect(ownerSessions.body.data).toHaveLength(1);
    expect((await apiAs(t, admin.token).delete(`/vendors/${vendorA2}/users/${owner.id}/sessions/${ownerSessions.body.data[0].id}`)).status).toBe(200);
    expect((await me(owner.token)).status).toBe(401);
    owner.token = (await signInAgain(owner.email)).token;
  });

  it('deactivating a technician signs them out everywhere; they cannot sign in until reactivated', async () => {
    const first = await signInAgain(technician.email);
    const second = await signInAgain(technician.email);
    expect((await me(first.token)).status).toBe(200);
    expect((await me(second.token)).status).toBe(200);
    // A code asked for before the deactivation dies with it.
    const seen = mailsTo(technician.email);
    await askSignIn({ account: admin.accountId, email: technician.email });
    const pending = await signInMail(technician.email, seen);

    const off = await apiAs(t, owner.token).put(`/portal/vendor/users/${technician.id}/active`, { active: false });
    expect(off.status).toBe(200);
    expect(off.body.data).toMatchObject({ id: technician.id, active: false });
    expect((await me(first.token)).status).toBe(401);
    expect((await me(second.token)).status).toBe(401);
    expect((await exchange({ account: admin.accountId, email: technician.email, code: pending.code })).status).toBe(401);
    expect((await exchange({ token: pending.token })).status).toBe(401);
    const before = (await pendingLinks(technician.id)).length;
    expect((await askSignIn({ account: admin.accountId, email: technician.email })).status).toBe(202);
    expect(await pendingLinks(technician.id)).toHaveLength(before);
    const trail = await apiAs(t, admin.token).get('/admin/audit-events', { action: 'portal_user.deactivated', resource_id: technician.id });
    expect(trail.body.data[0].after).toMatchObject({ active: false, sessions_revoked: 2 });

    expect((await apiAs(t, owner.token).put(`/portal/vendor/users/${technician.id}/active`, { active: true })).status).toBe(200);
    // Quarter of an hour later (their five requests for the window are spent): back in.
    await withAccount(t.db.knex, admin.accountId, { readOnly: false }, (trx) =>
      trx('magic_links').where({ account_id: admin.accountId, portal_user_id: technician.id }).update({ created_at: trx.raw(`created_at - interval '15 minutes'`) }),
    );
    expect((await me((await signInAgain(technician.email)).token)).status).toBe(200);
  });

  it('staff deactivate an owner', async () => {
    const other = await invitedByStaff(vendorA2);
    expect((await apiAs(t, admin.token).put(`/vendors/${vendorA2}/users/${other.id}/active`, { active: false })).status).toBe(200);
    expect((await me(other.token)).status).toBe(401);
  });

  /** A fresh session for an active user: ask, read the mail, exchange the code. */
  async function signInAgain(email: string) {
    const seen = mailsTo(email);
    expect((await askSignIn({ account: admin.accountId, email })).status).toBe(202);
    const { code } = await signInMail(email, seen);
    const res = await exchange({ account: admin.accountId, email, code });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return { token: res.body.data.token as string };
  }
});

describe('boundaries', () => {
  it('an owner sends at most a day’s worth of invitations (each one is a message on the account’s behalf); staff are not capped', async () => {
    const vendor = (await apiAs(t, admin.token).post('/vendors', { name: 'Busy Builders' })).body.data.id as string;
    const owner = await invitedByStaff(vendor);
    // The owner (1) plus earlier people of the vendor, added straight in the database, leave room for one more today.
    await withAccount(t.db.knex, admin.accountId, { readOnly: false }, (trx) =>
      trx('portal_users').insert(
        Array.from({ length: ownerInvitationsPerDay - 2 }, (_, i) => ({ account_id: admin.accountId, kind: 'vendor', vendor_id: vendor, vendor_role: 'technician', name: `Crew ${i}` })),
      ),
    );
    const asOwner = apiAs(t, owner.token);
    expect((await asOwner.post('/portal/vendor/users', { name: 'Last one today', email: newEmail('tech') })).status).toBe(201);
    const refused = await asOwner.post('/portal/vendor/users', { name: 'One too many', email: newEmail('tech') });
    expect(refused.status).toBe(429);
    expect(refused.body.error).toMatchObject({ code: 'rate_limited', message: expect.stringContaining('ask dispatch') });
    const people = await withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) => trx('portal_users').where({ account_id: admin.accountId, vendor_id: vendor }).count<{ count: string }[]>('* as count'));
    expect(Number(people[0]!.count)).toBe(ownerInvitationsPerDay);
    // Staff still add people to the vendor.
    expect((await apiAs(t, admin.token).post(`/vendors/${vendor}/users`, { name: 'Added by dispatch', email: newEmail('tech'), role: 'technician' })).status).toBe(201);
  });

  it('an owner of one vendor cannot see or manage another vendor’s users (404)', async () => {
    const ownerA = await invitedByStaff(vendorA);
    const techOfOther = await inviteVendorUser(t, { accountId: admin.accountId, vendorId: vendorA2, staffToken: admin.token, role: 'technician' });
    const asOwnerA = apiAs(t, ownerA.token);
    expect((await asOwnerA.put(`/portal/vendor/users/${techOfOther.portalUserId}/active`, { active: false })).status).toBe(404);
    expect((await asOwnerA.get(`/portal/vendor/users/${techOfOther.portalUserId}/sessions`)).status).toBe(404);
    const sessionOfOther = await withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) =>
      trx('sessions').where({ account_id: admin.accountId, subject_id: techOfOther.portalUserId }).first('id'),
    );
    expect((await asOwnerA.delete(`/portal/vendor/users/${techOfOther.portalUserId}/sessions/${sessionOfOther.id}`)).status).toBe(404);
    expect((await asOwnerA.delete(`/portal/sessions/${sessionOfOther.id}`)).status).toBe(404);
    const team = await asOwnerA.get('/portal/vendor/users');
    expect(team.body.data.map((u: { id: string }) => u.id)).not.toContain(techOfOther.portalUserId);
    expect((await me(techOfOther.token)).status).toBe(200);
    // Portal users never reach the staff routes.
    expect((await asOwnerA.get(`/vendors/${vendorA}/users`)).status).toBe(403);
  });

  it('keeps accounts apart: staff, codes and sessions of one account mean nothing in another', async () => {
    const owner = await invitedByStaff(vendorA);
    const asB = apiAs(t, adminB.token);
    expect((await asB.get(`/vendors/${vendorA}/users`)).status).toBe(404);
    expect((await asB.post(`/vendors/${vendorA}/users`, { name: 'Planted', email: newEmail('planted') })).status).toBe(404);
    expect((await asB.put(`/vendors/${vendorA}/users/${owner.id}/active`, { active: false })).status).toBe(404);
    expect((await asB.get(`/vendors/${vendorB}/users/${owner.id}/sessions`)).status).toBe(404);
    expect((await me(owner.token)).status).toBe(200);

    // The same e-mail may belong to a vendor user of account B: each account signs in its own.
    const invitedB = await asB.post(`/vendors/${vendorB}/users`, { name: 'Same Person in B', email: owner.email });
    expect(invitedB.status).toBe(201);
    const codeB = (await signInMail(owner.email, mailsTo(owner.email) - 1)).code;
    expect((await exchange({ account: admin.accountId, email: owner.email, code: codeB })).status).toBe(401);
    const inB = await exchange({ account: adminB.accountId, email: owner.email, code: codeB });
    expect(inB.status).toBe(201);
    expect(inB.body.data.portal_user).toMatchObject({ id: invitedB.body.data.id, vendor_id: vendorB });
    expect((await apiAs(t, inB.body.data.token).get('/portal/vendor/users')).body.data.map((u: { id: string }) => u.id)).toEqual([invitedB.body.data.id]);
  });

  it('a client’s sign-in link opens no vendor session', async () => {
    const client = await apiAs(t, admin.token).post('/portal/clients', { chatwoot_contact_id: 7001, name: 'Carla Client', email: 'carla@example.com' });
    const link = await apiAs(t, admin.token).post(`/portal/clients/${client.body.data.id}/magic-links`);
    expect((await exchange({ token: link.body.data.token })).status).toBe(401);
    // Refused there, it still works where it belongs.
    expect((await anon().post('/api/v1/portal/sessions').send({ token: link.body.data.token })).status).toBe(201);
  });

  it('the test helper goes through invitation and sign-in', async () => {
    const owner = await inviteVendorUser(t, { accountId: admin.accountId, vendorId: vendorA, staffToken: admin.token });
    const tech = await inviteVendorUser(t, { accountId: admin.accountId, ownerToken: owner.token });
    expect((await me(owner.token)).body.data.caller).toMatchObject({ vendor_id: vendorA, vendor_role: 'owner' });
    expect((await me(tech.token)).body.data.caller).toMatchObject({ vendor_id: vendorA, vendor_role: 'technician' });
    expect(tech.vendorId).toBe(vendorA);
  });
});
