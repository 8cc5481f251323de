// The vendor portal's jobs: the tabs as each of a vendor's people sees them (and nobody else's jobs),
// what is shown of the client and when, and the action door: every kind of action, applied once
// however often the phone replays it, refusals kept and replayed as they were, the device's time for
// what was done offline, and a job that cannot be finished without its required items and photos.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import sharp from 'sharp';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemContext, withAccountForTests as withAccount } from '../../extension/db/tenant.ts';
import { storeReceivedArtifact } from '../../extension/modules/artifacts/service.ts';
import { spool } from '../../extension/modules/artifacts/upload.ts';
import { fanOutEvents } from '../../extension/notifications/fanout.ts';
import { apiAs } from '../helpers/api.ts';
import type { TestApp } from '../helpers/app.ts';
import { createClientPortalSession, inviteVendorUser, signInAgent, signInDispatcher, type SignedIn } from '../helpers/identity.ts';
import { useWorld } from '../helpers/world.ts';

const world = useWorld([1, 2]);
let t: TestApp;
let admin: SignedIn;
let asDispatcher: ReturnType<typeof apiAs>;
let dispatcherToken: string;
let tmpDir: string;
type Person = { token: string; portalUserId: string; api: ReturnType<typeof apiAs> };
const vendors: Record<string, { id: string; owner: Person; tech: Person }> = {};

const minute = 60_000;
const day = 24 * 60 * minute;
const inAYear = () => new Date(Date.now() + 365 * day).toISOString().slice(0, 10);
const contactId = 7101;

const cardKeys = [
  'id', 'reference', 'status', 'priority', 'summary', 'service_category', 'window_starts_at', 'window_ends_at', 'sla_due_at', 'sla_state',
  'checklist', 'postal_code', 'address', 'maps_url', 'client', 'technician', 'offer', 'eta', 'started_at', 'updated_at',
].sort();

beforeAll(async () => {
  t = world.t;
  admin = await signInAgent(t, world.chatwoot, 1, 'administrator', 'Ada Admin');
  expect((await apiAs(t, admin.token).patch('/admin/capabilities', { profile: 'construction' })).status).toBe(200);
  const dispatcher = await signInDispatcher(t, world.chatwoot, 1, admin);
  dispatcherToken = dispatcher.token;
  asDispatcher = apiAs(t, dispatcher.token);
  for (const name of ['North', 'South']) {
    const vendor = (await asDispatcher.post('/vendors', { name: `${name} Heating`, categories: ['plumbing', 'boilers'] })).body.data;
    expect((await asDispatcher.post(`/vendors/${vendor.id}/documents`, { kind: 'insurance', expires_on: inAYear() })).status).toBe(201);
    const owner = await inviteVendorUser(t, { accountId: admin.accountId, vendorId: vendor.id, staffToken: admin.token, name: `${name} Owner` });
    const tech = await inviteVendorUser(t, { accountId: admin.accountId, ownerToken: owner.token, name: `${name} Tech` });
    vendors[name] = { id: vendor.id, owner: { ...owner, api: apiAs(t, owner.token) }, tech: { ...tech, api: apiAs(t, tech.token) } };
  }
  // The client as the contacts cache holds them (filled from Chatwoot by the sync).
  await withAccount(t.db.knex, admin.accountId, { readOnly: false }, (trx) =>
    trx('chatwoot_contacts').insert({ account_id: admin.accountId, chatwoot_contact_id: contactId, name: 'Clara Client', phone_e164: '+14155550123' }),
  );
  tmpDir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'portal-jobs-'));
});

afterAll(async () => {
  if (tmpDir) await fs.promises.rm(tmpDir, { recursive: true, force: true });
});

async function newJob(fields: Record<string, unknown> = {}) {
  const res = await asDispatcher.post('/jobs', {
    summary: 'Radiator leaking',
    service_category: 'plumbing',
    address: '12 Hidden Lane',
    postal_code: 'AB1 2CD',
    chatwoot_contact_id: contactId,
    notes: 'Gate code 1234, client is difficult',
    ...fields,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.data as { id: string; reference: string; created_at: string };
}

async function assignedJob(vendor: string, fields: Record<string, unknown> = {}) {
  const job = await newJob(fields);
  expect((await asDispatcher.post(`/jobs/${job.id}/assignment`, { vendor_id: vendors[vendor]!.id })).status).toBe(200);
  return job;
}

const ids = (res: { body: { data: Array<{ id: string }> } }) => res.body.data.map((c) => c.id);
const tab = (who: Person, name: string) => who.api.get('/portal/vendor/jobs', { tab: name });

function action(jobId: string, kind: string, extra: Record<string, unknown> = {}) {
  return { id: randomUUID(), job_id: jobId, kind, happened_at: new Date().toISOString(), offline: false, ...extra };
}
const send = (who: Person, body: object) => who.api.post('/portal/vendor/actions', body);

/** When the vendor holding the job now was given it. */
const heldSince = async (jobId: string) =>
  (
    await withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) =>
      trx('job_vendors').where({ account_id: admin.accountId, job_id: jobId }).whereNull('unassigned_at').first('assigned_at'),
    )
  ).assigned_at as Date;
const staffEvents = async (jobId: string) => (await asDispatcher.get(`/jobs/${jobId}`)).body.data.events as Array<{ kind: string; data: Record<string, unknown> }>;
const jobRow = (jobId: string) =>
  withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) => trx('jobs').where({ account_id: admin.accountId, id: jobId }).first('status', 'started_at', 'completed_at', 'created_at'));

/**
 * The job was opened, given to its vendor and last moved a while ago (a device time before those
 * is not believed).
 */
const openedAgo = (jobId: string, ms: number) =>
  withAccount(t.db.knex, admin.accountId, { readOnly: false }, async (trx) => {
    const back = (column: string) => trx.raw(`${column} - make_interval(secs => ?)`, [ms / 1000]);
    await trx('jobs').where({ account_id: admin.accountId, id: jobId }).update({ created_at: back('created_at'), status_changed_at: back('status_changed_at') });
    await trx('job_vendors').where({ account_id: admin.accountId, job_id: jobId }).update({ assigned_at: back('assigned_at') });
  });

