// SMS notifications through Twilio's Messaging API: the real `twilio` library sends to a fake of
// Twilio's REST API (which checks Basic auth and records the form exactly as sent); the status
// callbacks and incoming replies are posted to our app signed by the real library.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { withAccountForTests as withAccount } from '../../extension/db/tenant.ts';
import type { CallsDeps } from '../../extension/modules/calls/workflow.ts';
import { smsBody, smsChannel, smsWebhookUrls } from '../../extension/notifications/channels/sms.ts';
import type { ChannelSender, OutgoingDelivery, StoredMessage } from '../../extension/notifications/channels/types.ts';
import { processTwilioDelivery } from '../../webhooks/twilio/process.ts';
import { hex, newMessageSid, sendTwilioCallback, startFakeTwilio, type FakeTwilio } from '../fakes/twilio.ts';
import { apiAs } from '../helpers/api.ts';
import type { TestApp } from '../helpers/app.ts';
import { signInAgent, type SignedIn } from '../helpers/identity.ts';
import { useWorld } from '../helpers/world.ts';

const world = useWorld([1, 2]);
let t: TestApp;
let twilioFake: FakeTwilio;
let admin: SignedIn;
let otherAccountId: number; // connected to Chatwoot, never to Twilio
let sms: ChannelSender;
let webhookToken: string;
let urls: ReturnType<typeof smsWebhookUrls>;
const senderNumber = '+14155550199';
const serviceSid = `MG${'a'.repeat(32)}`;

beforeAll(async () => {
  const { t: app, chatwoot } = world;
  t = app;
  twilioFake = await startFakeTwilio();
  admin = await signInAgent(t, chatwoot, 1, 'administrator');
  const api = apiAs(t, admin.token);
  expect((await api.patch('/admin/capabilities', { profile: 'construction' })).status).toBe(200);
  const settings = await api.put('/twilio/settings', { account_sid: twilioFake.accountSid, auth_token: twilioFake.authToken, forward_to: ['+14155550100'] });
  expect(settings.status, JSON.stringify(settings.body)).toBe(200);
  webhookToken = new URL(settings.body.data.webhook_urls.voice).pathname.split('/')[4]!;
  urls = smsWebhookUrls(t.config.PUBLIC_URL, admin.accountId, webhookToken);
  otherAccountId = (await signInAgent(t, chatwoot, 2, 'administrator')).accountId;
  sms = smsChannel({ db: t.db.knex, sealer: t.services.sealer, twilioApiUrl: twilioFake.url, publicUrl: t.config.PUBLIC_URL, timeoutMs: 2000 });
});
afterAll(() => twilioFake.close());
beforeEach(() => {
  twilioFake.messages.length = 0;
  twilioFake.messageAnswers.length = 0;
});

async function setSender(sender: { sms_from?: string | null; sms_messaging_service_sid?: string | null }) {
  await withAccount(t.db.knex, admin.accountId, { readOnly: false }, (trx) =>
    trx('notification_settings')
      .insert({ account_id: admin.accountId, sms_from: null, sms_messaging_service_sid: null, ...sender })
      .onConflict('account_id')
      .merge(),
  );
}

const message = (extra: Partial<StoredMessage> = {}): StoredMessage => ({
  title: 'Job J-1042 offered',
  body: 'Leaking boiler at 12 Elm Street, tomorrow 8–10',
  url: 'https://onelink.test/portal/jobs/42',
  link: { resource_type: 'job', resource_id: '42' },
  ...extra,
});

const delivery = (address: string | null, extra: Partial<StoredMessage> = {}): OutgoingDelivery => ({
  id: randomUUID(),
  accountId: admin.accountId,
  event: 'vendor.job_offered' as OutgoingDelivery['event'],
  channel: 'sms',
  recipient: { kind: 'vendor', id: randomUUID(), name: 'Pipe & Sons' },
  address,
  message: message(extra),
  attempts: 0,
});

