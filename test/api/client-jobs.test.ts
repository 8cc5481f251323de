// The client portal's jobs: each stage in the client's words, nothing internal in what a client
// reads, files only when shared with them, a service request (with photos) that becomes a portal
// job with its thread and first message, the same request id sent twice making one job, calling
// off a request before a vendor has it, and one client never reaching another's jobs or files.
import { randomUUID } from 'node:crypto';
import sharp from 'sharp';
import request from 'supertest';
import { beforeAll, describe, expect, it } from 'vitest';
import { withAccountForTests as withAccount } from '../../extension/db/tenant.ts';
import { apiAs, fetchSignedLink } from '../helpers/api.ts';
import type { TestApp } from '../helpers/app.ts';
import { createClientPortalSession, inviteVendorUser, signInAgent, signInDispatcher, type SignedIn } from '../helpers/identity.ts';
import { useWorld } from '../helpers/world.ts';

const world = useWorld([1]);
let t: TestApp;
let admin: SignedIn;
let staff: ReturnType<typeof apiAs>;
let vendorId: string;
let owner: { token: string; api: ReturnType<typeof apiAs> };
let technicianId: string;
type Client = { token: string; portalUserId: string; api: ReturnType<typeof apiAs>; contactId: number };
let clientA: Client;
let clientB: Client;

const inAYear = () => new Date(Date.now() + 365 * 24 * 3600_000).toISOString().slice(0, 10);
const hour = 3600_000;

const summaryKeys = ['id', 'reference', 'summary', 'service_category', 'stage', 'window', 'preferred_window', 'technician', 'checklist_percent', 'created_at', 'completed_at', 'can_cancel'];
const jobKeys = [...summaryKeys, 'timeline', 'address', 'files'].sort();
const internalKeys = ['notes', 'status', 'priority', 'sla_due_at', 'sla_state', 'vendor_id', 'vendor', 'owner_id', 'custom_fields', 'events', 'offer', 'offers', 'assignments', 'cancel_reason', 'version', 'client', 'technician_id', 'created_by_id', 'requested_by_portal_user_id', 'chatwoot_contact_id'];

async function photo(color: string) {
  return sharp({ create: { width: 120, height: 90, channels: 3, background: color } }).jpeg().toBuffer();
}

beforeAll(async () => {
  t = world.t;
  admin = await signInAgent(t, world.chatwoot, 1, 'administrator', 'Ada Admin');
  expect((await apiAs(t, admin.token).patch('/admin/capabilities', { profile: 'construction' })).status).toBe(200);
  const dispatcher = await signInDispatcher(t, world.chatwoot, 1, admin);
  staff = apiAs(t, dispatcher.token);
  const vendor = (await staff.post('/vendors', { name: 'Secret Plumbing Ltd', categories: ['plumbing', 'heating'], phone: '+14155550999' })).body.data;
  vendorId = vendor.id;
  expect((await staff.post(`/vendors/${vendorId}/documents`, { kind: 'insurance', expires_on: inAYear() })).status).toBe(201);
  const ownerUser = await inviteVendorUser(t, { accountId: admin.accountId, vendorId, staffToken: admin.token, name: 'Olga Owner' });
  owner = { token: ownerUser.token, api: apiAs(t, ownerUser.token) };
  const tech = await inviteVendorUser(t, { accountId: admin.accountId, ownerToken: owner.token, name: 'Samira Tanner' });
  technicianId = tech.portalUserId;
  await withAccount(t.db.knex, admin.accountId, { readOnly: false }, (trx) =>
    trx('chatwoot_contacts').insert([
      { account_id: admin.accountId, chatwoot_contact_id: 9101, name: 'Alice Client', phone_e164: '+14155550101' },
      { account_id: admin.accountId, chatwoot_contact_id: 9102, name: 'Bob Client', phone_e164: '+14155550102' },
    ]),
  );
  const a = await createClientPortalSession(t, admin, 9101);
  const b = await createClientPortalSession(t, admin, 9102);
  clientA = { ...a, api: apiAs(t, a.token), contactId: 9101 };
  clientB = { ...b, api: apiAs(t, b.token), contactId: 9102 };
});