/** A photo tagged for the job's requirements, stored the way a finished upload is. */
async function tagPhoto(jobId: string, tag: string) {
  const png = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#3a6' } }).png().toBuffer();
  const received = await spool(Readable.from(png), `${tag}.png`, tmpDir, 5 * 1024 * 1024);
  const ctx = await systemContext(t.db.knex, admin.accountId, 'test-uploads');
  try {
    return await storeReceivedArtifact(t.services, ctx, jobId, received, { tag, clientId: randomUUID(), takenAt: new Date() });
  } finally {
    await fs.promises.rm(received.path, { force: true });
  }
}

describe('the tabs', () => {
  it('shows each of the vendor’s people their jobs by tab, and nobody another vendor’s', async () => {
    const north = vendors.North!;
    const south = vendors.South!;
    const now = Date.now();
    const today = await assignedJob('North', { window_starts_at: new Date(now - 60 * minute).toISOString(), window_ends_at: new Date(now + 60 * minute).toISOString() });
    const later = await assignedJob('North', { window_starts_at: new Date(now + 3 * day).toISOString(), sla_due_at: new Date(now + 5 * day).toISOString() });
    const techs = await assignedJob('North', { window_starts_at: new Date(now - 30 * minute).toISOString() });
    expect((await north.owner.api.put(`/portal/vendor/jobs/${techs.id}/technician`, { technician_id: north.tech.portalUserId })).status).toBe(200);
    const offered = await newJob({ summary: 'Boiler service offer' });
    const offer = (await asDispatcher.post(`/jobs/${offered.id}/offers`, { vendor_id: north.id })).body.data;
    const done = await assignedJob('North');
    expect((await asDispatcher.post(`/jobs/${done.id}/status`, { status: 'in_progress' })).status).toBe(200);
    expect((await asDispatcher.post(`/jobs/${done.id}/status`, { status: 'completed' })).status).toBe(200);
    const southern = await assignedJob('South', { window_starts_at: new Date(now - 60 * minute).toISOString() });

    // The owner: every job of the vendor.
    expect(ids(await tab(north.owner, 'today')).sort()).toEqual([today.id, techs.id].sort());
    expect(ids(await tab(north.owner, 'upcoming'))).toEqual([later.id]);
    const offeredTab = await tab(north.owner, 'offered');
    expect(ids(offeredTab)).toEqual([offered.id]);
    expect(ids(await tab(north.owner, 'done'))).toEqual([done.id]);

    // A technician: only the jobs given to them, and no offers.
    expect(ids(await tab(north.tech, 'today'))).toEqual([techs.id]);
    for (const name of ['upcoming', 'offered', 'done']) expect(ids(await tab(north.tech, name)), name).toEqual([]);
    expect((await north.tech.api.get(`/portal/vendor/jobs/${today.id}`)).status).toBe(404);
    expect((await north.tech.api.get(`/portal/vendor/jobs/${offered.id}`)).status).toBe(404);
    expect((await north.tech.api.get(`/portal/vendor/jobs/${techs.id}`)).status).toBe(200);

    // Across vendors: nothing of South's reaches North, in any tab or by id (and the other way round).
    for (const who of [north.owner, north.tech]) {
      for (const name of ['offered', 'today', 'upcoming', 'done']) expect(JSON.stringify((await tab(who, name)).body), name).not.toContain(southern.id);
      const probe = await who.api.get(`/portal/vendor/jobs/${southern.id}`);
      expect([probe.status, probe.body.error.code]).toEqual([404, 'not_found']);
    }
    expect(ids(await tab(south.owner, 'today'))).toEqual([southern.id]);
    expect((await south.owner.api.get(`/portal/vendor/jobs/${today.id}`)).status).toBe(404);
    expect((await south.owner.api.get(`/portal/vendor/jobs/${offered.id}`)).status).toBe(404);

    // Staff and clients have no vendor portal: an empty list, no job.
    expect((await asDispatcher.get('/portal/vendor/jobs', { tab: 'today' })).body.data).toEqual([]);
    expect((await asDispatcher.get(`/portal/vendor/jobs/${today.id}`)).status).toBe(404);

    // What a card shows while the job is theirs and open: the client and the address, nothing internal.
    const card = (await tab(north.owner, 'today')).body.data.find((c: { id: string }) => c.id === today.id);
    expect(Object.keys(card).sort()).toEqual(cardKeys);
    expect(card).toMatchObject({
      reference: today.reference,
      status: 'assigned',
      address: '12 Hidden Lane',
      maps_url: `https://www.google.com/maps/search/?api=1&query=${encodeURIComponent('12 Hidden Lane, ab12cd')}`,
      client: { name: 'Clara Client', phone: '+14155550123' },
      checklist: { done: 0, total: 0 },
      technician: null,
      offer: null,
    });
    expect((await tab(north.owner, 'today')).body.data.find((c: { id: string }) => c.id === techs.id).technician).toEqual({ id: north.tech.portalUserId, name: 'North Tech' });

    // An offered job and a finished one: no client, no address, no maps link.
    const offeredCard = offeredTab.body.data[0];
    expect(offeredCard).toMatchObject({ address: null, maps_url: null, client: null, offer: { id: offer.id, status: 'open', answer_by: offer.answer_by } });
    const doneCard = (await tab(north.owner, 'done')).body.data[0];
    expect(doneCard).toMatchObject({ status: 'completed', address: null, maps_url: null, client: null });
    const offeredDetail = (await north.owner.api.get(`/portal/vendor/jobs/${offered.id}`)).body.data;
    expect(offeredDetail).toMatchObject({ address: null, client: null, artifacts: [], events: [], allowed_actions: [] });

    // Never amounts, internal notes, scores or the staff owner, in any tab or detail.
    const everything = JSON.stringify([
      ...(await Promise.all(['offered', 'today', 'upcoming', 'done'].map(async (name) => (await tab(north.owner, name)).body))),
      (await north.owner.api.get(`/portal/vendor/jobs/${today.id}`)).body,
      offeredDetail,
    ]);
    expect(everything).not.toMatch(/Gate code|owner_id|"notes"|custom_fields|score|amount|compliance/);
    const detail = (await north.owner.api.get(`/portal/vendor/jobs/${today.id}`)).body.data;
    expect(detail).toMatchObject({ checklist_items: [], required_photos: [], artifacts: [], allowed_actions: ['en_route', 'start', 'note'] });
    expect(detail.events.map((e: { kind: string }) => e.kind)).toEqual(['created', 'assigned', 'status_changed']);
  });

  it('reads a list in the same number of queries however many jobs it holds, and pages through it', async () => {
    const north = vendors.North!;
    const queries = async () => {
      // Only the queries about jobs: a session's last use and other bookkeeping come and go.
      let count = 0;
      const counter = (q: { sql: string }) => void (/job/.test(q.sql) && count++);
      t.db.knex.on('query', counter);
      try {
        const res = await tab(north.owner, 'upcoming');
        expect(res.status).toBe(200);
        return { count, length: res.body.data.length as number };
      } finally {
        t.db.knex.off('query', counter);
      }
    };
    const before = await queries();
    for (let i = 0; i < 6; i++) await assignedJob('North', { window_starts_at: new Date(Date.now() + (4 + i) * day).toISOString(), sla_due_at: new Date(Date.now() + 12 * day).toISOString() });
    const after = await queries();
    expect(after.length).toBe(before.length + 6);
    expect(after.count).toBe(before.count);

    const first = await north.owner.api.get('/portal/vendor/jobs', { tab: 'upcoming', limit: 4 });
    expect(first.body.data).toHaveLength(4);
    const rest = await north.owner.api.get('/portal/vendor/jobs', { tab: 'upcoming', limit: 200, cursor: first.body.meta.next_cursor });
    expect([...ids(first), ...ids(rest)]).toEqual(ids(await tab(north.owner, 'upcoming')));
    const starts = [...first.body.data, ...rest.body.data].map((c: { window_starts_at: string }) => c.window_starts_at);
    expect(starts).toEqual([...starts].sort());
  });
});

