// Getting into the client portal: staff invite a Chatwoot contact (the sign-in link goes out as an
// outgoing message in the contact's conversation of the fake Chatwoot, or by e-mail), clients ask for
// a code or link themselves (never told whether they exist), sessions are long, renewed on use,
// listed and revoked by staff and signed out everywhere; the profile passes changes on to the
// Chatwoot contact through the outbox and says whether they got there.
import { createECDH, randomBytes } from 'node:crypto';
import request from 'supertest';
import { beforeAll, describe, expect, it } from 'vitest';
import { capabilities } from '../../extension/capabilities/profiles.ts';
import { ChatwootError } from '../../extension/chatwoot/client.ts';
import { chatwootTargetFor } from '../../extension/chatwoot/outbox.ts';
import { systemContext, withAccountForTests as withAccount } from '../../extension/db/tenant.ts';
import { contactUpdateFailed, deliverContactUpdate, type ContactUpdateItem } from '../../extension/portal/client-profile.ts';
import type { FakeContact } from '../fakes/chatwoot.ts';
import { apiAs } from '../helpers/api.ts';
import type { TestApp } from '../helpers/app.ts';
import { inviteVendorUser, signInAgent, signInDispatcher, withRecordedMail, type SignedIn } from '../helpers/identity.ts';
import { useWorld } from '../helpers/world.ts';

const world = useWorld([1, 2]);
let t: TestApp;
let admin: SignedIn;
let adminB: SignedIn;
let dispatcher: SignedIn;
let nextConversation = 7000;

const anon = () => request(t.app);
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
const exchange = (body: object) => anon().post('/api/v1/portal/client/sessions').send(body);
const askSignIn = (body: object) => anon().post('/api/v1/portal/client/sign-in').send(body);
const me = (token: string) => anon().get('/api/v1/me').set(bearer(token));

beforeAll(async () => {
  t = world.t;
  admin = await signInAgent(t, world.chatwoot, 1, 'administrator', 'Ada Admin');
  adminB = await signInAgent(t, world.chatwoot, 2, 'administrator', 'Bob Admin');
  const allOn = Object.fromEntries(capabilities.map((c) => [c, true]));
  for (const a of [admin, adminB]) expect((await apiAs(t, a.token).patch('/admin/capabilities', { overrides: allOn })).status).toBe(200);
  dispatcher = await signInDispatcher(t, world.chatwoot, 1, admin);
});

let people = 0;
/** A Chatwoot contact of account 1 with `conversations` conversations (the last one the latest). */
function newContact(conversations = 1, details: Partial<FakeContact> = {}) {
  const n = ++people;
  const contact = world.chatwoot.addContact({ accountId: 1, name: `Client ${n}`, phone_number: `+1415555${String(1000 + n).padStart(4, '0')}`, email: `client-${n}@home.example`, ...details });
  const ids: number[] = [];
  for (let i = 0; i < conversations; i++) {
    const conversation = world.chatwoot.addConversation(1, ++nextConversation);
    conversation.contactId = contact.id;
    ids.push(conversation.id);
  }
  return { contact, conversations: ids };
}

const outgoing = (conversationId: number) => world.chatwoot.conversations.get(`1:${conversationId}`)!.messages.filter((m) => m.message_type === 'outgoing' && !m.private);
const tokenIn = (content: string) => /\/portal\/client\/sign-in#token=(olm_[A-Za-z0-9_-]+)/.exec(content)?.[1];

async function invite(body: object, token = admin.token) {
  return apiAs(t, token).post('/portal/clients/invite', body);
}

/** A client invited in their conversation and signed in with the link. */
async function signedInClient() {
  const { contact, conversations } = newContact();
  const invited = await invite({ chatwoot_contact_id: contact.id, chatwoot_conversation_id: conversations[0] });
  expect(invited.status, JSON.stringify(invited.body)).toBe(201);
  const token = tokenIn(String(outgoing(conversations[0]!).at(-1)!.content))!;
  const session = await exchange({ token });
  expect(session.status, JSON.stringify(session.body)).toBe(201);
  return { contact, conversations, portalUserId: invited.body.data.portal_user.id as string, token: session.body.data.token as string };
}

