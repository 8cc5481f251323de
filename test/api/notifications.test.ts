// Notifications end to end inside the service: events raised by the unit of work, fanned out to
// recipients by their preferences, delivered through channel chains with fallback and escalation,
// the bell's API, preferences, quiet hours, the digest, templates and the delivery log.
// The channels' own sending is tested against real servers in notifications-{email,sms,push,chatwoot};
// here the senders record what they are handed, so every event × channel route can be checked.
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { withAccountForTests as withAccount } from '../../extension/db/tenant.ts';
import { emitSlaEvents } from '../../extension/modules/jobs/service.ts';
import { emitTaskReminders } from '../../extension/modules/tasks/service.ts';
import { raiseDocumentAlerts } from '../../extension/modules/vendors/expiry.ts';
import { catalogue, eventNames, type DeliveryChannel } from '../../extension/notifications/catalogue.ts';
import type { ChannelSenders, OutgoingDelivery, SendResult } from '../../extension/notifications/channels/types.ts';
import { drainDeliveries } from '../../extension/notifications/deliver.ts';
import { raiseDigests } from '../../extension/notifications/digest.ts';
import { fanOutEvents } from '../../extension/notifications/fanout.ts';
import { quietDelaySeconds } from '../../extension/notifications/preferences.ts';
import { fillTemplate } from '../../extension/notifications/templates.ts';
import type { FakeChatwoot } from '../fakes/chatwoot.ts';
import { apiAs } from '../helpers/api.ts';
import type { TestApp } from '../helpers/app.ts';
import { createClientPortalSession, createVendorPortalSession, signInAgent, signInDispatcher, type SignedIn } from '../helpers/identity.ts';
import { useWorld } from '../helpers/world.ts';

const world = useWorld([1, 2]);
let t: TestApp;
let chatwoot: FakeChatwoot;
let admin: SignedIn;
let agent: SignedIn;
let dispatcher: SignedIn;
let asAdmin: ReturnType<typeof apiAs>;
let asAgent: ReturnType<typeof apiAs>;
let asDispatcher: ReturnType<typeof apiAs>;
let vendorId: string;
const clientContactId = 7001;
const vendorContactId = 7002;

/** Senders that record what they are given and answer as told (default: sent). */
function recordingSenders() {
  const sent: OutgoingDelivery[] = [];
  const answers = new Map<DeliveryChannel, SendResult>();
  const sender = (channel: DeliveryChannel) => ({
    unavailable: async () => null,
    send: async (delivery: OutgoingDelivery): Promise<SendResult> => {
      sent.push(delivery);
      return answers.get(channel) ?? { outcome: 'sent', providerId: `${channel}-${sent.length}` };
    },
  });
  const senders: ChannelSenders = { email: sender('email'), sms: sender('sms'), push: sender('push'), chatwoot: sender('chatwoot') };
  return { senders, sent, answers };
}

let channels: ReturnType<typeof recordingSenders>;
const deps = { publicUrl: 'http://onelink.test' };
const run = async (accountId = admin.accountId, now?: Date) => {
  await fanOutEvents(t.db.knex, accountId, { ...deps, now: now ? () => now : undefined });
  await drainDeliveries(t.db.knex, accountId, channels.senders);
};
const rows = (accountId: number, table: string, where: Record<string, unknown> = {}) =>
  withAccount(t.db.knex, accountId, { readOnly: true }, (trx) => trx(table).where({ account_id: accountId, ...where }).select());
/** The deliveries of `event` raised about one resource. */
async function deliveriesFor(event: string, resourceId: string) {
  const ids = (await rows(admin.accountId, 'notification_events', { event, resource_id: resourceId })).map((e) => String(e.id));
  return ((await rows(admin.accountId, 'notification_deliveries', { event })) as Array<Record<string, string | number | boolean | null>>).filter((d) => ids.includes(String(d.event_id)));
}
const deliveriesOf = async (event: string) => (await rows(admin.accountId, 'notification_deliveries', { event })) as Array<Record<string, string | number | boolean | null>>;

