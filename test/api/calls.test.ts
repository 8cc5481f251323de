import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drainOutbox } from '../../extension/chatwoot/outbox.ts';
import { withAccountForTests as withAccount } from '../../extension/db/tenant.ts';
import { factsFrom, statusOf, type CallbackEvent, type CallRow } from '../../extension/modules/calls/outcome.ts';
import { isPermanentFailure, permanentFailure } from '../../webhooks/permanent-failure.ts';
import { settleCall, type CallsDeps } from '../../extension/modules/calls/workflow.ts';
import { processTwilioDelivery } from '../../webhooks/twilio/process.ts';
import type { FakeChatwoot, FakeConversation } from '../fakes/chatwoot.ts';
import { newCallSid, newRecordingSid, recordingUrl, sendTwilioCallback, startFakeTwilio, type FakeTwilio } from '../fakes/twilio.ts';
import { announcementsDuring } from '../helpers/announcements.ts';
import { apiAs } from '../helpers/api.ts';
import type { TestApp } from '../helpers/app.ts';
import { signInAgent, type SignedIn } from '../helpers/identity.ts';
import { useWorld } from '../helpers/world.ts';

const world = useWorld([1]);
let t: TestApp;
let chatwoot: FakeChatwoot;
let twilioFake: FakeTwilio;
let admin: SignedIn;
let api: ReturnType<typeof apiAs>;
let base: string; // /webhooks/twilio/<account>/<token>
const inboxId = 5;
const ourNumber = '+14155550199';

beforeAll(async () => {
  ({ t, chatwoot } = world);
  twilioFake = await startFakeTwilio();
  t.config.ONELINK_TWILIO_API_URL = twilioFake.url;
  admin = await signInAgent(t, chatwoot, 1, 'administrator');
  api = apiAs(t, admin.token);
  expect((await api.patch('/admin/capabilities', { profile: 'construction' })).status).toBe(200);
  const settings = await api.put('/twilio/settings', {
    account_sid: twilioFake.accountSid,
    auth_token: twilioFake.authToken,
    forward_to: ['+1 415 555 0100'],
    chatwoot_inbox_id: inboxId,
    create_job_on: 'missed_or_voicemail',
    callback_due_minutes: 30,
  });
  expect(settings.status, JSON.stringify(settings.body)).toBe(200);
  expect(settings.body.data).toMatchObject({ forward_to: ['+14155550100'], auth_token_set: true });
  expect(settings.body.data.auth_token_sealed).toBeUndefined();
  base = new URL(settings.body.data.webhook_urls.voice).pathname.replace(/\/voice$/, '');
  expect((await api.post('/twilio/numbers', { e164: ourNumber, label: 'Main line', location: 'Downtown' })).status).toBe(201);
});
afterAll(() => twilioFake.close());

const send = (event: string, fields: Record<string, string>, options: { signature?: string; path?: string } = {}) =>
  sendTwilioCallback(t.app, t.config.PUBLIC_URL, options.path ?? `${base}/${event}`, fields, twilioFake.authToken, options);

const deps = (): CallsDeps => ({ db: t.db.knex, sealer: t.services.sealer, urlSigner: t.services.urlSigner, chatwootTimeoutMs: 1000, publicUrl: t.config.PUBLIC_URL });
/** Processes every stored Twilio callback the way the queue would (oldest first). */
async function processPending() {
  for (;;) {
    const ids: string[] = await t.db.knex('webhook_deliveries').where({ source: 'twilio' }).whereIn('status', ['received', 'retrying']).orderBy('received_at').pluck('id');
    if (!ids.length) return;
    for (const id of ids) await processTwilioDelivery(deps(), id);
  }
}
/** The queued settling check of a call, run as if its grace period had passed. */
const settleLater = (callId: string) => settleCall(deps(), admin.accountId, callId, new Date(Date.now() + 60_000));
const drain = () => drainOutbox(t.db.knex, t.services.sealer, admin.accountId, 1000);
const callBySid = (sid: string) => withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) => trx('calls').where({ call_sid: sid }).first());
const conversationOf = (call: { chatwoot_conversation_id: number }) => chatwoot.conversations.get(`1:${call.chatwoot_conversation_id}`) as FakeConversation;

function callFields(sid: string, from: string, extra: Record<string, string> = {}) {
  return { AccountSid: twilioFake.accountSid, CallSid: sid, From: from, To: ourNumber, Direction: 'inbound', CallStatus: 'ringing', ApiVersion: '2010-04-01', ...extra };
}

