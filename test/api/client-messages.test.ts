// A client's conversations with the business, living in Chatwoot: the "Client portal" API-channel
// inbox, the client's EXISTING contact given a contact inbox there (agents see one person), a
// general conversation and one per job (custom attribute onelink_job, linked to the job), the
// client's messages posted through the public client API (checked against Chatwoot's document by
// the fake) once each whatever happens on the way, and agents' public replies (never their private
// notes) back in the portal through the account webhook, announced to that client only.
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import sharp from 'sharp';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { drainOutbox } from '../../extension/chatwoot/outbox.ts';
import { install } from '../../extension/chatwoot/installer.ts';
import { createPublicContact } from '../../extension/chatwoot/public-api.ts';
import { reconcileClientThread, reconcileEvery } from '../../extension/client-messages/reconcile.ts';
import { withAccountForTests as withAccount } from '../../extension/db/tenant.ts';
import { portalChannel, portalNoticeFrom, type PortalNotice } from '../../extension/events/portal-feed.ts';
import { processDeliveries } from '../../webhooks/chatwoot/process.ts';
import type { FakeChatwoot, FakeContact, FakeConversation } from '../fakes/chatwoot.ts';
import { apiAs, fetchSignedLink } from '../helpers/api.ts';
import type { TestApp } from '../helpers/app.ts';
import { createClientPortalSession, signInAgent, signInDispatcher, type SignedIn } from '../helpers/identity.ts';
import { useWorld } from '../helpers/world.ts';

const world = useWorld([1, 2], { env: { ONELINK_UPLOAD_MAX_MB: '1' } });
let t: TestApp;
let chatwoot: FakeChatwoot;
let admin: SignedIn;
let asDispatcher: ReturnType<typeof apiAs>;
let server: http.Server;
type Client = { token: string; portalUserId: string; contact: FakeContact };
let carla: Client;
let bruno: Client;
const secret = 'whsec_client_messages';

interface Thread { id: string; job: { id: string; reference: string; summary: string } | null; title: string; last_message: { content: string; direction: string } | null; unread: number }
interface Message { id: string; client_id: string | null; direction: string; author_name: string; content: string; attachments: Array<{ url: string; filename: string; content_type: string }>; status: string }

/** A client of account 1 on a contact that already exists in Chatwoot (with its own e-mail and phone). */
async function clientOn(name: string, phone: string): Promise<Client> {
  const contact = chatwoot.addContact({ accountId: 1, name, phone_number: phone, email: `${name.split(' ')[0]!.toLowerCase()}@home.example` });
  // The portal user's e-mail differs from the contact's: Chatwoot's matching would not find the contact by it.
  const session = await createClientPortalSession(t, admin, contact.id);
  return { ...session, contact };
}