describe('staff invite a contact to the portal', () => {
  it('creates the account from the Chatwoot contact and sends the link as an outgoing message in the conversation', async () => {
    const { contact, conversations } = newContact(2, { phone_number: '+14155550101', name: 'Carla Client' });
    const res = await invite({ chatwoot_contact_id: contact.id, chatwoot_conversation_id: conversations[0] }, dispatcher.token);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.data.sent).toEqual({ via: 'conversation', outcome: 'sent' });
    expect(res.body.data.portal_user).toMatchObject({ kind: 'client', chatwoot_contact_id: contact.id, name: 'Carla Client', email: contact.email, phone: '+14155550101', active: true });
    // In the named conversation, not the other one; public, outgoing.
    expect(outgoing(conversations[1]!)).toEqual([]);
    const [message] = outgoing(conversations[0]!);
    expect(message!.content).toContain('Account 1');
    expect(message!.content).not.toMatch(/vendor/i);
    const token = tokenIn(String(message!.content));
    expect(token).toBeTruthy();

    // Our side keeps no trace of the token: not the link table, not the audit trail.
    const stored = await withAccount(t.db.knex, 1, { readOnly: true }, async (trx) => ({
      links: await trx('magic_links').where({ portal_user_id: res.body.data.portal_user.id }),
      audit: await trx('audit_events').where({ resource_id: res.body.data.portal_user.id }),
    }));
    expect(stored.links).toHaveLength(1);
    expect(stored.links[0].code_sealed).toBeNull(); // a link alone: no code nobody was told
    expect(JSON.stringify(stored)).not.toContain(token);
    expect(stored.audit.map((e: { action: string }) => e.action)).toEqual(expect.arrayContaining(['portal_user.created', 'portal_user.invited']));

    const session = await exchange({ token });
    expect(session.status, JSON.stringify(session.body)).toBe(201);
    expect(session.body.data.portal_user).toEqual({ id: res.body.data.portal_user.id, kind: 'client', name: 'Carla Client' });
    expect(String(session.headers['set-cookie'])).toMatch(/onelink_session=ols_/);
    const days = (new Date(session.body.data.expires_at).getTime() - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29.9);
    expect(days).toBeLessThanOrEqual(30);
    const boot = await me(session.body.data.token);
    expect(boot.body.data.caller).toMatchObject({ type: 'portal_user', id: res.body.data.portal_user.id, contact_id: contact.id });
    expect(boot.body.data.account).toMatchObject({ id: 1, name: 'Account 1' });
    const renewed = await withAccount(t.db.knex, 1, { readOnly: true }, (trx) => trx('sessions').where({ subject_id: res.body.data.portal_user.id }).first('renew_hours'));
    expect(renewed.renew_hours).toBe(t.config.ONELINK_SESSION_TTL_HOURS);

    // Single use.
    const again = await exchange({ token });
    expect(again.status).toBe(401);
    expect(again.body.error.code).toBe('unauthorized');
  });

  it("writes in the contact's latest conversation when none is named, and the same account is invited again", async () => {
    const { contact, conversations } = newContact(3);
    const first = await invite({ chatwoot_contact_id: contact.id });
    expect(first.body.data.sent).toEqual({ via: 'conversation', outcome: 'sent' });
    expect(outgoing(conversations[2]!)).toHaveLength(1);
    expect(outgoing(conversations[0]!)).toHaveLength(0);
    const second = await invite({ chatwoot_contact_id: contact.id });
    expect(second.status).toBe(201);
    expect(second.body.data.portal_user.id).toBe(first.body.data.portal_user.id);
    expect(outgoing(conversations[2]!)).toHaveLength(2);
  });

  it('says honestly when it cannot send, and refuses a conversation that is not the contact’s', async () => {
    const lonely = newContact(0);
    const none = await invite({ chatwoot_contact_id: lonely.contact.id });
    expect(none.status).toBe(201);
    expect(none.body.data.sent).toMatchObject({ via: 'conversation', outcome: 'not_possible', reason: expect.stringMatching(/no conversation/) });

    const noEmail = newContact(1, { email: null });
    const byMail = await invite({ chatwoot_contact_id: noEmail.contact.id, via: 'email' });
    expect(byMail.body.data.sent).toMatchObject({ via: 'email', outcome: 'not_possible', reason: 'The contact has no e-mail address' });

    const other = newContact(1);
    const wrong = await invite({ chatwoot_contact_id: noEmail.contact.id, chatwoot_conversation_id: other.conversations[0] });
    expect(wrong.status).toBe(422);
    expect(wrong.body.error.details.fields[0].path).toBe('body.chatwoot_conversation_id');

    // Chatwoot down: a contact we have never seen cannot be looked up (409, said so) …
    world.chatwoot.outage = 503;
    const unseen = await invite({ chatwoot_contact_id: other.contact.id });
    expect(unseen.status).toBe(409);
    expect(unseen.body.error.code).toBe('chatwoot_unavailable');
    // … one in our contact cache is invited, and the answer says the link did not go out.
    await withAccount(t.db.knex, 1, { readOnly: false }, (trx) =>
      trx('chatwoot_contacts').insert({ account_id: 1, chatwoot_contact_id: other.contact.id, name: other.contact.name, email: other.contact.email, phone_e164: other.contact.phone_number }),
    );
    const down = await invite({ chatwoot_contact_id: other.contact.id, chatwoot_conversation_id: other.conversations[0] });
    world.chatwoot.outage = null;
    expect(down.status).toBe(201);
    expect(down.body.data.sent).toMatchObject({ outcome: 'failed', reason: expect.stringMatching(/Chatwoot/) });
    expect(outgoing(other.conversations[0]!)).toHaveLength(0);

    const unknown = await invite({ chatwoot_contact_id: 99_999_999 });
    expect(unknown.status).toBe(404);
  });

  it('sends a code and link by e-mail when asked, which sign in', async () => {
    const { contact } = newContact(1);
    await withRecordedMail(t, async (mail) => {
      const res = await invite({ chatwoot_contact_id: contact.id, via: 'email' });
      expect(res.body.data.sent).toEqual({ via: 'email', outcome: 'sent' });
      const message = mail.at(-1)!;
      expect(message.address).toBe(contact.email);
      expect(message.message.url).toMatch(/\/portal\/client\/sign-in#token=olm_/);
      expect(message.message.body).toContain("Account 1's client portal");
      const code = /^(\d{6}) /.exec(message.message.title)![1];
      const session = await exchange({ account: 1, email: contact.email!.toUpperCase(), code });
      expect(session.status, JSON.stringify(session.body)).toBe(201);

      // Chatwoot down: a client who has an account is still invited by e-mail (nothing to ask Chatwoot).
      world.chatwoot.outage = 503;
      const again = await invite({ chatwoot_contact_id: contact.id, via: 'email' });
      world.chatwoot.outage = null;
      expect(again.status).toBe(201);
      expect(again.body.data.sent).toEqual({ via: 'email', outcome: 'sent' });
    });
  });

  it('lists the contact’s portal account with when it was last used', async () => {
    const client = await signedInClient();
    expect((await me(client.token)).status).toBe(200);
    const listed = await apiAs(t, admin.token).get('/portal/clients', { chatwoot_contact_id: client.contact.id });
    expect(listed.status).toBe(200);
    expect(listed.body.data).toHaveLength(1);
    expect(listed.body.data[0]).toMatchObject({ id: client.portalUserId, chatwoot_contact_id: client.contact.id });
    expect(listed.body.data[0].last_seen_at).toBeTruthy();
    expect((await apiAs(t, admin.token).get('/portal/clients', { chatwoot_contact_id: 88_888_888 })).body.data).toEqual([]);
    expect((await apiAs(t, admin.token).get('/portal/clients', { chatwoot_contact_id: 'x' })).status).toBe(422);
  });

  it('is for staff who manage the portal only', async () => {
    const { contact } = newContact(1);
    const client = await signedInClient();
    expect((await invite({ chatwoot_contact_id: contact.id }, client.token)).status).toBe(403);
  });
});