describe('sending an SMS', () => {
  it('says why it cannot send: Twilio not connected, or no sender set', async () => {
    expect(await sms.unavailable(t.db.knex, otherAccountId)).toMatch(/Twilio is not connected/);
    await setSender({});
    expect(await sms.unavailable(t.db.knex, admin.accountId)).toMatch(/No SMS sender/);
    expect(await sms.send(delivery('+14155550123'))).toMatchObject({ outcome: 'failed', reason: expect.stringMatching(/No SMS sender/) });
    expect(twilioFake.messages).toEqual([]);
    await setSender({ sms_from: senderNumber });
    expect(await sms.unavailable(t.db.knex, admin.accountId)).toBeNull();
  });

  it('posts exactly what the twilio library sends, from the sender number, and keeps the Message SID', async () => {
    await setSender({ sms_from: senderNumber });
    const result = await sms.send(delivery('+14155550123'));
    expect(twilioFake.messages).toHaveLength(1);
    const [sent] = twilioFake.messages;
    expect(sent).toMatchObject({ accountSid: twilioFake.accountSid, authorized: true, contentType: 'application/x-www-form-urlencoded' });
    expect(sent!.userAgent).toMatch(/^twilio-node\/\d+\.\d+\.\d+ /);
    expect(sent!.form).toEqual({
      To: '+14155550123',
      From: senderNumber,
      Body: 'Job J-1042 offered\nLeaking boiler at 12 Elm Street, tomorrow 8–10\nhttps://onelink.test/portal/jobs/42',
      StatusCallback: urls.sms_status_callback,
    });
    expect(urls.sms_status_callback).toBe(`http://onelink.test/webhooks/twilio/${admin.accountId}/${webhookToken}/messaging/status`);
    expect(result).toEqual({ outcome: 'sent', providerId: sent!.sid });
    expect(sent!.sid).toMatch(/^SM[0-9a-f]{32}$/);
  });

  it('uses the Messaging Service when one is set, even next to a sender number', async () => {
    await setSender({ sms_from: senderNumber, sms_messaging_service_sid: serviceSid });
    const result = await sms.send(delivery('+14155550124', { customerText: 'Your technician Sam is on the way, ETA 10:20.' }));
    expect(twilioFake.messages[0]!.form).toEqual({
      To: '+14155550124',
      MessagingServiceSid: serviceSid,
      Body: 'Your technician Sam is on the way, ETA 10:20.',
      StatusCallback: urls.sms_status_callback,
    });
    expect(result).toMatchObject({ outcome: 'sent', providerId: twilioFake.messages[0]!.sid });
  });

  it('keeps a long message to a few segments, the link intact', () => {
    const text = smsBody(message({ body: 'word '.repeat(400) }));
    expect([...text].length).toBeLessThanOrEqual(640);
    expect(text.endsWith('…\nhttps://onelink.test/portal/jobs/42')).toBe(true);
    expect(smsBody(message({ url: null }))).toBe('Job J-1042 offered\nLeaking boiler at 12 Elm Street, tomorrow 8–10');
    expect([...smsBody(message({ customerText: '🔧'.repeat(2000) }))].length).toBe(1600);
  });

  it('reads Twilio’s answers: 21610 → opted out, 429 and 5xx → retry, other refusals → failed', async () => {
    await setSender({ sms_from: senderNumber });
    // Twilio's own numbers for these failures (test credentials): unsubscribed, invalid, not a mobile.
    expect(await sms.send(delivery('+15005550004'))).toMatchObject({ outcome: 'opted_out' });
    expect(await sms.send(delivery('+15005550001'))).toEqual({ outcome: 'failed', reason: expect.stringMatching(/^Twilio 400 \(21211\)/) });
    expect(await sms.send(delivery('+15005550009'))).toEqual({ outcome: 'failed', reason: expect.stringMatching(/^Twilio 400 \(21614\)/) });
    twilioFake.messageAnswers.push({ status: 500, code: 20500, message: 'Internal Server Error' }, { status: 503 }, { status: 429, code: 20429, message: 'Too Many Requests' });
    expect(await sms.send(delivery('+14155550125'))).toMatchObject({ outcome: 'retry', reason: expect.stringMatching(/^Twilio 500/) });
    expect(await sms.send(delivery('+14155550125'))).toMatchObject({ outcome: 'retry', reason: expect.stringMatching(/^Twilio 503/) });
    expect(await sms.send(delivery('+14155550125'))).toMatchObject({ outcome: 'retry', reason: expect.stringMatching(/^Twilio 429/) });
    expect(twilioFake.messages.map((m) => m.form.To)).toEqual(['+15005550004', '+15005550001', '+15005550009', '+14155550125', '+14155550125', '+14155550125']);
    // A number not in international form never reaches Twilio.
    expect(await sms.send(delivery('0415 555 0125'))).toMatchObject({ outcome: 'failed', reason: expect.stringMatching(/E\.164/) });
    expect(await sms.send(delivery(null))).toMatchObject({ outcome: 'failed' });
    expect(twilioFake.messages).toHaveLength(6);
  });

  it('retries when Twilio cannot be reached', async () => {
    await setSender({ sms_from: senderNumber });
    const gone = await startFakeTwilio();
    await gone.close();
    const unreachable = smsChannel({ db: t.db.knex, sealer: t.services.sealer, twilioApiUrl: gone.url, publicUrl: t.config.PUBLIC_URL, timeoutMs: 2000 });
    expect(await unreachable.send(delivery('+14155550126'))).toMatchObject({ outcome: 'retry', reason: expect.stringMatching(/could not be reached/) });
  });
});

