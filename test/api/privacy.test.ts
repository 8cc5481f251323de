// Erasing and exporting a person on request (extension/privacy): what goes, what stays
// de-identified, what the audit keeps, and that Chatwoot's later news does not bring them back.
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capabilities } from '../../extension/capabilities/profiles.ts';
import { syncAccount } from '../../extension/chatwoot/sync.ts';
import { withAccountForTests as withAccount } from '../../extension/db/tenant.ts';
import { processDelivery } from '../../webhooks/chatwoot/process.ts';
import { chatwootDelivery, contactEvent } from '../fakes/chatwoot-webhooks.ts';
import { newRecordingSid, startFakeTwilio, type FakeTwilio } from '../fakes/twilio.ts';
import { apiAs, fetchSignedLink } from '../helpers/api.ts';
import type { TestApp } from '../helpers/app.ts';
import { createClientPortalSession, signInAgent, type SignedIn } from '../helpers/identity.ts';
import { spawnIn } from '../helpers/processes.ts';
import { useWorld } from '../helpers/world.ts';

const world = useWorld([1, 2]);
let t: TestApp;
let admin: SignedIn;
let agent: SignedIn;
let adminB: SignedIn;
let webhookPath: string;
let twilioFake: FakeTwilio;
const recordingSid = newRecordingSid();

// The person to erase, and what they are known by.
const contactId = 4242;
const name = 'Jane Erasable';
const email = 'jane.erasable@example.com';
const phone = '+14155550142';
const ourNumber = '+14155550100';
const other = { id: 4343, name: 'Otto Untouched', email: 'otto@example.com' };

const seeded = {} as { dealId: string; jobId: string; taskId: string; callId: string; artifactId: string; artifactKey: string; portalUserId: string; clientToken: string; messageKeys: string[]; dealB: string };

const rowsOf = (accountId: number, table: string, where: Record<string, unknown>) =>
  withAccount(t.db.knex, accountId, { readOnly: true }, (trx) => trx(table).where({ account_id: accountId, ...where }).select('*'));

async function deliverWebhook(payload: unknown) {
  const delivery = chatwootDelivery(payload);
  const res = await request(t.app).post(webhookPath).set(delivery.headers).send(delivery.body);
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return processDelivery(t.db.knex, res.body.data.delivery_id);
}

/** Every row of the tenant tables that matter here, for "nothing changed". */
async function snapshot() {
  const tables = ['chatwoot_contacts', 'portal_users', 'sessions', 'calls', 'deals', 'jobs', 'tasks', 'job_artifacts', 'client_messages', 'chatwoot_outbox', 'erased_contacts'];
  const out: Record<string, unknown> = {};
  for (const table of tables) out[table] = await withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) => trx(table).where({ account_id: admin.accountId }).select('*'));
  return JSON.stringify(out);
}