/** A job dispatch opened for a client, with an internal note. */
async function staffJob(contactId: number, fields: Record<string, unknown> = {}) {
  const res = await staff.post('/jobs', { summary: 'Boiler service', service_category: 'heating', address: '1 Client Road', chatwoot_contact_id: contactId, notes: 'INTERNAL: gate code 4321', ...fields });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.data as { id: string; reference: string; version: number };
}

const clientJob = async (who: Client, jobId: string) => {
  const res = await who.api.get(`/portal/client/jobs/${jobId}`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.data;
};

function sendRequest(who: Client, fields: Record<string, string>, photos: Array<{ data: Buffer; name: string }> = []) {
  const req = request(t.app).post('/api/v1/portal/client/requests').set('Authorization', `Bearer ${who.token}`);
  for (const [key, value] of Object.entries(fields)) req.field(key, value);
  for (const file of photos) req.attach('photos', file.data, file.name);
  return req;
}

const rows = (table: string, where: Record<string, unknown>) =>
  withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) => trx(table).where({ account_id: admin.accountId, ...where }).select('*'));

describe('a job as the client sees it', () => {
  it('says where the job stands in plain words at every stage, with the visit, the technician and progress', async () => {
    const job = await staffJob(clientA.contactId);
    let seen = await clientJob(clientA, job.id);
    expect(seen.stage).toBe('received');
    expect(seen.timeline.map((s: { stage: string; reached: boolean }) => [s.stage, s.reached])).toEqual([
      ['received', true], ['scheduled', false], ['on_the_way', false], ['in_progress', false], ['done', false],
    ]);
    expect(seen.can_cancel).toBe(true);
    expect(seen.technician).toBeNull();
    expect(seen.checklist_percent).toBeNull();

    const starts = new Date(Date.now() + 24 * hour);
    const ends = new Date(starts.getTime() + 3 * hour);
    expect((await staff.patch(`/jobs/${job.id}`, { version: job.version, window_starts_at: starts.toISOString(), window_ends_at: ends.toISOString() })).status).toBe(200);
    expect((await staff.post(`/jobs/${job.id}/assignment`, { vendor_id: vendorId })).status).toBe(200);
    expect((await staff.put(`/jobs/${job.id}/technician`, { technician_id: technicianId })).status).toBe(200);
    const items = [];
    for (const label of ['Check pressure', 'Bleed radiators', 'Replace valve', 'Test flue']) items.push((await staff.post(`/jobs/${job.id}/checklist`, { label })).body.data);
    expect((await staff.put(`/jobs/${job.id}/checklist/${items[0].id}`, { done: true })).status).toBe(200);
    seen = await clientJob(clientA, job.id);
    expect(seen.stage).toBe('scheduled');
    expect(seen.window).toEqual({ starts_at: starts.toISOString(), ends_at: ends.toISOString() });
    expect(seen.technician).toEqual({ first_name: 'Samira', eta_at: null });
    expect(seen.checklist_percent).toBe(25);
    expect(seen.can_cancel).toBe(false);
    expect(seen.timeline[1]).toMatchObject({ stage: 'scheduled', reached: true });
    expect(seen.timeline[1].at).not.toBeNull();

    const eta = new Date(Date.now() + 40 * 60_000);
    const onWay = await owner.api.post('/portal/vendor/actions', { id: randomUUID(), job_id: job.id, kind: 'en_route', happened_at: new Date().toISOString(), offline: false, eta: eta.toISOString() });
    expect(onWay.status, JSON.stringify(onWay.body)).toBe(201);
    seen = await clientJob(clientA, job.id);
    expect(seen.stage).toBe('on_the_way');
    expect(seen.technician).toEqual({ first_name: 'Samira', eta_at: eta.toISOString() });
    expect(seen.timeline[2]).toMatchObject({ stage: 'on_the_way', reached: true });

    expect((await owner.api.post('/portal/vendor/actions', { id: randomUUID(), job_id: job.id, kind: 'start', happened_at: new Date().toISOString(), offline: false })).status).toBe(201);
    seen = await clientJob(clientA, job.id);
    expect(seen.stage).toBe('in_progress');
    expect(seen.technician).toEqual({ first_name: 'Samira', eta_at: null });

    for (const item of items.slice(1)) expect((await staff.put(`/jobs/${job.id}/checklist/${item.id}`, { done: true })).status).toBe(200);
    expect((await staff.post(`/jobs/${job.id}/status`, { status: 'completed' })).status).toBe(200);
    seen = await clientJob(clientA, job.id);
    expect(seen.stage).toBe('done');
    expect(seen.checklist_percent).toBe(100);
    expect(seen.completed_at).not.toBeNull();
    expect(seen.timeline.every((s: { reached: boolean; at: string | null }) => s.reached && s.at)).toBe(true);
    expect(seen.technician).toBeNull();

    // Done: in the history, not among the open jobs.
    expect((await clientA.api.get('/portal/client/jobs', { scope: 'past' })).body.data.map((j: { id: string }) => j.id)).toContain(job.id);
    expect((await clientA.api.get('/portal/client/jobs', { scope: 'open' })).body.data.map((j: { id: string }) => j.id)).not.toContain(job.id);
  });

  it('shows "on the way" as skipped when work started without it, and a canceled job as canceled after what happened', async () => {
    const job = await staffJob(clientA.contactId);
    expect((await staff.post(`/jobs/${job.id}/assignment`, { vendor_id: vendorId })).status).toBe(200);
    expect((await owner.api.post('/portal/vendor/actions', { id: randomUUID(), job_id: job.id, kind: 'start', happened_at: new Date().toISOString(), offline: false })).status).toBe(201);
    let seen = await clientJob(clientA, job.id);
    expect(seen.stage).toBe('in_progress');
    expect(seen.timeline.map((s: { reached: boolean }) => s.reached)).toEqual([true, true, false, true, false]);

    expect((await staff.post(`/jobs/${job.id}/status`, { status: 'canceled', reason: 'Client moved out (internal)' })).status).toBe(200);
    seen = await clientJob(clientA, job.id);
    expect(seen.stage).toBe('canceled');
    expect(seen.timeline.map((s: { stage: string }) => s.stage)).toEqual(['received', 'scheduled', 'in_progress', 'canceled']);
    expect(JSON.stringify(seen)).not.toContain('internal');
  });

  it('shows nothing internal: no notes, status internals, vendor, amounts or the story', async () => {
    const job = await staffJob(clientA.contactId, { priority: 'urgent', custom_fields: {} });
    expect((await staff.post(`/jobs/${job.id}/assignment`, { vendor_id: vendorId })).status).toBe(200);
    expect((await staff.post(`/jobs/${job.id}/notes`, { body: 'INTERNAL: client is difficult' })).status).toBe(201);
    const seen = await clientJob(clientA, job.id);
    expect(Object.keys(seen).sort()).toEqual(jobKeys);
    for (const key of internalKeys) expect(seen).not.toHaveProperty(key);
    const text = JSON.stringify(seen);
    for (const secret of ['INTERNAL', 'Secret Plumbing', '+14155550999', 'Olga', 'urgent']) expect(text).not.toContain(secret);
    const list = (await clientA.api.get('/portal/client/jobs')).body.data as Array<Record<string, unknown>>;
    const card = list.find((j) => j.id === job.id)!;
    expect(Object.keys(card).sort()).toEqual([...summaryKeys].sort());
    expect(JSON.stringify(list)).not.toContain('INTERNAL');
  });

  it('lists only the files shared with the client, behind working signed links', async () => {
    const job = await staffJob(clientA.contactId);
    const upload = async (name: string, visibility: string) => {
      const res = await request(t.app).post(`/api/v1/jobs/${job.id}/artifacts`).query({ visibility }).set('Authorization', `Bearer ${admin.token}`).attach('file', await photo('#48a'), name);
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      return res.body.data as { id: string };
    };
    const internal = await upload('internal-meter.jpg', 'internal');
    const shared = await upload('finished-work.jpg', 'client_visible');
    const seen = await clientJob(clientA, job.id);
    expect(seen.files.map((f: { id: string }) => f.id)).toEqual([shared.id]);
    expect(JSON.stringify(seen)).not.toContain('internal-meter');
    expect(Object.keys(seen.files[0]).sort()).toEqual(['content_type', 'created_at', 'filename', 'id', 'kind', 'thumbnail_url', 'url']);
    const bytes = await fetchSignedLink(t, seen.files[0].url);
    expect(bytes.status).toBe(200);
    expect(bytes.headers['content-type']).toBe('image/jpeg');
    // Hidden again by staff: gone from the client's view.
    expect((await staff.patch(`/jobs/${job.id}/artifacts/${shared.id}`, { visibility: 'internal' })).status).toBe(200);
    expect((await clientJob(clientA, job.id)).files).toEqual([]);
    // Staff see both.
    expect((await staff.get(`/jobs/${job.id}/artifacts`)).body.data.map((f: { id: string }) => f.id).sort()).toEqual([internal.id, shared.id].sort());
  });
});

