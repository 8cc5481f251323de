import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { beforeAll, describe, expect, it } from 'vitest';
import { withAccountForTests as withAccount } from '../../extension/db/tenant.ts';
import { processDeliveries, processDelivery } from '../../webhooks/chatwoot/process.ts';
import type { FakeChatwoot } from '../fakes/chatwoot.ts';
import { chatwootDelivery, contactEvent, conversationEvent, messageEvent, type SignedDelivery } from '../fakes/chatwoot-webhooks.ts';
import { announcementsDuring } from '../helpers/announcements.ts';
import { apiAs } from '../helpers/api.ts';
import type { TestApp } from '../helpers/app.ts';
import { signInAgent, type SignedIn } from '../helpers/identity.ts';
import { useWorld } from '../helpers/world.ts';

const world = useWorld([1], { env: { ONELINK_BODY_LIMIT_KB: '64' } });
let t: TestApp;
let chatwoot: FakeChatwoot;
let admin: SignedIn;
let path: string;
const secret = 'whsec-test-secret-1234567890';

beforeAll(async () => {
  ({ t, chatwoot } = world);
  const installation = await t.db.knex('installations').first('id', 'webhook_path_token');
  await t.db.knex('installations').where({ id: installation.id }).update({ webhook_secret_sealed: t.services.sealer.seal(secret) });
  path = `/webhooks/chatwoot/${installation.webhook_path_token}`;
  admin = await signInAgent(t, chatwoot, 1, 'administrator');
});

const deliver = (delivery: SignedDelivery, to = path) => request(t.app).post(to).set(delivery.headers).send(delivery.body);
const deliveries = () => t.db.knex('webhook_deliveries').select('id', 'event', 'status', 'dedupe_key', 'last_error');
const contact = (id: number) =>
  withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) => trx('chatwoot_contacts').where({ account_id: admin.accountId, chatwoot_contact_id: id }).first());

// In the order they arrived, as the worker takes them.
async function processAllPending() {
  for (const { id } of await t.db.knex('webhook_deliveries').whereIn('status', ['received', 'retrying']).orderBy('received_at').select('id')) await processDelivery(t.db.knex, id);
}