describe('clients ask for a code themselves', () => {
  it('answers the same whether or not the person exists, and sends a code only to a client', async () => {
    const client = await signedInClient();
    await withRecordedMail(t, async (mail) => {
      const unknown = await askSignIn({ account: 1, email: 'nobody@home.example' });
      const known = await askSignIn({ account: 1, email: client.contact.email });
      expect(unknown.status).toBe(202);
      expect(known.status).toBe(202);
      expect(known.body).toEqual(unknown.body);
      await expect.poll(() => mail.filter((m) => m.address === client.contact.email).length).toBe(1);
      expect(mail.filter((m) => m.address === 'nobody@home.example')).toEqual([]);
      const sent = mail.find((m) => m.address === client.contact.email)!;
      expect(sent.message.body).toMatch(/client portal/);
      expect(sent.message.body).not.toMatch(/vendor/i);
      const code = /^(\d{6}) /.exec(sent.message.title)![1]!;
      const wrong = code === '000000' ? '111111' : '000000';
      const refused = await exchange({ account: 1, email: client.contact.email, code: wrong });
      expect(refused.status).toBe(401);
      expect(refused.body.error.message).toMatch(/code/);
      expect((await exchange({ account: 1, email: client.contact.email, code })).status).toBe(201);
    });
  });

  it('accepts a national phone number and limits requests per person', async () => {
    const { contact } = newContact(1, { phone_number: '+14155550177', email: null });
    expect((await invite({ chatwoot_contact_id: contact.id })).status).toBe(201);
    const links = async () => (await withAccount(t.db.knex, 1, { readOnly: true }, (trx) => trx('magic_links').join('portal_users as u', 'u.id', 'magic_links.portal_user_id').where('u.chatwoot_contact_id', contact.id))).length;
    // Five links per person per 15 minutes: the invitation was one, four more are honoured.
    for (let i = 0; i < 6; i++) expect((await askSignIn({ account: 1, phone: '(415) 555-0177' })).status).toBe(202);
    expect(await links()).toBe(5);
  });

  it("keeps vendors and clients apart: a vendor's address gets no client code, a vendor's link opens no client session", async () => {
    const vendorId = (await apiAs(t, admin.token).post('/vendors', { name: 'Apart & Co' })).body.data.id;
    const vendor = await inviteVendorUser(t, { accountId: 1, vendorId, staffToken: admin.token });
    await withRecordedMail(t, async (mail) => {
      expect((await askSignIn({ account: 1, email: vendor.email })).status).toBe(202);
      expect((await anon().post('/api/v1/portal/vendor/sign-in').send({ account: 1, email: vendor.email })).status).toBe(202);
      await expect.poll(() => mail.filter((m) => m.address === vendor.email).length).toBe(1);
      const token = /#token=(olm_[A-Za-z0-9_-]+)/.exec(mail.find((m) => m.address === vendor.email)!.message.url!)![1];
      expect((await exchange({ token })).status).toBe(401);
    });
  });

  it('refuses bad requests with clear 4xx', async () => {
    expect((await askSignIn({ account: 1 })).status).toBe(422);
    expect((await askSignIn({ account: 1, email: 'a@b.example', phone: '+14155550100' })).status).toBe(422);
    expect((await exchange({ account: 1, email: 'a@b.example' })).status).toBe(422);
    expect((await exchange({ token: 'olm_1_not-a-real-token' })).status).toBe(401);
  });
});