describe('Twilio signatures', () => {
  it('answers a signed call with TwiML and refuses unsigned, tampered and misaddressed requests, storing nothing', async () => {
    const stored = async () => Number((await t.db.knex('webhook_deliveries').where({ source: 'twilio' }).count<{ count: number }[]>('* as count'))[0]!.count);
    const before = await stored();
    const fields = callFields(newCallSid(), '+14155550111');
    expect((await send('voice', fields, { signature: '' })).status).toBe(403);
    expect((await send('voice', fields, { signature: 'bm90IGEgc2lnbmF0dXJl' })).status).toBe(403);
    // Signed over another address (say, the internal one behind a proxy): Twilio signs the public URL.
    const twilio = (await import('twilio')).default;
    const internal = twilio.getExpectedTwilioSignature(twilioFake.authToken, `http://127.0.0.1:4000${base}/voice`, fields);
    expect((await send('voice', fields, { signature: internal })).status).toBe(403);
    const edited = twilio.getExpectedTwilioSignature(twilioFake.authToken, `${t.config.PUBLIC_URL}${base}/voice`, { ...fields, From: '+19995550000' });
    expect((await send('voice', fields, { signature: edited })).status).toBe(403); // a field changed after signing
    const tampered = await sendTwilioCallback(t.app, t.config.PUBLIC_URL, `${base}/voice`, fields, 'not-the-auth-token-at-all');
    expect([tampered.status, tampered.body.error.code]).toEqual([403, 'invalid_signature']);
    const wrongToken = await send('voice', fields, { path: `${base.replace(/\/[^/]+$/, '/0123456789abcdef0123456789')}/voice` });
    expect(wrongToken.status).toBe(404);
    expect(await stored()).toBe(before);

    const ok = await send('voice', fields);
    expect(ok.status).toBe(200);
    expect(ok.headers['content-type']).toMatch(/text\/xml/);
    expect(ok.text).toContain('<Dial timeout="20" action="http://onelink.test' + base + '/dial" answerOnBridge="true"><Number>+14155550100</Number></Dial>');
  });
});