beforeAll(async () => {
  ({ t, chatwoot } = world);
  admin = await signInAgent(t, chatwoot, 1, 'administrator', 'Ada Admin');
  asAdmin = apiAs(t, admin.token);
  expect((await asAdmin.patch('/admin/capabilities', { profile: 'construction' })).status).toBe(200);
  agent = await signInAgent(t, chatwoot, 1, 'agent', 'Alan Agent');
  dispatcher = await signInDispatcher(t, chatwoot, 1, admin);
  asAgent = apiAs(t, agent.token);
  asDispatcher = apiAs(t, dispatcher.token);
  await withAccount(t.db.knex, admin.accountId, { readOnly: false }, async (trx) => {
    await trx('chatwoot_contacts').insert([
      { account_id: admin.accountId, chatwoot_contact_id: clientContactId, name: 'Carla Client', email: 'carla@example.com', phone_e164: '+15550007001' },
      { account_id: admin.accountId, chatwoot_contact_id: vendorContactId, name: 'Sam Vendor', email: 'sam@vendor.example', phone_e164: '+15550007002' },
    ]);
    await trx('chatwoot_conversations').insert({ account_id: admin.accountId, chatwoot_conversation_id: 501, chatwoot_contact_id: clientContactId, status: 'open', last_activity_at: new Date() });
  });
  const vendor = await asDispatcher.post('/vendors', { name: 'Sam Plumbing', categories: ['plumbing'], chatwoot_contact_id: vendorContactId });
  expect(vendor.status, JSON.stringify(vendor.body)).toBe(201);
  vendorId = vendor.body.data.id;
  const insured = await asDispatcher.post(`/vendors/${vendorId}/documents`, { kind: 'insurance', expires_on: new Date(Date.now() + 365 * 86400_000).toISOString().slice(0, 10) });
  expect(insured.status, JSON.stringify(insured.body)).toBe(201);
  // Customer updates are opt-in per account and event: switch them all on for these tests.
  const customer = eventNames.filter((e) => catalogue[e].audience === 'client');
  expect((await asAdmin.put('/admin/notifications/settings', { customer_events: customer, time_zone: 'Europe/Berlin' })).status).toBe(200);
});

beforeEach(async () => {
  channels = recordingSenders();
  await run(); // settle whatever earlier tests left
  channels = recordingSenders();
});

async function newJob(fields: Record<string, unknown> = {}) {
  const res = await asAgent.post('/jobs', { summary: 'Leaking tap', priority: 'normal', chatwoot_contact_id: clientContactId, ...fields });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.data as { id: string; version: number; number: number };
}

describe('raising events', () => {
  it('raises events in the transaction of the change, and none for a change that rolled back', async () => {
    const before = (await rows(admin.accountId, 'notification_events')).length;
    const job = await newJob();
    const raised = (await rows(admin.accountId, 'notification_events', { resource_id: job.id })).map((e) => e.event).sort();
    expect(raised).toEqual(['client.request_received', 'staff.job_created']);
    // A stale version is refused: the update rolls back, and with it any event it would raise.
    expect((await asDispatcher.patch(`/jobs/${job.id}`, { owner_id: agent.userId, version: job.version + 5 })).status).toBe(409);
    expect((await rows(admin.accountId, 'notification_events')).length).toBe(before + 2);
  });

  it('fans an event out once, however often it is fanned out or raised again', async () => {
    const job = await newJob();
    await asDispatcher.patch(`/jobs/${job.id}`, { owner_id: agent.userId, version: job.version });
    await run();
    const [event] = await rows(admin.accountId, 'notification_events', { resource_id: job.id, event: 'staff.job_assigned_to_me' });
    // Replaying the event (same key) and re-running the fan-out on it change nothing.
    await withAccount(t.db.knex, admin.accountId, { readOnly: false }, async (trx) => {
      await trx('notification_events').insert({ ...event, id: undefined, fanned_out_at: null }).onConflict(['account_id', 'dedupe_key']).ignore();
      await trx('notification_events').where({ account_id: admin.accountId, id: event.id }).update({ fanned_out_at: null });
    });
    await run();
    await run();
    const notes = await rows(admin.accountId, 'notifications', { event_id: event.id });
    expect(notes.map((n) => n.recipient_id)).toEqual([agent.userId]);
    const emails = (await deliveriesOf('staff.job_assigned_to_me')).filter((d) => d.event_id === event.id);
    expect(emails.map((d) => [d.channel, d.status, d.address])).toEqual([['email', 'sent', `agent${agent.agentId}@example.com`]]);
    expect(channels.sent.filter((d) => d.event === 'staff.job_assigned_to_me' && d.recipient.id === agent.userId)).toHaveLength(1);
  });
});

describe('the bell', () => {
  it('lists my notifications, counts unread, marks one and all read, and shows nobody else mine', async () => {
    const job = await newJob();
    await asDispatcher.patch(`/jobs/${job.id}`, { owner_id: agent.userId, version: job.version });
    await run();
    const list = await asAgent.get('/notifications');
    expect(list.status).toBe(200);
    const mine = list.body.data.find((n: { resource_id: string; event: string }) => n.resource_id === job.id && n.event === 'staff.job_assigned_to_me');
    expect(mine).toMatchObject({ title: `Job J-${job.number} is yours`, resource_type: 'job', read_at: null });
    const unread = list.body.meta.unread;
    expect((await asAgent.get('/notifications/unread-count')).body.data.unread).toBe(unread);
    const marked = await asAgent.post(`/notifications/${mine.id}/read`);
    expect(marked.body.data.unread).toBe(unread - 1);
    // Someone else's notification is not found for me.
    expect((await asDispatcher.post(`/notifications/${mine.id}/read`)).status).toBe(404);
    expect((await asAgent.post('/notifications/read-all')).body.data.unread).toBe(0);
    expect((await asAgent.get('/notifications', { unread: 'true' })).body.data).toEqual([]);
    // The dispatcher heard of the new job; the agent who created it did not.
    const dispatcherList = (await asDispatcher.get('/notifications')).body.data;
    expect(dispatcherList.some((n: { event: string; resource_id: string }) => n.event === 'staff.job_created' && n.resource_id === job.id)).toBe(true);
    expect((await asAgent.get('/notifications')).body.data.some((n: { event: string; resource_id: string }) => n.event === 'staff.job_created' && n.resource_id === job.id)).toBe(false);
  });
});