// ---- webhooks ------------------------------------------------------------------------------

const path = (kind: 'status' | 'inbound') => new URL(urls[kind === 'status' ? 'sms_status_callback' : 'sms_incoming']).pathname;
const post = (kind: 'status' | 'inbound', fields: Record<string, string>, options: { signature?: string; path?: string } = {}) =>
  sendTwilioCallback(t.app, t.config.PUBLIC_URL, options.path ?? path(kind), fields, twilioFake.authToken, options);
const deps = (): CallsDeps => ({ db: t.db.knex, sealer: t.services.sealer, urlSigner: t.services.urlSigner, chatwootTimeoutMs: 1000, publicUrl: t.config.PUBLIC_URL });

const storedMessaging = async () =>
  (await t.db.knex('webhook_deliveries').where({ source: 'twilio' }).whereLike('event', 'twilio.messaging.%').orderBy('received_at').select('id', 'event', 'status', 'last_error')) as Array<{
    id: string;
    event: string;
    status: string;
    last_error: string | null;
  }>;
/** Processes the stored messaging callbacks once each, oldest first, as the worker would. */
async function processPending() {
  const outcomes: string[] = [];
  for (const { id } of (await storedMessaging()).filter((d) => d.status === 'received' || d.status === 'retrying')) {
    outcomes.push(await processTwilioDelivery(deps(), id).catch(() => 'retry'));
  }
  return outcomes;
}
const statusFields = (sid: string, to: string, status: string, extra: Record<string, string> = {}) => ({
  AccountSid: twilioFake.accountSid,
  ApiVersion: '2010-04-01',
  From: senderNumber,
  MessageSid: sid,
  MessageStatus: status,
  SmsSid: sid,
  SmsStatus: status,
  To: to,
  ...extra,
});
const inboundFields = (from: string, body: string, extra: Record<string, string> = {}) => {
  const sid = newMessageSid();
  return { AccountSid: twilioFake.accountSid, ApiVersion: '2010-04-01', Body: body, From: from, MessageSid: sid, NumMedia: '0', NumSegments: '1', SmsMessageSid: sid, SmsSid: sid, SmsStatus: 'received', To: senderNumber, ...extra };
};

const deliveryRow = (id: string) => withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) => trx('notification_deliveries').where({ id }).first('status', 'reason', 'provider_id'));
const optOut = (phone: string) => withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) => trx('sms_opt_outs').where({ phone_e164: phone }).first('source'));
const audits = (action: string, phone: string) =>
  withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) => trx('audit_events').where({ action, resource_id: phone }).select('actor_type', 'actor_id', 'before', 'after'));