describe('a call’s callbacks, in any order, any number of times', () => {
  it('logs an answered call once, creating the unseen caller in Chatwoot and opening their conversation', async () => {
    const sid = newCallSid();
    const from = '+14155550123';
    const sequence: Array<[string, Record<string, string>]> = [
      ['voice', callFields(sid, from)],
      ['status', callFields(sid, from, { CallStatus: 'in-progress' })],
      ['dial', callFields(sid, from, { CallStatus: 'in-progress', DialCallStatus: 'completed', DialCallDuration: '94' })],
      ['status', callFields(sid, from, { CallStatus: 'completed', CallDuration: '95' })],
    ];
    // Every callback twice, the duplicates at the same time.
    for (const [event, fields] of sequence) {
      const answers = await Promise.all([send(event, fields), send(event, fields)]);
      expect(answers.map((a) => a.status).sort()).toEqual(event === 'voice' || event === 'dial' ? [200, 200] : [204, 204]);
    }
    expect(await t.db.knex('webhook_deliveries').where({ source: 'twilio' }).whereRaw('dedupe_key like ?', [`%:${sid}:%`]).count<{ count: number }[]>('* as count')).toEqual([{ count: 4 }]);
    await processPending();
    const call = await callBySid(sid);
    expect(call).toMatchObject({ status: 'completed', from_e164: from, to_e164: ourNumber, duration_seconds: 95, answered: true, callback_task_id: null, job_id: null });
    const contact = chatwoot.contacts.find((c) => c.phone_number === from)!;
    expect(contact).toMatchObject({ name: '+1 415 555 0123' });
    expect(call.chatwoot_contact_id).toBe(contact.id);
    const conversation = conversationOf(call);
    expect(conversation).toMatchObject({ contactId: contact.id, inboxId, status: 'open' });

    await drain();
    await processPending(); // nothing left; a second pass changes nothing
    await drain();
    expect(conversation.messages.map((m) => m.content)).toEqual([expect.stringMatching(/^Onelink · 📞 Call from \+1 415 555 0123 \(Downtown\): answered, 1 min 35 s · \d{4}-\d\d-\d\d \d\d:\d\d UTC$/)]);
    expect(conversation.messages[0]!.private).toBe(true);
  });

  it('turns a missed call into one call-back task and one job, even when callbacks come late, twice and out of order', async () => {
    const sid = newCallSid();
    const from = '+14155550124';
    const fields = (extra: Record<string, string>) => callFields(sid, from, extra);
    // The final status first, then an older "ringing", then the dial outcome.
    await send('status', fields({ CallStatus: 'completed', CallDuration: '21' }));
    await send('status', fields({ CallStatus: 'ringing' }));
    await processPending();
    // A completed call proves nothing more until our dial outcome comes; not regressed by the late "ringing".
    expect((await callBySid(sid)).status).toBe('unknown');
    await send('dial', fields({ CallStatus: 'in-progress', DialCallStatus: 'no-answer' }));
    await send('status', fields({ CallStatus: 'completed', CallDuration: '21' })); // Twilio retrying
    await processPending();
    // A voicemail could still come: nothing is opened or posted until the call is settled.
    expect(await callBySid(sid)).toMatchObject({ status: 'missed', callback_task_id: null, job_id: null, summary_noted_at: null });
    await settleLater((await callBySid(sid)).id);
    await settleLater((await callBySid(sid)).id); // a second check changes nothing
    const call = await callBySid(sid);
    expect(call.status).toBe('missed');
    const task = (await api.get(`/tasks/${call.callback_task_id}`)).body.data;
    expect(task).toMatchObject({ title: 'Call back +1 415 555 0124 (missed call)', priority: 'high', status: 'open', chatwoot_contact_id: call.chatwoot_contact_id, chatwoot_conversation_id: call.chatwoot_conversation_id, job_id: call.job_id });
    expect(new Date(task.due_at).getTime() - Date.now()).toBeGreaterThan(25 * 60_000);
    const job = (await api.get(`/jobs/${call.job_id}`)).body.data;
    expect(job).toMatchObject({ source: 'call', summary: 'Missed call from +1 415 555 0124', conversation_ids: [call.chatwoot_conversation_id] });
    // The job's story: opened, the call, then its conversation (linked through the jobs module).
    expect(job.events.map((e: { kind: string }) => e.kind)).toEqual(['created', 'call_linked', 'linked']);
    expect(job.events[2].data).toEqual({ chatwoot_conversation_id: call.chatwoot_conversation_id });
    await drain();
    const conversation = conversationOf(call);
    expect(conversation.messages).toHaveLength(1);
    expect(conversation.messages[0]!.content).toMatch(new RegExp(`: missed · .* UTC → call-back task due \\d\\d:\\d\\d UTC, job ${job.reference} opened$`));
    expect(conversation.customAttributes).toMatchObject({ onelink_job: job.reference, onelink_job_status: 'new' });
    const tasks = (await api.get('/tasks', { contact_id: call.chatwoot_contact_id })).body.data;
    expect(tasks).toHaveLength(1);
  });

  it('takes a voicemail, then posts its recording and transcript as they arrive after the call ended, and plays the recording through Onelink', async () => {
    const sid = newCallSid();
    const recordingSid = newRecordingSid();
    const from = '+14155550125';
    const fields = (extra: Record<string, string>) => callFields(sid, from, extra);
    twilioFake.recordings.set(recordingSid, Buffer.from('ID3-fake-mp3-bytes'));

    await send('voice', fields({}));
    const afterDial = await send('dial', fields({ CallStatus: 'in-progress', DialCallStatus: 'no-answer' }));
    expect(afterDial.text).toMatch(/<Say>Sorry, no one can take your call right now\..*<\/Say><Record maxLength="120" playBeep="true" action="[^"]+\/voicemail" recordingStatusCallback="[^"]+\/recording" recordingStatusCallbackEvent="completed" transcribe="true" transcribeCallback="[^"]+\/transcription"\/><Hangup\/>/);
    expect((await send('voicemail', fields({ CallStatus: 'in-progress', RecordingSid: recordingSid, RecordingDuration: '23', RecordingUrl: recordingUrl(twilioFake, recordingSid) }))).text).toContain('<Hangup/>');
    await send('status', fields({ CallStatus: 'completed', CallDuration: '48' }));
    await processPending();
    await drain();
    let call = await callBySid(sid);
    expect(call.status).toBe('voicemail');
    const conversation = conversationOf(call);
    expect(conversation.messages.map((m) => m.content)).toEqual([expect.stringMatching(/: missed — voicemail left \(23 s\) · .* → call-back task due .*, job J-\d+ opened$/)]);

    // The recording is ready after the call ended, the transcript later still (and twice).
    await send('recording', fields({ CallStatus: 'completed', RecordingSid: recordingSid, RecordingStatus: 'completed', RecordingDuration: '23', RecordingSource: 'RecordVerb', RecordingUrl: recordingUrl(twilioFake, recordingSid) }));
    await processPending();
    const transcription = fields({ CallStatus: 'completed', RecordingSid: recordingSid, TranscriptionSid: `TR${'a'.repeat(32)}`, TranscriptionStatus: 'completed', TranscriptionText: 'Hi, the boiler is leaking again, please call me back.' });
    await send('transcription', transcription);
    await send('transcription', transcription);
    await processPending();
    await drain();
    expect(conversation.messages).toHaveLength(3);
    const recordingNote = conversation.messages[1]!.content;
    expect(recordingNote).toMatch(/^Onelink · 📞 Call from \+1 415 555 0125:\n\n🎙 Voicemail \(23 s\): http:\/\/onelink\.test\/api\/v1\/calls\/recording\?token=\S+ \(this link works for 7 days\)$/);
    expect(recordingNote).not.toContain(twilioFake.url);
    expect(conversation.messages[2]!.content).toContain('📝 Transcript: “Hi, the boiler is leaking again, please call me back.”');

    const link = new URL(recordingNote.match(/http:\/\/onelink\.test(\S+)/)![1]!, 'http://x');
    const { default: request } = await import('supertest');
    const audio = await request(t.app).get(`${link.pathname}${link.search}`).buffer(true).parse((res, done) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done(null, Buffer.concat(chunks)));
    });
    expect([audio.status, audio.headers['content-type'], (audio.body as Buffer).toString()]).toEqual([200, 'audio/mpeg', 'ID3-fake-mp3-bytes']);
    const detail = (await api.get(`/calls/${call.id}`)).body.data;
    expect(detail).toMatchObject({ status: 'voicemail', transcript: 'Hi, the boiler is leaking again, please call me back.', recording_duration_seconds: 23 });
    expect(JSON.stringify(detail)).not.toContain(twilioFake.url);
    expect(detail.recording_link).toMatch(/^\/api\/v1\/calls\/recording\?token=/);
    call = await callBySid(sid);
    expect((await api.get('/tasks', { contact_id: call.chatwoot_contact_id })).body.data).toHaveLength(1);
  });

  it('never treats an answered call as missed when its final status arrives before the dial outcome', async () => {
    const sid = newCallSid();
    const from = '+14155550127';
    await send('status', callFields(sid, from, { CallStatus: 'completed', CallDuration: '64' }));
    await processPending();
    expect((await callBySid(sid)).status).toBe('unknown'); // for now: nothing says yet who answered
    await send('dial', callFields(sid, from, { CallStatus: 'in-progress', DialCallStatus: 'completed' }));
    await processPending();
    await settleLater((await callBySid(sid)).id);
    const call = await callBySid(sid);
    expect(call).toMatchObject({ status: 'completed', answered: true, callback_task_id: null, job_id: null });
    await drain();
    expect(conversationOf(call).messages.map((m) => m.content)).toEqual([expect.stringContaining(': answered, 1 min 4 s')]);
  });

  it('opens the call-back task for a missed call even while Chatwoot is down, and tells the conversation once it is back', async () => {
    const sid = newCallSid();
    const from = '+14155550128';
    chatwoot.outage = 503;
    await send('dial', callFields(sid, from, { CallStatus: 'in-progress', DialCallStatus: 'busy' }));
    await send('status', callFields(sid, from, { CallStatus: 'completed', CallDuration: '9' }));
    // Each callback fails at threading and waits for its retry; the call's facts are recorded.
    for (const id of await t.db.knex('webhook_deliveries').where({ source: 'twilio', status: 'received' }).orderBy('received_at').pluck('id')) {
      await processTwilioDelivery(deps(), id).catch(() => undefined);
    }
    const call = await callBySid(sid);
    expect(call.status).toBe('missed');
    await expect(settleLater(call.id)).rejects.toThrow(); // threading fails while Chatwoot is down…
    const pending = await callBySid(sid);
    expect(pending.callback_task_id).not.toBeNull(); // …but the call-back task is there
    expect(pending.chatwoot_conversation_id).toBeNull();
    chatwoot.outage = null;
    await settleLater(call.id);
    await drain();
    const done = await callBySid(sid);
    expect((await api.get(`/tasks/${done.callback_task_id}`)).body.data).toMatchObject({ chatwoot_conversation_id: done.chatwoot_conversation_id });
    expect(conversationOf(done).messages.map((m) => m.content)).toEqual([expect.stringMatching(/: missed · .* → call-back task due \d\d:\d\d UTC, job J-\d+ opened$/)]);
    await t.db.knex('webhook_deliveries').where({ source: 'twilio' }).whereIn('status', ['retrying']).update({ status: 'processed' });
  });

  it('threads a known caller into their open conversation, and waits out a Chatwoot outage without losing or doubling anything', async () => {
    const from = '+14155550126';
    const contact = chatwoot.addContact({ accountId: 1, name: 'Grace Hopper', phone_number: from });
    const existing = chatwoot.addConversation(1, 6001);
    Object.assign(existing, { contactId: contact.id, inboxId, status: 'open' });
    const sid = newCallSid();
    chatwoot.outage = 503;
    await send('dial', callFields(sid, from, { CallStatus: 'in-progress', DialCallStatus: 'completed' }));
    await send('status', callFields(sid, from, { CallStatus: 'completed', CallDuration: '300' }));
    const ids: string[] = await t.db.knex('webhook_deliveries').where({ source: 'twilio' }).whereIn('status', ['received']).orderBy('received_at').pluck('id');
    for (const id of ids) {
      await expect(processTwilioDelivery({ db: t.db.knex, sealer: t.services.sealer, urlSigner: t.services.urlSigner, chatwootTimeoutMs: 500, publicUrl: t.config.PUBLIC_URL }, id)).rejects.toThrow();
    }
    expect(await t.db.knex('webhook_deliveries').whereIn('id', ids).pluck('status')).toEqual(['retrying', 'retrying']);
    chatwoot.outage = null;
    await processPending();
    await drain();
    const call = await callBySid(sid);
    expect(call).toMatchObject({ status: 'completed', chatwoot_contact_id: contact.id, chatwoot_conversation_id: 6001 });
    expect(existing.messages.map((m) => m.content)).toEqual([expect.stringContaining('answered, 5 min 0 s')]);
    expect(chatwoot.contacts.filter((c) => c.phone_number === from)).toHaveLength(1);
  });
});