describe('preferences and quiet hours', () => {
  it('quiet hours run over midnight in the person’s time zone', () => {
    const at = (iso: string) => new Date(iso);
    const quiet = { quiet_start: '22:00', quiet_end: '07:00' };
    expect(quietDelaySeconds(at('2026-12-01T21:30:00Z'), quiet, 'Europe/Berlin')).toBe(8.5 * 3600); // 22:30 local → 07:00
    expect(quietDelaySeconds(at('2026-12-01T12:00:00Z'), quiet, 'Europe/Berlin')).toBe(0);
    expect(quietDelaySeconds(at('2026-12-01T05:59:00Z'), quiet, 'Europe/Berlin')).toBe(60); // 06:59 local
    expect(quietDelaySeconds(at('2026-12-01T12:00:00Z'), { quiet_start: '09:00', quiet_end: '17:00' }, 'America/New_York')).toBe(0); // 07:00 local
  });

  it('a switched-off channel sends nothing; quiet hours hold e-mail back; an urgent event breaks through', async () => {
    const put = await asAgent.put('/notifications/preferences', {
      channels: { 'staff.job_assigned_to_me': { email: false } },
      quiet_start: '22:00',
      quiet_end: '07:00',
      time_zone: 'Europe/Berlin',
    });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    expect(put.body.data.events.find((e: { event: string }) => e.event === 'staff.job_assigned_to_me').channels).toEqual({ in_app: true, email: false });
    const job = await newJob();
    await asDispatcher.patch(`/jobs/${job.id}`, { owner_id: agent.userId, version: job.version });
    await run();
    const ownEvent = (await deliveriesOf('staff.job_assigned_to_me')).filter((d) => d.recipient_id === agent.userId);
    expect(ownEvent.every((d) => channels.sent.every((s) => s.id !== d.id))).toBe(true);
    expect((await asAgent.get('/notifications')).body.data[0].event).toBe('staff.job_assigned_to_me'); // in-app still on

    // At 23:30 in Berlin the SLA breach is urgent (sent now), a task overdue e-mail waits until 07:00.
    await asAgent.put('/notifications/preferences', { channels: { 'staff.job_assigned_to_me': { email: true } } });
    const night = new Date('2026-12-01T22:30:00Z');
    const jobTwo = await newJob();
    await asDispatcher.patch(`/jobs/${jobTwo.id}`, { owner_id: agent.userId, version: jobTwo.version });
    await fanOutEvents(t.db.knex, admin.accountId, { ...deps, now: () => night });
    const held = (await deliveriesOf('staff.job_assigned_to_me')).find((d) => d.recipient_id === agent.userId && d.status === 'pending');
    // 23:30 in Berlin: held back seven and a half hours, to 07:00 there.
    const wait = (new Date(held!.next_attempt_at as unknown as string).getTime() - new Date(held!.created_at as unknown as string).getTime()) / 1000;
    expect(Math.abs(wait - 7.5 * 3600)).toBeLessThan(5);
    await asAgent.put('/notifications/preferences', { quiet_start: null, quiet_end: null });
  });

  it('refuses unknown events, channels, bad times and zones with field errors', async () => {
    const bad = await asAgent.put('/notifications/preferences', { channels: { 'vendor.job_assigned': { push: true }, 'staff.task_overdue': { sms: true } } });
    expect(bad.status).toBe(422);
    expect(bad.body.error.details.fields.map((f: { path: string }) => f.path).sort()).toEqual(['body.channels.staff.task_overdue.sms', 'body.channels.vendor.job_assigned']);
    expect((await asAgent.put('/notifications/preferences', { quiet_start: '25:00', quiet_end: '07:00' })).status).toBe(422);
    expect((await asAgent.put('/notifications/preferences', { quiet_start: '22:00' })).status).toBe(422);
    expect((await asAgent.put('/notifications/preferences', { time_zone: 'Mars/Olympus' })).status).toBe(422);
  });
});