/** Sends a real SMS through the channel and records it as a sent delivery, the way the delivery loop settles it. */
async function sentDelivery(to: string) {
  await setSender({ sms_from: senderNumber });
  const result = await sms.send(delivery(to));
  if (result.outcome !== 'sent' || !result.providerId) throw new Error(`not sent: ${JSON.stringify(result)}`);
  const [row] = await withAccount(t.db.knex, admin.accountId, { readOnly: false }, (trx) =>
    trx('notification_deliveries')
      .insert({
        account_id: admin.accountId,
        event_id: Math.floor(Math.random() * 1e9),
        event: 'vendor.job_offered',
        recipient_kind: 'vendor',
        recipient_id: randomUUID(),
        channel: 'sms',
        address: to,
        message: JSON.stringify(message()),
        status: 'sent',
        attempts: 1,
        provider_id: result.providerId,
        sent_at: new Date(),
      })
      .returning('id'),
  );
  return { id: row.id as string, sid: result.providerId };
}

describe('status callbacks', () => {
  it('refuses a wrong signature with 403 and a wrong address with 404, storing nothing', async () => {
    const before = (await storedMessaging()).length;
    const fields = statusFields(newMessageSid(), '+14155550130', 'delivered');
    expect((await post('status', fields, { signature: '' })).status).toBe(403);
    const wrongKey = await sendTwilioCallback(t.app, t.config.PUBLIC_URL, path('status'), fields, hex(16));
    expect([wrongKey.status, wrongKey.body.error.code]).toEqual([403, 'invalid_signature']);
    const twilio = (await import('twilio')).default;
    const edited = twilio.getExpectedTwilioSignature(twilioFake.authToken, urls.sms_status_callback, { ...fields, MessageStatus: 'failed' });
    expect((await post('status', fields, { signature: edited })).status).toBe(403);
    expect((await post('status', fields, { path: path('status').replace(webhookToken, 'f'.repeat(32)) })).status).toBe(404);
    expect((await post('status', { ...fields, MessageSid: 'SM-not-a-sid' })).status).toBe(400);
    expect((await storedMessaging()).length).toBe(before);
  });

  it('marks a delivered message delivered once, however often Twilio repeats the callback', async () => {
    const { id, sid } = await sentDelivery('+14155550131');
    // Steps on the way are acknowledged and not kept.
    expect((await post('status', statusFields(sid, '+14155550131', 'sent'))).status).toBe(204);
    const fields = statusFields(sid, '+14155550131', 'delivered');
    const answers = await Promise.all([post('status', fields), post('status', fields), post('status', fields)]);
    expect(answers.map((a) => a.status)).toEqual([204, 204, 204]);
    const stored = (await storedMessaging()).filter((d) => d.status === 'received');
    expect(stored.map((d) => d.event)).toEqual(['twilio.messaging.status']);
    expect(await processPending()).toEqual(['processed']);
    expect(await deliveryRow(id)).toMatchObject({ status: 'delivered', provider_id: sid });
    await post('status', fields); // Twilio again, later
    expect(await processPending()).toEqual([]);
  });

  it('fails an undelivered message with Twilio’s error code', async () => {
    const { id, sid } = await sentDelivery('+14155550132');
    await post('status', statusFields(sid, '+14155550132', 'undelivered', { ErrorCode: '30003' }));
    expect(await processPending()).toEqual(['processed']);
    expect(await deliveryRow(id)).toMatchObject({ status: 'failed', reason: 'Twilio reported the message undelivered (error 30003)' });
  });

  it('marks the number opted out on error 21610, with an audit entry', async () => {
    const phone = '+14155550133';
    const { id, sid } = await sentDelivery(phone);
    await post('status', statusFields(sid, phone, 'failed', { ErrorCode: '21610' }));
    expect(await processPending()).toEqual(['processed']);
    expect(await deliveryRow(id)).toMatchObject({ status: 'opted_out' });
    expect(await optOut(phone)).toEqual({ source: 'twilio_21610' });
    expect(await audits('notification.sms_opted_out', phone)).toEqual([
      { actor_type: 'system', actor_id: 'twilio-messaging', before: null, after: { phone_e164: phone, source: 'twilio_21610' } },
    ]);
  });

  it('waits for a message it does not know yet (the send is settled after Twilio may call back)', async () => {
    const sid = newMessageSid();
    await post('status', statusFields(sid, '+14155550134', 'delivered'));
    expect(await processPending()).toEqual(['retry']);
    const [waiting] = (await storedMessaging()).filter((d) => d.status === 'retrying');
    expect(waiting!.last_error).toContain(sid);
    // Too late to wait any more: parked with the reason.
    await t.db.knex('webhook_deliveries').where({ id: waiting!.id }).update({ received_at: new Date(Date.now() - 3600_000) });
    expect(await processPending()).toEqual(['failed']);
    expect((await t.db.knex('webhook_deliveries').where({ id: waiting!.id }).first('last_error')).last_error).toMatch(/^permanent: no SMS delivery has message SM/);
  });
});

