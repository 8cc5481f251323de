// Messages between a vendor's people and dispatch, living in Chatwoot: the "Vendors" API-channel
// inbox, a conversation per job and person (custom attribute onelink_job), the vendor's messages
// posted through the public client API (checked against Chatwoot's document by the fake) once each
// whatever happens on the way, and agents' public replies (never their private notes) back in the
// portal through the account webhook.
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { buffer } from 'node:stream/consumers';
import express from 'express';
import sharp from 'sharp';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { drainOutbox } from '../../extension/chatwoot/outbox.ts';
import { install } from '../../extension/chatwoot/installer.ts';
import { systemContext, withAccountForTests as withAccount } from '../../extension/db/tenant.ts';
import { vendorContactIdentifier } from '../../extension/vendor-messages/deliver.ts';
import { reconcileEvery, reconcileThread } from '../../extension/vendor-messages/reconcile.ts';
import { attachmentOf, recordVendorReplies } from '../../extension/vendor-messages/replies.ts';
import { processDeliveries } from '../../webhooks/chatwoot/process.ts';
import type { FakeChatwoot, FakeConversation } from '../fakes/chatwoot.ts';
import { announcementsDuring } from '../helpers/announcements.ts';
import { apiAs, fetchSignedLink } from '../helpers/api.ts';
import { createTestApp, type TestApp } from '../helpers/app.ts';
import { inviteVendorUser, signInAgent, signInDispatcher, type SignedIn } from '../helpers/identity.ts';
import { useWorld } from '../helpers/world.ts';

// A 1 MB limit per file keeps the too-large case small.
const world = useWorld([1, 2], { env: { ONELINK_UPLOAD_MAX_MB: '1' } });
let t: TestApp;
let chatwoot: FakeChatwoot;
let admin: SignedIn;
let asDispatcher: ReturnType<typeof apiAs>;
let server: http.Server;
type Person = { token: string; portalUserId: string };
const vendors: Record<string, { id: string; owner: Person; tech: Person }> = {};
const secret = 'whsec_vendor_messages';

const inAYear = () => new Date(Date.now() + 365 * 86400_000).toISOString().slice(0, 10);