describe('what the workflow writes', () => {
  it('announces a missed call’s job to the pages following the account, acting as the calls process', async () => {
    const sid = newCallSid();
    const from = '+14155550177';
    await send('dial', callFields(sid, from, { CallStatus: 'in-progress', DialCallStatus: 'no-answer' }));
    await send('status', callFields(sid, from, { CallStatus: 'completed', CallDuration: '12' }));
    await processPending();
    await new Promise((resolve) => setTimeout(resolve, 400)); // earlier announcements are out
    const heard = await announcementsDuring(t.db.url, async () => {
      await settleLater((await callBySid(sid)).id);
      expect((await callBySid(sid)).job_id).toBeTruthy();
    });
    expect(heard).toContain(String(admin.accountId));

    const call = await callBySid(sid);
    const audit = await withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) =>
      trx('audit_events').whereIn('action', ['job.created', 'task.created', 'call.followed_up', 'call.status_changed']).whereIn('resource_id', [call.id, call.job_id, call.callback_task_id]).select('action', 'actor_type', 'actor_id'),
    );
    expect(audit.length).toBeGreaterThanOrEqual(4);
    for (const event of audit) expect(event).toMatchObject({ actor_type: 'system', actor_id: 'twilio-calls' });
    const job = await withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) => trx('jobs').where({ id: call.job_id }).first('created_by_type', 'created_by_id', 'status'));
    expect(job).toEqual({ created_by_type: 'system', created_by_id: 'twilio-calls', status: 'new' });
  });

  it('announces a callback that only adds a fact to its call', async () => {
    const sid = newCallSid();
    const from = '+14155550178';
    const heard = await announcementsDuring(t.db.url, async () => {
      await send('status', callFields(sid, from, { CallStatus: 'ringing' }));
      await processPending();
    });
    expect(heard).toContain(String(admin.accountId));
  });
});