describe('channel chains', () => {
  it('a client update goes out on the client’s conversation; when Chatwoot refuses, SMS takes over', async () => {
    channels.answers.set('chatwoot', { outcome: 'failed', reason: 'WhatsApp needs an approved template outside the 24-hour window' });
    const job = await newJob();
    await run();
    await run();
    const byChannel = Object.fromEntries((await deliveriesFor('client.request_received', job.id)).map((d) => [d.channel, [d.status, d.address]]));
    expect(byChannel.chatwoot).toEqual(['failed', '501']);
    expect(byChannel.sms).toEqual(['sent', '+15550007001']);
    expect(byChannel.email).toEqual(['held', 'carla@example.com']); // not needed: SMS reached her
    const text = channels.sent.find((s) => s.channel === 'sms' && s.message.customerText?.includes(`J-${job.number}`));
    expect(text?.message.customerText).toBe(`Hi Carla, we received your request (J-${job.number}). We will let you know when a visit is scheduled. Follow it here: http://onelink.test/portal/client/jobs/${job.id}`);
  });

  it('a job given to a vendor goes by push, and by SMS ten minutes later unless read', async () => {
    const portal = await createVendorPortalSession(t, admin.accountId, vendorId);
    const job = await newJob({ service_category: 'plumbing' });
    const assigned = await asDispatcher.post(`/jobs/${job.id}/assignment`, { vendor_id: vendorId });
    expect(assigned.status, JSON.stringify(assigned.body)).toBe(200);
    await run();
    const offer = (await deliveriesOf('vendor.job_assigned')).filter((d) => d.recipient_id === vendorId);
    const push = offer.find((d) => d.channel === 'push')!;
    const sms = offer.find((d) => d.channel === 'sms')!;
    expect(push.status).toBe('sent');
    expect([sms.status, sms.unless_read]).toEqual(['pending', true]);
    expect(new Date(sms.next_attempt_at as unknown as string).getTime() - new Date(push.created_at as unknown as string).getTime()).toBeGreaterThan(9 * 60_000);
    // The vendor reads it in the portal; when the escalation comes due it is skipped.
    const inbox = await apiAs(t, portal.token).get('/notifications');
    const note = inbox.body.data.find((n: { event: string; resource_id: string }) => n.event === 'vendor.job_assigned' && n.resource_id === job.id);
    expect((await apiAs(t, portal.token).post(`/notifications/${note.id}/read`)).status).toBe(200);
    await withAccount(t.db.knex, admin.accountId, { readOnly: false }, (trx) => trx('notification_deliveries').where({ account_id: admin.accountId, id: sms.id }).update({ next_attempt_at: new Date(Date.now() - 1000) }));
    await run();
    const after = (await rows(admin.accountId, 'notification_deliveries', { id: sms.id }))[0]!;
    expect([after.status, after.reason]).toEqual(['skipped', 'read in the app before the escalation was due']);
  });

  it('retries a transient failure with backoff, gives up after six attempts with the reason, and never retries an opt-out', async () => {
    channels.answers.set('email', { outcome: 'retry', reason: 'SMTP 451 try later' });
    const job = await newJob();
    await asDispatcher.patch(`/jobs/${job.id}`, { owner_id: agent.userId, version: job.version });
    await run();
    const id = (await deliveriesOf('staff.job_assigned_to_me')).find((d) => d.recipient_id === agent.userId && d.status === 'pending')!.id;
    const due = () => withAccount(t.db.knex, admin.accountId, { readOnly: false }, (trx) => trx('notification_deliveries').where({ account_id: admin.accountId, id }).update({ next_attempt_at: new Date(Date.now() - 1000) }));
    for (let i = 0; i < 5; i++) {
      await due();
      await run();
    }
    const [done] = await rows(admin.accountId, 'notification_deliveries', { id });
    expect([done!.status, done!.attempts, done!.reason]).toEqual(['failed', 6, 'gave up after 6 attempts: SMTP 451 try later']);

    // An SMS the carrier says was opted out (21610) is recorded; that number gets no more.
    channels.answers.set('chatwoot', { outcome: 'failed', reason: 'no window' });
    channels.answers.set('sms', { outcome: 'opted_out', reason: 'Twilio 21610: the recipient replied STOP' });
    await newJob();
    await run();
    await run();
    expect((await rows(admin.accountId, 'sms_opt_outs')).map((r) => r.phone_e164)).toContain('+15550007001');
    channels.answers.delete('sms');
    const sentBefore = channels.sent.length;
    await newJob();
    await run();
    await run();
    expect(channels.sent.slice(sentBefore).filter((s) => s.channel === 'sms')).toEqual([]);
    const last = (await deliveriesOf('client.request_received')).filter((d) => d.channel === 'sms').sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)))[0]!;
    expect(last.status).toBe('opted_out');
    await withAccount(t.db.knex, admin.accountId, { readOnly: false }, (trx) => trx('sms_opt_outs').where({ account_id: admin.accountId }).delete());
  });
});