describe('asking for service', () => {
  it('offers the categories vendors work in, and the address of the last job', async () => {
    const res = await clientB.api.get('/portal/client/service-options');
    expect(res.status).toBe(200);
    expect(res.body.data.categories).toEqual(expect.arrayContaining(['heating', 'plumbing']));
    expect(res.body.data.address).toBeNull();
    expect((await clientA.api.get('/portal/client/service-options')).body.data.address).toBe('1 Client Road');
  });

  it('makes a portal job with the photos, the client thread and the first message; the same id again is the same job', async () => {
    const id = randomUUID();
    const starts = new Date(Date.now() + 48 * hour);
    const ends = new Date(starts.getTime() + 4 * hour);
    const fields = {
      id,
      service_category: 'plumbing',
      description: 'Kitchen tap drips all night\nIt started after the frost.',
      address: '22 Request Street',
      preferred_starts_at: starts.toISOString(),
      preferred_ends_at: ends.toISOString(),
    };
    const photos = [{ data: await photo('#c33'), name: 'tap.jpg' }, { data: await photo('#3c3'), name: 'sink.jpg' }];
    const res = await sendRequest(clientB, fields, photos);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const job = res.body.data;
    expect(job.stage).toBe('received');
    expect(job.summary).toBe('Kitchen tap drips all night');
    expect(job.preferred_window).toEqual({ starts_at: starts.toISOString(), ends_at: ends.toISOString() });
    expect(job.can_cancel).toBe(true);
    expect(job.files.map((f: { filename: string }) => f.filename)).toEqual(['tap.jpg', 'sink.jpg']);
    expect((await fetchSignedLink(t, job.files[0].url)).status).toBe(200);

    // Dispatch sees a job like any other, from the portal, with what the client would like.
    const staffView = (await staff.get(`/jobs/${job.id}`)).body.data;
    expect(staffView).toMatchObject({
      source: 'portal', status: 'new', chatwoot_contact_id: clientB.contactId, service_category: 'plumbing', address: '22 Request Street',
      requested_by_portal_user_id: clientB.portalUserId, preferred_starts_at: starts.toISOString(), preferred_ends_at: ends.toISOString(),
    });
    expect(staffView.notes).toContain('It started after the frost.');
    expect(staffView.events.map((e: { kind: string }) => e.kind)).toEqual(['created', 'artifact_added', 'artifact_added']);
    const files = (await staff.get(`/jobs/${job.id}/artifacts`)).body.data as Array<{ visibility: string; uploaded_by_type: string }>;
    expect(files.map((f) => [f.visibility, f.uploaded_by_type])).toEqual([['client_visible', 'portal_user'], ['client_visible', 'portal_user']]);
    expect((await staff.get('/jobs/board')).status).toBe(200);

    // The client's thread about the job, with the request as their first message (and the photos), queued for Chatwoot.
    const threads = await rows('client_threads', { job_id: job.id });
    expect(threads.map((r) => r.portal_user_id)).toEqual([clientB.portalUserId]);
    const messages = await rows('client_messages', { thread_id: threads[0].id });
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ direction: 'from_client', status: 'sending', client_id: id });
    expect(messages[0].content).toContain('Kitchen tap drips all night');
    expect(messages[0].content).toContain(job.reference);
    expect(messages[0].attachments.map((a: { filename: string }) => a.filename)).toEqual(['tap.jpg', 'sink.jpg']);
    const outbox = await rows('chatwoot_outbox', { kind: 'client_message' });
    expect(outbox.filter((o) => o.payload.messageId === messages[0].id)).toHaveLength(1);
    const audit = await rows('audit_events', { resource_id: job.id, action: 'job.created' });
    expect(audit.map((a) => a.actor_type)).toEqual(['portal_user']);
    const raised = await rows('notification_events', { resource_id: job.id });
    expect(raised.map((e) => e.event)).toContain('staff.job_created');

    // The thread answers the job's conversation (the messages route gives the same thread).
    const viaThreads = await clientB.api.get('/portal/client/threads', { job_id: job.id });
    if (viaThreads.status === 200) expect(viaThreads.body.data.map((th: { id: string }) => th.id)).toEqual([threads[0].id]);

    // Sent again (the answer was lost): the same job, nothing made twice.
    const again = await sendRequest(clientB, fields, photos);
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect(again.body.data.id).toBe(job.id);
    expect(await rows('jobs', { requested_by_portal_user_id: clientB.portalUserId })).toHaveLength(1);
    expect(await rows('job_artifacts', { job_id: job.id })).toHaveLength(2);
    expect(await rows('client_messages', { thread_id: threads[0].id })).toHaveLength(1);
    // The same id with other words is another request: refused.
    const reused = await sendRequest(clientB, { ...fields, description: 'Something else entirely' });
    expect(reused.status).toBe(422);
    expect(reused.body.error.code).toBe('idempotency_key_reused');

    // The photos of the request are part of the vendor's brief once a vendor has the job.
    expect((await staff.post(`/jobs/${job.id}/assignment`, { vendor_id: vendorId })).status).toBe(200);
    const vendorView = (await owner.api.get(`/portal/vendor/jobs/${job.id}`)).body.data;
    expect(vendorView.artifacts.map((a: { filename: string }) => a.filename)).toEqual(['tap.jpg', 'sink.jpg']);
  });

  it('takes a request as JSON without photos', async () => {
    const res = await clientB.api.post('/portal/client/requests', { id: randomUUID(), description: 'Gutter blocked', address: '22 Request Street' });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.data).toMatchObject({ stage: 'received', service_category: null, preferred_window: null, files: [] });
  });

  it('refuses what is not a request: bad fields, an unknown category, a document, too many photos', async () => {
    const base = { id: randomUUID(), description: 'Leak', address: '1 Road' };
    const noText = await sendRequest(clientB, { id: randomUUID(), address: '1 Road' });
    expect(noText.status).toBe(422);
    expect(noText.body.error.details.fields.map((f: { path: string }) => f.path)).toContain('body.description');
    const badWindow = await sendRequest(clientB, { ...base, preferred_starts_at: new Date(Date.now() + 5 * hour).toISOString(), preferred_ends_at: new Date(Date.now() + 2 * hour).toISOString() });
    expect(badWindow.status).toBe(422);
    const past = await clientB.api.post('/portal/client/requests', { ...base, preferred_starts_at: new Date(Date.now() - 5 * hour).toISOString() });
    expect(past.status).toBe(422);
    const category = await sendRequest(clientB, { ...base, service_category: 'rocket repair' });
    expect(category.status).toBe(422);
    expect(category.body.error.details.fields[0]).toMatchObject({ path: 'body.service_category', code: 'unknown_category' });
    const pdf = await sendRequest(clientB, base, [{ data: Buffer.from('%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n'.padEnd(5000, ' ')), name: 'plan.pdf' }]);
    expect(pdf.status).toBe(415);
    const six = await Promise.all([0, 1, 2, 3, 4, 5].map(async (i) => ({ data: await photo(`#${i}${i}${i}`), name: `p${i}.jpg` })));
    const tooMany = await sendRequest(clientB, base, six);
    expect(tooMany.status).toBe(413);
    expect(tooMany.body.error.code).toBe('too_many_files');
    // Nothing of the refused ones was made.
    expect(await rows('portal_actions', { portal_user_id: clientB.portalUserId, id: base.id })).toEqual([]);
  });
});