describe('incoming replies', () => {
  it('records STOP as an opt-out once and START clears it, each audited; Twilio gets an empty TwiML answer', async () => {
    const phone = '+14155550140';
    const stop = inboundFields(phone, ' stop ');
    const answers = await Promise.all([post('inbound', stop), post('inbound', stop)]);
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect(answer.headers['content-type']).toMatch(/text\/xml/);
      expect(answer.text).toBe('<?xml version="1.0" encoding="UTF-8"?><Response/>');
    }
    expect(await processPending()).toEqual(['processed']);
    expect(await optOut(phone)).toEqual({ source: 'keyword' });
    // Another STOP from an opted-out number changes nothing.
    await post('inbound', inboundFields(phone, 'UNSUBSCRIBE'));
    expect(await processPending()).toEqual(['processed']);
    expect(await audits('notification.sms_opted_out', phone)).toEqual([{ actor_type: 'system', actor_id: 'twilio-messaging', before: null, after: { phone_e164: phone, source: 'keyword' } }]);

    // The delivery loop skips the number now (sms_opt_outs is what it checks); START lets it through again.
    await post('inbound', inboundFields(phone, 'Start'));
    expect(await processPending()).toEqual(['processed']);
    expect(await optOut(phone)).toBeUndefined();
    expect(await audits('notification.sms_opted_in', phone)).toEqual([{ actor_type: 'system', actor_id: 'twilio-messaging', before: { phone_e164: phone, source: 'keyword' }, after: null }]);
  });

  it('follows Twilio’s OptOutType (Advanced Opt-Out keywords may be the account’s own) and keeps ordinary replies out of the inbox', async () => {
    const phone = '+14155550141';
    await post('inbound', inboundFields(phone, 'ARRÊT', { OptOutType: 'STOP' }));
    await post('inbound', inboundFields(phone, 'help', { OptOutType: 'HELP' }));
    const before = (await storedMessaging()).length;
    const thanks = await post('inbound', inboundFields(phone, 'Thanks, see you tomorrow!'));
    expect([thanks.status, thanks.text]).toEqual([200, '<?xml version="1.0" encoding="UTF-8"?><Response/>']);
    expect((await storedMessaging()).length).toBe(before);
    expect(await processPending()).toEqual(['processed']);
    expect(await optOut(phone)).toEqual({ source: 'keyword' });
    await post('inbound', inboundFields(phone, 'REPRENDRE', { OptOutType: 'START' }));
    expect(await processPending()).toEqual(['processed']);
    expect(await optOut(phone)).toBeUndefined();
  });

  it('refuses an unsigned reply', async () => {
    const before = (await storedMessaging()).length;
    const res = await post('inbound', inboundFields('+14155550142', 'STOP'), { signature: 'bm90IGEgc2lnbmF0dXJl' });
    expect(res.status).toBe(403);
    expect((await storedMessaging()).length).toBe(before);
  });
});
