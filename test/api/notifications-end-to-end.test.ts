// Notifications through the channels the server builds from its configuration (extension/notifications/
// channels/index.ts), against real or contract-true counterparts: a real SMTP server, the fake Chatwoot
// (checked against Chatwoot's OpenAPI document) and Twilio's REST API faked at the HTTP boundary.
// A client whose WhatsApp conversation is outside its 24-hour window gets the update by SMS instead;
// an agent given a job gets the e-mail.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withAccountForTests as withAccount } from '../../extension/db/tenant.ts';
import { drainDeliveries } from '../../extension/notifications/deliver.ts';
import { fanOutEvents } from '../../extension/notifications/fanout.ts';
import { startFakeTwilio, type FakeTwilio } from '../fakes/twilio.ts';
import { apiAs } from '../helpers/api.ts';
import type { TestApp } from '../helpers/app.ts';
import { signInAgent, signInDispatcher, type SignedIn } from '../helpers/identity.ts';
import { startTestSmtp } from '../helpers/smtp.ts';
import { useWorld } from '../helpers/world.ts';

const smtp = await startTestSmtp();
const mails = smtp.mails;
const twilioFake: FakeTwilio = await startFakeTwilio();

const world = useWorld([1], {
  env: { SMTP_URL: smtp.url, ONELINK_EMAIL_FROM: 'Acme Dispatch <dispatch@acme.example>', ONELINK_TWILIO_API_URL: twilioFake.url },
});
let t: TestApp;
let admin: SignedIn;
let agent: SignedIn;
let dispatcher: SignedIn;
const contactId = 8100;
const conversationId = 8101;

const run = async () => {
  for (let i = 0; i < 2; i++) {
    await fanOutEvents(t.db.knex, admin.accountId, { publicUrl: t.config.PUBLIC_URL });
    await drainDeliveries(t.db.knex, admin.accountId, t.services.notifications.senders);
  }
};

beforeAll(async () => {
  t = world.t;
  admin = await signInAgent(t, world.chatwoot, 1, 'administrator', 'Ada Admin');
  const asAdmin = apiAs(t, admin.token);
  expect((await asAdmin.patch('/admin/capabilities', { profile: 'construction' })).status).toBe(200);
  agent = await signInAgent(t, world.chatwoot, 1, 'agent', 'Alan Agent');
  dispatcher = await signInDispatcher(t, world.chatwoot, 1, admin);
  expect((await asAdmin.put('/twilio/settings', { account_sid: twilioFake.accountSid, auth_token: twilioFake.authToken, forward_to: ['+14155550100'] })).status).toBe(200);
  const settings = await asAdmin.put('/admin/notifications/settings', { customer_events: ['client.request_received'], sms_from: '+14155550199', email_reply_to: 'office@acme.example' });
  expect(settings.status, JSON.stringify(settings.body)).toBe(200);
  expect(settings.body.data.channels.email).toEqual({ available: true, reason: null });
  expect(settings.body.data.channels.sms).toEqual({ available: true, reason: null });
  // The client writes on WhatsApp; their last message is older than 24 hours.
  const conversation = world.chatwoot.addConversation(1, conversationId);
  Object.assign(conversation, { contactId, inboxId: 7, channel: 'Channel::Whatsapp', canReply: false });
  world.chatwoot.windowRefusal = 'sync';
  await withAccount(t.db.knex, admin.accountId, { readOnly: false }, async (trx) => {
    await trx('chatwoot_contacts').insert({ account_id: admin.accountId, chatwoot_contact_id: contactId, name: 'Wanda Whatsapp', phone_e164: '+14155550123', email: 'wanda@example.com' });
    await trx('chatwoot_conversations').insert({ account_id: admin.accountId, chatwoot_conversation_id: conversationId, chatwoot_contact_id: contactId, status: 'open', last_activity_at: new Date() });
  });
});

afterAll(async () => {
  await smtp.close();
  await twilioFake.close();
});

describe('notifications through the configured channels', () => {
  it('a client outside the WhatsApp window hears of the request by SMS, with the reason logged', async () => {
    const job = (await apiAs(t, agent.token).post('/jobs', { summary: 'Boiler service', chatwoot_contact_id: contactId })).body.data;
    await run();
    const log = (await apiAs(t, admin.token).get('/admin/notifications/deliveries', { event: 'client.request_received' })).body.data as Array<{ channel: string; status: string; reason: string | null }>;
    const byChannel = Object.fromEntries(log.map((d) => [d.channel, d]));
    expect(byChannel.chatwoot!.status).toBe('failed');
    expect(byChannel.chatwoot!.reason).toMatch(/template|24/i);
    expect(byChannel.sms!.status).toBe('sent');
    expect(byChannel.email!.status).toBe('held');
    expect(twilioFake.messages).toHaveLength(1);
    expect(twilioFake.messages[0]!.form).toMatchObject({
      To: '+14155550123',
      From: '+14155550199',
      Body: `Hi Wanda, we received your request (J-${job.number}). We will let you know when a visit is scheduled. Follow it here: ${t.config.PUBLIC_URL}/portal/client/jobs/${job.id}`,
    });
    expect(world.chatwoot.takeViolations()).toEqual([]);
  });

  it('an agent given a job gets the e-mail from the configured sender, replies going to the office', async () => {
    const job = (await apiAs(t, agent.token).post('/jobs', { summary: 'Gutter repair' })).body.data;
    expect((await apiAs(t, dispatcher.token).patch(`/jobs/${job.id}`, { owner_id: agent.userId, version: job.version })).status).toBe(200);
    const before = mails.length;
    await run();
    const mine = mails.slice(before).filter((m) => m.to.includes(`agent${agent.agentId}@example.com`));
    expect(mine).toHaveLength(1);
    expect(mine[0]!.raw).toMatch(new RegExp(`^Subject: Job J-${job.number} is yours`, 'm'));
    expect(mine[0]!.raw).toMatch(/^From: Acme Dispatch <dispatch@acme\.example>/m);
    expect(mine[0]!.raw).toMatch(/^Reply-To: office@acme\.example/m);
    // Sent once: another pass sends nothing more.
    await run();
    expect(mails.slice(before).filter((m) => m.to.includes(`agent${agent.agentId}@example.com`))).toHaveLength(1);
  });
});