beforeAll(async () => {
  t = world.t;
  const installation = await t.db.knex('installations').first('webhook_path_token');
  webhookPath = `/webhooks/chatwoot/${installation.webhook_path_token}`;
  admin = await signInAgent(t, world.chatwoot, 1, 'administrator', 'Privacy admin');
  agent = await signInAgent(t, world.chatwoot, 1, 'agent', 'Privacy agent');
  adminB = await signInAgent(t, world.chatwoot, 2, 'administrator', 'Admin of B');
  const allOn = Object.fromEntries(capabilities.map((c) => [c, true]));
  expect((await apiAs(t, admin.token).patch('/admin/capabilities', { overrides: allOn })).status).toBe(200);
  const api = apiAs(t, admin.token);
  // Twilio keeps the call's recording until the erasure deletes it there.
  twilioFake = await startFakeTwilio();
  t.config.ONELINK_TWILIO_API_URL = twilioFake.url;
  twilioFake.recordings.set(recordingSid, Buffer.from('ID3 voicemail'));
  expect((await api.put('/twilio/settings', { account_sid: twilioFake.accountSid, auth_token: twilioFake.authToken, forward_to: [ourNumber] })).status).toBe(200);

  // In Chatwoot (its contact list, which the sync reads) and in the cache, as Chatwoot's webhooks fill it.
  world.chatwoot.seedContacts(1, 2, (i) => (i === 0 ? { id: contactId, name, email, phone_number: phone } : { id: other.id, name: other.name, email: other.email }));
  expect(await deliverWebhook(contactEvent('contact_created', { id: contactId, name, email, phone_number: phone }))).toBe('processed');
  expect(await deliverWebhook(contactEvent('contact_created', { id: other.id, name: other.name, email: other.email }))).toBe('processed');

  const [pipeline] = (await api.get('/pipelines')).body.data;
  seeded.dealId = (await api.post('/deals', { title: `Boiler for ${name}`, pipeline_id: pipeline.id, chatwoot_contact_id: contactId })).body.data.id;
  expect((await api.post(`/deals/${seeded.dealId}/notes`, { body: `${name} prefers mornings` })).status).toBe(201);
  await api.post('/deals', { title: `Deal of ${other.name}`, pipeline_id: pipeline.id, chatwoot_contact_id: other.id });
  const job = await api.post('/jobs', { summary: `Fix the boiler of ${name}`, chatwoot_contact_id: contactId, address: '1 Privacy Lane', postal_code: '94110', notes: `Call ${phone} first` });
  expect(job.status, JSON.stringify(job.body)).toBe(201);
  seeded.jobId = job.body.data.id;
  seeded.taskId = (await api.post('/tasks', { title: `Call back ${name}`, description: `On ${phone}`, chatwoot_contact_id: contactId })).body.data.id;

  // Their client portal user, signed in, with a message carrying a photo (stored, queued for Chatwoot).
  const client = await createClientPortalSession(t, agent, contactId);
  seeded.portalUserId = client.portalUserId;
  seeded.clientToken = client.token;
  const [thread] = (await apiAs(t, client.token).get('/portal/client/threads')).body.data;
  const photo = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#2e86c1' } }).jpeg().toBuffer();
  const sent = await request(t.app)
    .post(`/api/v1/portal/client/threads/${thread.id}/messages`)
    .set('Authorization', `Bearer ${client.token}`)
    .field('id', randomUUID())
    .field('content', `It is ${name} again`)
    .attach('attachments', photo, 'leak.jpg');
  expect(sent.status, JSON.stringify(sent.body)).toBe(201);

  await withAccount(t.db.knex, admin.accountId, { readOnly: false }, async (trx) => {
    const [message] = await trx('client_messages').where({ account_id: admin.accountId, portal_user_id: client.portalUserId }).select('attachments');
    seeded.messageKeys = (message.attachments as Array<{ storage_key: string }>).map((a) => a.storage_key);
    // A job file their portal user uploaded, and a call with its recording and transcript.
    seeded.artifactKey = `${admin.accountId}/jobs/${seeded.jobId}/${randomUUID()}.jpg`;
    await t.services.files.put(seeded.artifactKey, (await import('node:stream')).Readable.from([photo]));
    const [artifact] = await trx('job_artifacts')
      .insert({
        account_id: admin.accountId, id: randomUUID(), job_id: seeded.jobId, kind: 'photo', filename: 'front-door.jpg', content_type: 'image/jpeg', size_bytes: photo.length, sha256: 'x'.repeat(64),
        storage_key: seeded.artifactKey, visibility: 'client_visible', scan_status: 'not_scanned', uploaded_by_type: 'portal_user', uploaded_by_id: client.portalUserId,
      })
      .returning('id');
    seeded.artifactId = artifact.id;
    await trx('twilio_numbers').insert({ account_id: admin.accountId, e164: ourNumber, location: 'Main line' });
    const [call] = await trx('calls')
      .insert({
        account_id: admin.accountId, call_sid: `CA${'f'.repeat(32)}`, direction: 'inbound', from_e164: phone, to_e164: ourNumber, status: 'voicemail', started_at: new Date(), duration_seconds: 42,
        recording_sid: recordingSid, recording_url: `${twilioFake.url}/2010-04-01/Accounts/${twilioFake.accountSid}/Recordings/${recordingSid}`, recording_duration_seconds: 12, transcript: `Hello, this is ${name}, my e-mail is ${email}`,
        chatwoot_contact_id: contactId, job_id: seeded.jobId,
      })
      .returning('id');
    seeded.callId = call.id;
    // Their new details on their way to Chatwoot.
    await trx('chatwoot_outbox').insert({ account_id: admin.accountId, kind: 'contact', payload: JSON.stringify({ kind: 'contact', contactId, changes: { email } }) });
  });

  // The same Chatwoot contact id in another account is another person's record.
  const agentB = await signInAgent(t, world.chatwoot, 2, 'agent', 'Agent of B');
  await createClientPortalSession(t, agentB, contactId);
  const [pipelineB] = (await apiAs(t, adminB.token).get('/pipelines')).body.data;
  seeded.dealB = (await apiAs(t, adminB.token).post('/deals', { title: `Boiler for ${name}`, pipeline_id: pipelineB.id, chatwoot_contact_id: contactId })).body.data.id;
});