describe('receiving Chatwoot webhooks', () => {
  it('verifies, stores, acknowledges with 202 and queues a signed delivery; processing fills the contact cache', async () => {
    const res = await deliver(chatwootDelivery(contactEvent('contact_created', { id: 501, name: 'Ada Lovelace', email: 'ada@example.com', phone_number: '+44 20 7946 0958' }), { secret }));
    expect(res.status).toBe(202);
    expect(res.body.data.status).toBe('received');
    expect(await processDelivery(t.db.knex, res.body.data.delivery_id)).toBe('processed');
    expect(await contact(501)).toMatchObject({ name: 'Ada Lovelace', email: 'ada@example.com', phone_e164: '+442079460958' });
    expect(await processDelivery(t.db.knex, res.body.data.delivery_id)).toBe('skipped'); // already done
  });

  it('has exactly one effect when the same delivery arrives ten times at once', async () => {
    const before = (await deliveries()).length;
    const delivery = chatwootDelivery(contactEvent('contact_updated', { id: 502, name: 'Grace Hopper' }), { secret });
    const answers = await Promise.all(Array.from({ length: 10 }, () => deliver(delivery)));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 202]);
    expect((await deliveries()).length).toBe(before + 1);
  });

  it('stores a concurrent burst together, each delivery answered for itself', async () => {
    const before = (await deliveries()).length;
    const burst = Array.from({ length: 40 }, (_, i) => chatwootDelivery(contactEvent('contact_updated', { id: 600 + i, name: `Burst ${i}` }), { secret }));
    const answers = await Promise.all([...burst, burst[0]!, burst[1]!].map((d) => deliver(d)));
    expect(answers.filter((a) => a.status === 202)).toHaveLength(40);
    expect(answers.filter((a) => a.status === 200 && a.body.data.duplicate)).toHaveLength(2);
    expect(new Set(answers.filter((a) => a.status === 202).map((a) => a.body.data.delivery_id)).size).toBe(40);
    expect((await deliveries()).length).toBe(before + 40);
  });

  it('does not let one unstorable delivery fail the others written with it', async () => {
    const { deliveryInbox } = await import('../../webhooks/inbox.ts');
    const store = deliveryInbox(t.db.knex);
    const installation = await t.db.knex('installations').first('id');
    const delivery = (n: number, installationId = installation.id as string) => ({
      installationId, source: 'test', dedupeKey: `isolation-${n}`, event: 'contact_updated', headers: {}, body: '{}', status: 'received' as const, lastError: null,
    });
    const results = await Promise.allSettled([delivery(1), delivery(2, 'not-a-uuid'), delivery(3), delivery(4)].map((d) => store(d)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect(await t.db.knex('webhook_deliveries').where({ source: 'test' }).count<{ count: string }[]>('* as count')).toEqual([{ count: 3 }]);
    await t.db.knex('webhook_deliveries').where({ source: 'test' }).delete();
  });

  it('recognises a re-sent delivery without a delivery id by event, object and version', async () => {
    const payload = contactEvent('contact_updated', { id: 503, name: 'Katherine Johnson', updated_at: '2026-11-21T09:00:00.000Z' });
    expect((await deliver(chatwootDelivery(payload, { secret, deliveryId: null }))).status).toBe(202);
    expect((await deliver(chatwootDelivery(payload, { secret, deliveryId: null }))).body.data).toEqual({ duplicate: true });
  });

  it('refuses unsigned, badly signed, stale and misaddressed deliveries, storing nothing', async () => {
    const before = (await deliveries()).length;
    const payload = contactEvent('contact_created', { id: 504, name: 'Mallory' });
    const cases: Array<[SignedDelivery, number, string, string?]> = [
      [chatwootDelivery(payload), 401, 'missing_signature'],
      [chatwootDelivery(payload, { secret: 'not-the-secret' }), 401, 'invalid_signature'],
      [chatwootDelivery(payload, { secret, timestamp: Math.floor(Date.now() / 1000) - 3600 }), 401, 'stale_timestamp'],
      [chatwootDelivery(payload, { secret }), 404, 'not_found', '/webhooks/chatwoot/0123456789abcdefghijklmnop'],
    ];
    for (const [delivery, status, code, to] of cases) {
      const res = await deliver(delivery, to);
      expect([res.status, res.body.error.code]).toEqual([status, code]);
    }
    const tampered = chatwootDelivery(payload, { secret });
    const res = await request(t.app).post(path).set(tampered.headers).send(tampered.body.replace('Mallory', 'Eve'));
    expect(res.status).toBe(401);
    const big = chatwootDelivery({ event: 'contact_created', id: 9, name: 'x'.repeat(70_000) }, { secret });
    expect((await deliver(big)).status).toBe(413);
    expect((await deliveries()).length).toBe(before);
  });

  // Before any test below stores secrets per account (the receiver keeps its copy for seconds).
  it('with one secret for the installation, stores a payload whose account is unclear but never writes it to an account', async () => {
    const { account: _drop, ...rest } = contactEvent('contact_created', { id: 535, name: 'Never Cached' });
    const res = await deliver(chatwootDelivery({ ...rest, account: { id: ' 1' }, account_id: 1 }, { secret }));
    expect(res.status).toBe(202);
    expect(await processDelivery(t.db.knex, res.body.data.delivery_id)).toBe('failed');
    const row = await t.db.knex('webhook_deliveries').where({ id: res.body.data.delivery_id }).first('last_error');
    expect(row.last_error).toMatch(/account cannot be read/);
    expect(await contact(535)).toBeUndefined();
  });

  it("takes a delivery only with the secret of the account its payload names, not another account's", async () => {
    const installation = await t.db.knex('installations').first('id');
    const otherSecret = 'whsec-account-two-0987654321';
    const seal = (s: string) => t.services.sealer.seal(s);
    await t.db.knex('installations').where({ id: installation.id }).update({ webhook_secrets_sealed: JSON.stringify({ 1: seal(secret), 2: seal(otherSecret) }) });
    try {
      const before = (await deliveries()).length;
      const forTwo = contactEvent('contact_created', { id: 531, name: 'Forged For Two' }, { id: 2, name: 'Account 2' });
      const forOne = contactEvent('contact_created', { id: 532, name: 'Forged For One' });
      // Account 1's secret vouching for account 2's payload, and the other way round.
      for (const delivery of [chatwootDelivery(forTwo, { secret }), chatwootDelivery(forOne, { secret: otherSecret })]) {
        const res = await deliver(delivery);
        expect([res.status, res.body.error.code]).toEqual([401, 'invalid_signature']);
      }
      expect((await deliveries()).length).toBe(before);
      // Each account's own secret still works.
      expect((await deliver(chatwootDelivery(forTwo, { secret: otherSecret }))).status).toBe(202);
      expect((await deliver(chatwootDelivery(forOne, { secret }))).status).toBe(202);
    } finally {
      await t.db.knex('installations').where({ id: installation.id }).update({ webhook_secrets_sealed: JSON.stringify({}) });
    }
  });

  it("refuses, when each account has its own secret, a payload whose account cannot be read the way processing reads it", async () => {
    const installation = await t.db.knex('installations').first('id');
    const otherSecret = 'whsec-account-two-0987654321';
    const seal = (s: string) => t.services.sealer.seal(s);
    await t.db.knex('installations').where({ id: installation.id }).update({ webhook_secrets_sealed: JSON.stringify({ 1: seal(secret), 2: seal(otherSecret) }) });
    try {
      const before = (await deliveries()).length;
      const contact = { id: 533, name: 'Unclear Account' };
      // Each signed with account 1's secret, each read by a lax reader as account 2 (or as no account).
      const unclear = [
        { account: {}, account_id: 2 },
        { account: { id: '0x2' } },
        { account: { id: [2] } },
        { account: { id: ' 2' } },
        { account: { id: true } },
        { account: { id: 1 }, account_id: 2 },
        { account: 2 },
        { account_id: '2.0' },
      ];
      for (const account of unclear) {
        const { account: _drop, ...rest } = contactEvent('contact_created', contact);
        const res = await deliver(chatwootDelivery({ ...rest, ...account }, { secret }));
        expect([JSON.stringify(account), res.status, res.body.error?.code]).toEqual([JSON.stringify(account), 401, 'invalid_signature']);
      }
      expect((await deliveries()).length).toBe(before);
      // account_id alone names account 2 for both readers: its own secret is needed, and works.
      const { account: _drop, ...rest } = contactEvent('contact_created', { id: 534, name: 'Account Two By Field' });
      expect((await deliver(chatwootDelivery({ ...rest, account: {}, account_id: 2 }, { secret: otherSecret }))).status).toBe(202);
    } finally {
      await t.db.knex('installations').where({ id: installation.id }).update({ webhook_secrets_sealed: JSON.stringify({}) });
    }
  });

  it('keeps a verified delivery that is not JSON as failed, for inspection', async () => {
    const timestamp = String(Math.floor(Date.now() / 1000));
    const { signChatwootBody } = await import('../../webhooks/chatwoot/verify.ts');
    const body = '{"event": "contact_created", oops';
    const res = await request(t.app)
      .post(path)
      .set({ 'Content-Type': 'application/json', 'X-Chatwoot-Timestamp': timestamp, 'X-Chatwoot-Signature': signChatwootBody(secret, timestamp, body) })
      .send(body);
    expect(res.status).toBe(202);
    expect(res.body.data.status).toBe('failed');
    const failed = await apiAs(t, admin.token).get('/admin/webhook-deliveries', { status: 'failed' });
    expect(failed.status).toBe(200);
  });

  it('refuses a body with NUL bytes (no JSON has them; Postgres text cannot keep them)', async () => {
    const before = (await deliveries()).length;
    const timestamp = String(Math.floor(Date.now() / 1000));
    const { signChatwootBody } = await import('../../webhooks/chatwoot/verify.ts');
    const body = '{"event": "contact_created", "id": 1}\u0000';
    const res = await request(t.app)
      .post(path)
      .set({ 'Content-Type': 'application/json', 'X-Chatwoot-Timestamp': timestamp, 'X-Chatwoot-Signature': signChatwootBody(secret, timestamp, body) })
      .send(body);
    expect([res.status, res.body.error.code]).toEqual([400, 'invalid_body']);
    expect((await deliveries()).length).toBe(before);
  });

  it('stores and counts events it does not handle, without processing them', async () => {
    const res = await deliver(chatwootDelivery({ event: 'webwidget_triggered', account: { id: 1 }, conversation: { id: 3 } }, { secret }));
    expect(await processDelivery(t.db.knex, res.body.data.delivery_id)).toBe('ignored');
  });
});