describe('sessions', () => {
  it('staff list and revoke a client’s sessions; another account sees none of it', async () => {
    const client = await signedInClient();
    const list = await apiAs(t, admin.token).get(`/portal/clients/${client.portalUserId}/sessions`);
    expect(list.status).toBe(200);
    expect(list.body.data).toHaveLength(1);
    expect((await apiAs(t, adminB.token).get(`/portal/clients/${client.portalUserId}/sessions`)).status).toBe(404);
    expect((await apiAs(t, adminB.token).delete(`/portal/clients/${client.portalUserId}/sessions/${list.body.data[0].id}`)).status).toBe(404);
    const revoked = await apiAs(t, admin.token).delete(`/portal/clients/${client.portalUserId}/sessions/${list.body.data[0].id}`);
    expect(revoked.status).toBe(200);
    expect((await me(client.token)).status).toBe(401);
  });

  it('signs out everywhere, this session included', async () => {
    const client = await signedInClient();
    const link = await apiAs(t, admin.token).post(`/portal/clients/${client.portalUserId}/magic-links`);
    const second = (await exchange({ token: link.body.data.token })).body.data.token as string;
    const out = await anon().delete('/api/v1/portal/sessions').set(bearer(client.token));
    expect(out.status).toBe(200);
    expect(out.body.data).toEqual({ revoked: 2 });
    expect(String(out.headers['set-cookie'])).toMatch(/onelink_session=;/);
    expect((await me(client.token)).status).toBe(401);
    expect((await me(second)).status).toBe(401);
  });
});