describe('every event reaches its recipients on the channels that are on', () => {
  it('raises and delivers each event of the catalogue', async () => {
    // Everything on for everyone, so each event shows every channel of its audience.
    const all = Object.fromEntries(eventNames.map((e) => [e, { email: true, sms: true, push: true, chatwoot: true, in_app: true }]));
    expect((await asAdmin.put('/admin/notifications/settings', { defaults: all })).status).toBe(200);
    const portal = await createVendorPortalSession(t, admin.accountId, vendorId);
    const client = await createClientPortalSession(t, admin, clientContactId);
    void client;
    // Only what this test raises counts (earlier tests left their own deliveries behind).
    const firstEvent = Math.max(0, ...(await rows(admin.accountId, 'notification_events')).map((e) => Number(e.id)));

    const job = await newJob({ service_category: 'plumbing' }); // staff.job_created, client.request_received
    let version = job.version;
    const patch = async (body: Record<string, unknown>) => {
      const res = await asDispatcher.patch(`/jobs/${job.id}`, { ...body, version });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      version = res.body.data.version;
    };
    await patch({ owner_id: agent.userId }); // staff.job_assigned_to_me
    expect((await asDispatcher.post(`/jobs/${job.id}/assignment`, { vendor_id: vendorId })).status).toBe(200); // vendor.job_assigned
    version = (await asDispatcher.get(`/jobs/${job.id}`)).body.data.version;
    await patch({ window_starts_at: '2026-12-03T08:00:00Z', window_ends_at: '2026-12-03T10:00:00Z' }); // vendor.job_changed, client.visit_scheduled
    expect((await asDispatcher.post(`/jobs/${job.id}/en-route`, { eta: '2026-12-03T09:15:00Z' })).status).toBe(200); // staff.vendor_progress, client.technician_on_the_way
    const photo = await asDispatcher.post(`/jobs/${job.id}/artifacts`).query({ visibility: 'client_visible' }).attach('file', Buffer.from('%PDF-1.4\n%âãÏÓ\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n'), { filename: 'quote.pdf', contentType: 'application/pdf' });
    expect(photo.status, JSON.stringify(photo.body)).toBe(201); // client.document_shared
    expect((await asDispatcher.post(`/jobs/${job.id}/status`, { status: 'in_progress' })).status).toBe(200);
    expect((await asDispatcher.post(`/jobs/${job.id}/status`, { status: 'completed' })).status).toBe(200); // client.job_completed
    // Offers: offered to the vendor (vendor.job_offered), who declines (staff.offer_answered: no owner, so the dispatchers).
    const offered = await newJob({ service_category: 'plumbing' });
    const offer = await asDispatcher.post(`/jobs/${offered.id}/offers`, { vendor_id: vendorId });
    expect(offer.status, JSON.stringify(offer.body)).toBe(201);
    const offerAnswer = await apiAs(t, portal.token).post(`/offers/${offer.body.data.id}/decline`, { reason: 'No crew free' });
    expect(offerAnswer.status, JSON.stringify(offerAnswer.body)).toBe(200);
    const other = await newJob({ service_category: 'plumbing' });
    expect((await asDispatcher.post(`/jobs/${other.id}/assignment`, { vendor_id: vendorId })).status).toBe(200);
    const technician = await createVendorPortalSession(t, admin.accountId, vendorId, 'technician');
    expect((await asDispatcher.put(`/jobs/${other.id}/technician`, { technician_id: technician.portalUserId })).status).toBe(200); // vendor.job_given_to_technician
    expect((await asDispatcher.put(`/jobs/${other.id}/technician`, { technician_id: null })).status).toBe(200); // vendor.job_taken_from_technician
    const note = { id: randomUUID(), job_id: other.id, kind: 'note', happened_at: new Date().toISOString(), offline: false, text: 'The ladder is too short' };
    const noted = await apiAs(t, portal.token).post('/portal/vendor/actions', note);
    expect(noted.status, JSON.stringify(noted.body)).toBe(201); // staff.vendor_note
    expect((await asDispatcher.post(`/jobs/${other.id}/status`, { status: 'canceled', reason: 'Client fixed it' })).status).toBe(200); // vendor.job_withdrawn

    // Sweeps: SLA, tasks, documents, the digest.
    const late = await newJob({ sla_due_at: new Date(Date.now() - 60_000).toISOString() });
    void late;
    await emitSlaEvents(t.db.knex); // staff.sla_breached
    const soon = await newJob({ sla_due_at: new Date(Date.now() + 5 * 60_000).toISOString() });
    void soon;
    await emitSlaEvents(t.db.knex); // staff.sla_approaching
    expect((await asAgent.post('/tasks', { title: 'Call Carla back', due_at: new Date(Date.now() - 60_000).toISOString(), assignee_id: agent.userId })).status).toBe(201);
    expect((await asAgent.post('/tasks', { title: 'Send the quote', due_at: new Date(Date.now() + 30 * 60_000).toISOString(), assignee_id: agent.userId })).status).toBe(201);
    await emitTaskReminders(t.db.knex); // staff.task_overdue, staff.task_due_soon
    // A licence: the vendor's insurance runs a year, and a longer-running document of the same kind stands for a renewal.
    const doc = await asDispatcher.post(`/vendors/${vendorId}/documents`, { kind: 'licence', expires_on: new Date(Date.now() + 5 * 86400_000).toISOString().slice(0, 10) });
    expect(doc.status, JSON.stringify(doc.body)).toBe(201);
    await raiseDocumentAlerts(t.db.knex); // staff.vendor_document_expiring, vendor.document_expiring
    // A document sent from the portal (staff.vendor_document_submitted), then approved (vendor.document_reviewed).
    const sent = await request(t.app).post('/api/v1/portal/vendor/documents').set('Authorization', `Bearer ${portal.token}`).field('kind', 'permit').field('expires_on', '2031-01-01').attach('file', Buffer.from('%PDF-1.4\n%%EOF\n'), 'permit.pdf');
    expect(sent.status, JSON.stringify(sent.body)).toBe(201);
    expect((await asDispatcher.post(`/vendors/${vendorId}/documents/${sent.body.data.id}/review`, { decision: 'approve' })).status).toBe(200);
    await raiseDigests(t.db.knex, new Date(new Date().toISOString().slice(0, 10) + 'T08:30:00Z')); // staff.daily_digest (Berlin 09:30)
    // A missed call with a call-back task: raised by the calls workflow's follow-up (audit call.followed_up).
    await withAccount(t.db.knex, admin.accountId, { readOnly: false }, async (trx) => {
      const [task] = await trx('tasks').insert({ account_id: admin.accountId, title: 'Call back', assignee_id: agent.userId, created_by_type: 'system', created_by_id: 'test' }).returning('id');
      const [call] = await trx('calls').insert({ account_id: admin.accountId, call_sid: `CA${'1'.repeat(32)}`, from_e164: '+15550009999', status: 'missed', callback_task_id: task.id }).returning('id');
      const { raiseNotificationEvents } = await import('../../extension/notifications/raise.ts');
      await raiseNotificationEvents(trx, admin.accountId, { type: 'system', id: 'twilio-calls' }, [{ action: 'call.followed_up', resourceType: 'call', resourceId: call.id, after: { callback_task_id: task.id } }]);
    });

    await run();
    await run();
    const mine = <T extends { event_id: string }>(list: T[]) => list.filter((r) => Number(r.event_id) > firstEvent);
    const deliveries = mine((await rows(admin.accountId, 'notification_deliveries')) as Array<{ event: string; channel: string; status: string; event_id: string }>);
    const notifications = mine((await rows(admin.accountId, 'notifications')) as Array<{ event: string; event_id: string }>);
    const reached = (event: string) => ({
      in_app: notifications.some((n) => n.event === event),
      channels: [...new Set(deliveries.filter((d) => d.event === event && (d.status === 'sent' || d.status === 'delivered')).map((d) => d.channel))].sort(),
    });
    const expected: Record<string, string[]> = {
      staff: ['email'],
      vendor: ['email', 'push'], // SMS stands by behind push (or waits as the escalation)
      client: ['chatwoot', 'push'], // SMS and e-mail stand by behind the conversation
    };
    for (const event of eventNames) {
      const audience = catalogue[event].audience;
      expect({ event, ...reached(event) }).toEqual({ event, in_app: true, channels: expected[audience] });
    }
  });
});