describe('processing', () => {
  it('never lets an older contact update overwrite a newer one', async () => {
    const newer = chatwootDelivery(contactEvent('contact_updated', { id: 510, name: 'New Name', updated_at: '2026-11-22T12:00:00.000Z' }), { secret });
    const older = chatwootDelivery(contactEvent('contact_updated', { id: 510, name: 'Old Name', updated_at: '2026-11-22T11:00:00.000Z' }), { secret });
    await deliver(newer);
    await deliver(older);
    await processAllPending();
    expect((await contact(510)).name).toBe('New Name');
  });

  it('mirrors conversations and stamps customer activity on linked deals, but not on private notes', async () => {
    const api = apiAs(t, admin.token);
    const pipeline = (await api.get('/pipelines')).body.data[0];
    const deal = (await api.post('/deals', { title: 'From chat', pipeline_id: pipeline.id, chatwoot_conversation_id: 77 })).body.data;
    await deliver(chatwootDelivery(conversationEvent('conversation_created', { id: 77, contactId: 501, labels: ['vip'] }), { secret }));
    await deliver(chatwootDelivery(messageEvent({ id: 9001, conversationId: 77, content: 'Private note', private: true }), { secret }));
    await processAllPending();
    expect((await api.get(`/deals/${deal.id}`)).body.data.last_activity_at).toBeNull();
    await deliver(chatwootDelivery(messageEvent({ id: 9002, conversationId: 77, content: 'Hello, any update?' }), { secret }));
    await processAllPending();
    expect((await api.get(`/deals/${deal.id}`)).body.data.last_activity_at).not.toBeNull();
    const conversation = await withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) => trx('chatwoot_conversations').where({ chatwoot_conversation_id: 77 }).first());
    expect(conversation).toMatchObject({ status: 'open', chatwoot_contact_id: 501, labels: ['vip'] });
  });

  it('marks a delivery whose payload does not match as failed, and an admin can replay it', async () => {
    const res = await deliver(chatwootDelivery({ event: 'contact_created', id: 'not-a-number', account: { id: 1 } }, { secret }));
    expect(await processDelivery(t.db.knex, res.body.data.delivery_id)).toBe('failed');
    const api = apiAs(t, admin.token);
    const failed = (await api.get('/admin/webhook-deliveries', { status: 'failed' })).body.data;
    expect(failed.map((d: { id: string }) => d.id)).toContain(res.body.data.delivery_id);
    const replay = await api.post(`/admin/webhook-deliveries/${res.body.data.delivery_id}/replay`);
    expect(replay.status).toBe(202);
    expect(t.sentJobs.at(-1)).toEqual({ queue: 'chatwoot-delivery', data: { deliveryId: res.body.data.delivery_id } });
  });

  it('lets an admin dismiss a failed delivery instead of replaying it, and only a failed or dead one', async () => {
    const api = apiAs(t, admin.token);
    const res = await deliver(chatwootDelivery({ event: 'contact_created', id: 'still-not-a-number', account: { id: 1 } }, { secret }));
    const id = res.body.data.delivery_id as string;
    expect(await processDelivery(t.db.knex, id)).toBe('failed');
    const dismissed = await api.post(`/admin/webhook-deliveries/${id}/dismiss`);
    expect([dismissed.status, dismissed.body.data.status]).toEqual([200, 'dismissed']);
    expect((await api.get('/admin/webhook-deliveries', { status: 'dismissed' })).body.data.map((d: { id: string }) => d.id)).toEqual([id]);
    // Twice: nothing left to dismiss, said as a conflict; nothing changed.
    const again = await api.post(`/admin/webhook-deliveries/${id}/dismiss`);
    expect([again.status, again.body.error.code]).toEqual([409, 'delivery_not_dismissable']);
    const audit = await withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) => trx('audit_events').where({ action: 'webhook_delivery.dismissed', resource_id: id }));
    expect(audit).toHaveLength(1);
    expect((await api.post(`/admin/webhook-deliveries/${randomUUID()}/dismiss`)).status).toBe(404);
    // A dismissed one can still be replayed.
    expect((await api.post(`/admin/webhook-deliveries/${id}/replay`)).status).toBe(202);
  });
});