describe('calling off a request', () => {
  it('cancels a request no vendor has yet, through the lifecycle; refuses once a vendor has it', async () => {
    const made = await clientA.api.post('/portal/client/requests', { id: randomUUID(), description: 'Window will not close', address: '1 Client Road' });
    expect(made.status).toBe(201);
    const jobId = made.body.data.id as string;
    const canceled = await clientA.api.post(`/portal/client/jobs/${jobId}/cancel`, { reason: 'Fixed it myself' });
    expect(canceled.status, JSON.stringify(canceled.body)).toBe(200);
    expect(canceled.body.data).toMatchObject({ stage: 'canceled', can_cancel: false });
    const staffView = (await staff.get(`/jobs/${jobId}`)).body.data;
    expect(staffView.status).toBe('canceled');
    expect(staffView.cancel_reason).toBe('Canceled by the client: Fixed it myself');
    const audit = await rows('audit_events', { resource_id: jobId, action: 'job.canceled' });
    expect(audit.map((a) => [a.actor_type, a.actor_id])).toEqual([['portal_user', clientA.portalUserId]]);
    const again = await clientA.api.post(`/portal/client/jobs/${jobId}/cancel`, {});
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('not_cancelable');

    const assigned = await staffJob(clientA.contactId);
    expect((await staff.post(`/jobs/${assigned.id}/assignment`, { vendor_id: vendorId })).status).toBe(200);
    const refused = await clientA.api.post(`/portal/client/jobs/${assigned.id}/cancel`, {});
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('not_cancelable');
    expect((await staff.get(`/jobs/${assigned.id}`)).body.data.status).toBe('assigned');
  });
});