describe('exporting a person', () => {
  it('answers everything held about them as a JSON download, with working signed file links', async () => {
    const res = await apiAs(t, admin.token).get(`/contacts/${contactId}/export`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.headers['content-disposition']).toBe(`attachment; filename="contact-${contactId}-export.json"`);
    const data = res.body.data;
    expect(data.contact).toMatchObject({ chatwoot_contact_id: contactId, name, email, phone_e164: phone });
    expect(data.deals).toHaveLength(1);
    expect(data.deals[0]).toMatchObject({ id: seeded.dealId, notes: [{ body: `${name} prefers mornings` }] });
    expect(data.jobs).toHaveLength(1);
    expect(data.jobs[0]).toMatchObject({ id: seeded.jobId, address: '1 Privacy Lane' });
    expect(data.jobs[0].events.map((e: { kind: string }) => e.kind)).toContain('created');
    expect(data.tasks.map((x: { id: string }) => x.id)).toEqual([seeded.taskId]);
    expect(data.calls).toMatchObject([{ id: seeded.callId, from_e164: phone, transcript: expect.stringContaining(name) }]);
    expect(data.portal_users).toMatchObject([{ id: seeded.portalUserId, sessions: [expect.objectContaining({ created_at: expect.any(String) })] }]);
    expect(data.client_threads[0].messages).toMatchObject([{ content: `It is ${name} again` }]);
    expect(data.audit_events.some((e: { action: string }) => e.action === 'deal.created')).toBe(true);
    expect(JSON.stringify(data)).not.toContain('storage_key');
    expect(data.files.map((f: { filename: string }) => f.filename).sort()).toEqual(['front-door.jpg', 'leak.jpg']);
    for (const file of data.files) {
      const link = new URL(file.url);
      const bytes = await fetchSignedLink(t, `${link.pathname}${link.search}`);
      expect(bytes.status, file.filename).toBe(200);
      expect((bytes.body as Buffer).length).toBe(file.size_bytes);
    }
    // Nothing here for another account's admin, and nothing for an agent.
    expect((await apiAs(t, adminB.token).get(`/contacts/${other.id}/export`)).status).toBe(404);
    expect((await apiAs(t, agent.token).get(`/contacts/${contactId}/export`)).status).toBe(403);
  });
});