describe('doing the job', () => {
  it('on my way, start with a location, notes, ticks; replays apply once; finishing needs the required items and photos', async () => {
    const north = vendors.North!;
    const template = await asDispatcher.post('/checklist-templates', {
      name: 'Boiler repair',
      service_category: 'boilers',
      items: [{ label: 'Pressure test' }, { label: 'Tidy up', required: false }],
      required_photos: [{ tag: 'after', label: 'After the repair', min: 1 }],
    });
    expect(template.status, JSON.stringify(template.body)).toBe(201);
    expect(template.body.data.required_photos).toEqual([{ tag: 'after', label: 'After the repair', min: 1 }]);
    const job = await assignedJob('North', { service_category: 'boilers', sla_due_at: new Date(Date.now() + day).toISOString() });
    await openedAgo(job.id, 3 * 3600_000);
    expect((await asDispatcher.get(`/jobs/${job.id}`)).body.data.required_photos).toEqual([{ tag: 'after', label: 'After the repair', min: 1 }]);
    expect((await north.owner.api.put(`/portal/vendor/jobs/${job.id}/technician`, { technician_id: north.tech.portalUserId })).status).toBe(200);
    const tech = north.tech;

    // On my way, with an ETA; the same action again answers the same and changes nothing.
    const eta = new Date(Date.now() + 40 * minute).toISOString();
    const enRoute = action(job.id, 'en_route', { eta });
    const first = await send(tech, enRoute);
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    expect(first.body.data.action).toMatchObject({ id: enRoute.id, kind: 'en_route', outcome: 'applied', device_time: enRoute.happened_at, offline: false, received_at: expect.any(String) });
    expect(first.body.data.job).toMatchObject({ id: job.id, status: 'assigned', eta, allowed_actions: ['en_route', 'start', 'check', 'uncheck', 'note'] });
    const eventCount = (await staffEvents(job.id)).length;
    const again = await send(tech, enRoute);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect((await staffEvents(job.id)).length).toBe(eventCount);
    expect((await staffEvents(job.id)).filter((e) => e.kind === 'en_route')).toEqual([expect.objectContaining({ data: { eta, device_time: enRoute.happened_at, offline: false } })]);
    // The same id with another body is not a replay.
    const reused = await send(tech, { ...enRoute, eta: new Date(Date.now() + 90 * minute).toISOString() });
    expect([reused.status, reused.body.error.code]).toEqual([422, 'idempotency_key_reused']);

    // Start, with where the phone was and how sure it was.
    const start = action(job.id, 'start', { location: { lat: 51.5072, lng: -0.1276, accuracy_m: 12 } });
    const started = await send(tech, start);
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    expect(started.body.data.job).toMatchObject({ status: 'in_progress', started_at: expect.any(String) });
    expect((await staffEvents(job.id)).find((e) => e.kind === 'started')!.data).toEqual({ location: { lat: 51.5072, lng: -0.1276, accuracy_m: 12 }, device_time: start.happened_at, offline: false });

    // A note to dispatch: on the staff timeline, and among the vendor's own events.
    const noted = await send(tech, action(job.id, 'note', { text: 'Water was off at the mains when I arrived' }));
    expect(noted.status).toBe(201);
    expect((await staffEvents(job.id)).find((e) => e.kind === 'vendor_note')!.data).toMatchObject({ text: 'Water was off at the mains when I arrived', offline: false });
    expect(noted.body.data.job.events.find((e: { kind: string }) => e.kind === 'vendor_note').data).toMatchObject({ text: 'Water was off at the mains when I arrived' });

    // Sending for review with nothing done: refused, naming the item and the photo; the refusal replays as it was.
    const early = action(job.id, 'submit_for_review');
    const refused = await send(tech, early);
    expect([refused.status, refused.body.error.code]).toEqual([422, 'requirements_missing']);
    expect(refused.body.error.details.missing).toEqual([{ type: 'item', label: 'Pressure test' }, { type: 'photo', label: 'After the repair' }]);
    const refusedAgain = await send(tech, early);
    expect([refusedAgain.status, refusedAgain.body.error]).toEqual([422, refused.body.error]);
    expect((await jobRow(job.id)).status).toBe('in_progress');

    // Ticks: check, uncheck, check again; each once.
    const detail = (await tech.api.get(`/portal/vendor/jobs/${job.id}`)).body.data;
    const pressure = detail.checklist_items.find((i: { label: string }) => i.label === 'Pressure test');
    expect(detail.required_photos).toEqual([{ tag: 'after', label: 'After the repair', min: 1, have: 0 }]);
    const tick = action(job.id, 'check', { item_id: pressure.id });
    expect((await send(tech, tick)).body.data.job.checklist).toEqual({ done: 1, total: 2 });
    expect((await send(tech, tick)).status).toBe(200);
    const untick = await send(tech, action(job.id, 'uncheck', { item_id: pressure.id }));
    expect(untick.body.data.job.checklist_items.find((i: { id: string }) => i.id === pressure.id).done_at).toBeNull();
    expect((await send(tech, action(job.id, 'check', { item_id: pressure.id }))).body.data.job.checklist).toEqual({ done: 1, total: 2 });
    expect((await staffEvents(job.id)).filter((e) => e.kind.startsWith('checklist_item')).map((e) => e.kind)).toEqual(['checklist_item_done', 'checklist_item_reopened', 'checklist_item_done']);

    // Completing without the photo: refused by the portal and by dispatch alike, naming the photo.
    const noPhoto = await send(tech, action(job.id, 'complete'));
    expect([noPhoto.status, noPhoto.body.error.details.missing]).toEqual([422, [{ type: 'photo', label: 'After the repair' }]]);
    const staffTry = await asDispatcher.post(`/jobs/${job.id}/status`, { status: 'completed' });
    expect([staffTry.status, staffTry.body.error.code, staffTry.body.error.details.missing]).toEqual([409, 'checklist_incomplete', [{ type: 'photo', label: 'After the repair' }]]);

    // The tagged photo arrives: completion goes through, offline, at the phone's time.
    const photo = await tagPhoto(job.id, 'after');
    const withPhoto = (await tech.api.get(`/portal/vendor/jobs/${job.id}`)).body.data;
    expect(withPhoto.required_photos).toEqual([{ tag: 'after', label: 'After the repair', min: 1, have: 1 }]);
    expect(withPhoto.artifacts).toEqual([expect.objectContaining({ id: photo.artifact.id, kind: 'photo', tag: 'after', url: expect.stringContaining('/api/v1/artifacts/content?token='), taken_at: expect.any(String) })]);
    expect(withPhoto.allowed_actions).toEqual(['check', 'uncheck', 'note', 'submit_for_review', 'complete']);
    // The phone says it finished before it started (its clock, or its owner, set back): the job
    // counts as finished when it started, never earlier; the event keeps the phone's word and when it arrived.
    const deviceTime = new Date(Date.now() - 7 * minute);
    const complete = action(job.id, 'complete', { offline: true, happened_at: deviceTime.toISOString() });
    const completed = await send(tech, complete);
    expect(completed.status, JSON.stringify(completed.body)).toBe(201);
    expect(completed.body.data.action).toMatchObject({ offline: true, device_time: deviceTime.toISOString() });
    expect(completed.body.data.job).toMatchObject({ status: 'completed', sla_state: 'met', address: null, client: null, allowed_actions: [] });
    const finished = await jobRow(job.id);
    expect(finished.completed_at.toISOString()).toBe(finished.started_at.toISOString());
    expect((await staffEvents(job.id)).at(-1)).toMatchObject({
      kind: 'status_changed',
      data: { from: 'in_progress', to: 'completed', device_time: deviceTime.toISOString(), offline: true, received_at: completed.body.data.action.received_at, counted_at: finished.started_at.toISOString() },
    });
    expect(ids(await tab(tech, 'done'))).toContain(job.id);

    // Every action sent is one row, the refusal kept as such.
    const log = await withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) =>
      trx('portal_actions').where({ account_id: admin.accountId, job_id: job.id }).orderBy('received_at').select('kind', 'outcome', 'status_code', 'offline'),
    );
    expect(log.map((r: { kind: string; outcome: string }) => `${r.kind}:${r.outcome}`)).toEqual([
      'en_route:applied', 'start:applied', 'note:applied', 'submit_for_review:rejected', 'check:applied', 'uncheck:applied', 'check:applied', 'complete:rejected', 'complete:applied',
    ]);
  });

  it('sends for review once everything is there, at the device time of a start queued offline', async () => {
    const north = vendors.North!;
    const job = await assignedJob('North', { service_category: 'boilers' });
    await openedAgo(job.id, 3600_000);
    const [pressure] = (await north.owner.api.get(`/portal/vendor/jobs/${job.id}`)).body.data.checklist_items;
    const startedAt = new Date(Date.now() - 45 * minute);
    expect((await send(north.owner, action(job.id, 'start', { offline: true, happened_at: startedAt.toISOString() }))).status).toBe(201);
    expect((await jobRow(job.id)).started_at.toISOString()).toBe(startedAt.toISOString());
    expect((await send(north.owner, action(job.id, 'check', { item_id: pressure.id, offline: true }))).status).toBe(201);
    await tagPhoto(job.id, 'after');
    const review = await send(north.owner, action(job.id, 'submit_for_review'));
    expect(review.status, JSON.stringify(review.body)).toBe(201);
    // In review: dispatch decides now; the vendor may still tick and write notes.
    expect(review.body.data.job).toMatchObject({ status: 'pending_review', allowed_actions: ['check', 'uncheck', 'note'] });
    expect((await jobRow(job.id)).completed_at).toBeNull();
  });

  it('does not believe a device clock far in the future or before the job existed', async () => {
    const north = vendors.North!;
    const future = await assignedJob('North');
    const sent = await send(north.owner, action(future.id, 'start', { offline: true, happened_at: new Date(Date.now() + 3 * 3600_000).toISOString() }));
    expect(sent.status).toBe(201);
    const row = await jobRow(future.id);
    expect(row.started_at.getTime()).toBe(new Date(sent.body.data.action.received_at).getTime());
    // Before the vendor was given the job: the job was given to them (created just before) at the earliest.
    const past = await assignedJob('North');
    expect((await send(north.owner, action(past.id, 'start', { offline: true, happened_at: '2020-01-01T00:00:00Z' }))).status).toBe(201);
    const pastRow = await jobRow(past.id);
    expect(pastRow.started_at.getTime()).toBe((await heldSince(past.id)).getTime());
    expect(pastRow.started_at.getTime()).toBeGreaterThan(pastRow.created_at.getTime());
  });
});