beforeAll(async () => {
  ({ t, chatwoot } = world);
  admin = await signInAgent(t, chatwoot, 1, 'administrator', 'Ada Admin');
  expect((await apiAs(t, admin.token).patch('/admin/capabilities', { profile: 'construction' })).status).toBe(200);
  asDispatcher = apiAs(t, (await signInDispatcher(t, chatwoot, 1, admin)).token);
  carla = await clientOn('Carla Client', '+14155550101');
  bruno = await clientOn('Bruno Other', '+14155550102');
  server = http.createServer(t.app).listen(0, '127.0.0.1');
  await once(server, 'listening');
  const installation = await t.db.knex('installations').first('id', 'webhook_path_token');
  await t.db.knex('installations').where({ id: installation.id }).update({ webhook_secret_sealed: t.services.sealer.seal(secret) });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/chatwoot/${installation.webhook_path_token}`;
  chatwoot.webhooks.push({ id: 902, accountId: 1, url, subscriptions: ['message_created', 'message_updated'], secret });
  chatwoot.messageEvents = true;
  // Reconciling on open runs in the background; only where a test asks for it.
  reconcileEvery.ms = Infinity;
});

afterAll(async () => {
  reconcileEvery.ms = 30_000;
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const drain = (timeoutMs = 1000) => drainOutbox(t.db.knex, t.services.sealer, admin.accountId, timeoutMs, t.services.files);
const makeDue = () => withAccount(t.db.knex, admin.accountId, { readOnly: false }, (trx) => trx('chatwoot_outbox').where({ status: 'pending' }).update({ next_attempt_at: trx.fn.now() }));
const threadsOf = async (client: Client, jobId?: string) => {
  const res = await apiAs(t, client.token).get(`/portal/client/threads${jobId ? `?job_id=${jobId}` : ''}`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.data as Thread[];
};
const general = async (client: Client) => (await threadsOf(client))[0]!;
const messagesOf = async (client: Client, threadId: string) => {
  const res = await apiAs(t, client.token).get(`/portal/client/threads/${threadId}/messages`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.data.messages as Message[];
};
const send = (client: Client, threadId: string, content: string, id: string = randomUUID()) => apiAs(t, client.token).post(`/portal/client/threads/${threadId}/messages`, { id, content });
const clientInbox = () => chatwoot.apiInboxes.find((i) => i.accountId === 1 && i.name === 'Client portal');
/** Conversations of the Client portal inbox on a contact. */
const conversationsOf = (contact: FakeContact): FakeConversation[] =>
  [...chatwoot.conversations.values()].filter((c) => c.accountId === 1 && c.inboxId === clientInbox()?.inboxId && c.contactId === contact.id);
const conversationOfThread = async (threadId: string) => {
  const row = await withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) => trx('client_threads').where({ id: threadId }).first('chatwoot_conversation_id'));
  return chatwoot.conversations.get(`1:${row.chatwoot_conversation_id}`)!;
};

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

/** What was announced to portal users while `work` ran. */
async function portalEventsDuring(work: () => Promise<void>): Promise<PortalNotice[]> {
  const listener = new pg.Client({ connectionString: t.db.url });
  await listener.connect();
  const heard: PortalNotice[] = [];
  listener.on('notification', (m) => {
    const notice = portalNoticeFrom(m.payload);
    if (notice) heard.push(notice);
  });
  await listener.query(`listen ${portalChannel}`);
  try {
    await work();
    await new Promise((resolve) => setTimeout(resolve, 200));
    return heard;
  } finally {
    await listener.end();
  }
}

describe('the Client portal inbox', () => {
  it('an admin finds or creates it once (identifier sealed); clients and agents may not', async () => {
    const first = await apiAs(t, admin.token).post('/chatwoot/client-inbox');
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body.data).toMatchObject({ name: 'Client portal', outcome: 'created' });
    const again = await apiAs(t, admin.token).post('/chatwoot/client-inbox');
    expect(again.body.data).toEqual({ ...first.body.data, outcome: 'existing' });
    expect(chatwoot.apiInboxes.filter((i) => i.name === 'Client portal')).toHaveLength(1);
    expect(clientInbox()!.inboxId).toBe(first.body.data.chatwoot_inbox_id);
    const row = await t.db.knex('accounts').where({ account_id: admin.accountId }).first('chatwoot_client_inbox_identifier_sealed');
    expect(row.chatwoot_client_inbox_identifier_sealed).toBeTruthy();
    expect(row.chatwoot_client_inbox_identifier_sealed).not.toContain(clientInbox()!.identifier);
    expect((await apiAs(t, carla.token).post('/chatwoot/client-inbox')).status).toBe(403);
    expect((await asDispatcher.post('/chatwoot/client-inbox')).status).toBe(403);
  });

});

describe('a client’s message to the business', () => {
  it('lands in the Client portal inbox as an incoming message on the client’s EXISTING contact (agents see one person), once however often it is sent', async () => {
    const contactsBefore = chatwoot.contacts.length;
    const threads = await threadsOf(carla);
    expect(threads).toEqual([{ id: expect.any(String), job: null, title: expect.any(String), last_message: null, unread: 0 }]);
    const thread = threads[0]!;
    const id = randomUUID();
    const sent = await send(carla, thread.id, 'Hello, is Tuesday still on?', id);
    expect(sent.status, JSON.stringify(sent.body)).toBe(201);
    expect(sent.body.data).toMatchObject({ client_id: id, direction: 'from_client', author_name: 'Client ' + carla.contact.id, content: 'Hello, is Tuesday still on?', attachments: [], status: 'sending' });
    const replay = await send(carla, thread.id, 'Hello, is Tuesday still on?', id);
    expect(replay.status).toBe(200);
    expect(replay.body.data).toEqual(sent.body.data);

    expect(await drain()).toBe(1);
    // One person: no contact was made, and the conversation is on the contact the client is bound to.
    expect(chatwoot.contacts).toHaveLength(contactsBefore);
    const [conversation, ...more] = conversationsOf(carla.contact);
    expect(more).toEqual([]);
    expect(conversation!.contactId).toBe(carla.contact.id);
    expect(conversation!.channel).toBe('Channel::Api');
    expect(conversation!.customAttributes).toEqual({});
    expect(conversation!.messages).toMatchObject([{ message_type: 'incoming', private: false, content: 'Hello, is Tuesday still on?', echoId: sent.body.data.id }]);
    expect(chatwoot.requests.some((r) => r.method === 'POST' && r.path === `/api/v1/accounts/1/contacts/${carla.contact.id}/contact_inboxes`)).toBe(true);
    expect(chatwoot.requests.some((r) => r.method === 'POST' && /^\/public\/api\/v1\/inboxes\/[^/]+\/contacts$/.test(r.path))).toBe(false);

    expect(await messagesOf(carla, thread.id)).toEqual([{ ...sent.body.data, status: 'sent' }]);
    // Sent again after delivery: still the one message, here and in Chatwoot.
    expect((await send(carla, thread.id, 'Hello, is Tuesday still on?', id)).status).toBe(200);
    await drain();
    expect(conversation!.messages).toHaveLength(1);
    const reused = await send(carla, thread.id, 'Something else', id);
    expect([reused.status, reused.body.error.code]).toEqual([422, 'idempotency_key_reused']);
    // The contact inbox's source id is a credential: stored sealed.
    const stored = await withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) => trx('client_chat_contacts').where({ portal_user_id: carla.portalUserId }).first('source_id_sealed', 'chatwoot_contact_id'));
    expect(Number(stored.chatwoot_contact_id)).toBe(carla.contact.id);
    expect(JSON.stringify(stored)).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-/);
  });

  it('waits out a Chatwoot outage as sending, then arrives once, in order', async () => {
    const thread = await general(carla);
    chatwoot.outage = 500;
    expect((await send(carla, thread.id, 'Water is off now')).status).toBe(201);
    expect((await send(carla, thread.id, 'And the heating')).status).toBe(201);
    expect(await drain()).toBe(0);
    expect((await messagesOf(carla, thread.id)).slice(-2).map((m) => [m.content, m.status])).toEqual([
      ['Water is off now', 'sending'],
      ['And the heating', 'sending'],
    ]);
    chatwoot.outage = null;
    await makeDue();
    expect(await drain()).toBe(2);
    expect((await messagesOf(carla, thread.id)).slice(-2).map((m) => m.status)).toEqual(['sent', 'sent']);
    expect(conversationsOf(carla.contact)[0]!.messages.map((m) => m.content)).toEqual(['Hello, is Tuesday still on?', 'Water is off now', 'And the heating']);
  });

  it('does not post twice when Chatwoot stored it but its answer was lost', async () => {
    const thread = await general(carla);
    chatwoot.swallowWrites = 1;
    await send(carla, thread.id, 'Parts ordered?');
    await drain(300);
    const conversation = conversationsOf(carla.contact)[0]!;
    expect(conversation.messages.filter((m) => m.content === 'Parts ordered?')).toHaveLength(1);
    await makeDue();
    await drain(300);
    expect(conversation.messages.filter((m) => m.content === 'Parts ordered?')).toHaveLength(1);
    expect((await messagesOf(carla, thread.id)).at(-1)).toMatchObject({ content: 'Parts ordered?', status: 'sent' });
  });

  it('a job’s thread is its own conversation, tagged with the job reference and linked to the job', async () => {
    const job = (await asDispatcher.post('/jobs', { summary: 'Boiler service', chatwoot_contact_id: carla.contact.id })).body.data as { id: string; reference: string };
    const [thread, ...more] = await threadsOf(carla, job.id);
    expect(more).toEqual([]);
    expect(thread).toMatchObject({ job: { id: job.id, reference: job.reference, summary: 'Boiler service' }, title: 'Boiler service', unread: 0 });
    // Asked again: the same thread.
    expect((await threadsOf(carla, job.id))[0]!.id).toBe(thread!.id);
    expect((await send(carla, thread!.id, 'When does the technician come?')).status).toBe(201);
    expect(await drain()).toBe(1);
    const conversations = conversationsOf(carla.contact);
    expect(conversations).toHaveLength(2);
    const jobConversation = conversations.find((c) => c.customAttributes.onelink_job === job.reference)!;
    expect(jobConversation.messages.map((m) => m.content)).toEqual(['When does the technician come?']);
    const links = await withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) => trx('job_conversations').where({ job_id: job.id }).pluck('chatwoot_conversation_id'));
    expect(links.map(Number)).toEqual([jobConversation.id]);
    // Listed: the general conversation first, then the job's.
    const listed = await threadsOf(carla);
    expect(listed.map((l) => l.job?.id ?? null)).toEqual([null, job.id]);
    expect(listed[1]!.last_message).toMatchObject({ content: 'When does the technician come?', direction: 'from_client' });
    // Another client's job is not found.
    expect((await apiAs(t, bruno.token).get(`/portal/client/threads?job_id=${job.id}`)).status).toBe(404);
  });
});

describe('agents’ replies', () => {
  it('reach the client’s thread from the webhook, announced to that client; never a private note; never the client’s own echo twice', async () => {
    const thread = await general(carla);
    const conversation = await conversationOfThread(thread.id);
    const before = (await messagesOf(carla, thread.id)).length;
    const heard = await portalEventsDuring(async () => {
      chatwoot.agentMessage(1, conversation.id, {
        content: 'Yes, Tuesday 9–11',
        attachments: [{ file_type: 'image', data_url: 'https://chat.example.test/rails/active_storage/blobs/abc/map.png' }],
      });
      await untilWebhooksSay(async () => (await messagesOf(carla, thread.id)).some((m) => m.direction === 'from_agent'));
    });
    expect(heard).toContainEqual({ a: admin.accountId, p: carla.portalUserId, e: { type: 'message', thread_id: thread.id } });
    expect(heard.some((n) => n.p === bruno.portalUserId)).toBe(false);
    const shown = await messagesOf(carla, thread.id);
    expect(shown).toHaveLength(before + 1);
    expect(shown.at(-1)).toMatchObject({
      direction: 'from_agent',
      client_id: null,
      author_name: 'Dana Dispatch',
      content: 'Yes, Tuesday 9–11',
      status: 'sent',
      attachments: [{ url: 'https://chat.example.test/rails/active_storage/blobs/abc/map.png', filename: 'map.png', content_type: 'image/*' }],
    });
    expect((await general(carla)).unread).toBe(1);

    chatwoot.agentMessage(1, conversation.id, { content: 'Internal: client is difficult', private: true });
    await untilWebhooksSay(async () => (await t.db.knex('webhook_deliveries').whereLike('body', '%Internal: client is difficult%').where({ status: 'processed' }).first('id')) !== undefined);
    const processed = await t.db.knex('webhook_deliveries').where({ event: 'message_created', status: 'processed' }).pluck('id');
    await t.db.knex('webhook_deliveries').whereIn('id', processed).update({ status: 'retrying' });
    await processDeliveries(t.db.knex, processed);
    const after = await messagesOf(carla, thread.id);
    expect(after.map((m) => m.content)).toEqual(shown.map((m) => m.content));
    expect(after.some((m) => m.content.includes('Internal'))).toBe(false);
    // The client's own messages came back as incoming deliveries: each stored once (as the client's).
    expect(await t.db.knex('webhook_deliveries').whereLike('body', '%Water is off now%').where({ status: 'processed' }).first('id')).toBeDefined();
    expect(after.filter((m) => m.content === 'Water is off now')).toHaveLength(1);
    expect(after.filter((m) => m.direction === 'from_agent')).toHaveLength(1);
  });

  it('reading the thread clears its unread count and tells Chatwoot the contact has seen it', async () => {
    const thread = await general(carla);
    expect(thread.unread).toBe(1);
    const read = await apiAs(t, carla.token).post(`/portal/client/threads/${thread.id}/read`);
    expect(read.status, JSON.stringify(read.body)).toBe(200);
    expect((await general(carla)).unread).toBe(0);
    const conversation = await conversationOfThread(thread.id);
    await vi.waitFor(() => expect(conversation.contactLastSeenAt).toBeGreaterThan(0), { timeout: 3000 });
  });

  it('fetches a reply whose webhook was lost when the client opens the thread, once', async () => {
    const thread = await general(carla);
    const conversation = await conversationOfThread(thread.id);
    chatwoot.messageEvents = false; // Chatwoot's one attempt failed: no delivery will ever come
    chatwoot.agentMessage(1, conversation.id, { content: 'Did you see my last message?' });
    chatwoot.agentMessage(1, conversation.id, { content: 'Internal: chase them', private: true });
    chatwoot.messageEvents = true;
    reconcileEvery.ms = 0;
    try {
      await vi.waitFor(async () => expect((await messagesOf(carla, thread.id)).map((m) => m.content)).toContain('Did you see my last message?'), { timeout: 5000, interval: 100 });
      const deps = { db: t.db.knex, sealer: t.services.sealer, timeoutMs: 1000 };
      expect(await reconcileClientThread(deps, admin.accountId, thread.id)).toBe(0);
    } finally {
      reconcileEvery.ms = Infinity;
    }
    const shown = await messagesOf(carla, thread.id);
    expect(shown.filter((m) => m.content === 'Did you see my last message?')).toMatchObject([{ direction: 'from_agent', author_name: 'Dana Dispatch', status: 'sent' }]);
    expect(shown.some((m) => m.content.includes('Internal'))).toBe(false);
  });
});

describe('typing', () => {
  it('the client’s typing reaches Chatwoot once the conversation is open; an agent’s arrives as a live event', async () => {
    const job = (await asDispatcher.post('/jobs', { summary: 'Gutter', chatwoot_contact_id: carla.contact.id })).body.data as { id: string };
    const [fresh] = await threadsOf(carla, job.id);
    // No conversation yet: nothing to tell Chatwoot.
    const early = await apiAs(t, carla.token).post(`/portal/client/threads/${fresh!.id}/typing`, { on: true });
    expect([early.status, early.body.data]).toEqual([200, { passed_on: false }]);
    const thread = await general(carla);
    const conversation = await conversationOfThread(thread.id);
    const on = await apiAs(t, carla.token).post(`/portal/client/threads/${thread.id}/typing`, { on: true });
    expect([on.status, on.body.data]).toEqual([200, { passed_on: true }]);
    expect(conversation.contactTyping).toBe(true);
    expect((await apiAs(t, carla.token).post(`/portal/client/threads/${thread.id}/typing`, { on: false })).body.data).toEqual({ passed_on: true });
    expect(conversation.contactTyping).toBe(false);
    expect((await apiAs(t, carla.token).post(`/portal/client/threads/${thread.id}/typing`, { on: 'yes' })).status).toBe(422);

    // Chatwoot's typing event (conversation_typing_on, as its webhook listener builds it), where one reaches us.
    const installation = await t.db.knex('installations').first('id');
    const body = (isPrivate: boolean) =>
      JSON.stringify({
        event: 'conversation_typing_on',
        user: { id: 1, name: 'Dana Dispatch', type: 'user' },
        conversation: { id: conversation.id, display_id: conversation.id, inbox_id: conversation.inboxId, account_id: 1 },
        account: { id: 1, name: 'Account 1' },
        is_private: isPrivate,
      });
    const heard = await portalEventsDuring(async () => {
      const ids: string[] = [];
      for (const isPrivate of [true, false]) {
        const [row] = await t.db.knex('webhook_deliveries').insert({ installation_id: installation.id, source: 'chatwoot', headers: {}, body: body(isPrivate), status: 'received', dedupe_key: randomUUID() }).returning('id');
        ids.push(row.id);
      }
      await processDeliveries(t.db.knex, ids);
    });
    expect(heard.filter((n) => n.e.type === 'typing')).toEqual([{ a: admin.accountId, p: carla.portalUserId, e: { type: 'typing', thread_id: thread.id, on: true } }]);
    expect((await apiAs(t, carla.token).get(`/portal/client/threads/${thread.id}/messages`)).body.data.agent_typing).toBe(true);
  });
});

describe('who sees which thread', () => {
  it('another client cannot read or write a thread by its id, nor reach it by a guessed conversation; staff and vendors find nothing here', async () => {
    const thread = await general(carla);
    const brunoThread = await general(bruno);
    expect(brunoThread.id).not.toBe(thread.id);
    const asBruno = apiAs(t, bruno.token);
    expect((await asBruno.get(`/portal/client/threads/${thread.id}/messages`)).status).toBe(404);
    expect((await send(bruno, thread.id, 'Planted')).status).toBe(404);
    expect((await asBruno.post(`/portal/client/threads/${thread.id}/read`)).status).toBe(404);
    expect((await asBruno.post(`/portal/client/threads/${thread.id}/typing`, { on: true })).status).toBe(404);
    expect((await asBruno.get(`/portal/client/threads/${randomUUID()}/messages`)).status).toBe(404);
    expect((await threadsOf(bruno)).map((l) => l.id)).toEqual([brunoThread.id]);
    // Bruno's thread opens its own conversation on his contact; a reply in Carla's never reaches him.
    expect((await send(bruno, brunoThread.id, 'Hi from Bruno')).status).toBe(201);
    await drain();
    expect(conversationsOf(bruno.contact)).toHaveLength(1);
    const carlaConversation = await conversationOfThread(thread.id);
    chatwoot.agentMessage(1, carlaConversation.id, { content: 'For Carla only' });
    await untilWebhooksSay(async () => (await messagesOf(carla, thread.id)).some((m) => m.content === 'For Carla only'));
    expect((await messagesOf(bruno, brunoThread.id)).map((m) => m.content)).toEqual(['Hi from Bruno']);
    // A reply claiming Carla's conversation id from another inbox is not hers either.
    const stray = chatwoot.addConversation(1, carlaConversation.id + 5000);
    stray.inboxId = 3;
    chatwoot.agentMessage(1, stray.id, { content: 'Other inbox' });
    // Staff read these conversations in Chatwoot, not here.
    expect((await asDispatcher.get(`/portal/client/threads/${thread.id}/messages`)).status).toBe(403);
    const stored = await withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) => trx('client_messages').where({ thread_id: thread.id }).pluck('content'));
    expect(stored).not.toContain('Planted');
    expect(stored).not.toContain('Other inbox');
  });

  it('a client of another account finds nothing', async () => {
    const thread = await general(carla);
    const adminB = await signInAgent(t, chatwoot, 2, 'administrator', 'Bea Admin');
    const contactB = chatwoot.addContact({ accountId: 2, name: 'Other Account Client', phone_number: '+14155550199' });
    const clientB = await createClientPortalSession(t, adminB, contactB.id);
    const asB = apiAs(t, clientB.token);
    expect((await asB.get(`/portal/client/threads/${thread.id}/messages`)).status).toBe(404);
    expect((await asB.post(`/portal/client/threads/${thread.id}/messages`, { id: randomUUID(), content: 'Planted' })).status).toBe(404);
  });
});

describe('hostile input', () => {
  it('refuses bad ids, empty, oversized and unstorable text with 422, and keeps markup as plain text', async () => {
    const thread = await general(carla);
    const as = apiAs(t, carla.token);
    for (const body of [
      { id: 'not-a-uuid', content: 'Hi' },
      { id: randomUUID(), content: '   ' },
      { id: randomUUID(), content: 'x'.repeat(5001) },
      { id: randomUUID(), content: 'nul \u0000 byte' },
      { id: randomUUID() },
    ]) {
      const res = await as.post(`/portal/client/threads/${thread.id}/messages`, body);
      expect(res.status, JSON.stringify(body).slice(0, 60)).toBe(422);
    }
    expect((await as.get('/portal/client/threads/not-a-uuid/messages')).status).toBe(422);
    expect((await as.get('/portal/client/threads?job_id=nope')).status).toBe(422);
    const markup = '<img src=x onerror=alert(1)> “quotes” 🚰';
    const sent = await send(carla, thread.id, markup);
    expect(sent.body.data.content).toBe(markup);
    await drain();
    expect((await conversationOfThread(thread.id)).messages.at(-1)!.content).toBe(markup);
  });
});

describe('attachments', () => {
  let photo: Buffer;
  const pdf = Buffer.from('%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n');
  beforeAll(async () => {
    photo = await sharp({ create: { width: 320, height: 240, channels: 3, background: '#2e86c1' } }).jpeg().toBuffer();
  });
  const sendFiles = (client: Client, threadId: string, fields: Record<string, string>, files: Array<{ data: Buffer; name: string }>) => {
    let req = request(t.app).post(`/api/v1/portal/client/threads/${threadId}/messages`).set('Authorization', `Bearer ${client.token}`);
    for (const [k, v] of Object.entries(fields)) req = req.field(k, v);
    for (const f of files) req = req.attach('attachments', f.data, f.name);
    return req;
  };

  it('a photo and a PDF reach Chatwoot as one incoming message with both files; the client reads theirs by a signed link nobody else’s link opens', async () => {
    const thread = await general(carla);
    const id = randomUUID();
    const sent = await sendFiles(carla, thread.id, { id, content: 'The leak' }, [{ data: photo, name: 'leak.jpg' }, { data: pdf, name: 'quote.pdf' }]);
    expect(sent.status, JSON.stringify(sent.body)).toBe(201);
    expect(sent.body.data.attachments).toMatchObject([{ filename: 'leak.jpg', content_type: 'image/jpeg' }, { filename: 'quote.pdf', content_type: 'application/pdf' }]);
    const replay = await sendFiles(carla, thread.id, { id, content: 'The leak' }, [{ data: photo, name: 'leak.jpg' }, { data: pdf, name: 'quote.pdf' }]);
    expect([replay.status, replay.body.data.id]).toEqual([200, sent.body.data.id]);
    expect(await drain()).toBe(1);
    const message = (await conversationOfThread(thread.id)).messages.at(-1)!;
    expect(message).toMatchObject({ message_type: 'incoming', content: 'The leak', echoId: sent.body.data.id });
    expect(message.attachments!.map((a) => [a.content_type, a.data!.equals(a.content_type === 'image/jpeg' ? photo : pdf)])).toEqual([
      ['image/jpeg', true],
      ['application/pdf', true],
    ]);
    const link = (await messagesOf(carla, thread.id)).find((m) => m.id === sent.body.data.id)!.attachments[0]!;
    expect(link.url).toMatch(/^\/api\/v1\/portal\/client\/message-attachments\/content\?token=/);
    const got = await fetchSignedLink(t, link.url);
    expect(got.status).toBe(200);
    expect((got.body as Buffer).equals(photo)).toBe(true);
    // A link signed for a vendor message, or a changed one, opens nothing here.
    const vendorClaims = `/api/v1/portal/client/message-attachments/content?token=${t.services.urlSigner.sign({ a: admin.accountId, m: sent.body.data.id, n: 0 }, new Date(Date.now() + 60_000))}`;
    expect((await fetchSignedLink(t, vendorClaims)).status).toBe(404);
    // Too many files, or a type not accepted: refused before anything is kept.
    expect((await sendFiles(carla, thread.id, { id: randomUUID() }, [1, 2, 3, 4].map((n) => ({ data: photo, name: `p${n}.jpg` })))).status).toBe(413);
    const exe = Buffer.concat([Buffer.from('MZ'), Buffer.alloc(5000, 1)]);
    expect((await sendFiles(carla, thread.id, { id: randomUUID(), content: 'x' }, [{ data: exe, name: 'invoice.pdf' }])).status).toBe(415);
    // Another client's thread: 404 before a byte is kept.
    expect((await sendFiles(bruno, thread.id, { id: randomUUID(), content: 'x' }, [{ data: photo, name: 'a.jpg' }])).status).toBe(404);
  });
});

describe('when things are deleted in Chatwoot', () => {
  it('opens a new conversation when the thread’s was deleted, makes the contact inbox again on the same contact, and sets the inbox up again', async () => {
    const thread = await general(bruno);
    const first = await conversationOfThread(thread.id);
    chatwoot.conversations.delete(`1:${first.id}`);
    expect((await send(bruno, thread.id, 'After the conversation went')).status).toBe(201);
    expect(await drain()).toBe(1);
    const second = await conversationOfThread(thread.id);
    expect(second.id).not.toBe(first.id);
    expect(second.contactId).toBe(bruno.contact.id);
    expect(second.messages.map((m) => m.content)).toEqual(['After the conversation went']);

    const gone = clientInbox()!;
    chatwoot.apiInboxes.splice(chatwoot.apiInboxes.indexOf(gone), 1);
    const contacts = chatwoot.contacts.length;
    expect((await send(bruno, thread.id, 'Is anyone there?')).status).toBe(201);
    expect(await drain()).toBe(1);
    expect(clientInbox()!.inboxId).not.toBe(gone.inboxId);
    const third = await conversationOfThread(thread.id);
    expect([third.inboxId, third.contactId]).toEqual([clientInbox()!.inboxId, bruno.contact.id]);
    expect(third.messages.map((m) => m.content)).toEqual(['Is anyone there?']);
    expect(chatwoot.contacts).toHaveLength(contacts);
    expect((await messagesOf(bruno, thread.id)).map((m) => m.status)).toEqual(['sent', 'sent', 'sent']);
  });

  it('a deleted contact fails the message with a reason staff can act on (never a new contact)', async () => {
    const dora = await clientOn('Dora Deleted', '+14155550103');
    const thread = await general(dora);
    chatwoot.contacts.splice(chatwoot.contacts.indexOf(dora.contact), 1);
    const contacts = chatwoot.contacts.length;
    expect((await send(dora, thread.id, 'Hello?')).status).toBe(201);
    await drain();
    expect((await messagesOf(dora, thread.id))[0]).toMatchObject({ status: 'failed' });
    expect(chatwoot.contacts).toHaveLength(contacts);
    const row = await withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) => trx('client_messages').where({ thread_id: thread.id }).first('last_error'));
    expect(row.last_error).toMatch(/contact no longer exists/);
  });
});

describe('the installer', () => {
  it('the installer reports it where the client portal is on', async () => {
    const installation = await t.db.knex('installations').first('api_token_sealed');
    const report = await install(t.db.knex, t.services.sealer, {
      chatwootUrl: chatwoot.url,
      accountId: 1,
      token: t.services.sealer.open(installation.api_token_sealed),
      publicUrl: 'http://onelink.test',
      timeoutMs: 2000,
    });
    expect(report.clientInbox).toBe('existing');
    expect(chatwoot.apiInboxes.filter((i) => i.name === 'Client portal')).toHaveLength(1);
  });
});

describe('why the contact inbox is made on the existing contact', () => {
  it('the public API’s contact create matches by identifier, e-mail or phone only: with the portal e-mail it would give agents a second person', async () => {
    // Chatwoot's ContactInboxWithContactBuilder (the public contact create) reuses a contact of the
    // account with the same identifier, else e-mail, else phone, and makes a new one otherwise. The
    // client's portal e-mail is not their contact's, so it would not find them.
    const inbox = clientInbox()!;
    const before = chatwoot.contacts.length;
    const created = await createPublicContact({ baseUrl: chatwoot.url, timeoutMs: 2000, inboxIdentifier: inbox.identifier }, { name: 'Carla Client', email: `client${carla.contact.id}@example.com` });
    expect(chatwoot.contacts).toHaveLength(before + 1);
    expect(created.id).not.toBe(carla.contact.id);
    // With the contact's own phone it would have found them: matching depends on what the two happen to share.
    const matched = await createPublicContact({ baseUrl: chatwoot.url, timeoutMs: 2000, inboxIdentifier: inbox.identifier }, { name: 'Carla Client', phone_number: carla.contact.phone_number! });
    expect(matched.id).toBe(carla.contact.id);
    // Our delivery never calls it: every conversation of Carla's threads is on her contact.
    const threads = await withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) => trx('client_threads').where({ portal_user_id: carla.portalUserId }).whereNotNull('chatwoot_conversation_id').pluck('chatwoot_conversation_id'));
    expect(threads.length).toBeGreaterThan(1);
    for (const id of threads) expect(chatwoot.conversations.get(`1:${id}`)!.contactId).toBe(carla.contact.id);
  });
});