describe('erasing a person', () => {
  it('refuses bad input with a 422 in the envelope and changes nothing', async () => {
    const before = await snapshot();
    const api = apiAs(t, admin.token);
    for (const [path, body, field] of [
      ['/contacts/abc/erase', { confirm: contactId }, 'params.contactId'],
      [`/contacts/${contactId}/erase`, {}, 'body.confirm'],
      [`/contacts/${contactId}/erase`, { confirm: other.id }, 'body.confirm'],
      [`/contacts/${contactId}/erase`, { confirm: String(contactId) }, 'body.confirm'],
    ] as const) {
      const res = await api.post(path, body);
      expect(res.status, `${path} ${JSON.stringify(body)}`).toBe(422);
      expect(res.body.error).toMatchObject({ code: 'validation_failed', details: { fields: [expect.objectContaining({ path: field })] } });
    }
    expect((await api.post('/contacts/999999/erase', { confirm: 999999 })).body.error.code).toBe('not_found');
    expect((await apiAs(t, agent.token).post(`/contacts/${contactId}/erase`, { confirm: contactId })).status).toBe(403);
    expect(await snapshot()).toBe(before);
  });

  it('erases the contact, their portal user and files, clears call facts, and keeps deals and jobs without them', async () => {
    const res = await apiAs(t, admin.token).post(`/contacts/${contactId}/erase`, { confirm: contactId });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.data).toMatchObject({
      chatwoot_contact_id: contactId,
      already_erased: false,
      files_not_removed: 0,
      recordings_left_at_twilio: [],
      counts: { contact: 1, portal_users: 1, sessions: 1, calls: 1, files: 2, deals: 1, deal_notes: 1, jobs: 1, tasks: 1, client_messages: 1, write_backs_cancelled: 2 },
    });
    const accountId = admin.accountId;

    expect(await rowsOf(accountId, 'chatwoot_contacts', { chatwoot_contact_id: contactId })).toEqual([]);
    expect(await rowsOf(accountId, 'chatwoot_contacts', { chatwoot_contact_id: other.id })).toMatchObject([{ name: other.name }]);
    expect(await rowsOf(accountId, 'portal_users', { id: seeded.portalUserId })).toEqual([]);
    expect(await rowsOf(accountId, 'sessions', { subject_id: seeded.portalUserId })).toEqual([]);
    expect((await apiAs(t, seeded.clientToken).get('/portal/client/threads')).status).toBe(401);
    expect(await rowsOf(accountId, 'client_messages', { portal_user_id: seeded.portalUserId })).toEqual([]);
    expect(await rowsOf(accountId, 'job_artifacts', { id: seeded.artifactId })).toEqual([]);
    for (const key of [seeded.artifactKey, ...seeded.messageKeys]) await expect(t.services.files.open(key)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await rowsOf(accountId, 'chatwoot_outbox', { status: 'pending' })).toEqual([]);

    const [call] = await rowsOf(accountId, 'calls', { id: seeded.callId });
    expect(call).toMatchObject({ status: 'voicemail', duration_seconds: 42, recording_duration_seconds: 12, from_e164: null, to_e164: ourNumber, recording_sid: null, recording_url: null, transcript: null, chatwoot_contact_id: null });
    expect(twilioFake.recordings.has(recordingSid)).toBe(false);
    const [deal] = await rowsOf(accountId, 'deals', { id: seeded.dealId });
    expect(deal).toMatchObject({ chatwoot_contact_id: null, title: 'Boiler for [erased]', deleted_at: null });
    expect(await rowsOf(accountId, 'deal_notes', { deal_id: seeded.dealId })).toEqual([]);
    const [job] = await rowsOf(accountId, 'jobs', { id: seeded.jobId });
    expect(job).toMatchObject({ chatwoot_contact_id: null, summary: 'Fix the boiler of [erased]', address: null, postal_code: null, notes: null });
    const [task] = await rowsOf(accountId, 'tasks', { id: seeded.taskId });
    expect(task).toMatchObject({ chatwoot_contact_id: null, title: 'Call back [erased]', description: null });

    // The audit event counts, and quotes nothing of the person.
    const [event] = await rowsOf(accountId, 'audit_events', { action: 'contact.erased' });
    expect(event).toMatchObject({ resource_type: 'contact', resource_id: String(contactId), actor_type: 'user' });
    expect(event.after.counts).toMatchObject({ contact: 1, portal_users: 1 });
    const whole = JSON.stringify(event).toLowerCase();
    for (const personal of [name, email, phone, '415-555-0142', '4155550142', '1 privacy lane', 'client4242@example.com']) expect(whole).not.toContain(personal.toLowerCase());
    // Earlier append-only events that quoted them are redacted (and counted), nothing else of them changed.
    expect(res.body.data.redacted_in_trails.audit_events).toBeGreaterThan(0);
    expect(event.after.redacted_in_trails).toEqual(res.body.data.redacted_in_trails);
    const trails = JSON.stringify([
      ...(await rowsOf(accountId, 'audit_events', {})).filter((e: { action: string }) => e.action !== 'contact.erased'),
      ...(await rowsOf(accountId, 'job_events', { job_id: seeded.jobId })),
    ]).toLowerCase();
    for (const personal of [name, email, phone, '1 privacy lane', 'client4242@example.com']) expect(trails).not.toContain(personal.toLowerCase());
    expect(trails).toContain('[erased]');
    // Outside an erasure the trails still refuse every change.
    await expect(withAccount(t.db.knex, accountId, { readOnly: false }, (trx) => trx('audit_events').where({ account_id: accountId }).update({ after: null }))).rejects.toThrow(/append-only/);
    await expect(withAccount(t.db.knex, accountId, { readOnly: false }, (trx) => trx('job_events').where({ account_id: accountId, job_id: seeded.jobId }).delete())).rejects.toThrow(/append-only/);

    // Account 2's record of the same Chatwoot id is untouched.
    expect(await rowsOf(adminB.accountId, 'portal_users', { chatwoot_contact_id: contactId })).toHaveLength(1);
    expect(await rowsOf(adminB.accountId, 'deals', { id: seeded.dealB })).toMatchObject([{ chatwoot_contact_id: contactId, title: `Boiler for ${name}` }]);
  });

  it('does not cache the contact again from a later webhook, and answers a second erasure with zero counts', async () => {
    expect(await deliverWebhook(contactEvent('contact_updated', { id: contactId, name, email, phone_number: phone, updated_at: new Date().toISOString() }))).toBe('processed');
    expect(await rowsOf(admin.accountId, 'chatwoot_contacts', { chatwoot_contact_id: contactId })).toEqual([]);
    expect(await deliverWebhook(contactEvent('contact_updated', { id: other.id, name: 'Otto Renamed' }))).toBe('processed');
    expect(await rowsOf(admin.accountId, 'chatwoot_contacts', { chatwoot_contact_id: other.id })).toMatchObject([{ name: 'Otto Renamed' }]);

    // Nor from the sync, which reads Chatwoot's contact list again.
    const report = await syncAccount(t.db.knex, t.services.sealer, admin.accountId, { mode: 'full', timeoutMs: 2000 });
    expect(report.phases.find((p) => p.phase === 'contacts')?.items).toBeGreaterThanOrEqual(2);
    expect(await rowsOf(admin.accountId, 'chatwoot_contacts', { chatwoot_contact_id: contactId })).toEqual([]);

    const again = await apiAs(t, admin.token).post(`/contacts/${contactId}/erase`, { confirm: contactId });
    expect(again.status).toBe(200);
    expect(again.body.data.already_erased).toBe(true);
    expect(Object.values(again.body.data.counts).every((n) => n === 0)).toBe(true);
    const exported = await apiAs(t, admin.token).get(`/contacts/${contactId}/export`);
    expect(exported.status).toBe(200);
    expect(exported.body.data).toMatchObject({ contact: null, erased_at: expect.any(String), deals: [], jobs: [], calls: [], portal_users: [], files: [] });
  });
});

afterAll(() => twilioFake?.close());

describe('the command line', () => {
  it('erases a contact named by Chatwoot account and contact id with --yes, acting as the command line', async () => {
    const third = 4545;
    expect(await deliverWebhook(contactEvent('contact_created', { id: third, name: 'Carl Commandline', email: 'carl@example.com' }))).toBe('processed');
    const cli = spawnIn('npm', ['run', '--silent', 'onelink', '--', 'forget-contact', '--account', '1', '--contact', String(third), '--yes'], {
      DATABASE_URL: t.db.url, ONELINK_ENCRYPTION_KEY: t.config.ONELINK_ENCRYPTION_KEY!, ONELINK_FILES_DIR: t.config.filesDir, LOG_LEVEL: 'silent',
    });
    expect((await cli.exited).code, cli.output()).toBe(0);
    expect(cli.output()).toMatch(/Erased: contact 1\./);
    expect(await rowsOf(admin.accountId, 'chatwoot_contacts', { chatwoot_contact_id: third })).toEqual([]);
    expect(await rowsOf(admin.accountId, 'audit_events', { action: 'contact.erased', resource_id: String(third) })).toMatchObject([{ actor_type: 'system', actor_id: 'cli:forget-contact' }]);
  }, 60_000);
});