describe('conflicts and refusals', () => {
  it('a job canceled meanwhile refuses the queued action with a clear message, kept and replayed', async () => {
    const north = vendors.North!;
    const job = await assignedJob('North');
    expect((await asDispatcher.post(`/jobs/${job.id}/status`, { status: 'canceled', reason: 'Client fixed it' })).status).toBe(200);
    const queued = action(job.id, 'start', { offline: true, happened_at: new Date(Date.now() - 10 * minute).toISOString() });
    const refused = await send(north.owner, queued);
    expect([refused.status, refused.body.error.code]).toEqual([409, 'job_canceled']);
    expect(refused.body.error.message).toContain('canceled');
    const again = await send(north.owner, queued);
    expect([again.status, again.body.error]).toEqual([409, refused.body.error]);
    expect((await staffEvents(job.id)).map((e) => e.kind)).not.toContain('started');
    expect((await jobRow(job.id)).status).toBe('canceled');
  });

  it('nobody acts on a job that is not theirs: another vendor’s, or one not given to the technician', async () => {
    const north = vendors.North!;
    const south = vendors.South!;
    const job = await assignedJob('North');
    for (const who of [south.owner, south.tech, north.tech]) {
      const res = await send(who, action(job.id, 'start'));
      expect([res.status, res.body.error.code]).toEqual([404, 'not_found']);
    }
    expect((await jobRow(job.id)).status).toBe('assigned');
    // Staff act on /jobs, not here.
    const staff = await asDispatcher.post('/portal/vendor/actions', action(job.id, 'start'));
    expect([staff.status, staff.body.error.code]).toEqual([403, 'vendor_users_only']);
    // A vendor completing a job not yet started: the lifecycle says what is allowed.
    const skip = await send(north.owner, action(job.id, 'complete'));
    expect([skip.status, skip.body.error.code, skip.body.error.details.allowed]).toEqual([409, 'invalid_transition', ['in_progress']]);
  });

  it('answers hostile or malformed input with a 4xx', async () => {
    const north = vendors.North!;
    const job = await assignedJob('North');
    const bad: Array<[string, object]> = [
      ['id not a uuid', { ...action(job.id, 'start'), id: 'not-a-uuid' }],
      ['unknown kind', action(job.id, 'explode')],
      ['check without item', action(job.id, 'check')],
      ['item on a note', action(job.id, 'note', { text: 'x', item_id: randomUUID() })],
      ['note without text', action(job.id, 'note')],
      ['note with control characters', action(job.id, 'note', { text: 'bad\u0000text' })],
      ['note too long', action(job.id, 'note', { text: 'x'.repeat(5001) })],
      ['time not a time', { ...action(job.id, 'start'), happened_at: 'yesterday' }],
      ['eta on a start', action(job.id, 'start', { eta: new Date().toISOString() })],
      ['location off the globe', action(job.id, 'start', { location: { lat: 999, lng: 0, accuracy_m: 5 } })],
      ['offline not a boolean', { ...action(job.id, 'start'), offline: 'yes' }],
      ['job id an injection', { ...action(job.id, 'start'), job_id: "'; drop table jobs; --" }],
      ['array body', [] as unknown as object],
    ];
    for (const [what, body] of bad) {
      const res = await send(north.owner, body);
      expect(res.status, what).toBe(422);
    }
    const unknownItem = await send(north.owner, action(job.id, 'check', { item_id: randomUUID() }));
    expect(unknownItem.status).toBe(404);
    expect((await north.owner.api.get('/portal/vendor/jobs', { tab: 'everything' })).status).toBe(422);
    expect((await north.owner.api.get('/portal/vendor/jobs', { tab: 'today', cursor: 'garbage' })).status).toBe(400);
    expect((await north.owner.api.get('/portal/vendor/jobs', { tab: 'today', limit: 5000 })).status).toBe(422);
    expect((await north.owner.api.get('/portal/vendor/jobs/not-a-uuid')).status).toBe(422);
    // Templates: a required photo needs a tag of letters, digits, _ and -, each tag once.
    const badTag = await asDispatcher.post('/checklist-templates', { name: 'X', items: [{ label: 'a' }], required_photos: [{ tag: 'After Photo!', label: 'After' }] });
    expect(badTag.status).toBe(422);
    const twice = await asDispatcher.post('/checklist-templates', { name: 'X', items: [{ label: 'a' }], required_photos: [{ tag: 'after', label: 'A' }, { tag: 'after', label: 'B' }] });
    expect(twice.status).toBe(422);
    expect((await jobRow(job.id)).status).toBe('assigned');
  });
});