describe('the profile', () => {
  it('shows the client’s details and passes a change on to the Chatwoot contact', async () => {
    const client = await signedInClient();
    const asClient = apiAs(t, client.token);
    const shown = await asClient.get('/portal/client/profile');
    expect(shown.status).toBe(200);
    expect(shown.body.data).toEqual({ name: client.contact.name, email: client.contact.email, phone: client.contact.phone_number, contact_sync: { status: 'synced' } });

    const changed = await asClient.put('/portal/client/profile', { phone: '(415) 555-0199', email: 'new-address@home.example' });
    expect(changed.status, JSON.stringify(changed.body)).toBe(200);
    expect(changed.body.data).toMatchObject({ phone: '+14155550199', email: 'new-address@home.example', contact_sync: { status: 'pending' } });
    const [row] = await withAccount(t.db.knex, 1, { readOnly: true }, (trx) => trx('chatwoot_outbox').where({ kind: 'contact' }).whereRaw(`(payload->>'contactId')::bigint = ?`, [client.contact.id]));
    expect(row).toMatchObject({ status: 'pending', chatwoot_conversation_id: null });
    const item = row.payload as ContactUpdateItem;
    expect(item).toEqual({ kind: 'contact', contactId: client.contact.id, changes: { phone_number: '+14155550199', email: 'new-address@home.example' } });

    // What the outbox does with it: the contact in Chatwoot changes.
    const ctx = await systemContext(t.db.knex, 1, 'chatwoot-outbox');
    const { target, chatwootAccountId } = await chatwootTargetFor(t.db.knex, t.services.sealer, 1, 2000);
    await deliverContactUpdate(ctx, target, chatwootAccountId, item);
    expect(world.chatwoot.contacts.find((c) => c.id === client.contact.id)).toMatchObject({ phone_number: '+14155550199', email: 'new-address@home.example' });
    await withAccount(t.db.knex, 1, { readOnly: false }, (trx) => trx('chatwoot_outbox').where({ id: row.id }).update({ status: 'sent' }));
    expect((await asClient.get('/portal/client/profile')).body.data.contact_sync).toEqual({ status: 'synced' });

    // The new address signs in.
    await withRecordedMail(t, async (mail) => {
      await askSignIn({ account: 1, email: 'new-address@home.example' });
      await expect.poll(() => mail.filter((m) => m.address === 'new-address@home.example').length).toBe(1);
    });
  });

  it('shows Chatwoot’s refusal as final, and records it', async () => {
    const client = await signedInClient();
    const asClient = apiAs(t, client.token);
    expect((await asClient.put('/portal/client/profile', { name: 'Carl New', email: null })).status).toBe(200);
    const [row] = await withAccount(t.db.knex, 1, { readOnly: true }, (trx) => trx('chatwoot_outbox').where({ kind: 'contact' }).whereRaw(`(payload->>'contactId')::bigint = ?`, [client.contact.id]));
    const item = row.payload as ContactUpdateItem;
    expect(item.changes).toEqual({ name: 'Carl New', email: null });
    const ctx = await systemContext(t.db.knex, 1, 'chatwoot-outbox');
    const { target, chatwootAccountId } = await chatwootTargetFor(t.db.knex, t.services.sealer, 1, 2000);
    world.chatwoot.failNext(1, 422);
    const refused = await deliverContactUpdate(ctx, target, chatwootAccountId, item).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(ChatwootError);
    expect((refused as ChatwootError).kind).toBe('bad_response');
    expect((refused as Error).message).toMatch(/^Chatwoot refused the change: /);
    // As the outbox settles a final failure.
    await withAccount(t.db.knex, 1, { readOnly: false }, (trx) => trx('chatwoot_outbox').where({ id: row.id }).update({ status: 'dead', last_error: (refused as Error).message }));
    await contactUpdateFailed(ctx, item, (refused as Error).message);
    const sync = (await asClient.get('/portal/client/profile')).body.data.contact_sync;
    expect(sync.status).toBe('failed');
    expect(sync.error).toMatch(/^Your details were not passed on: /);
    const audit = await apiAs(t, admin.token).get('/admin/audit-events', { resource_id: client.portalUserId });
    expect(audit.body.data.map((e: { action: string }) => e.action)).toEqual(expect.arrayContaining(['portal_user.profile_updated', 'portal_user.contact_sync_failed']));

    // An empty e-mail is sent as Chatwoot takes it (its update has no null).
    await deliverContactUpdate(ctx, target, chatwootAccountId, item);
    expect(world.chatwoot.contacts.find((c) => c.id === client.contact.id)).toMatchObject({ name: 'Carl New', email: '' });
  });

  it('keeps one way to sign in, checks the phone, and answers 404 to anyone not a client', async () => {
    const { contact } = newContact(1, { phone_number: null });
    const invited = await invite({ chatwoot_contact_id: contact.id, via: 'email' });
    expect(invited.status).toBe(201);
    const link = await apiAs(t, admin.token).post(`/portal/clients/${invited.body.data.portal_user.id}/magic-links`);
    const token = (await exchange({ token: link.body.data.token })).body.data.token as string;
    const noWay = await apiAs(t, token).put('/portal/client/profile', { email: null });
    expect(noWay.status).toBe(422);
    expect(noWay.body.error.details.fields[0].path).toBe('body.email');
    const badPhone = await apiAs(t, token).put('/portal/client/profile', { phone: '12' });
    expect(badPhone.status).toBe(422);
    expect(badPhone.body.error.details.fields[0].path).toBe('body.phone');
    // Nothing changed: nothing queued.
    expect((await apiAs(t, token).put('/portal/client/profile', {})).body.data.contact_sync).toEqual({ status: 'synced' });

    expect((await apiAs(t, admin.token).get('/portal/client/profile')).status).toBe(404);
    const vendorId = (await apiAs(t, admin.token).post('/vendors', { name: 'Not a client Ltd' })).body.data.id;
    const vendor = await inviteVendorUser(t, { accountId: 1, vendorId, staffToken: admin.token });
    expect([403, 404]).toContain((await apiAs(t, vendor.token).get('/portal/client/profile')).status);
  });

  it('notification preferences and web push work for a client', async () => {
    const client = await signedInClient();
    const asClient = apiAs(t, client.token);
    const prefs = await asClient.get('/notifications/preferences');
    expect(prefs.status, JSON.stringify(prefs.body)).toBe(200);
    const quiet = await asClient.put('/notifications/preferences', { quiet_start: '22:00', quiet_end: '07:00', time_zone: 'America/Los_Angeles' });
    expect(quiet.status, JSON.stringify(quiet.body)).toBe(200);
    expect((await asClient.get('/notifications/preferences')).body.data).toMatchObject({ quiet_start: '22:00', quiet_end: '07:00', time_zone: 'America/Los_Angeles' });

    expect((await asClient.get('/push/public-key')).status).toBe(200);
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    const endpoint = `https://fcm.googleapis.com/fcm/send/${randomBytes(12).toString('hex')}`;
    const keys = { p256dh: ecdh.getPublicKey().toString('base64url'), auth: randomBytes(16).toString('base64url') };
    const subscribed = await asClient.post('/push/subscriptions', { endpoint, keys });
    expect(subscribed.status, JSON.stringify(subscribed.body)).toBe(201);
    const stored = await withAccount(t.db.knex, 1, { readOnly: true }, (trx) => trx('push_subscriptions').where({ endpoint }).first('portal_user_id'));
    expect(stored.portal_user_id).toBe(client.portalUserId);
    expect((await asClient.delete('/push/subscriptions', { endpoint })).status).toBe(200);
  });
});