describe('the delivery worker', () => {
  it('processes a delivery the moment it is stored', async () => {
    const { startDeliveryWorker } = await import('../../webhooks/worker.ts');
    const { chatwootDeliverySource } = await import('../../webhooks/chatwoot/process.ts');
    const { createLogger } = await import('../../extension/logger.ts');
    const worker = await startDeliveryWorker({
      url: t.db.url,
      db: t.db.knex,
      jobs: t.services.jobs,
      logger: createLogger({ LOG_LEVEL: 'silent', NODE_ENV: 'test' }),
      sources: [chatwootDeliverySource(t.db.knex)],
    });
    try {
      await deliver(chatwootDelivery(contactEvent('contact_created', { id: 520, name: 'Live' }), { secret }));
      await expect.poll(async () => (await contact(520))?.name, { timeout: 5000, interval: 25 }).toBe('Live');
    } finally {
      await worker.stop();
    }
  });
});

// Payloads cut the way Chatwoot 4.x cuts them: a conversation's push data
// (app/presenters/conversations/event_data_presenter.rb: id = display id, meta.sender = the
// contact's push data, contact_inbox, the last chat message with its numeric message_type), and a
// message's webhook data (app/models/message.rb: the conversation's push data, and a contact
// sender's webhook data, which carries no `type`; agents come as { id, name, email, type: 'user' }).
const nowSeconds = () => Math.floor(Date.now() / 1000);
function pushContact(contact: { id: number; name: string; email?: string | null; phone_number?: string | null }) {
  return { additional_attributes: {}, custom_attributes: {}, email: contact.email ?? null, id: contact.id, identifier: null, name: contact.name, phone_number: contact.phone_number ?? null, thumbnail: '', blocked: false, type: 'contact' };
}
function pushConversation(conversation: { id: number; contact: Parameters<typeof pushContact>[0]; status?: string; lastMessage?: { message_type: number; private?: boolean; created_at: number } }) {
  const now = nowSeconds();
  return {
    additional_attributes: {},
    can_reply: true,
    channel: 'Channel::WebWidget',
    contact_inbox: { id: 90, contact_id: conversation.contact.id, inbox_id: 3, source_id: `src-${conversation.contact.id}`, hmac_verified: false, pubsub_token: 'pst' },
    id: conversation.id,
    inbox_id: 3,
    messages: conversation.lastMessage ? [{ id: 1, content: 'last', private: false, ...conversation.lastMessage, conversation_id: conversation.id }] : [],
    labels: [],
    meta: { sender: pushContact(conversation.contact), assignee: null, assignee_type: null, team: null, hmac_verified: false },
    status: conversation.status ?? 'open',
    custom_attributes: {},
    snoozed_until: null,
    unread_count: 1,
    first_reply_created_at: null,
    priority: null,
    waiting_since: now,
    agent_last_seen_at: 0,
    contact_last_seen_at: 0,
    last_activity_at: now,
    timestamp: now,
    created_at: now,
    updated_at: now + 0.25,
  };
}
function messageWebhook(message: { id: number; conversation: ReturnType<typeof pushConversation>; type: 'incoming' | 'outgoing'; private?: boolean; sender: Record<string, unknown>; createdAt?: Date }) {
  return {
    event: 'message_created',
    account: { id: 1, name: 'Account 1' },
    additional_attributes: {},
    content_attributes: {},
    content_type: 'text',
    content: 'hello',
    conversation: message.conversation,
    created_at: (message.createdAt ?? new Date()).toISOString(),
    id: message.id,
    inbox: { id: 3, name: 'Website' },
    message_type: message.type,
    private: message.private ?? false,
    sender: message.sender,
    source_id: null,
  };
}
const contactWebhookData = (contact: { id: number; name: string; email?: string | null; phone_number?: string | null }) => ({
  additional_attributes: {}, avatar: '', custom_attributes: {}, email: contact.email ?? null, id: contact.id, identifier: null, name: contact.name, phone_number: contact.phone_number ?? null, thumbnail: '', blocked: false,
});
const cachedConversation = (id: number) =>
  withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) => trx('chatwoot_conversations').where({ account_id: admin.accountId, chatwoot_conversation_id: id }).first());