describe('technicians hear of the jobs given to them and taken from them', () => {
  it('the technician given a job, and the one it was taken from, each get a vendor notification', async () => {
    const north = vendors.North!;
    const second = await inviteVendorUser(t, { accountId: admin.accountId, ownerToken: north.owner.token, name: 'North Second' });
    const job = await assignedJob('North', { summary: 'Boiler making noises' });
    const bell = async (token: string) =>
      ((await apiAs(t, token).get('/notifications', { limit: 200 })).body.data as Array<{ event: string; title: string; body: string; resource_id: string }>).filter(
        (n) => n.resource_id === job.id && n.event.includes('technician'),
      );
    const fanOut = () => fanOutEvents(t.db.knex, admin.accountId, { publicUrl: t.config.PUBLIC_URL });

    // The owner gives it to the technician: the technician hears it (though the owner is of the same vendor).
    expect((await north.owner.api.put(`/portal/vendor/jobs/${job.id}/technician`, { technician_id: north.tech.portalUserId })).status).toBe(200);
    await fanOut();
    const given = await bell(north.tech.token);
    expect(given.map((n) => n.event)).toEqual(['vendor.job_given_to_technician']);
    expect(given[0]!.title).toBe(`Job ${job.reference} given to North Tech: Boiler making noises`);
    expect(given[0]!.body).toContain('12 Hidden Lane');

    // Given to another: the first technician hears it was taken (once), the second that it is theirs.
    expect((await north.owner.api.put(`/portal/vendor/jobs/${job.id}/technician`, { technician_id: second.portalUserId })).status).toBe(200);
    await fanOut();
    // (The job's other news, the giving included, went with the job: the news of its going stays.)
    const taken = await bell(north.tech.token);
    expect(taken.map((n) => [n.event, n.title, n.body])).toEqual([
      ['vendor.job_taken_from_technician', `Job ${job.reference} is no longer with North Tech`, 'Boiler making noises. Now with North Second.'],
    ]);
    expect(JSON.stringify(taken)).not.toContain('12 Hidden Lane');
    // The second sees the job's news now that it is theirs, their own giving among it.
    expect(await bell(second.token)).toContainEqual(expect.objectContaining({ event: 'vendor.job_given_to_technician', title: `Job ${job.reference} given to North Second: Boiler making noises` }));

    // Dispatch takes it back from the second technician: they hear it too.
    expect((await asDispatcher.put(`/jobs/${job.id}/technician`, { technician_id: null })).status).toBe(200);
    await fanOut();
    const back = (await bell(second.token)).find((n) => n.event === 'vendor.job_taken_from_technician');
    expect(back).toMatchObject({ title: `Job ${job.reference} is no longer with North Second`, body: 'Boiler making noises. Back with the vendor’s owner.' });
    // The owner hears nothing of their own giving and taking, only of dispatch's.
    expect((await bell(north.owner.token)).map((n) => n.event)).toEqual(['vendor.job_taken_from_technician']);
    // The vendor's other technician hears nothing of a job never theirs.
    const bystander = (await apiAs(t, vendors.South!.tech.token).get('/notifications', { limit: 200 })).body.data as Array<{ resource_id: string }>;
    expect(bystander.map((n) => n.resource_id)).not.toContain(job.id);
  });
});