describe('the call log API', () => {
  it('lists and filters calls, links one to a job, records a disposition, and shows calls in the contact’s timeline', async () => {
    const missed = (await api.get('/calls', { status: 'missed,voicemail' })).body.data;
    expect(missed.length).toBeGreaterThanOrEqual(2);
    expect(missed.every((c: { status: string }) => ['missed', 'voicemail'].includes(c.status))).toBe(true);
    expect((await api.get('/calls', { number: '+1 (415) 555-0123' })).body.data).toHaveLength(1);
    const answered = (await api.get('/calls', { number: '+14155550123' })).body.data[0];
    const job = (await api.post('/jobs', { summary: 'Quote after the call', chatwoot_contact_id: answered.chatwoot_contact_id })).body.data;
    const linked = await api.post(`/calls/${answered.id}/link`, { job_id: job.id });
    expect(linked.body.data.job_id).toBe(job.id);
    expect((await api.get(`/jobs/${job.id}`)).body.data.events.map((e: { kind: string }) => e.kind)).toEqual(['created', 'call_linked']);
    expect((await api.post(`/calls/${answered.id}/disposition`, { disposition: 'maybe' })).status).toBe(422);
    expect((await api.post(`/calls/${answered.id}/disposition`, { disposition: 'quote' })).body.data.disposition).toBe('quote');
    const timeline = (await api.get(`/contacts/${answered.chatwoot_contact_id}/timeline`)).body.data;
    expect(timeline.some((e: { kind: string; data: { call_id: string } }) => e.kind === 'call' && e.data.call_id === answered.id)).toBe(true);
    expect((await api.get('/calls', { status: 'ringing-ish' })).status).toBe(422);
  });

  it('keeps Twilio settings and numbers to admins and validates them', async () => {
    const agent = await signInAgent(t, chatwoot, 1, 'agent');
    expect((await apiAs(t, agent.token).get('/twilio/settings')).status).toBe(403);
    expect((await apiAs(t, agent.token).get('/calls')).status).toBe(200);
    expect((await api.put('/twilio/settings', { account_sid: 'nope', forward_to: [] })).status).toBe(422);
    expect((await api.put('/twilio/settings', { account_sid: twilioFake.accountSid, forward_to: ['12'] })).status).toBe(422);
    expect((await api.post('/twilio/numbers', { e164: ourNumber })).status).toBe(409);
    expect((await api.post('/twilio/numbers', { e164: 'not a number' })).status).toBe(422);
  });
});