describe('contacts and conversations from every payload that carries them', () => {
  it('caches the contact and the conversation of a message_created (the sender, meta.sender), phones in E.164 with the account country', async () => {
    const person = { id: 801, name: 'Rosalind Franklin', email: 'rosalind@example.com', phone_number: '(510) 555-0177' };
    const res = await deliver(chatwootDelivery(messageWebhook({ id: 9101, conversation: pushConversation({ id: 181, contact: person }), type: 'incoming', sender: contactWebhookData(person) }), { secret }));
    expect(await processDelivery(t.db.knex, res.body.data.delivery_id)).toBe('processed');
    expect(await contact(801)).toMatchObject({ name: 'Rosalind Franklin', email: 'rosalind@example.com', phone_e164: '+15105550177' });
    expect(await cachedConversation(181)).toMatchObject({ status: 'open', inbox_id: 3, chatwoot_contact_id: 801 });
    // Search finds the person the agent is talking to.
    const hits = (await apiAs(t, admin.token).get('/search', { q: 'Rosalind' })).body.data;
    expect(hits).toContainEqual(expect.objectContaining({ type: 'contact', id: '801' }));
  });

  it('takes a sender typed as a contact (older Chatwoot: id and name only) without erasing what the cache knows', async () => {
    await deliver(chatwootDelivery(contactEvent('contact_created', { id: 802, name: 'Old Name', email: 'known@example.com' }), { secret }));
    await processAllPending();
    const old = { ...messageEvent({ id: 9102, conversationId: 182, content: 'hi' }), sender: { id: 802, name: 'New Name', avatar: '', type: 'contact' } };
    await deliver(chatwootDelivery(old, { secret }));
    await processAllPending();
    expect(await contact(802)).toMatchObject({ name: 'New Name', email: 'known@example.com' });
  });

  it('caches the contact of a conversation_created from meta.sender, and never lets it overwrite a newer contact update', async () => {
    const res = await deliver(chatwootDelivery({ ...pushConversation({ id: 183, contact: { id: 803, name: 'Chien-Shiung Wu', phone_number: '+14155550183' } }), account_id: 1, event: 'conversation_created' }, { secret }));
    expect(await processDelivery(t.db.knex, res.body.data.delivery_id)).toBe('processed');
    expect(await contact(803)).toMatchObject({ name: 'Chien-Shiung Wu', phone_e164: '+14155550183' });
    expect(await cachedConversation(183)).toMatchObject({ chatwoot_contact_id: 803, status: 'open' });

    // A contact update dated after the conversation event wins over a late conversation event.
    await deliver(chatwootDelivery(contactEvent('contact_updated', { id: 803, name: 'C. S. Wu', updated_at: new Date(Date.now() + 60_000).toISOString() }), { secret }));
    await processAllPending();
    await deliver(chatwootDelivery({ ...pushConversation({ id: 183, contact: { id: 803, name: 'Chien-Shiung Wu' }, status: 'resolved' }), account_id: 1, event: 'conversation_status_changed', changed_attributes: null }, { secret }));
    await processAllPending();
    expect((await contact(803)).name).toBe('C. S. Wu');
    expect((await cachedConversation(183)).status).toBe('resolved');
  });
});

