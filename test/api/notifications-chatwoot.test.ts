// Customer notifications on the customer's own Chatwoot conversation, against the fake Chatwoot
// (every request and answer checked against Chatwoot's OpenAPI document): the message posted, its
// marker, adoption after a lost answer, the answers that retry or fail, and WhatsApp's 24-hour
// window — refused at once (422) or, as Chatwoot does it, afterwards (status failed, announced by
// message_updated to Onelink's webhook), which fails the delivery and releases the next channel.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { withAccountForTests as withAccount } from '../../extension/db/tenant.ts';
import type { EventName } from '../../extension/notifications/catalogue.ts';
import { chatwootChannel, deliveryReportOf } from '../../extension/notifications/channels/chatwoot.ts';
import type { ChannelSender, ChannelSenders, OutgoingDelivery } from '../../extension/notifications/channels/types.ts';
import { drainDeliveries } from '../../extension/notifications/deliver.ts';
import { processDeliveries } from '../../webhooks/chatwoot/process.ts';
import { templateNotFoundError, type FakeChatwoot } from '../fakes/chatwoot.ts';
import type { TestApp } from '../helpers/app.ts';
import { signInAgent } from '../helpers/identity.ts';
import { useWorld } from '../helpers/world.ts';

const world = useWorld([1]);
let t: TestApp;
let chatwoot: FakeChatwoot;
let accountId: number;
let server: http.Server;
let channel: ChannelSender;
let senders: ChannelSenders;
const secret = 'whsec-notify-chatwoot-1234567890';
const event: EventName = 'client.technician_on_the_way';

// The other channels of a customer's chain are not what these tests are about: they are never due
// here (a later channel waits 'held' until released), and say so if asked.
const notHere: ChannelSender = { unavailable: async () => 'not part of this test', send: async () => ({ outcome: 'failed', reason: 'not part of this test' }) };

let nextConversation = 4100;