describe('templates and the delivery log', () => {
  it('saves, previews and resets a customer text; unknown variables are refused', async () => {
    const bad = await asAdmin.put('/admin/notifications/templates/client.job_completed', { body: 'Done {job_ref}!' });
    expect(bad.status).toBe(422);
    expect(bad.body.error.details.fields[0]).toMatchObject({ path: 'body.body', code: 'unknown_variable' });
    const saved = await asAdmin.put('/admin/notifications/templates/client.job_completed', { body: 'All done on {job_reference}, {customer_name}. Arrival was {eta}.' });
    expect(saved.status).toBe(200);
    expect(saved.body.data.preview).toBe('All done on J-1042, Alex. Arrival was 10:15.');
    const listed = (await asAdmin.get('/admin/notifications/templates')).body.data.items.find((i: { event: string }) => i.event === 'client.job_completed');
    expect(listed).toMatchObject({ custom: true, enabled: true });
    expect((await asAdmin.post('/admin/notifications/templates/client.job_completed/preview', { body: 'Hi {customer_name}' })).body.data.preview).toBe('Hi Alex');
    expect((await asAdmin.delete('/admin/notifications/templates/client.job_completed')).body.data.custom).toBe(false);
    expect((await asAdmin.put('/admin/notifications/templates/staff.job_created', { body: 'x' })).status).toBe(404);
    expect((await asAgent.get('/admin/notifications/templates')).status).toBe(403);
    // A sentence whose variable has no value is left out rather than sent with a hole.
    expect(fillTemplate('On the way. Expected arrival: {eta}.', {})).toBe('On the way.');
  });

  it('filters the log and resends one delivery as a new row naming the original', async () => {
    const job = await newJob();
    await asDispatcher.patch(`/jobs/${job.id}`, { owner_id: agent.userId, version: job.version });
    await run();
    const log = await asAdmin.get('/admin/notifications/deliveries', { channel: 'email', event: 'staff.job_assigned_to_me', recipient: 'Alan' });
    expect(log.status).toBe(200);
    expect(log.body.data.length).toBeGreaterThan(0);
    expect(log.body.data.every((d: { channel: string; recipient_name: string }) => d.channel === 'email' && d.recipient_name === 'Alan Agent')).toBe(true);
    const original = log.body.data[0];
    const resent = await asAdmin.post(`/admin/notifications/deliveries/${original.id}/resend`);
    expect(resent.status).toBe(201);
    expect(resent.body.data).toMatchObject({ resend_of: original.id, status: 'pending', channel: 'email' });
    await run();
    expect(channels.sent.filter((s) => s.id === resent.body.data.id)).toHaveLength(1);
    expect((await asAdmin.get('/admin/notifications/deliveries', { status: 'bogus' })).status).toBe(422);
  });

  it('keeps each account to its own notifications and settings', async () => {
    const other = await signInAgent(t, chatwoot, 2, 'administrator', 'Other Admin');
    const asOther = apiAs(t, other.token);
    expect((await asOther.get('/admin/notifications/deliveries')).body.data).toEqual([]);
    expect((await asOther.get('/notifications')).body.data).toEqual([]);
    expect((await asOther.get('/admin/notifications/settings')).body.data.customer_events).toEqual([]);
  });
});