describe('customer activity', () => {
  it("counts only the contact's public messages: an agent's reply is recorded as the last reply, not as activity", async () => {
    const api = apiAs(t, admin.token);
    const pipeline = (await api.get('/pipelines')).body.data[0];
    const deal = (await api.post('/deals', { title: 'Reply test', pipeline_id: pipeline.id, chatwoot_conversation_id: 184 })).body.data;
    const person = { id: 804, name: 'Lise Meitner', email: 'lise@example.com' };
    const agent = { id: 5, name: 'Agent', email: 'agent@example.com', type: 'user' };
    const customerAt = new Date(Date.now() - 60_000);
    await deliver(chatwootDelivery(messageWebhook({ id: 9201, conversation: pushConversation({ id: 184, contact: person }), type: 'incoming', sender: contactWebhookData(person), createdAt: customerAt }), { secret }));
    await processAllPending();
    const activityBefore = (await api.get(`/deals/${deal.id}`)).body.data.last_activity_at;
    expect(new Date(activityBefore).getTime()).toBe(customerAt.getTime());

    const replyAt = new Date();
    const reply = messageWebhook({
      id: 9202,
      conversation: pushConversation({ id: 184, contact: person, lastMessage: { message_type: 1, created_at: Math.floor(replyAt.getTime() / 1000) } }),
      type: 'outgoing',
      sender: agent,
      createdAt: replyAt,
    });
    await deliver(chatwootDelivery(reply, { secret }));
    await deliver(chatwootDelivery(messageWebhook({ id: 9203, conversation: pushConversation({ id: 184, contact: person }), type: 'outgoing', private: true, sender: agent, createdAt: new Date(Date.now() + 1000) }), { secret }));
    await processAllPending();
    expect((await api.get(`/deals/${deal.id}`)).body.data.last_activity_at).toBe(activityBefore);
    const conversation = await cachedConversation(184);
    expect(conversation.last_activity_at.getTime()).toBe(customerAt.getTime());
    expect(conversation.last_reply_at.getTime()).toBe(replyAt.getTime());
    expect((await contact(804)).name).toBe('Lise Meitner'); // the agent is not cached as a contact
    expect(await contact(5)).toBeUndefined();
  });
});