/** A file tagged for the job's requirements, stored the way a finished upload is (a photo, or a PDF). */
async function tagFile(jobId: string, tag: string, kind: 'photo' | 'pdf') {
  const bytes = kind === 'photo' ? await sharp({ create: { width: 64, height: 48, channels: 3, background: '#a63' } }).png().toBuffer() : Buffer.from('%PDF-1.4\n%âãÏÓ\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n');
  const received = await spool(Readable.from(bytes), kind === 'photo' ? `${tag}.png` : `${tag}.pdf`, tmpDir, 5 * 1024 * 1024);
  const ctx = await systemContext(t.db.knex, admin.accountId, 'test-uploads');
  try {
    return (await storeReceivedArtifact(t.services, ctx, jobId, received, { tag, clientId: randomUUID(), takenAt: new Date() })).artifact;
  } finally {
    await fs.promises.rm(received.path, { force: true });
  }
}

describe('a device time is checked against the job’s own history', () => {
  it('a phone’s clock set back cannot make a late job look on time, nor reach back beyond a day', async () => {
    const north = vendors.North!;
    // Due an hour ago; the vendor starts now and says, offline, it finished two hours ago.
    const late = await assignedJob('North', { sla_due_at: new Date(Date.now() - 60 * minute).toISOString() });
    await openedAgo(late.id, 3 * 3600_000);
    expect((await send(north.owner, action(late.id, 'start'))).status).toBe(201);
    const claimed = new Date(Date.now() - 2 * 3600_000);
    const done = await send(north.owner, action(late.id, 'complete', { offline: true, happened_at: claimed.toISOString() }));
    expect(done.status, JSON.stringify(done.body)).toBe(201);
    expect(done.body.data.job).toMatchObject({ status: 'completed', sla_state: 'missed' });
    const row = await jobRow(late.id);
    expect(row.completed_at.getTime()).toBe(row.started_at.getTime());

    // Offline for a week: the start counts a day before it arrived, the longest offline spell believed.
    const away = await assignedJob('North');
    await openedAgo(away.id, 40 * 3600_000);
    const started = await send(north.owner, action(away.id, 'start', { offline: true, happened_at: new Date(Date.now() - 30 * 3600_000).toISOString() }));
    expect(started.status).toBe(201);
    expect((await jobRow(away.id)).started_at.getTime()).toBe(new Date(started.body.data.action.received_at).getTime() - day);

    // A day of work queued offline and replayed in order keeps each device time: start, then complete.
    const queued = await assignedJob('North');
    await openedAgo(queued.id, 3 * 3600_000);
    const startAt = new Date(Date.now() - 50 * minute);
    const endAt = new Date(Date.now() - 20 * minute);
    expect((await send(north.owner, action(queued.id, 'start', { offline: true, happened_at: startAt.toISOString() }))).status).toBe(201);
    expect((await send(north.owner, action(queued.id, 'complete', { offline: true, happened_at: endAt.toISOString() }))).status).toBe(201);
    const chain = await jobRow(queued.id);
    expect([chain.started_at.toISOString(), chain.completed_at.toISOString()]).toEqual([startAt.toISOString(), endAt.toISOString()]);
  });
});