describe('the daily digest and document alerts', () => {
  it('counts what waits, in each person’s morning, once a day', async () => {
    await asDispatcher.put('/notifications/preferences', { time_zone: 'America/New_York' });
    const dayStart = new Date(Date.now() + 30 * 86400_000); // a day no other test raised a digest for
    dayStart.setUTCHours(0, 0, 0, 0);
    const at = (hoursUtc: number) => new Date(dayStart.getTime() + hoursUtc * 3600_000);
    const digestsFor = async (userId: string) => (await rows(admin.accountId, 'notification_events', { event: 'staff.daily_digest', resource_id: userId })).length;
    const before = await digestsFor(dispatcher.userId);
    // 12:00 UTC is 07:00 in New York: too early for the dispatcher (digest hour 8).
    await raiseDigests(t.db.knex, at(12));
    expect(await digestsFor(dispatcher.userId)).toBe(before);
    // 13:30 UTC is 08:30 there: raised, and a second run the same morning raises nothing new.
    await raiseDigests(t.db.knex, at(13.5));
    await raiseDigests(t.db.knex, at(14));
    expect(await digestsFor(dispatcher.userId)).toBe(before + 1);
    // The agent (no dispatcher role) gets none.
    expect(await digestsFor(agent.userId)).toBe(0);

    await run(admin.accountId, at(13.5));
    const mail = channels.sent.find((s) => s.event === 'staff.daily_digest' && s.recipient.id === dispatcher.userId)!;
    expect(mail.message.title).toBe('Your morning summary for Account 1');
    const figures = await withAccount(t.db.knex, admin.accountId, { readOnly: true }, async (trx) => ({
      missed: Number((await trx.raw(`select count(*) as n from calls c join tasks t on t.account_id = c.account_id and t.id = c.callback_task_id where c.account_id = ? and t.deleted_at is null and t.status in ('open', 'in_progress')`, [admin.accountId])).rows[0].n),
      breached: Number((await trx('jobs').where({ account_id: admin.accountId }).whereNotIn('status', ['completed', 'canceled']).where('sla_due_at', '<', at(13.5)).count({ n: '*' }))[0]!.n),
    }));
    expect(mail.message.body).toContain(`${figures.missed} missed call${figures.missed === 1 ? '' : 's'} still waiting for a call back`);
    expect(mail.message.body).toContain(`${figures.breached} open job${figures.breached === 1 ? '' : 's'} past their SLA`);
    await asDispatcher.put('/notifications/preferences', { time_zone: null, digest: false });
    await raiseDigests(t.db.knex, new Date(at(13.5).getTime() + 86400_000));
    expect(await digestsFor(dispatcher.userId)).toBe(before + 1); // switched off: none the next day
    await asDispatcher.put('/notifications/preferences', { digest: true });
  });

  it('alerts once per threshold as a document nears and passes its expiry', async () => {
    const doc = (await asDispatcher.post(`/vendors/${vendorId}/documents`, { kind: 'licence', expires_on: '2027-03-01' })).body.data;
    const alerts = async () => (await rows(admin.accountId, 'vendor_document_alerts', { document_id: doc.id })).map((a) => a.threshold).sort();
    await raiseDocumentAlerts(t.db.knex, new Date('2027-01-01T12:00:00Z'));
    expect(await alerts()).toEqual([]);
    await raiseDocumentAlerts(t.db.knex, new Date('2027-02-10T12:00:00Z'));
    await raiseDocumentAlerts(t.db.knex, new Date('2027-02-11T12:00:00Z'));
    expect(await alerts()).toEqual(['30_days']);
    await raiseDocumentAlerts(t.db.knex, new Date('2027-02-25T12:00:00Z'));
    await raiseDocumentAlerts(t.db.knex, new Date('2027-03-02T12:00:00Z'));
    expect(await alerts()).toEqual(['30_days', '7_days', 'expired']);
    const audited = await rows(admin.accountId, 'audit_events', { resource_id: doc.id });
    expect(audited.map((a) => a.action).sort()).toEqual(['vendor.document_expired', 'vendor.document_expiring', 'vendor.document_expiring']);
  });
});