describe('announcing what processing changed', () => {
  it('announces a conversation_updated to the pages following the account once it is cached, and not an older update that changes nothing', async () => {
    const update = await deliver(chatwootDelivery(conversationEvent('conversation_updated', { id: 7301, contactId: 7302, status: 'resolved' }), { secret }));
    await new Promise((resolve) => setTimeout(resolve, 300)); // earlier announcements are out
    const heard = await announcementsDuring(t.db.url, async () => {
      expect(await processDelivery(t.db.knex, update.body.data.delivery_id)).toBe('processed');
    });
    expect(heard).toEqual([String(admin.accountId)]);
    const cached = await withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) => trx('chatwoot_conversations').where({ chatwoot_conversation_id: 7301 }).first('status'));
    expect(cached).toEqual({ status: 'resolved' });

    // An update older than what the cache holds writes nothing: no page needs to refresh.
    const now = Date.now();
    const newer = await deliver(chatwootDelivery(contactEvent('contact_updated', { id: 7302, name: 'Newer', updated_at: new Date(now).toISOString() }), { secret }));
    const older = await deliver(chatwootDelivery(contactEvent('contact_updated', { id: 7302, name: 'Older', updated_at: new Date(now - 60_000).toISOString() }), { secret }));
    expect(await processDelivery(t.db.knex, newer.body.data.delivery_id)).toBe('processed');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const quiet = await announcementsDuring(t.db.url, async () => {
      expect(await processDelivery(t.db.knex, older.body.data.delivery_id)).toBe('processed');
    });
    expect(quiet).toEqual([]);
    expect(await contact(7302)).toMatchObject({ name: 'Newer' });
  });
});