beforeAll(async () => {
  ({ t, chatwoot } = world);
  admin = await signInAgent(t, chatwoot, 1, 'administrator', 'Ada Admin');
  expect((await apiAs(t, admin.token).patch('/admin/capabilities', { profile: 'construction' })).status).toBe(200);
  asDispatcher = apiAs(t, (await signInDispatcher(t, chatwoot, 1, admin)).token);
  for (const name of ['North', 'South']) {
    const vendor = (await asDispatcher.post('/vendors', { name: `${name} Plumbing`, categories: ['plumbing'] })).body.data;
    expect((await asDispatcher.post(`/vendors/${vendor.id}/documents`, { kind: 'insurance', expires_on: inAYear() })).status).toBe(201);
    const owner = await inviteVendorUser(t, { accountId: admin.accountId, vendorId: vendor.id, staffToken: admin.token, name: `${name} Owner` });
    const tech = await inviteVendorUser(t, { accountId: admin.accountId, ownerToken: owner.token, name: `${name} Tech` });
    vendors[name] = { id: vendor.id, owner, tech };
  }
  // Onelink's webhook receiver on a real port, registered with the fake as the installer registers it.
  server = http.createServer(t.app).listen(0, '127.0.0.1');
  await once(server, 'listening');
  const installation = await t.db.knex('installations').first('id', 'webhook_path_token');
  await t.db.knex('installations').where({ id: installation.id }).update({ webhook_secret_sealed: t.services.sealer.seal(secret) });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/chatwoot/${installation.webhook_path_token}`;
  chatwoot.webhooks.push({ id: 901, accountId: 1, url, subscriptions: ['message_created', 'message_updated'], secret });
  chatwoot.messageEvents = true;
  // Opening a thread reconciles it with Chatwoot after the answer; in the background that would
  // race the tests that break Chatwoot on purpose, so it runs here only where a test asks for it.
  reconcileEvery.ms = Infinity;
});

afterAll(async () => {
  reconcileEvery.ms = 30_000;
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

async function jobFor(vendor: string, technician?: Person) {
  const job = (await asDispatcher.post('/jobs', { summary: `Leak for ${vendor}`, service_category: 'plumbing' })).body.data;
  expect((await asDispatcher.post(`/jobs/${job.id}/assignment`, { vendor_id: vendors[vendor]!.id })).status).toBe(200);
  if (technician) expect((await asDispatcher.put(`/jobs/${job.id}/technician`, { technician_id: technician.portalUserId })).status).toBe(200);
  return job as { id: string; reference: string };
}

const drain = (timeoutMs = 1000) => drainOutbox(t.db.knex, t.services.sealer, admin.accountId, timeoutMs, t.services.files);
const makeDue = () => withAccount(t.db.knex, admin.accountId, { readOnly: false }, (trx) => trx('chatwoot_outbox').where({ status: 'pending' }).update({ next_attempt_at: trx.fn.now() }));
const messagesOf = async (person: Person, jobId: string) => {
  const res = await apiAs(t, person.token).get(`/portal/vendor/jobs/${jobId}/messages`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.data as Array<{ id: string; client_id: string | null; direction: string; author_name: string; content: string; attachments: unknown[]; status: string }>;
};
const send = (person: Person, jobId: string, content: string, id: string = randomUUID()) => apiAs(t, person.token).post(`/portal/vendor/jobs/${jobId}/messages`, { id, content });
const vendorsInbox = () => chatwoot.apiInboxes.find((i) => i.accountId === 1 && i.name === 'Vendors');
/** The conversation of the Vendors inbox whose onelink_job is `reference`. */
const threadsOf = (reference: string): FakeConversation[] =>
  [...chatwoot.conversations.values()].filter((c) => c.accountId === 1 && c.inboxId === vendorsInbox()?.inboxId && c.customAttributes.onelink_job === reference);

/** Processes the webhooks Chatwoot has sent until `done` holds (Chatwoot sends them after its answer). */
async function untilWebhooksSay(done: () => Promise<boolean>) {
  await vi.waitFor(
    async () => {
      const pending = await t.db.knex('webhook_deliveries').whereIn('status', ['received', 'retrying']).pluck('id');
      if (pending.length) await processDeliveries(t.db.knex, pending);
      expect(await done()).toBe(true);
    },
    { timeout: 5000, interval: 50 },
  );
}

describe('the Vendors inbox', () => {
  it('an admin finds or creates it once; vendors and agents may not', async () => {
    const first = await apiAs(t, admin.token).post('/chatwoot/vendor-inbox');
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body.data).toMatchObject({ name: 'Vendors', outcome: 'created' });
    const again = await apiAs(t, admin.token).post('/chatwoot/vendor-inbox');
    expect(again.body.data).toEqual({ ...first.body.data, outcome: 'existing' });
    expect(chatwoot.apiInboxes.filter((i) => i.name === 'Vendors')).toHaveLength(1);
    expect(vendorsInbox()!.inboxId).toBe(first.body.data.chatwoot_inbox_id);
    // The identifier names the inbox in the public API without a token: kept sealed.
    const row = await t.db.knex('accounts').where({ account_id: admin.accountId }).first('chatwoot_vendor_inbox_identifier_sealed');
    expect(row.chatwoot_vendor_inbox_identifier_sealed).not.toContain(vendorsInbox()!.identifier);
    expect((await apiAs(t, vendors.North!.owner.token).post('/chatwoot/vendor-inbox')).status).toBe(403);
    expect((await asDispatcher.post('/chatwoot/vendor-inbox')).status).toBe(403);
  });
});

describe('a vendor’s message to dispatch', () => {
  let job: { id: string; reference: string };
  const north = () => vendors.North!;

  it('lands in the Vendors inbox as an incoming message of the job’s conversation, once however often it is sent', async () => {
    job = await jobFor('North');
    const id = randomUUID();
    const sent = await send(north().owner, job.id, 'On site in 20 minutes, gate code?', id);
    expect(sent.status, JSON.stringify(sent.body)).toBe(201);
    expect(sent.body.data).toMatchObject({ client_id: id, direction: 'from_vendor', author_name: 'North Owner', content: 'On site in 20 minutes, gate code?', attachments: [], status: 'sending' });
    // The replay before delivery answers the same message.
    const replay = await send(north().owner, job.id, 'On site in 20 minutes, gate code?', id);
    expect(replay.status).toBe(200);
    expect(replay.body.data).toEqual(sent.body.data);

    expect(await drain()).toBe(1);
    const [conversation, ...more] = threadsOf(job.reference);
    expect(more).toEqual([]);
    expect(conversation!.customAttributes).toEqual({ onelink_job: job.reference });
    expect(conversation!.messages).toMatchObject([{ message_type: 'incoming', private: false, content: 'On site in 20 minutes, gate code?', echoId: sent.body.data.id }]);
    // The contact is the vendor user, by an identifier of ours (never their address, which could be a customer's).
    const contact = chatwoot.contacts.find((c) => c.id === conversation!.contactId)!;
    expect(contact).toMatchObject({ name: 'North Owner', identifier: vendorContactIdentifier(north().owner.portalUserId), email: null, phone_number: null });

    const shown = await messagesOf(north().owner, job.id);
    expect(shown).toEqual([{ ...sent.body.data, status: 'sent' }]);
    // Sent again after delivery: still the one message, here and in Chatwoot.
    expect((await send(north().owner, job.id, 'On site in 20 minutes, gate code?', id)).status).toBe(200);
    await drain();
    expect(conversation!.messages).toHaveLength(1);
    // The same id for other words is refused.
    const reused = await send(north().owner, job.id, 'Something else', id);
    expect(reused.status).toBe(422);
    expect(reused.body.error.code).toBe('idempotency_key_reused');
    // The contact's source id is a credential: stored sealed.
    const stored = await withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) => trx('vendor_chat_contacts').where({ portal_user_id: north().owner.portalUserId }).first('source_id_sealed'));
    expect(stored.source_id_sealed).toBeTruthy();
    expect(JSON.stringify(stored)).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-/);
  });

  it('waits out a Chatwoot outage as sending, then arrives once', async () => {
    chatwoot.outage = 500;
    const sent = await send(north().owner, job.id, 'Water is off now');
    expect(sent.status).toBe(201);
    expect(await drain()).toBe(0);
    expect((await messagesOf(north().owner, job.id)).at(-1)).toMatchObject({ content: 'Water is off now', status: 'sending' });
    chatwoot.outage = null;
    await makeDue();
    expect(await drain()).toBe(1);
    expect((await messagesOf(north().owner, job.id)).at(-1)).toMatchObject({ content: 'Water is off now', status: 'sent' });
    await makeDue();
    await drain();
    expect(threadsOf(job.reference)[0]!.messages.map((m) => m.content)).toEqual(['On site in 20 minutes, gate code?', 'Water is off now']);
  });

  it('does not post twice when Chatwoot stored it but its answer was lost', async () => {
    chatwoot.swallowWrites = 1;
    await send(north().owner, job.id, 'Parts ordered');
    await drain(300);
    const conversation = threadsOf(job.reference)[0]!;
    expect(conversation.messages.filter((m) => m.content === 'Parts ordered')).toHaveLength(1);
    expect((await messagesOf(north().owner, job.id)).at(-1)).toMatchObject({ content: 'Parts ordered', status: 'sending' });
    await makeDue();
    await drain(300);
    expect(conversation.messages.filter((m) => m.content === 'Parts ordered')).toHaveLength(1);
    const last = (await messagesOf(north().owner, job.id)).at(-1)!;
    expect(last).toMatchObject({ content: 'Parts ordered', status: 'sent' });
    const row = await withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) => trx('vendor_messages').where({ id: last.id }).first('chatwoot_message_id'));
    expect(Number(row.chatwoot_message_id)).toBe(conversation.messages.find((m) => m.content === 'Parts ordered')!.id);
  });

  it('shows an agent’s reply with its attachments, announced; never a private note; the vendor’s own messages once', async () => {
    const conversation = threadsOf(job.reference)[0]!;
    const before = (await messagesOf(north().owner, job.id)).length;
    const heard = await announcementsDuring(t.db.url, async () => {
      chatwoot.agentMessage(1, conversation.id, {
        content: 'Gate code is 4411',
        attachments: [
          { file_type: 'image', data_url: 'https://chat.example.test/rails/active_storage/blobs/abc/gate%20photo.jpg' },
          { file_type: 'file', data_url: 'javascript:alert(1)' },
        ],
      });
      await untilWebhooksSay(async () => (await messagesOf(north().owner, job.id)).some((m) => m.direction === 'from_dispatch'));
    });
    expect(heard).toContain(String(admin.accountId));
    const shown = await messagesOf(north().owner, job.id);
    expect(shown).toHaveLength(before + 1);
    expect(shown.at(-1)).toMatchObject({
      direction: 'from_dispatch',
      client_id: null,
      author_name: 'Dana Dispatch',
      content: 'Gate code is 4411',
      status: 'sent',
      attachments: [{ url: 'https://chat.example.test/rails/active_storage/blobs/abc/gate%20photo.jpg', filename: 'gate photo.jpg', content_type: 'image/*' }],
    });

    chatwoot.agentMessage(1, conversation.id, { content: 'Internal: this vendor is slow, consider replacing', private: true });
    await untilWebhooksSay(async () => (await t.db.knex('webhook_deliveries').whereLike('body', '%Internal: this vendor%').where({ status: 'processed' }).first('id')) !== undefined);
    // The same delivery processed again stores nothing new.
    const processed = await t.db.knex('webhook_deliveries').where({ event: 'message_created', status: 'processed' }).pluck('id');
    await t.db.knex('webhook_deliveries').whereIn('id', processed).update({ status: 'retrying' });
    await processDeliveries(t.db.knex, processed);
    const after = await messagesOf(north().owner, job.id);
    expect(after.map((m) => m.content)).toEqual(shown.map((m) => m.content));
    expect(after.some((m) => m.content.includes('Internal'))).toBe(false);
    // The vendor's own messages came back as incoming message_created deliveries: stored once.
    expect(await t.db.knex('webhook_deliveries').whereLike('body', '%Water is off now%').where({ status: 'processed' }).first('id')).toBeDefined();
    expect(after.filter((m) => m.direction === 'from_vendor')).toHaveLength(3);
  });

  it('fetches a reply whose webhook was lost when the vendor opens the thread, once', async () => {
    const conversation = threadsOf(job.reference)[0]!;
    chatwoot.messageEvents = false; // Chatwoot's one attempt failed: no delivery will ever come
    chatwoot.agentMessage(1, conversation.id, { content: 'Did you see my last message?' });
    chatwoot.messageEvents = true;
    reconcileEvery.ms = 0;
    try {
      await vi.waitFor(async () => expect((await messagesOf(north().owner, job.id)).map((m) => m.content)).toContain('Did you see my last message?'), { timeout: 5000, interval: 100 });
      const deps = { db: t.db.knex, sealer: t.services.sealer, timeoutMs: 1000 };
      expect(await reconcileThread(deps, admin.accountId, job.id, north().owner.portalUserId)).toBe(0);
    } finally {
      reconcileEvery.ms = Infinity;
    }
    const shown = await messagesOf(north().owner, job.id);
    expect(shown.filter((m) => m.content === 'Did you see my last message?')).toMatchObject([{ direction: 'from_dispatch', author_name: 'Dana Dispatch', status: 'sent' }]);
    expect(shown.some((m) => m.content.includes('Internal'))).toBe(false);
  });

  it('opens the conversation once when Chatwoot opened it but its answer was lost', async () => {
    const other = await jobFor('North');
    await send(north().owner, other.id, 'About the boiler');
    chatwoot.swallowWrites = 1; // the owner is a contact already: the next write opens the conversation
    await drain(300);
    expect(threadsOf(other.reference)).toHaveLength(1);
    expect(threadsOf(other.reference)[0]!.messages).toEqual([]);
    await makeDue();
    await drain(300);
    expect(threadsOf(other.reference)).toHaveLength(1);
    expect(threadsOf(other.reference)[0]!.messages.map((m) => m.content)).toEqual(['About the boiler']);
    expect((await messagesOf(north().owner, other.id))[0]).toMatchObject({ status: 'sent' });
  });

  it('shows a message Chatwoot refuses outright as failed', async () => {
    chatwoot.failNext(1, 422);
    await send(north().owner, job.id, 'This one is refused');
    await drain();
    expect((await messagesOf(north().owner, job.id)).at(-1)).toMatchObject({ content: 'This one is refused', status: 'failed' });
    expect(threadsOf(job.reference)[0]!.messages.some((m) => m.content === 'This one is refused')).toBe(false);
  });
});

describe('who sees which thread', () => {
  it('each person has their own thread per job; a technician reaches only the jobs given to them', async () => {
    const north = vendors.North!;
    const given = await jobFor('North', north.tech);
    const kept = await jobFor('North');
    expect((await send(north.tech, given.id, 'Tech here: started')).status).toBe(201);
    expect((await send(north.owner, given.id, 'Owner here: tech is on it')).status).toBe(201);
    expect((await messagesOf(north.tech, given.id)).map((m) => m.content)).toEqual(['Tech here: started']);
    expect((await messagesOf(north.owner, given.id)).map((m) => m.content)).toEqual(['Owner here: tech is on it']);
    await drain();
    // Two conversations for the job in Chatwoot, one per person, both with the job's attribute.
    expect(threadsOf(given.reference)).toHaveLength(2);

    expect((await apiAs(t, north.tech.token).get(`/portal/vendor/jobs/${kept.id}/messages`)).status).toBe(404);
    expect((await send(north.tech, kept.id, 'Not mine')).status).toBe(404);
    // An agent's reply in one person's conversation reaches that person only.
    const ownerThread = threadsOf(given.reference).find((c) => c.messages.some((m) => m.content.startsWith('Owner here')))!;
    chatwoot.agentMessage(1, ownerThread.id, { content: 'Thanks, owner' });
    await untilWebhooksSay(async () => (await messagesOf(north.owner, given.id)).some((m) => m.content === 'Thanks, owner'));
    expect((await messagesOf(north.tech, given.id)).map((m) => m.content)).toEqual(['Tech here: started']);
  });

  it('another vendor, staff, and another account find nothing', async () => {
    const job = await jobFor('North');
    expect((await send(vendors.North!.owner, job.id, 'Hello dispatch')).status).toBe(201);
    const south = vendors.South!;
    expect((await apiAs(t, south.owner.token).get(`/portal/vendor/jobs/${job.id}/messages`)).status).toBe(404);
    expect((await send(south.owner, job.id, 'Planted')).status).toBe(404);
    expect((await send(south.tech, job.id, 'Planted')).status).toBe(404);
    // Staff read these threads in Chatwoot, not here.
    expect((await asDispatcher.get(`/portal/vendor/jobs/${job.id}/messages`)).status).toBe(404);
    expect((await apiAs(t, admin.token).post(`/portal/vendor/jobs/${job.id}/messages`, { id: randomUUID(), content: 'Planted' })).status).toBe(404);
    // A vendor user of account 2 asking for account 1's job.
    const adminB = await signInAgent(t, chatwoot, 2, 'administrator', 'Bea Admin');
    expect((await apiAs(t, adminB.token).patch('/admin/capabilities', { profile: 'construction' })).status).toBe(200);
    const vendorB = (await apiAs(t, adminB.token).post('/vendors', { name: 'B Plumbing', categories: ['plumbing'] })).body.data;
    const ownerB = await inviteVendorUser(t, { accountId: adminB.accountId, vendorId: vendorB.id, staffToken: adminB.token });
    expect((await apiAs(t, ownerB.token).get(`/portal/vendor/jobs/${job.id}/messages`)).status).toBe(404);
    expect((await send(ownerB, job.id, 'Planted')).status).toBe(404);
    const stored = await withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) => trx('vendor_messages').where({ job_id: job.id }).pluck('content'));
    expect(stored).toEqual(['Hello dispatch']);
  });
});

describe('hostile input', () => {
  it('refuses bad ids, empty, oversized and unstorable text with 422, and keeps markup as plain text', async () => {
    const owner = vendors.North!.owner;
    const job = await jobFor('North');
    const as = apiAs(t, owner.token);
    const cases: Array<[string, object]> = [
      [`/portal/vendor/jobs/${job.id}/messages`, { id: 'not-a-uuid', content: 'Hi' }],
      [`/portal/vendor/jobs/${job.id}/messages`, { id: randomUUID(), content: '   ' }],
      [`/portal/vendor/jobs/${job.id}/messages`, { id: randomUUID(), content: 'x'.repeat(5001) }],
      [`/portal/vendor/jobs/${job.id}/messages`, { id: randomUUID(), content: 'nul \u0000 byte' }],
      [`/portal/vendor/jobs/${job.id}/messages`, { id: randomUUID(), content: ['array'] }],
      [`/portal/vendor/jobs/${job.id}/messages`, { id: randomUUID() }],
      ['/portal/vendor/jobs/not-a-uuid/messages', { id: randomUUID(), content: 'Hi' }],
    ];
    for (const [path, body] of cases) {
      const res = await as.post(path, body);
      expect(res.status, `${path} ${JSON.stringify(body).slice(0, 60)}`).toBe(422);
      expect(res.body.error.code).toBe('validation_failed');
    }
    expect((await as.get('/portal/vendor/jobs/not-a-uuid/messages')).status).toBe(422);
    expect((await as.get(`/portal/vendor/jobs/${randomUUID()}/messages`)).status).toBe(404);
    const markup = '<img src=x onerror=alert(1)> “quotes” & emoji 🚰';
    const sent = await send(owner, job.id, markup);
    expect(sent.status).toBe(201);
    expect(sent.body.data.content).toBe(markup);
    await drain();
    expect(threadsOf(job.reference)[0]!.messages[0]!.content).toBe(markup);
  });
});

describe('when Chatwoot misbehaves or things are deleted there', () => {
  const north = () => vendors.North!;
  const south = () => vendors.South!;
  const sourceIdOf = async (person: Person) => {
    const row = await withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) =>
      trx('vendor_chat_contacts').where({ portal_user_id: person.portalUserId, chatwoot_inbox_id: vendorsInbox()!.inboxId }).first('source_id_sealed'),
    );
    return t.services.sealer.open(row.source_id_sealed) as string;
  };
  const threadOf = (jobId: string, person: Person) =>
    withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) => trx('vendor_threads').where({ job_id: jobId, portal_user_id: person.portalUserId }).first('chatwoot_inbox_id', 'chatwoot_conversation_id'));

  it('keeps the public API’s credentials out of the outbox, the message and the audit trail when Chatwoot refuses', async () => {
    const job = await jobFor('South');
    await send(south().owner, job.id, 'First words');
    expect(await drain()).toBe(1);
    const identifier = vendorsInbox()!.identifier;
    const sourceId = await sourceIdOf(south().owner);
    chatwoot.failNext(1, 500);
    await send(south().owner, job.id, 'Second words');
    expect(await drain()).toBe(0);
    const pending = await withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) => trx('chatwoot_outbox').where({ status: 'pending' }).first('last_error'));
    expect(pending.last_error).toMatch(/500/);
    // Then a 404 for everything, however often it is tried again: final.
    chatwoot.failNext(50, 404);
    try {
      await makeDue();
      await drain();
    } finally {
      chatwoot.failNext(0);
    }
    expect((await messagesOf(south().owner, job.id)).at(-1)).toMatchObject({ content: 'Second words', status: 'failed' });
    const stored = await withAccount(t.db.knex, admin.accountId, { readOnly: true }, async (trx) =>
      JSON.stringify([
        await trx('chatwoot_outbox').select('last_error', 'payload'),
        await trx('vendor_messages').select('last_error'),
        await trx('audit_events').select('*'),
      ]),
    );
    expect(stored).toMatch(/404/);
    expect(stored).not.toContain(identifier);
    expect(stored).not.toContain(sourceId);
  });

  it('opens a new conversation when the thread’s was deleted in Chatwoot, and makes the contact again when it was deleted', async () => {
    const job = await jobFor('North');
    await send(north().owner, job.id, 'Before the clean-up');
    expect(await drain()).toBe(1);
    const [first] = threadsOf(job.reference);
    chatwoot.conversations.delete(`1:${first!.id}`);
    await send(north().owner, job.id, 'After the conversation went');
    expect(await drain()).toBe(1);
    const [second, ...more] = threadsOf(job.reference);
    expect(more).toEqual([]);
    expect(second!.id).not.toBe(first!.id);
    expect(second!.messages.map((m) => m.content)).toEqual(['After the conversation went']);

    const contactIndex = chatwoot.contacts.findIndex((c) => c.id === second!.contactId);
    chatwoot.contacts.splice(contactIndex, 1);
    for (const c of threadsOf(job.reference)) chatwoot.conversations.delete(`1:${c.id}`); // Chatwoot deletes a contact's conversations with it
    await send(north().owner, job.id, 'After the contact went');
    expect(await drain()).toBe(1);
    const [third] = threadsOf(job.reference);
    expect(third!.messages.map((m) => m.content)).toEqual(['After the contact went']);
    expect(chatwoot.contacts.find((c) => c.id === third!.contactId)).toMatchObject({ identifier: vendorContactIdentifier(north().owner.portalUserId) });
    expect((await messagesOf(north().owner, job.id)).map((m) => m.status)).toEqual(['sent', 'sent', 'sent']);
  });

  it('sets the Vendors inbox up again when it was deleted in Chatwoot', async () => {
    const job = await jobFor('North');
    const gone = vendorsInbox()!;
    chatwoot.apiInboxes.splice(chatwoot.apiInboxes.indexOf(gone), 1);
    await send(north().owner, job.id, 'Is anyone there?');
    expect(await drain()).toBe(1);
    expect(vendorsInbox()!.inboxId).not.toBe(gone.inboxId);
    expect(threadsOf(job.reference)[0]!.messages.map((m) => m.content)).toEqual(['Is anyone there?']);
    expect((await messagesOf(north().owner, job.id))[0]).toMatchObject({ status: 'sent' });
  });

  it('holds a second message back while the first is backing off: one conversation, in order, other threads not held up', async () => {
    const job = await jobFor('North');
    const other = await jobFor('North');
    await send(north().owner, job.id, 'One');
    chatwoot.swallowWrites = 1; // the conversation is opened, its answer lost
    await drain(300);
    expect(threadsOf(job.reference)).toHaveLength(1);
    expect((await threadOf(job.id, north().owner)).chatwoot_inbox_id).not.toBeNull(); // the attempt is recorded on the thread
    await send(north().owner, job.id, 'Two');
    await send(north().owner, other.id, 'Elsewhere');
    expect(await drain()).toBe(1); // the other thread's message only
    expect(threadsOf(other.reference)[0]!.messages.map((m) => m.content)).toEqual(['Elsewhere']);
    expect(threadsOf(job.reference)).toHaveLength(1);
    expect(threadsOf(job.reference)[0]!.messages).toEqual([]);
    await makeDue();
    expect(await drain()).toBe(2);
    expect(threadsOf(job.reference)).toHaveLength(1);
    expect(threadsOf(job.reference)[0]!.messages.map((m) => m.content)).toEqual(['One', 'Two']);
  });

  it('finds a message whose answer was lost even when more than a page of messages came after it', async () => {
    const job = await jobFor('North');
    await send(north().owner, job.id, 'Opening');
    expect(await drain()).toBe(1);
    const conversation = threadsOf(job.reference)[0]!;
    chatwoot.messageEvents = false;
    try {
      chatwoot.swallowWrites = 1;
      await send(north().owner, job.id, 'Lost in the list');
      await drain(300);
      for (let i = 0; i < 25; i++) chatwoot.agentMessage(1, conversation.id, { content: `Busy reply ${i}` });
      await makeDue();
      expect(await drain()).toBe(1);
    } finally {
      chatwoot.messageEvents = true;
    }
    expect(conversation.messages.filter((m) => m.content === 'Lost in the list')).toHaveLength(1);
    expect((await messagesOf(north().owner, job.id)).find((m) => m.content === 'Lost in the list')).toMatchObject({ status: 'sent' });
  });

  it('recovers lost replies older than Chatwoot’s latest 20', async () => {
    const job = await jobFor('North');
    await send(north().owner, job.id, 'Hello');
    expect(await drain()).toBe(1);
    const conversation = threadsOf(job.reference)[0]!;
    chatwoot.messageEvents = false;
    try {
      for (let i = 0; i < 25; i++) chatwoot.agentMessage(1, conversation.id, { content: `Lost reply ${i}` });
    } finally {
      chatwoot.messageEvents = true;
    }
    reconcileEvery.ms = 0;
    try {
      const deps = { db: t.db.knex, sealer: t.services.sealer, timeoutMs: 1000 };
      expect(await reconcileThread(deps, admin.accountId, job.id, north().owner.portalUserId)).toBe(25);
    } finally {
      reconcileEvery.ms = Infinity;
    }
    const shown = await messagesOf(north().owner, job.id);
    expect(shown.filter((m) => m.direction === 'from_dispatch').map((m) => m.content)).toEqual(Array.from({ length: 25 }, (_, i) => `Lost reply ${i}`));
  });

  it('takes a reply only from the thread’s own inbox, and only https attachment links', async () => {
    const job = await jobFor('North');
    await send(north().owner, job.id, 'Inbox check');
    expect(await drain()).toBe(1);
    const conversationId = threadsOf(job.reference)[0]!.id;
    const ctx = await systemContext(t.db.knex, admin.accountId, 'test');
    const reply = { conversationId, messageId: 880_001, content: 'From another inbox', authorName: 'Mallory', attachments: [] };
    expect(await recordVendorReplies(ctx, [{ ...reply, inboxId: vendorsInbox()!.inboxId + 1000 }])).toBe(0);
    expect(await recordVendorReplies(ctx, [{ ...reply, inboxId: null }])).toBe(0);
    expect((await messagesOf(north().owner, job.id)).map((m) => m.content)).toEqual(['Inbox check']);
    expect(await recordVendorReplies(ctx, [{ ...reply, content: 'From ours', inboxId: vendorsInbox()!.inboxId }])).toBe(1);

    expect(attachmentOf({ data_url: 'http://chat.example.test/rails/active_storage/blobs/x/plain.jpg' })).toBeNull();
    expect(attachmentOf({ data_url: 'https://chat.example.test/rails/active_storage/blobs/x/safe.jpg', file_type: 'image' })).toMatchObject({ filename: 'safe.jpg' });
  });

  it('does not adopt a Vendors inbox that posts to someone else, and sets one up once when asked twice at once', async () => {
    const elsewhere = chatwoot.addApiInbox(1, 4242, 'Vendors');
    elsewhere.webhookUrl = 'https://third-party.example/hook';
    // Ours is gone (deleted in Chatwoot, and forgotten here): the third party's is the only one named Vendors.
    const ours = chatwoot.apiInboxes.find((i) => i.accountId === 1 && i.name === 'Vendors' && i !== elsewhere)!;
    chatwoot.apiInboxes.splice(chatwoot.apiInboxes.indexOf(ours), 1);
    await t.db.knex('accounts').where({ account_id: admin.accountId }).update({ chatwoot_vendor_inbox_id: null, chatwoot_vendor_inbox_identifier_sealed: null });
    try {
      const [a, b] = await Promise.all([apiAs(t, admin.token).post('/chatwoot/vendor-inbox'), apiAs(t, admin.token).post('/chatwoot/vendor-inbox')]);
      expect([a.status, b.status]).toEqual([200, 200]);
      expect(a.body.data.chatwoot_inbox_id).toBe(b.body.data.chatwoot_inbox_id);
      expect([a.body.data.outcome, b.body.data.outcome].sort()).toEqual(['created', 'existing']);
      expect(a.body.data.chatwoot_inbox_id).not.toBe(elsewhere.inboxId);
      expect(chatwoot.apiInboxes.filter((i) => i.name === 'Vendors' && i.accountId === 1)).toHaveLength(2);
    } finally {
      chatwoot.apiInboxes.splice(chatwoot.apiInboxes.indexOf(elsewhere), 1);
    }
  });
});

// Last: installing again registers the installer's own webhook (and its secret) for the account.
describe('files with a message', () => {
  const north = () => vendors.North!;
  let photo: Buffer;
  const pdf = Buffer.from('%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n');
  type Part = { data: Buffer; name: string };
  const sendFiles = (person: Person, jobId: string, fields: { id: string; content?: string }, files: Part[]) => {
    const req = request(t.app).post(`/api/v1/portal/vendor/jobs/${jobId}/messages`).set('Authorization', `Bearer ${person.token}`).field('id', fields.id);
    if (fields.content !== undefined) req.field('content', fields.content);
    for (const f of files) req.attach('file', f.data, f.name);
    return req;
  };
  const fetchLink = (link: string) => fetchSignedLink(t, link);
  const messageFiles = async (jobId: string) => {
    const folder = `${admin.accountId}/${jobId}/messages/`;
    if (t.s3) return (await t.s3.keys()).filter((k) => k.startsWith(folder)).map((k) => k.slice(folder.length));
    const dir = path.join(t.config.filesDir, String(admin.accountId), jobId, 'messages');
    return fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [];
  };
  const rowsOf = (jobId: string) => withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) => trx('vendor_messages').where({ job_id: jobId }).select('id', 'content', 'attachments'));

  beforeAll(async () => {
    photo = await sharp({ create: { width: 640, height: 480, channels: 3, background: '#2e86c1' } }).jpeg().toBuffer();
  });

  it('a photo and a PDF reach Chatwoot as one incoming message with both files, byte for byte; a resend stores nothing twice', async () => {
    const job = await jobFor('North');
    const id = randomUUID();
    const files = [{ data: photo, name: 'leak.jpg' }, { data: pdf, name: 'quote.pdf' }];
    const sent = await sendFiles(north().owner, job.id, { id, content: '' }, files);
    expect(sent.status, JSON.stringify(sent.body)).toBe(201);
    expect(sent.body.data).toMatchObject({ client_id: id, content: '', status: 'sending' });
    expect(sent.body.data.attachments).toMatchObject([
      { filename: 'leak.jpg', content_type: 'image/jpeg' },
      { filename: 'quote.pdf', content_type: 'application/pdf' },
    ]);
    const stored = await messageFiles(job.id);
    expect(stored).toHaveLength(2);
    // The same id again (the device resending after a lost answer): the first message, no new files.
    const replay = await sendFiles(north().owner, job.id, { id, content: '' }, files);
    expect(replay.status, JSON.stringify(replay.body)).toBe(200);
    expect(replay.body.data.id).toBe(sent.body.data.id);
    expect(await messageFiles(job.id)).toEqual(stored);
    expect(await rowsOf(job.id)).toHaveLength(1);
    // Other files under the same id are another message: refused.
    expect((await sendFiles(north().owner, job.id, { id, content: '' }, [files[0]!])).status).toBe(422);
    expect(await messageFiles(job.id)).toEqual(stored);

    expect(await drain()).toBe(1);
    const [conversation, ...more] = threadsOf(job.reference);
    expect(more).toEqual([]);
    expect(conversation!.messages).toHaveLength(1);
    const [message] = conversation!.messages;
    expect(message).toMatchObject({ message_type: 'incoming', content: '', echoId: sent.body.data.id });
    expect(message!.attachments!.map((a) => [a.content_type, a.file_type, a.data_url.split('/').at(-1)])).toEqual([
      ['image/jpeg', 'image', 'leak.jpg'],
      ['application/pdf', 'file', 'quote.pdf'],
    ]);
    // What Chatwoot got is what was stored, which is what the vendor sent.
    const [row] = await rowsOf(job.id);
    for (const [i, a] of (row.attachments as Array<{ storage_key: string }>).entries()) {
      const kept = await buffer(await t.services.files.open(a.storage_key));
      expect(kept.equals(files[i]!.data)).toBe(true);
      expect(message!.attachments![i]!.data!.equals(kept)).toBe(true);
    }
    expect(chatwoot.violations).toEqual([]);
    // Sent once more after delivery: still the one message in Chatwoot.
    expect((await sendFiles(north().owner, job.id, { id, content: '' }, files)).status).toBe(200);
    await drain();
    expect(conversation!.messages).toHaveLength(1);
    const [shown] = await messagesOf(north().owner, job.id);
    expect(shown).toMatchObject({ status: 'sent', attachments: [{ filename: 'leak.jpg' }, { filename: 'quote.pdf' }] });
  });

  it('the sender reads their file through its signed link; another vendor, another account or a changed link find nothing', async () => {
    const job = await jobFor('North');
    const sent = await sendFiles(north().owner, job.id, { id: randomUUID(), content: 'The valve' }, [{ data: photo, name: 'valve.jpg' }]);
    expect(sent.status, JSON.stringify(sent.body)).toBe(201);
    const [shown] = await messagesOf(north().owner, job.id);
    const link = shown!.attachments[0] as { url: string; filename: string };
    expect(link.url).toMatch(/^\/api\/v1\/portal\/vendor\/message-attachments\/content\?token=/);
    const got = await fetchLink(link.url);
    expect(got.status).toBe(200);
    expect((got.body as Buffer).equals(photo)).toBe(true);
    expect(got.headers['content-type']).toBe('image/jpeg');
    expect(got.headers['content-disposition']).toContain('inline; filename="valve.jpg"');
    expect(got.headers['content-security-policy']).toContain('sandbox');
    expect(got.headers['x-content-type-options']).toBe('nosniff');
    // Another vendor cannot reach the thread that hands the link out.
    expect((await apiAs(t, vendors.South!.owner.token).get(`/portal/vendor/jobs/${job.id}/messages`)).status).toBe(404);
    // A link made for the same message in another account, another file of it, or a changed token: 404.
    const otherAccount = await t.db.knex('accounts').whereNot({ account_id: admin.accountId }).first('account_id');
    for (const claims of [
      { a: Number(otherAccount.account_id), m: sent.body.data.id, n: 0 },
      { a: admin.accountId, m: sent.body.data.id, n: 1 },
      { a: admin.accountId, m: randomUUID(), n: 0 },
    ]) {
      const forged = `/api/v1/portal/vendor/message-attachments/content?token=${t.services.urlSigner.sign(claims, new Date(Date.now() + 60_000))}`;
      expect((await fetchLink(forged)).status).toBe(404);
    }
    const token = new URL(link.url, 'http://x').searchParams.get('token')!;
    expect((await fetchLink(`/api/v1/portal/vendor/message-attachments/content?token=${token.slice(0, -2)}xx`)).status).toBe(404);
    // The staff's thread view of the job in account 2 reaches nothing here either.
    const adminB = await signInAgent(t, chatwoot, 2, 'administrator', 'Bea Admin');
    expect((await apiAs(t, adminB.token).get(`/portal/vendor/jobs/${job.id}/messages`)).status).toBe(404);
  });

  it('refuses a type not accepted (415) and a file above the limit (413), keeping nothing', async () => {
    const job = await jobFor('North');
    const exe = Buffer.concat([Buffer.from('MZ'), Buffer.alloc(5000, 1)]);
    const refused = await sendFiles(north().owner, job.id, { id: randomUUID(), content: 'See attached' }, [{ data: photo, name: 'ok.jpg' }, { data: exe, name: 'invoice.pdf' }]);
    expect([refused.status, refused.body.error.code]).toEqual([415, 'file_type_not_allowed']);
    const big = Buffer.concat([photo, Buffer.alloc(1024 * 1024 + 10, 7)]);
    const tooBig = await sendFiles(north().owner, job.id, { id: randomUUID(), content: 'Big one' }, [{ data: big, name: 'big.jpg' }]);
    expect([tooBig.status, tooBig.body.error.code]).toEqual([413, 'file_too_large']);
    const tooMany = await sendFiles(north().owner, job.id, { id: randomUUID() }, [1, 2, 3, 4].map((n) => ({ data: photo, name: `p${n}.jpg` })));
    expect(tooMany.status).toBe(413);
    // Neither text nor a file, or a bad id: 422 naming the field.
    const empty = await sendFiles(north().owner, job.id, { id: randomUUID(), content: '  ' }, []);
    expect([empty.status, empty.body.error.details.fields[0].path]).toEqual([422, 'body.content']);
    expect((await sendFiles(north().owner, job.id, { id: 'not-a-uuid', content: 'x' }, [{ data: photo, name: 'a.jpg' }])).status).toBe(422);
    expect(await rowsOf(job.id)).toEqual([]);
    expect(await messageFiles(job.id)).toEqual([]);
    const incoming = path.join(t.config.filesDir, '.incoming');
    expect(fs.existsSync(incoming) ? fs.readdirSync(incoming) : []).toEqual([]);
    // Another vendor's job: 404 before a byte is kept.
    expect((await sendFiles(vendors.South!.owner, job.id, { id: randomUUID(), content: 'x' }, [{ data: photo, name: 'a.jpg' }])).status).toBe(404);
    expect(await messageFiles(job.id)).toEqual([]);
  });

  it('does not post files twice when Chatwoot stored them but its answer was lost (no text: found by the files)', async () => {
    const job = await jobFor('North');
    expect((await send(north().owner, job.id, 'First, to open the thread')).status).toBe(201);
    await drain();
    const conversation = threadsOf(job.reference)[0]!;
    chatwoot.swallowWrites = 1;
    const sent = await sendFiles(north().owner, job.id, { id: randomUUID() }, [{ data: photo, name: 'after.jpg' }]);
    expect(sent.status, JSON.stringify(sent.body)).toBe(201);
    await drain(300);
    expect(conversation.messages.filter((m) => m.attachments?.length)).toHaveLength(1);
    await makeDue();
    await drain(300);
    const withFiles = conversation.messages.filter((m) => m.attachments?.length);
    expect(withFiles).toHaveLength(1);
    const row = await withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) => trx('vendor_messages').where({ id: sent.body.data.id }).first('status', 'chatwoot_message_id'));
    expect([row.status, Number(row.chatwoot_message_id)]).toEqual(['sent', withFiles[0]!.id]);
  });

  it('a message whose stored file is gone fails with the reason, and the thread goes on; one already posted is found without its file', async () => {
    const job = await jobFor('North');
    expect((await send(north().owner, job.id, 'Opening the thread')).status).toBe(201);
    await drain();
    const conversation = threadsOf(job.reference)[0]!;
    // Posted, answer lost, then the file is gone: the look-up finds it without opening the file.
    chatwoot.swallowWrites = 1;
    const posted = await sendFiles(north().owner, job.id, { id: randomUUID(), content: 'Posted before' }, [{ data: pdf, name: 'posted.pdf' }]);
    expect(posted.status).toBe(201);
    await drain(300);
    for (const name of await messageFiles(job.id)) await t.services.files.remove(`${admin.accountId}/${job.id}/messages/${name}`);
    await makeDue();
    await drain(300);
    expect((await messagesOf(north().owner, job.id)).find((m: { content: string }) => m.content === 'Posted before')).toMatchObject({ status: 'sent' });
    // Never posted and its file is gone: failed at once with the reason; the next message leaves.
    const lost = await sendFiles(north().owner, job.id, { id: randomUUID(), content: 'File vanished' }, [{ data: pdf, name: 'vanished.pdf' }]);
    expect(lost.status).toBe(201);
    for (const name of await messageFiles(job.id)) await t.services.files.remove(`${admin.accountId}/${job.id}/messages/${name}`);
    expect((await send(north().owner, job.id, 'After the vanished file')).status).toBe(201);
    await drain(300);
    const shown = await messagesOf(north().owner, job.id);
    expect(shown.find((m: { content: string }) => m.content === 'File vanished')).toMatchObject({ status: 'failed' });
    const row = await withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) => trx('vendor_messages').where({ id: lost.body.data.id }).first('last_error'));
    expect(row.last_error).toMatch(/no longer stored \(vanished\.pdf\)/);
    expect(shown.find((m: { content: string }) => m.content === 'After the vanished file')).toMatchObject({ status: 'sent' });
    expect(conversation.messages.map((m) => m.content)).toEqual(['Opening the thread', 'Posted before', 'After the vanished file']);
  });

  it("refuses the files of one message above Chatwoot's total (413, clear), keeping none of them", async () => {
    const { maxMessageFilesBytes, receiveMessageForm } = await import('../../extension/vendor-messages/attachments.ts');
    expect(maxMessageFilesBytes).toBe(40 * 1024 * 1024);
    // The same reader the route uses, with a total small enough to pass here with small files.
    const tmpDir = fs.mkdtempSync(path.join(t.config.filesDir, 'total-'));
    const server = express().post('/', (req, res) => {
      receiveMessageForm(req, { tmpDir, maxBytes: 1024 * 1024, maxTotalBytes: 1500 }).then(
        (form) => res.status(200).json({ files: form.files.length }),
        (err: { status?: number; code?: string; message: string }) => res.status(err.status ?? 500).json({ code: err.code, message: err.message }),
      );
    });
    try {
      const big = Buffer.concat([pdf, Buffer.alloc(1000 - pdf.length, 0x20)]);
      const one = await request(server).post('/').field('id', randomUUID()).attach('file', big, 'a.pdf');
      expect([one.status, one.body.files]).toEqual([200, 1]);
      const two = await request(server).post('/').field('id', randomUUID()).attach('file', big, 'a.pdf').attach('file', big, 'b.pdf');
      expect([two.status, two.body.code]).toEqual([413, 'message_too_large']);
      expect(two.body.message).toMatch(/files of one message may total at most/);
      expect(fs.readdirSync(tmpDir).filter((f) => !f.startsWith('.'))).toHaveLength(1); // only the first request's file, which that reader's caller keeps
    } finally {
      fs.rmSync(tmpDir, { recursive: true, force: true });
    }
  });

  it('keeps the JSON form working as it was', async () => {
    const job = await jobFor('North');
    const res = await apiAs(t, north().owner.token).post(`/portal/vendor/jobs/${job.id}/messages`, { id: randomUUID(), content: 'Plain text' });
    expect(res.status).toBe(201);
    expect(res.body.data.attachments).toEqual([]);
    const wrongType = await request(t.app).post(`/api/v1/portal/vendor/jobs/${job.id}/messages`).set('Authorization', `Bearer ${north().owner.token}`).set('Content-Type', 'text/plain').send('hi');
    expect(wrongType.status).toBe(415);
  });
  it('takes as a multipart id only what the JSON body takes (a UUID, not any hex of that shape)', async () => {
    const job = await jobFor('North');
    const notUuid = 'abcdefab-cdef-abcd-efab-cdefabcdefab'; // hex in the 8-4-4-4-12 shape, no UUID version or variant
    const asJson = await apiAs(t, north().owner.token).post(`/portal/vendor/jobs/${job.id}/messages`, { id: notUuid, content: 'Hi' });
    expect(asJson.status).toBe(422);
    const asForm = await sendFiles(north().owner, job.id, { id: notUuid, content: 'Hi' }, [{ data: pdf, name: 'quote.pdf' }]);
    expect([asForm.status, asForm.body.error.code]).toEqual([422, 'validation_failed']);
    expect(await rowsOf(job.id)).toEqual([]);
  });
});

describe('the installer', () => {
  it('finds the Vendors inbox again where the vendor portal is on', async () => {
    const installation = await t.db.knex('installations').first('api_token_sealed');
    const report = await install(t.db.knex, t.services.sealer, {
      chatwootUrl: chatwoot.url,
      accountId: 1,
      token: t.services.sealer.open(installation.api_token_sealed),
      publicUrl: 'http://onelink.test',
      timeoutMs: 2000,
    });
    expect(report.vendorInbox).toBe('existing');
    expect(chatwoot.apiInboxes.filter((i) => i.name === 'Vendors')).toHaveLength(1);
  });
});

describe('sending limits', () => {
  it('turns away a flood of messages from one address with 429, in the envelope', async () => {
    const limited = await createTestApp({ env: { ONELINK_VENDOR_MESSAGES_PER_MINUTE: '3' } });
    try {
      const statuses: number[] = [];
      let last: request.Response | undefined;
      for (let i = 0; i < 4; i++) {
        last = await request(limited.app).post(`/api/v1/portal/vendor/jobs/${randomUUID()}/messages`).set('Authorization', 'Bearer olp_guessing-a-token').send({ id: randomUUID(), content: 'Hi' });
        statuses.push(last.status);
      }
      expect(statuses).toEqual([401, 401, 401, 429]);
      expect(last!.body.error.code).toBe('rate_limited');
    } finally {
      await limited.close();
    }
  });
});