describe('one client never reaches another', () => {
  it('B cannot read, cancel, list or search A’s jobs, nor A’s files', async () => {
    const aRequestId = randomUUID();
    const made = await sendRequest(clientA, { id: aRequestId, description: 'Unique-zebra leak', address: '1 Client Road' }, [{ data: await photo('#33c'), name: 'zebra.jpg' }]);
    expect(made.status).toBe(201);
    const jobId = made.body.data.id as string;
    const read = await clientB.api.get(`/portal/client/jobs/${jobId}`);
    expect(read.status).toBe(404);
    const cancel = await clientB.api.post(`/portal/client/jobs/${jobId}/cancel`, {});
    expect(cancel.status).toBe(404);
    expect((await clientJob(clientA, jobId)).stage).toBe('received');
    for (const scope of ['open', 'past']) {
      const list = await clientB.api.get('/portal/client/jobs', { scope });
      expect(list.body.data.map((j: { id: string }) => j.id)).not.toContain(jobId);
      expect(JSON.stringify(list.body.data)).not.toContain('zebra');
    }
    // Through the staff routes a client's jobs:read reaches: scoped the same way.
    const search = await clientB.api.get('/jobs', { q: 'Unique-zebra' });
    expect(search.status).toBe(200);
    expect(search.body.data.map((j: { id: string }) => j.id)).not.toContain(jobId);
    expect((await clientB.api.get(`/jobs/${jobId}`)).status).toBe(404);
    expect((await clientB.api.get(`/jobs/${jobId}/artifacts`)).status).toBe(404);
    // Request ids are each person's own: A's id sent by B makes B's own job, never answers with A's.
    const copied = await sendRequest(clientB, { id: aRequestId, description: 'Unique-zebra leak', address: '9 Other Road' });
    expect(copied.status, JSON.stringify(copied.body)).toBe(201);
    expect(copied.body.data.id).not.toBe(jobId);
    expect((await clientB.api.get('/portal/client/service-options')).body.data.address).toBe('9 Other Road');
  });

  it('staff and vendors find no client jobs here', async () => {
    const job = await staffJob(clientA.contactId);
    expect((await staff.get('/portal/client/jobs')).body.data ?? []).toEqual([]);
    expect([403, 404]).toContain((await staff.get(`/portal/client/jobs/${job.id}`)).status);
    expect([403, 404]).toContain((await owner.api.get(`/portal/client/jobs/${job.id}`)).status);
    expect([403, 404]).toContain((await owner.api.post(`/portal/client/jobs/${job.id}/cancel`, {})).status);
    expect((await staff.get(`/jobs/${job.id}`)).body.data.status).toBe('new');
  });
});