describe('permanent failures', () => {
  it('parks a delivery no retry can fix (a NUL in a contact name) as failed at once, with the reason', async () => {
    const res = await deliver(chatwootDelivery(contactEvent('contact_created', { id: 805, name: 'Null\u0000Byte' }), { secret }));
    expect(await processDelivery(t.db.knex, res.body.data.delivery_id)).toBe('failed');
    const row = await t.db.knex('webhook_deliveries').where({ id: res.body.data.delivery_id }).first('status', 'attempts', 'last_error');
    expect(row).toMatchObject({ status: 'failed', attempts: 1 });
    expect(row.last_error).toMatch(/22P05|22021/);
    expect(await contact(805)).toBeUndefined();
  });

  it('writes a batch together, and one unwritable delivery in it fails alone while the others are cached', async () => {
    const ids: string[] = [];
    for (const [id, name] of [[806, 'Chien-Shiung Wu'], [807, 'Bad\u0000Name'], [808, 'Rosalind Franklin']] as const) {
      ids.push((await deliver(chatwootDelivery(contactEvent('contact_created', { id, name }), { secret }))).body.data.delivery_id);
    }
    const outcomes = await processDeliveries(t.db.knex, ids);
    expect(ids.map((id) => outcomes.get(id))).toEqual(['processed', 'failed', 'processed']);
    expect((await contact(806)).name).toBe('Chien-Shiung Wu');
    expect(await contact(807)).toBeUndefined();
    expect((await contact(808)).name).toBe('Rosalind Franklin');
  });

  it('writes a batch that names one record again and again as the events came, whatever repeats between changes', async () => {
    // One contact seen in turn as A, A, B, B, A (same time: the order of the events decides), and a
    // contact update older than the cached one in the middle, which must not win.
    const at = new Date(Date.now() - 30_000).toISOString();
    const names = ['Name A', 'Name A', 'Name B', 'Name B', 'Name A'];
    const ids: string[] = [];
    for (const [i, name] of names.entries()) {
      ids.push((await deliver(chatwootDelivery(contactEvent('contact_updated', { id: 809, name, updated_at: at }), { secret, deliveryId: `repeat-${i}` }))).body.data.delivery_id);
    }
    const older = new Date(Date.now() - 90_000).toISOString();
    ids.splice(3, 0, (await deliver(chatwootDelivery(contactEvent('contact_updated', { id: 809, name: 'Older', updated_at: older }), { secret }))).body.data.delivery_id);
    const outcomes = await processDeliveries(t.db.knex, ids);
    expect(ids.map((id) => outcomes.get(id))).toEqual(Array(ids.length).fill('processed'));
    expect(await contact(809)).toMatchObject({ name: 'Name A', source_updated_at: new Date(at) });

    // Many messages from one sender in one batch: all of them count as the customer's activity.
    const sent: string[] = [];
    for (let i = 0; i < 30; i++) {
      sent.push((await deliver(chatwootDelivery(messageEvent({ id: 9100 + i, conversationId: 9200 + (i % 3), content: `message ${i}` }), { secret }))).body.data.delivery_id);
    }
    const results = await processDeliveries(t.db.knex, sent);
    expect([...results.values()].every((r) => r === 'processed')).toBe(true);
    const conversations = await withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) =>
      trx('chatwoot_conversations').whereIn('chatwoot_conversation_id', [9200, 9201, 9202]).whereNotNull('last_activity_at').pluck('chatwoot_conversation_id'),
    );
    expect(conversations.sort()).toEqual([9200, 9201, 9202]);
    expect(await contact(44)).toMatchObject({ name: 'Contact' });
  });
});