describe('a job handed to another vendor', () => {
  it('starts afresh for the new vendor: no earlier vendor’s start, story, files or photos (dispatch’s brief from before any vendor stays)', async () => {
    const north = vendors.North!;
    const south = vendors.South!;
    const template = await asDispatcher.post('/checklist-templates', { name: 'Radiators', service_category: 'radiators', items: [{ label: 'Bleed the radiators', required: false }], required_photos: [{ tag: 'after', label: 'After', min: 1 }] });
    expect(template.status, JSON.stringify(template.body)).toBe(201);
    // Dispatch's brief before any vendor: a photo of the site. Later, a file of dispatch's about North's work.
    const job = await newJob({ service_category: 'radiators' });
    const upload = (name: string, colour: string) =>
      sharp({ create: { width: 40, height: 30, channels: 3, background: colour } })
        .jpeg()
        .toBuffer()
        .then((bytes) => request(t.app).post(`/api/v1/jobs/${job.id}/artifacts`).set('Authorization', `Bearer ${dispatcherToken}`).attach('file', bytes, name));
    const siteFile = await upload('site.jpg', '#36a');
    expect(siteFile.status, JSON.stringify(siteFile.body)).toBe(201);
    expect((await asDispatcher.post(`/jobs/${job.id}/assignment`, { vendor_id: north.id })).status).toBe(200);
    await openedAgo(job.id, 3 * 3600_000);
    // The site photo keeps its place before the (moved back) assignment.
    await withAccount(t.db.knex, admin.accountId, { readOnly: false }, (trx) =>
      trx('job_artifacts').where({ account_id: admin.accountId, id: siteFile.body.data.id }).update({ created_at: trx.raw(`created_at - interval '4 hours'`) }),
    );
    expect((await send(north.owner, action(job.id, 'en_route', { eta: new Date(Date.now() + 30 * minute).toISOString() }))).status).toBe(201);
    expect((await send(north.owner, action(job.id, 'start', { location: { lat: 51.5, lng: -0.12, accuracy_m: 8 } }))).status).toBe(201);
    expect((await send(north.owner, action(job.id, 'note', { text: 'North found the valve seized' }))).status).toBe(201);
    await tagFile(job.id, 'after', 'photo');
    expect((await north.owner.api.get(`/portal/vendor/jobs/${job.id}`)).body.data.required_photos[0].have).toBe(1);
    const northQuote = await upload('north-quote.jpg', '#a36');
    expect(northQuote.status, JSON.stringify(northQuote.body)).toBe(201);

    // Dispatch hands it to South mid-work: back to assigned, its start cleared, the move in the story.
    const moved = await asDispatcher.post(`/jobs/${job.id}/assignment`, { vendor_id: south.id, reason: 'North is off sick' });
    expect(moved.status, JSON.stringify(moved.body)).toBe(200);
    expect(moved.body.data).toMatchObject({ status: 'assigned', started_at: null, vendor_id: south.id });
    expect((await staffEvents(job.id)).at(-1)).toMatchObject({ kind: 'status_changed', data: { from: 'in_progress', to: 'assigned', via: 'assignment' } });

    // South sees its own part only: no North events, files, photo counts or ETA.
    const detail = (await south.owner.api.get(`/portal/vendor/jobs/${job.id}`)).body.data;
    expect(detail.events.map((e: { kind: string }) => e.kind)).toEqual(['created', 'reassigned', 'status_changed']);
    expect(detail).toMatchObject({ status: 'assigned', started_at: null, eta: null, required_photos: [{ tag: 'after', label: 'After', min: 1, have: 0 }] });
    expect(detail.artifacts.map((a: { id: string }) => a.id)).toEqual([siteFile.body.data.id]);
    expect(detail.allowed_actions).toEqual(['en_route', 'start', 'check', 'uncheck', 'note']);
    expect(JSON.stringify(detail)).not.toMatch(/North found|North Heating/);
    // The same through the staff routes a vendor may call.
    const viaJobs = await south.owner.api.get(`/jobs/${job.id}`);
    expect(viaJobs.status).toBe(200);
    expect(JSON.stringify(viaJobs.body.data.events)).not.toMatch(/North found|North Heating|vendor_note|started/);
    const files = await south.owner.api.get(`/jobs/${job.id}/artifacts`);
    expect([files.status, files.body.data.map((a: { id: string }) => a.id)]).toEqual([200, [siteFile.body.data.id]]);

    // South cannot finish North's work at once, nor date its start before it was given the job.
    const rushed = await send(south.owner, action(job.id, 'complete'));
    expect([rushed.status, rushed.body.error.code]).toEqual([409, 'invalid_transition']);
    expect((await send(south.owner, action(job.id, 'start', { offline: true, happened_at: new Date(Date.now() - 2 * 3600_000).toISOString() }))).status).toBe(201);
    expect((await jobRow(job.id)).started_at.getTime()).toBe((await heldSince(job.id)).getTime());

    // Only South's photos count, and a PDF tagged "after" is no photo.
    await tagFile(job.id, 'after', 'pdf');
    expect((await south.owner.api.get(`/portal/vendor/jobs/${job.id}`)).body.data.required_photos[0].have).toBe(0);
    const refused = await send(south.owner, action(job.id, 'complete'));
    expect([refused.status, refused.body.error.details?.missing]).toEqual([422, [{ type: 'photo', label: 'After' }]]);
    await tagFile(job.id, 'after', 'photo');
    expect((await south.owner.api.get(`/portal/vendor/jobs/${job.id}`)).body.data.required_photos[0].have).toBe(1);
    expect((await send(south.owner, action(job.id, 'complete'))).status).toBe(201);
  });
});

describe('what the client reads of the vendor’s work', () => {
  it('the job’s progress, never the vendor’s notes, places, device times or people', async () => {
    const north = vendors.North!;
    const job = await assignedJob('North');
    expect((await north.owner.api.put(`/portal/vendor/jobs/${job.id}/technician`, { technician_id: north.tech.portalUserId })).status).toBe(200);
    const eta = new Date(Date.now() + 25 * minute).toISOString();
    expect((await send(north.tech, action(job.id, 'en_route', { eta, offline: true }))).status).toBe(201);
    expect((await send(north.tech, action(job.id, 'start', { offline: true, location: { lat: 51.51, lng: -0.13, accuracy_m: 9 } }))).status).toBe(201);
    expect((await send(north.tech, action(job.id, 'note', { text: 'Client’s dog bit the ladder' }))).status).toBe(201);

    const client = await createClientPortalSession(t, admin, contactId);
    const seen = await apiAs(t, client.token).get(`/jobs/${job.id}`);
    expect(seen.status, JSON.stringify(seen.body)).toBe(200);
    const events = seen.body.data.events as Array<{ kind: string; data: Record<string, unknown> }>;
    expect(events.map((e) => e.kind)).not.toContain('vendor_note');
    expect(events.map((e) => e.kind)).not.toContain('technician_set');
    expect(events.find((e) => e.kind === 'en_route')!.data).toEqual({ eta });
    expect(JSON.stringify(events)).not.toMatch(/dog bit|device_time|offline|51\.51|North Tech|accuracy/);
    // The vendor still reads its own notes.
    const own = (await north.tech.api.get(`/portal/vendor/jobs/${job.id}`)).body.data.events as Array<{ kind: string; data: Record<string, unknown> }>;
    expect(own.find((e) => e.kind === 'vendor_note')!.data).toMatchObject({ text: 'Client’s dog bit the ladder' });
  });
});