describe('who hears what, at the edges', () => {
  it('a client update never goes to a conversation linked to the job that is not the client’s', async () => {
    await withAccount(t.db.knex, admin.accountId, { readOnly: false }, (trx) =>
      trx('chatwoot_conversations').insert({ account_id: admin.accountId, chatwoot_conversation_id: 777, chatwoot_contact_id: vendorContactId, status: 'open', last_activity_at: new Date(Date.now() + 60_000) }),
    );
    const job = await newJob({ conversation_ids: [777] });
    await run();
    const chatwoot = (await deliveriesFor('client.request_received', job.id)).find((d) => d.channel === 'chatwoot')!;
    expect(chatwoot.address).toBe('501'); // the client's own open conversation, not the vendor's thread linked to the job
  });

  it('taking a job back to triage tells the vendor that held it', async () => {
    const job = await newJob({ service_category: 'plumbing' });
    expect((await asDispatcher.post(`/jobs/${job.id}/assignment`, { vendor_id: vendorId })).status).toBe(200);
    expect((await asDispatcher.post(`/jobs/${job.id}/status`, { status: 'triaged', reason: 'Wrong trade' })).status).toBe(200);
    await run();
    const withdrawn = await deliveriesFor('vendor.job_withdrawn', job.id);
    expect(withdrawn.map((d) => d.recipient_id)).toContain(vendorId);
  });

  it('news of a job whose owner has left goes to the dispatchers', async () => {
    const leaver = await signInAgent(t, chatwoot, 1, 'agent', 'Lee Leaver');
    const job = await newJob({ owner_id: leaver.userId, sla_due_at: new Date(Date.now() - 60_000).toISOString() });
    await withAccount(t.db.knex, admin.accountId, { readOnly: false }, (trx) => trx('users').where({ account_id: admin.accountId, id: leaver.userId }).update({ active: false }));
    await emitSlaEvents(t.db.knex);
    await run();
    const told = (await rows(admin.accountId, 'notifications', { event: 'staff.sla_breached', resource_id: job.id })).map((n) => n.recipient_id);
    expect(told).toEqual(expect.arrayContaining([admin.userId, dispatcher.userId]));
    expect(told).not.toContain(leaver.userId);
  });

  it('a job an automation rule creates is news like any other', async () => {
    const pipeline = (await asAdmin.get('/pipelines')).body.data[0];
    const rule = await asAdmin.post('/automation-rules', { name: 'Won → job', pipeline_id: pipeline.id, trigger: 'deal_entered_stage', stage_id: pipeline.stages[1].id, action: 'create_job', config: { summary: 'Job for {deal_title}' } });
    expect(rule.status, JSON.stringify(rule.body)).toBe(201);
    const deal = (await asAgent.post('/deals', { title: 'Roof for Carla', pipeline_id: pipeline.id, chatwoot_contact_id: clientContactId })).body.data;
    const moved = await asAgent.post(`/deals/${deal.id}/move`, { stage_id: pipeline.stages[1].id, version: deal.version });
    expect(moved.status, JSON.stringify(moved.body)).toBe(200);
    const created = (await rows(admin.accountId, 'notification_events', { event: 'staff.job_created' })).filter((e) => e.actor_id === `automation:${rule.body.data.id}`);
    expect(created).toHaveLength(1);
  });
});