describe('calls Onelink hears of only through status callbacks (the call itself handled elsewhere: Studio, another IVR)', () => {
  /**
   * Only the number's "Call status changes" URL points at Onelink: no voice, dial or voicemail
   * callback ever comes. Each callback is sent twice at once (Twilio retrying) and everything is
   * processed twice; `late` callbacks arrive after the final status (out of order).
   */
  async function statusOnly(from: string, final: Record<string, string>, options: { late?: Array<Record<string, string>>; settle?: boolean } = {}) {
    const sid = newCallSid();
    for (const extra of [final, ...(options.late ?? [])]) {
      const answers = await Promise.all([send('status', callFields(sid, from, extra)), send('status', callFields(sid, from, extra))]);
      expect(answers.map((a) => a.status)).toEqual([204, 204]);
    }
    await processPending();
    await processPending();
    if (options.settle) {
      const { id } = await callBySid(sid);
      await settleLater(id);
      await settleLater(id);
    }
    await drain();
    await drain();
    const call = await callBySid(sid);
    const contact = call.chatwoot_contact_id as number;
    return {
      call,
      tasks: (await api.get('/tasks', { contact_id: contact })).body.data as Array<{ id: string; title: string; job_id: string | null }>,
      jobs: (await api.get('/jobs', { contact_id: contact })).body.data as Array<{ id: string; summary: string }>,
      notes: conversationOf(call).messages.map((m) => m.content),
    };
  }
  const when = String.raw`· \d{4}-\d\d-\d\d \d\d:\d\d UTC`;

  it('logs a completed call with a duration as "outcome unknown", with no call-back task and no job', async () => {
    const { call, tasks, jobs, notes } = await statusOnly('+14155550131', { CallStatus: 'completed', CallDuration: '95' }, { late: [{ CallStatus: 'in-progress' }], settle: true });
    expect(call).toMatchObject({ status: 'unknown', duration_seconds: 95, answered: false, callback_task_id: null, job_id: null });
    expect([tasks, jobs]).toEqual([[], []]);
    expect(notes).toEqual([
      expect.stringMatching(new RegExp(`^Onelink · 📞 Call from \\+1 415 555 0131 \\(Downtown\\): ended after 1 min 35 s, outcome unknown \\(only status callbacks were received, and they do not say whether anyone answered\\) ${when}$`)),
    ]);
  });

  it('logs a call whose status callback carries a recording as "recorded", links the recording, and opens no missed-call follow-up', async () => {
    const recordingSid = newRecordingSid();
    const { call, tasks, jobs, notes } = await statusOnly(
      '+14155550132',
      { CallStatus: 'completed', CallDuration: '48', RecordingSid: recordingSid, RecordingUrl: recordingUrl(twilioFake, recordingSid), RecordingDuration: '31' },
      { settle: true },
    );
    expect(call).toMatchObject({ status: 'recorded', recording_sid: recordingSid, recording_duration_seconds: 31, callback_task_id: null, job_id: null });
    expect([tasks, jobs]).toEqual([[], []]);
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatch(
      new RegExp(
        `^Onelink · 📞 Call from \\+1 415 555 0132 \\(Downtown\\): recorded, 48 s, outcome unknown \\(only status callbacks were received; listen to the recording: it may hold a conversation or a voicemail\\) ${when}\\n\\n🎙 Recording \\(31 s\\): http://onelink\\.test/api/v1/calls/recording\\?token=\\S+ \\(this link works for 7 days\\)$`,
      ),
    );
    expect(notes[0]).not.toContain(twilioFake.url);
  });

  it('knows a voicemail was left when the other app’s <Record> reports to Onelink’s recording URL, even before the final status', async () => {
    const urls = (await api.get('/twilio/settings')).body.data.webhook_urls;
    expect(urls).toMatchObject({ status_callback: `${t.config.PUBLIC_URL}${base}/status`, recording_status_callback: `${t.config.PUBLIC_URL}${base}/recording`, transcribe_callback: `${t.config.PUBLIC_URL}${base}/transcription` });
    const sid = newCallSid();
    const recordingSid = newRecordingSid();
    const from = '+14155550136';
    const recording = callFields(sid, from, { CallStatus: 'completed', RecordingSid: recordingSid, RecordingStatus: 'completed', RecordingSource: 'RecordVerb', RecordingDuration: '17', RecordingUrl: recordingUrl(twilioFake, recordingSid) });
    await Promise.all([send('recording', recording), send('recording', recording)]);
    await send('status', callFields(sid, from, { CallStatus: 'completed', CallDuration: '40' }));
    await processPending();
    await processPending();
    await drain();
    const call = await callBySid(sid);
    expect(call).toMatchObject({ status: 'voicemail', routed_by_onelink: false });
    expect((await api.get('/tasks', { contact_id: call.chatwoot_contact_id })).body.data).toEqual([expect.objectContaining({ title: 'Call back +1 415 555 0136 (voicemail)' })]);
    expect((await api.get('/jobs', { contact_id: call.chatwoot_contact_id })).body.data).toEqual([expect.objectContaining({ summary: 'Voicemail from +1 415 555 0136' })]);
    const notes = conversationOf(call).messages.map((m) => m.content);
    expect(notes).toEqual([expect.stringMatching(new RegExp(`: missed — voicemail left \\(17 s\\) ${when} → call-back task due \\d\\d:\\d\\d UTC, job J-\\d+ opened\\n\\n🎙 Voicemail \\(17 s\\): http://onelink\\.test/\\S+ \\(this link works for 7 days\\)$`))]);
  });

  it('tells the conversation once more when a voicemail is reported after the call was logged as "outcome unknown"', async () => {
    const from = '+14155550137';
    const { call } = await statusOnly(from, { CallStatus: 'completed', CallDuration: '52' }, { settle: true });
    expect(call.status).toBe('unknown');
    const recordingSid = newRecordingSid();
    const recording = callFields(call.call_sid, from, { CallStatus: 'completed', RecordingSid: recordingSid, RecordingStatus: 'completed', RecordingSource: 'RecordVerb', RecordingDuration: '19', RecordingUrl: recordingUrl(twilioFake, recordingSid) });
    await Promise.all([send('recording', recording), send('recording', recording)]);
    await processPending();
    await processPending();
    await settleLater(call.id);
    await drain();
    const after = await callBySid(call.call_sid);
    expect(after.status).toBe('voicemail');
    expect((await api.get('/tasks', { contact_id: after.chatwoot_contact_id })).body.data).toEqual([expect.objectContaining({ title: 'Call back +1 415 555 0137 (voicemail)' })]);
    expect((await api.get('/jobs', { contact_id: after.chatwoot_contact_id })).body.data).toEqual([expect.objectContaining({ summary: 'Voicemail from +1 415 555 0137' })]);
    expect(conversationOf(after).messages.map((m) => m.content)).toEqual([
      expect.stringMatching(/: ended after 52 s, outcome unknown \(only status callbacks were received/),
      expect.stringMatching(new RegExp(`^Onelink · 📞 Call from \\+1 415 555 0137 \\(Downtown\\), updated: missed — voicemail left \\(19 s\\) ${when} → call-back task due \\d\\d:\\d\\d UTC, job J-\\d+ opened\\n\\n🎙 Voicemail \\(19 s\\): http://onelink\\.test/\\S+ \\(this link works for 7 days\\)$`)),
    ]);
  });

  it('turns a busy call into one call-back task and one job titled by what happened, without waiting', async () => {
    const { call, tasks, jobs, notes } = await statusOnly('+14155550133', { CallStatus: 'busy', CallDuration: '0' });
    expect(call.status).toBe('busy');
    expect(tasks).toEqual([expect.objectContaining({ id: call.callback_task_id, title: 'Call back +1 415 555 0133 (busy line)', job_id: call.job_id })]);
    expect(jobs).toEqual([expect.objectContaining({ id: call.job_id, summary: 'Busy line: call from +1 415 555 0133' })]);
    expect(notes).toEqual([expect.stringMatching(new RegExp(`: busy line, the caller did not get through ${when} → call-back task due \\d\\d:\\d\\d UTC, job J-\\d+ opened$`))]);
  });

  it('turns an unanswered call into one missed-call task and job at once, even when a "ringing" arrives after it', async () => {
    const { call, tasks, jobs, notes } = await statusOnly('+14155550134', { CallStatus: 'no-answer', CallDuration: '0' }, { late: [{ CallStatus: 'ringing' }] });
    expect(call.status).toBe('missed');
    expect(tasks).toEqual([expect.objectContaining({ id: call.callback_task_id, title: 'Call back +1 415 555 0134 (missed call)', job_id: call.job_id })]);
    expect(jobs).toEqual([expect.objectContaining({ id: call.job_id, summary: 'Missed call from +1 415 555 0134' })]);
    expect(notes).toEqual([expect.stringMatching(new RegExp(`: missed ${when} → call-back task due \\d\\d:\\d\\d UTC, job J-\\d+ opened$`))]);
  });
});

describe('a stored callback no retry can fix', () => {
  it('is parked as failed at once, with the reason, instead of being retried', async () => {
    const account = await t.db.knex('accounts').where({ account_id: admin.accountId }).first('installation_id');
    const sid = newCallSid();
    // Stored before anything refused it: a transcript with a NUL, which Postgres cannot store as text.
    const body = new URLSearchParams({ ...callFields(sid, '+14155550135', { CallStatus: 'completed' }), TranscriptionSid: `TR${'b'.repeat(32)}`, TranscriptionStatus: 'completed', TranscriptionText: 'a\u0000b' }).toString();
    const [row] = await t.db
      .knex('webhook_deliveries')
      .insert({ installation_id: account.installation_id, account_id: admin.accountId, source: 'twilio', dedupe_key: `${admin.accountId}:${sid}:transcription:x`, event: 'twilio.transcription', headers: {}, body, status: 'received' })
      .returning('id');
    expect(await processTwilioDelivery(deps(), row.id)).toBe('failed');
    const stored = await t.db.knex('webhook_deliveries').where({ id: row.id }).first('status', 'attempts', 'last_error');
    expect(stored).toMatchObject({ status: 'failed', attempts: 1 });
    expect(stored.last_error).toMatch(/^permanent: .*(22021|invalid byte sequence)/);
  });
});

describe('what callbacks prove, whatever their order', () => {
  const blank = (): CallRow => ({
    id: 'x', call_sid: 'CA', direction: 'inbound', from_e164: null, to_e164: null, status: 'ringing', twilio_final_status: null, answered: false, in_progress_seen: false,
    dial_seen: false, routed_by_onelink: false, outcome_noted: null, final_seen_at: null, started_at: null, ended_at: null, duration_seconds: null, recording_sid: null, recording_source: null,
    recording_url: null, recording_duration_seconds: null, transcript: null, transcript_status: null, chatwoot_contact_id: null, chatwoot_conversation_id: null, job_id: null,
    callback_task_id: null, threading_claimed_at: null, threaded_at: null, callback_created_at: null, job_created_at: null, summary_noted_at: null, recording_noted_at: null, transcript_noted_at: null,
  });
  const permutations = <T,>(items: T[]): T[][] => (items.length <= 1 ? [items] : items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest])));
  const rec = `RE${'c'.repeat(32)}`;
  const scenarios: Array<[string, Array<[CallbackEvent, Record<string, string>]>, string]> = [
    ['our dial answered', [['voice', {}], ['status', { CallStatus: 'in-progress' }], ['dial', { DialCallStatus: 'completed' }], ['status', { CallStatus: 'completed', CallDuration: '95' }]], 'completed'],
    ['our dial unanswered', [['voice', {}], ['dial', { DialCallStatus: 'no-answer' }], ['status', { CallStatus: 'completed', CallDuration: '21' }]], 'missed'],
    ['our voicemail', [['voice', {}], ['dial', { DialCallStatus: 'busy' }], ['voicemail', { RecordingSid: rec, RecordingDuration: '23' }], ['recording', { RecordingSid: rec, RecordingStatus: 'completed', RecordingSource: 'RecordVerb', RecordingDuration: '23' }], ['status', { CallStatus: 'completed', CallDuration: '48' }]], 'voicemail'],
    ['status only, completed', [['status', { CallStatus: 'ringing' }], ['status', { CallStatus: 'in-progress' }], ['status', { CallStatus: 'completed', CallDuration: '95' }]], 'unknown'],
    ['status only, recorded', [['status', { CallStatus: 'in-progress' }], ['status', { CallStatus: 'completed', CallDuration: '48', RecordingSid: rec, RecordingDuration: '31' }]], 'recorded'],
    ['another app’s <Record> pointed at our recording URL', [['status', { CallStatus: 'completed', CallDuration: '60' }], ['recording', { RecordingSid: rec, RecordingStatus: 'completed', RecordingSource: 'RecordVerb', RecordingDuration: '20' }]], 'voicemail'],
    ['answering-machine detection said human', [['status', { CallStatus: 'completed', CallDuration: '30', AnsweredBy: 'human' }], ['status', { CallStatus: 'ringing' }]], 'completed'],
    ['status only, busy', [['status', { CallStatus: 'ringing' }], ['status', { CallStatus: 'busy' }]], 'busy'],
    ['status only, no answer', [['status', { CallStatus: 'ringing' }], ['status', { CallStatus: 'no-answer' }]], 'missed'],
    ['status only, hung up while ringing', [['status', { CallStatus: 'ringing' }], ['status', { CallStatus: 'canceled' }]], 'missed'],
  ];
  it.each(scenarios)('%s: the same outcome in every order, and never a step back', (_name, callbacks, outcome) => {
    const scale = ['ringing', 'in_progress', 'unknown', 'recorded', 'missed|busy|failed', 'voicemail|completed'];
    const rank = (status: string) => scale.findIndex((s) => s.split('|').includes(status));
    for (const order of permutations(callbacks)) {
      let call = blank();
      for (const [event, fields] of [...order, ...order]) {
        const next = { ...call, ...factsFrom(event, { CallSid: 'CA', From: '+14155550140', To: ourNumber, ...fields }, call, new Date()) };
        const status = statusOf(next);
        expect(rank(status)).toBeGreaterThanOrEqual(rank(call.status));
        call = { ...next, status };
      }
      expect(call.status, order.map(([e, f]) => `${e}:${f.CallStatus ?? f.DialCallStatus ?? f.RecordingSource ?? ''}`).join(' → ')).toBe(outcome);
    }
  });

  it('tells failures no retry can fix from those a retry may', async () => {
    const nul = await t.db.knex.raw('select ?::text', ['a\u0000b']).catch((err: unknown) => err);
    const outOfRange = await t.db.knex.raw('select ?::int', ['2147483648']).catch((err: unknown) => err);
    expect(permanentFailure(nul)).toMatch(/^the database refuses a value \(22021\)/);
    expect(permanentFailure(outOfRange)).toMatch(/\(22003\)/);
    const { z } = await import('zod');
    expect(isPermanentFailure(z.object({ CallSid: z.string() }).safeParse({}).error)).toBe(true);
    expect(isPermanentFailure(new Error('wrapped', { cause: nul }))).toBe(true);
    expect(isPermanentFailure(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBe(false);
    expect(isPermanentFailure(Object.assign(new Error('deadlock detected'), { code: '40P01' }))).toBe(false);
    expect(isPermanentFailure(new SyntaxError('Unexpected token < in JSON'))).toBe(false); // an HTML error page instead of Chatwoot's JSON
  });
});

describe('the call log', () => {
  it('pages through every call by its start, newest first, and every call has a start', async () => {
    for (const from of ['+14155550191', '+14155550192', '+14155550193']) await send('status', callFields(newCallSid(), from, { CallStatus: 'no-answer' }));
    await processPending();
    const all = (await api.get('/calls', { limit: 200 })).body.data as Array<{ id: string }>;
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = (await api.get('/calls', { limit: 2, ...(cursor ? { cursor } : {}) })).body;
      seen.push(...page.data.map((c: { id: string }) => c.id));
      cursor = page.meta.next_cursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual(all.map((c) => c.id));
    const withoutStart = await withAccount(t.db.knex, admin.accountId, { readOnly: false }, (trx) =>
      trx('calls').insert({ account_id: admin.accountId, call_sid: newCallSid(), direction: 'inbound' }).returning('started_at'),
    );
    expect(withoutStart[0].started_at).toBeInstanceOf(Date); // the database dates a call it was given no start for
  });
});