describe('replays and the offered tab', () => {
  it('a replay shows the job as the caller may see it now: nothing of it once it is no longer theirs', async () => {
    const north = vendors.North!;
    const job = await assignedJob('North');
    expect((await north.owner.api.put(`/portal/vendor/jobs/${job.id}/technician`, { technician_id: north.tech.portalUserId })).status).toBe(200);
    const note = action(job.id, 'note', { text: 'Parts ordered' });
    const first = await send(north.tech, note);
    expect(first.status).toBe(201);
    expect(first.body.data.job).toMatchObject({ id: job.id, client: { name: 'Clara Client', phone: '+14155550123' } });
    const stored = await withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) => trx('portal_actions').where({ account_id: admin.accountId, id: note.id }).first('response'));
    expect(Object.keys(stored.response)).toEqual(['action']);

    // The owner takes the job back from the technician: the replay keeps the outcome, shows no job.
    expect((await north.owner.api.put(`/portal/vendor/jobs/${job.id}/technician`, { technician_id: null })).status).toBe(200);
    const again = await send(north.tech, note);
    expect(again.status).toBe(200);
    expect(again.body.data).toEqual({ action: first.body.data.action, job: null });
    expect(JSON.stringify(again.body)).not.toMatch(/Clara|4155550123|Hidden Lane|token=/);
    // The owner replaying its own action sees the job as it is now.
    const owners = action(job.id, 'note', { text: 'Owner checking in' });
    expect((await send(north.owner, owners)).status).toBe(201);
    expect((await send(north.owner, owners)).body.data.job).toMatchObject({ id: job.id, technician: null });
  });

  it('an action kept before actions were fingerprinted is replayed on its id alone', async () => {
    const north = vendors.North!;
    const job = await assignedJob('North');
    const note = action(job.id, 'note', { text: 'Owner checking in' });
    expect((await send(north.owner, note)).status).toBe(201);
    await withAccount(t.db.knex, admin.accountId, { readOnly: false }, (trx) => trx('portal_actions').where({ account_id: admin.accountId, id: note.id }).update({ request_hash: null }));
    const old = await send(north.owner, { ...note, text: 'Owner checking in (as the old app sent it)' });
    expect(old.status, JSON.stringify(old.body)).toBe(200);
    expect(old.body.data.action).toMatchObject({ id: note.id, kind: 'note', outcome: 'applied' });
    expect((await staffEvents(job.id)).filter((e) => e.kind === 'vendor_note')).toHaveLength(1);
  });

  it('offers only what can still be taken: not a canceled job, not an offer past its answer-by time', async () => {
    const north = vendors.North!;
    const live = await newJob({ summary: 'Offer still open' });
    const canceled = await newJob({ summary: 'Offer of a canceled job' });
    const lapsed = await newJob({ summary: 'Offer past its time' });
    for (const job of [live, canceled, lapsed]) expect((await asDispatcher.post(`/jobs/${job.id}/offers`, { vendor_id: north.id })).status).toBe(201);
    expect((await asDispatcher.post(`/jobs/${canceled.id}/status`, { status: 'canceled', reason: 'Client changed their mind' })).status).toBe(200);
    // The sweep has not run yet: the offer is still open in its table, its time gone.
    await withAccount(t.db.knex, admin.accountId, { readOnly: false }, (trx) =>
      trx('job_offers').where({ account_id: admin.accountId, job_id: lapsed.id }).update({ answer_by: trx.raw(`now() - interval '1 minute'`) }),
    );
    const offered = ids(await tab(north.owner, 'offered'));
    expect(offered).toContain(live.id);
    expect(offered).not.toContain(canceled.id);
    expect(offered).not.toContain(lapsed.id);
    expect((await north.owner.api.get(`/portal/vendor/jobs/${lapsed.id}`)).status).toBe(404);
  });
});

describe('dispatch hears from the vendor', () => {
  const fanOut = () => fanOutEvents(t.db.knex, admin.accountId, { publicUrl: t.config.PUBLIC_URL });

  it('a note to dispatch reaches the dispatchers’ bell and the job’s conversations as a private note', async () => {
    const north = vendors.North!;
    const job = await assignedJob('North', { summary: 'Leak under the sink' });
    await withAccount(t.db.knex, admin.accountId, { readOnly: false }, (trx) => trx('job_conversations').insert({ account_id: admin.accountId, job_id: job.id, chatwoot_conversation_id: 91001 }));
    expect((await send(north.owner, action(job.id, 'note', { text: 'Need a second person for the lift' }))).status).toBe(201);
    const notes = await withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) =>
      trx('chatwoot_outbox').where({ account_id: admin.accountId, chatwoot_conversation_id: 91001, kind: 'note' }).pluck('payload'),
    );
    expect(notes.map((p: { content: string }) => p.content)).toContainEqual(expect.stringContaining('Need a second person for the lift'));
    await fanOut();
    const bell = (await asDispatcher.get('/notifications', { limit: 200 })).body.data as Array<{ event: string; title: string; body: string; resource_id: string }>;
    expect(bell.filter((n) => n.resource_id === job.id && n.event === 'staff.vendor_note').map((n) => [n.title, n.body])).toEqual([
      [`Note from North Heating on job ${job.reference}`, 'Leak under the sink. “Need a second person for the lift”'],
    ]);
  });

  it('news of a technician goes to their vendor, though the job moved to another before it went out', async () => {
    const north = vendors.North!;
    const south = vendors.South!;
    const job = await assignedJob('North');
    expect((await north.owner.api.put(`/portal/vendor/jobs/${job.id}/technician`, { technician_id: north.tech.portalUserId })).status).toBe(200);
    expect((await asDispatcher.post(`/jobs/${job.id}/assignment`, { vendor_id: south.id })).status).toBe(200);
    await fanOut();
    const told = await withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) =>
      trx('notifications').where({ account_id: admin.accountId, resource_id: job.id, event: 'vendor.job_given_to_technician' }).select('recipient_kind', 'recipient_id'),
    );
    expect(told).toEqual([{ recipient_kind: 'vendor', recipient_id: north.id }]);
    const southBell = (await south.owner.api.get('/notifications', { limit: 200 })).body.data as Array<{ event: string; resource_id: string }>;
    expect(southBell.filter((n) => n.resource_id === job.id).map((n) => n.event)).not.toContain('vendor.job_given_to_technician');
  });
});