beforeAll(async () => {
  ({ t, chatwoot } = world);
  accountId = (await signInAgent(t, chatwoot, 1, 'administrator')).accountId;
  channel = chatwootChannel({ db: t.db.knex, sealer: t.services.sealer, timeoutMs: 400 });
  senders = { chatwoot: channel, sms: notHere, email: notHere, push: notHere };
  // Onelink's webhook receiver on a real port, registered with the fake as the installer registers it.
  server = http.createServer(t.app).listen(0, '127.0.0.1');
  await once(server, 'listening');
  const installation = await t.db.knex('installations').first('id', 'webhook_path_token');
  await t.db.knex('installations').where({ id: installation.id }).update({ webhook_secret_sealed: t.services.sealer.seal(secret) });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/chatwoot/${installation.webhook_path_token}`;
  chatwoot.webhooks.push({ id: 900, accountId: 1, url, subscriptions: ['message_created', 'message_updated'], secret });
  chatwoot.messageEvents = true;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  chatwoot.windowRefusal = 'async';
  chatwoot.whatsappTemplates = [];
  chatwoot.swallowWrites = 0;
});

function conversation(options: { channel?: string; canReply?: boolean } = {}) {
  const c = chatwoot.addConversation(1, nextConversation++);
  Object.assign(c, { contactId: 9100, inboxId: 7, ...options });
  return c;
}

interface Queued { chatwootId: string; smsId: string }

/**
 * A customer notification as the fan-out leaves it: Chatwoot first, SMS next (held). `due: false`
 * for the tests that call the sender themselves, so the delivery loop of a later test leaves it be.
 */
async function queue(conversationId: number, message: { customerText?: string; body?: string } = {}, { due = true } = {}): Promise<Queued> {
  return withAccount(t.db.knex, accountId, { readOnly: false }, async (trx) => {
    const [{ id: eventId }] = await trx('notification_events')
      .insert({ account_id: accountId, event, resource_type: 'job', resource_id: randomUUID(), dedupe_key: randomUUID() })
      .returning('id');
    const stored = { title: 'Technician on the way', body: message.body ?? 'Your technician is on the way.', url: null, link: null, ...(message.customerText !== undefined ? { customerText: message.customerText } : {}) };
    const row = (channelName: string, address: string, position: number, status: string) => ({
      account_id: accountId,
      event_id: eventId,
      event,
      recipient_kind: 'contact',
      recipient_id: '9100',
      recipient_name: 'Ada Customer',
      channel: channelName,
      address,
      message: JSON.stringify(stored),
      status,
      chain_position: position,
      next_attempt_at: due ? trx.fn.now() : trx.raw(`now() + interval '1 day'`),
    });
    const [chatwootRow] = await trx('notification_deliveries').insert(row('chatwoot', String(conversationId), 0, 'pending')).returning('id');
    const [smsRow] = await trx('notification_deliveries').insert(row('sms', '+14155550100', 1, 'held')).returning('id');
    return { chatwootId: chatwootRow.id, smsId: smsRow.id };
  });
}

const delivery = (id: string) =>
  withAccount(t.db.knex, accountId, { readOnly: true }, (trx) => trx('notification_deliveries').where({ account_id: accountId, id }).first('status', 'reason', 'provider_id', 'attempts'));

/** The delivery as a sender is handed it (for calling the channel directly). */
async function outgoing(id: string, attempts: number): Promise<OutgoingDelivery> {
  const row = await withAccount(t.db.knex, accountId, { readOnly: true }, (trx) => trx('notification_deliveries').where({ account_id: accountId, id }).first());
  return {
    id,
    accountId,
    event,
    channel: 'chatwoot',
    recipient: { kind: 'contact', id: row.recipient_id, name: row.recipient_name },
    address: row.address,
    message: row.message,
    attempts,
  };
}

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

const messagePosts = () => chatwoot.requests.filter((r) => r.method === 'POST' && /\/conversations\/\d+\/messages$/.test(r.path)).length;

describe('the Chatwoot conversation channel', () => {
  it('posts the customer text as a public outgoing message carrying the delivery marker, and records its id', async () => {
    const c = conversation();
    const queued = await queue(c.id, { customerText: 'Hi Ada, Sam is on the way and will be there by 10:40.' });
    expect(await drainDeliveries(t.db.knex, accountId, senders)).toBe(1);
    expect(c.messages).toHaveLength(1);
    const [message] = c.messages;
    expect(message).toMatchObject({
      content: 'Hi Ada, Sam is on the way and will be there by 10:40.',
      private: false,
      message_type: 'outgoing',
      content_attributes: { onelink_delivery_id: queued.chatwootId },
    });
    expect(await delivery(queued.chatwootId)).toMatchObject({ status: 'sent', provider_id: String(message!.id), reason: null });
    expect(await delivery(queued.smsId)).toMatchObject({ status: 'held' });
  });

  it("sends the notification's text when the account has no customer text for it", async () => {
    const c = conversation();
    const queued = await queue(c.id, { body: 'Your request was received.' }, { due: false });
    const result = await channel.send(await outgoing(queued.chatwootId, 0));
    expect(result).toEqual({ outcome: 'sent', providerId: String(c.messages[0]!.id) });
    expect(c.messages[0]!.content).toBe('Your request was received.');
  });

  it('adopts the message an attempt with a lost answer created, rather than posting it twice', async () => {
    const c = conversation();
    const queued = await queue(c.id, { customerText: 'Your visit is booked for Tuesday 9-11.' }, { due: false });
    chatwoot.swallowWrites = 1; // carried out, never answered: the sender cannot know
    const first = await channel.send(await outgoing(queued.chatwootId, 0));
    expect(first.outcome).toBe('retry');
    expect(c.messages).toHaveLength(1);
    const postsBefore = messagePosts();
    const second = await channel.send(await outgoing(queued.chatwootId, 1));
    expect(second).toEqual({ outcome: 'sent', providerId: String(c.messages[0]!.id) });
    expect(c.messages).toHaveLength(1);
    expect(messagePosts()).toBe(postsBefore); // looked, found, did not post
  });

  it('retries when Chatwoot fails for now (5xx), and a later attempt finds nothing to adopt and posts', async () => {
    const c = conversation();
    const queued = await queue(c.id, { customerText: 'Job completed: thank you!' }, { due: false });
    chatwoot.failNext(1, 503);
    const first = await channel.send(await outgoing(queued.chatwootId, 0));
    expect(first).toMatchObject({ outcome: 'retry', reason: expect.stringContaining('503') });
    expect(c.messages).toHaveLength(0);
    const second = await channel.send(await outgoing(queued.chatwootId, 1));
    expect(second).toEqual({ outcome: 'sent', providerId: String(c.messages[0]!.id) });
    expect(c.messages).toHaveLength(1);
  });

  it('retries a gateway error on the post (the message may exist) and adopts it next time', async () => {
    const c = conversation();
    const queued = await queue(c.id, { customerText: 'A document was shared with you.' }, { due: false });
    chatwoot.failNext(1, 502);
    expect((await channel.send(await outgoing(queued.chatwootId, 0))).outcome).toBe('retry');
    expect((await channel.send(await outgoing(queued.chatwootId, 1))).outcome).toBe('sent');
    expect(c.messages).toHaveLength(1);
  });

  it('fails with "conversation gone" when Chatwoot no longer has the conversation', async () => {
    const queued = await queue(987_654, { customerText: 'Anyone there?' }, { due: false });
    expect(await channel.send(await outgoing(queued.chatwootId, 0))).toEqual({ outcome: 'failed', reason: expect.stringContaining('conversation gone') });
  });

  it('fails without asking Chatwoot when the delivery names no conversation', async () => {
    const posts = messagePosts();
    const result = await channel.send({ ...(await outgoing((await queue(1, {}, { due: false })).chatwootId, 0)), address: null });
    expect(result).toEqual({ outcome: 'failed', reason: 'no Chatwoot conversation to write to' });
    expect(messagePosts()).toBe(posts);
  });

  it('says the channel is unavailable for an account without a Chatwoot connection, and available for a connected one', async () => {
    expect(await channel.unavailable(t.db.knex, accountId)).toBeNull();
    expect(await channel.unavailable(t.db.knex, 987_654)).toMatch(/Chatwoot is not connected/);
  });
});

describe("WhatsApp's 24-hour window", () => {
  it('outside it, Chatwoot creates the message and fails it afterwards: message_updated fails the delivery with the reason and releases SMS', async () => {
    const c = conversation({ channel: 'Channel::Whatsapp', canReply: false });
    const queued = await queue(c.id, { customerText: 'Hi Ada, Sam is on the way.' });
    expect(await drainDeliveries(t.db.knex, accountId, senders)).toBe(1); // Chatwoot accepted it
    expect(await delivery(queued.chatwootId)).toMatchObject({ status: 'sent', provider_id: String(c.messages[0]!.id) });
    await untilWebhooksSay(async () => (await delivery(queued.chatwootId)).status === 'failed');
    const failed = await delivery(queued.chatwootId);
    expect(failed.reason).toContain('WhatsApp allows one only within 24 hours');
    expect(failed.reason).toContain(templateNotFoundError);
    expect(await delivery(queued.smsId)).toMatchObject({ status: 'pending' }); // the next channel goes out
    // The agent sees it in the thread, failed with Chatwoot's error.
    expect(c.messages[0]).toMatchObject({ status: 'failed', content_attributes: { onelink_delivery_id: queued.chatwootId, external_error: templateNotFoundError } });
  });

  it('outside it, a Chatwoot that refuses at once (422) fails the delivery with the reason, and nothing is created', async () => {
    chatwoot.windowRefusal = 'sync';
    const c = conversation({ channel: 'Channel::Whatsapp', canReply: false });
    const queued = await queue(c.id, { customerText: 'Your visit is booked.' }, { due: false });
    const result = await channel.send(await outgoing(queued.chatwootId, 0));
    expect(result).toEqual({ outcome: 'failed', reason: expect.stringContaining('WhatsApp allows one only within 24 hours') });
    expect(result.outcome === 'failed' && result.reason).toContain(templateNotFoundError);
    expect(c.messages).toHaveLength(0);
  });

  it('outside it, a text that matches an approved template goes out as that template and stays sent', async () => {
    chatwoot.whatsappTemplates = ['Your technician {{1}} is on the way and will arrive by {{2}}.'];
    const c = conversation({ channel: 'Channel::Whatsapp', canReply: false });
    const queued = await queue(c.id, { customerText: 'Your technician Sam is on the way and will arrive by 10:40.' });
    expect(await drainDeliveries(t.db.knex, accountId, senders)).toBe(1);
    // Chatwoot announces the message's update (its WhatsApp id); it reports nothing about the delivery.
    await untilWebhooksSay(async () => (await t.db.knex('webhook_deliveries').where({ event: 'message_updated', status: 'ignored' }).first('id')) !== undefined);
    expect(await delivery(queued.chatwootId)).toMatchObject({ status: 'sent' });
    expect(c.messages[0]!.source_id).toMatch(/^wamid\./);
  });

  it("inside it, the message is sent, and WhatsApp's later refusal (Meta 131047) still fails the delivery over to SMS", async () => {
    const c = conversation({ channel: 'Channel::Whatsapp', canReply: true });
    const queued = await queue(c.id, { customerText: 'Job completed: thank you!' });
    expect(await drainDeliveries(t.db.knex, accountId, senders)).toBe(1);
    const messageId = c.messages[0]!.id;
    chatwoot.updateMessageStatus(1, c.id, messageId, 'failed', '131047: Re-engagement message');
    await untilWebhooksSay(async () => (await delivery(queued.chatwootId)).status === 'failed');
    expect((await delivery(queued.chatwootId)).reason).toContain('131047: Re-engagement message');
    expect(await delivery(queued.smsId)).toMatchObject({ status: 'pending' });
  });

  it('a failure reported before the delivery has recorded its message waits for it, then fails it', async () => {
    const c = conversation({ channel: 'Channel::Whatsapp', canReply: false });
    const queued = await queue(c.id, { customerText: 'Hi again.' }, { due: false });
    // The sender is still settling its answer (nothing recorded yet) when the webhook comes in.
    const updates = () => chatwoot.webhookDeliveries.filter((d) => d.event === 'message_updated' && d.status === 202).length;
    const before = updates();
    const sent = await channel.send(await outgoing(queued.chatwootId, 0));
    expect(sent.outcome).toBe('sent');
    await vi.waitFor(() => expect(updates()).toBe(before + 1));
    const stored = await t.db.knex('webhook_deliveries').whereIn('status', ['received', 'retrying']).pluck('id');
    const outcomes = await processDeliveries(t.db.knex, stored);
    expect([...outcomes.values()]).toContain('retry');
    expect(await delivery(queued.chatwootId)).toMatchObject({ status: 'pending' });
    // The sender's answer is recorded, as the delivery loop does; the webhook's retry then settles it.
    await withAccount(t.db.knex, accountId, { readOnly: false }, (trx) =>
      trx('notification_deliveries').where({ account_id: accountId, id: queued.chatwootId }).update({ status: 'sent', provider_id: (sent as { providerId: string }).providerId }),
    );
    await untilWebhooksSay(async () => (await delivery(queued.chatwootId)).status === 'failed');
    expect(await delivery(queued.smsId)).toMatchObject({ status: 'pending' });
  });
});

describe('reading message events', () => {
  const base = { id: 77, message_type: 'outgoing', private: false };
  it('reports a failure from external_error (the payload has no status) and a delivered status when one is given', () => {
    const deliveryId = randomUUID();
    expect(deliveryReportOf({ ...base, content_attributes: { onelink_delivery_id: deliveryId, external_error: '63016: outside the allowed window' } })).toEqual({
      messageId: 77,
      deliveryId,
      result: { status: 'failed', reason: expect.stringContaining('63016') },
    });
    expect(deliveryReportOf({ ...base, status: 'read', content_attributes: {} })).toEqual({ messageId: 77, deliveryId: null, result: { status: 'delivered' } });
  });
  it('reports nothing for incoming messages, private notes or an outgoing message with no news', () => {
    expect(deliveryReportOf({ ...base, message_type: 'incoming', content_attributes: { external_error: 'x' } })).toBeNull();
    expect(deliveryReportOf({ ...base, private: true, content_attributes: { external_error: 'x' } })).toBeNull();
    expect(deliveryReportOf({ ...base, content_attributes: { onelink_delivery_id: randomUUID() } })).toBeNull();
  });
});
