import request from 'supertest';
import { beforeAll, describe, expect, it } from 'vitest';
import { drainOutbox } from '../../extension/chatwoot/outbox.ts';
import { withAccountForTests as withAccount } from '../../extension/db/tenant.ts';
import { emitSlaEvents } from '../../extension/modules/jobs/service.ts';
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
let pipeline: { id: string; stages: Array<{ id: string; name: string; kind: string }> };

const day = 24 * 3600_000;
const isoDate = (offsetDays: number) => new Date(Date.now() + offsetDays * day).toISOString().slice(0, 10);

beforeAll(async () => {
  ({ t, chatwoot } = world);
  admin = await signInAgent(t, chatwoot, 1, 'administrator', 'Admin');
  asAdmin = apiAs(t, admin.token);
  // The construction profile turns on jobs, vendors and the portals.
  expect((await asAdmin.patch('/admin/capabilities', { profile: 'construction' })).status).toBe(200);
  agent = await signInAgent(t, chatwoot, 1, 'agent', 'Agent');
  dispatcher = await signInDispatcher(t, chatwoot, 1, admin);
  asAgent = apiAs(t, agent.token);
  asDispatcher = apiAs(t, dispatcher.token);
  pipeline = (await asAdmin.get('/pipelines')).body.data[0];
});

async function newVendor(input: Record<string, unknown>, documents: Array<{ kind: string; expires_on: string | null }> = [{ kind: 'insurance', expires_on: isoDate(365) }]) {
  const res = await asDispatcher.post('/vendors', input);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  for (const doc of documents) expect((await asDispatcher.post(`/vendors/${res.body.data.id}/documents`, doc)).status).toBe(201);
  return res.body.data as { id: string; name: string; version: number };
}

async function newJob(input: Record<string, unknown> = {}) {
  const res = await asAgent.post('/jobs', { summary: 'Leaking radiator valve', ...input });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.data as { id: string; reference: string; version: number; status: string; sla_due_at: string; created_at: string };
}

describe('jobs', () => {
  it('numbers jobs per account, derives the SLA from priority, copies the category’s checklist and tells the conversation', async () => {
    await asDispatcher.post('/checklist-templates', { name: 'Plumbing visit', service_category: 'Plumbing', items: [{ label: 'Water off' }, { label: 'Photo after', required: false }] });
    const conversation = chatwoot.addConversation(1, 501);
    const job = await newJob({ priority: 'urgent', service_category: 'plumbing', conversation_ids: [conversation.id], chatwoot_contact_id: 7001 });
    expect(job.reference).toMatch(/^J-\d+$/);
    expect(new Date(job.sla_due_at).getTime() - new Date(job.created_at).getTime()).toBe(4 * 3600_000);
    const detail = (await asAgent.get(`/jobs/${job.id}`)).body.data;
    expect(detail.checklist.map((i: { label: string; required: boolean }) => [i.label, i.required])).toEqual([['Water off', true], ['Photo after', false]]);
    expect(detail.events.map((e: { kind: string }) => e.kind)).toEqual(['created']);
    expect(detail.conversation_ids).toEqual([conversation.id]);
    await drainOutbox(t.db.knex, t.services.sealer, agent.accountId, 1000);
    expect(conversation.messages.at(-1)).toMatchObject({ private: true, content: `Onelink · ${job.reference} “Leaking radiator valve”: job created` });
    expect(conversation.customAttributes).toMatchObject({ onelink_job: job.reference, onelink_job_status: 'new' });
  });

  it('refuses bad input with 422 and stores nothing', async () => {
    const before = (await asAgent.get('/jobs', { limit: 200 })).body.data.length;
    for (const body of [
      { summary: '' },
      { summary: 'x', lat: 51.5 },
      { summary: 'x', window_starts_at: '2030-01-02T10:00:00Z', window_ends_at: '2030-01-02T09:00:00Z' },
      { summary: 'x', source: 'fax' },
      { summary: 'x', deal_ids: ['00000000-0000-4000-8000-000000000000'] },
      { summary: 'x', custom_fields: { not_a_field: 1 } },
    ]) {
      const res = await asAgent.post('/jobs', body);
      expect(res.status, JSON.stringify(body)).toBe(422);
      expect(res.body.error.code).toBe('validation_failed');
    }
    expect((await asAgent.get('/jobs', { limit: 200 })).body.data.length).toBe(before);
  });

  it('enforces the lifecycle: 409 with the allowed next states, guards for vendor, checklist and cancel reason', async () => {
    await asDispatcher.post('/checklist-templates', { name: 'Electrics', service_category: 'electrical', items: [{ label: 'Isolate circuit' }] });
    const vendor = await newVendor({ name: 'Volt & Sons', categories: ['electrical'] });
    const job = await newJob({ service_category: 'electrical' });

    const skip = await asDispatcher.post(`/jobs/${job.id}/status`, { status: 'completed' });
    expect([skip.status, skip.body.error.code, skip.body.error.details.allowed]).toEqual([409, 'invalid_transition', ['triaged', 'assigned', 'canceled']]);
    const noVendor = await asDispatcher.post(`/jobs/${job.id}/status`, { status: 'assigned' });
    expect([noVendor.status, noVendor.body.error.code]).toEqual([409, 'vendor_required']);
    expect((await asAgent.post(`/jobs/${job.id}/status`, { status: 'triaged' })).status).toBe(403); // agents create jobs; dispatch moves them
    expect((await asDispatcher.post(`/jobs/${job.id}/status`, { status: 'triaged' })).status).toBe(200);
    expect((await asDispatcher.post(`/jobs/${job.id}/assignment`, { vendor_id: vendor.id })).body.data.status).toBe('assigned');
    expect((await asDispatcher.post(`/jobs/${job.id}/status`, { status: 'in_progress' })).status).toBe(200);

    const early = await asDispatcher.post(`/jobs/${job.id}/status`, { status: 'completed' });
    expect([early.status, early.body.error.code]).toEqual([409, 'checklist_incomplete']);
    const done = await asDispatcher.post(`/jobs/${job.id}/status`, { status: 'completed', override_reason: 'Customer isolated it themselves' });
    expect(done.status).toBe(200);
    expect(done.body.data.sla_state).toBe('met');
    const detail = (await asDispatcher.get(`/jobs/${job.id}`)).body.data;
    expect(detail.events.at(-1)).toMatchObject({ kind: 'status_changed', data: { from: 'in_progress', to: 'completed', override_reason: 'Customer isolated it themselves', open_required_items: 1 } });

    const other = await newJob({ service_category: 'electrical' });
    await asDispatcher.post(`/jobs/${other.id}/assignment`, { vendor_id: vendor.id });
    const backToTriage = await asDispatcher.post(`/jobs/${other.id}/status`, { status: 'triaged', reason: 'Vendor cannot make the window' });
    expect(backToTriage.body.data).toMatchObject({ status: 'triaged', vendor_id: null });
    expect((await asDispatcher.get(`/jobs/${other.id}`)).body.data.assignments[0]).toMatchObject({ unassign_reason: 'Vendor cannot make the window' });

    const cancelDone = await asDispatcher.post(`/jobs/${job.id}/status`, { status: 'canceled' });
    expect(cancelDone.status).toBe(409);
    expect((await asDispatcher.post(`/jobs/${job.id}/status`, { status: 'in_progress' })).body.data.status).toBe('in_progress'); // reopen

    const third = await newJob();
    const noReason = await asDispatcher.post(`/jobs/${third.id}/status`, { status: 'canceled' });
    expect([noReason.status, noReason.body.error.details.fields[0].path]).toEqual([422, 'body.reason']);
    expect((await asDispatcher.post(`/jobs/${third.id}/status`, { status: 'canceled', reason: 'Duplicate of an earlier call' })).body.data.status).toBe('canceled');
    const audit = await withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) => trx('audit_events').where({ resource_id: third.id }).orderBy('id').pluck('action'));
    expect(audit).toEqual(['job.created', 'job.canceled']);
  });

  it('keeps job_events append-only', async () => {
    const job = await newJob();
    await expect(
      withAccount(t.db.knex, admin.accountId, { readOnly: false }, (trx) => trx('job_events').where({ job_id: job.id }).update({ kind: 'rewritten' })),
    ).rejects.toThrow(/append-only/);
  });

  it('edits with optimistic versions, re-derives the SLA on a priority change, and closes a finished job to edits', async () => {
    const job = await newJob({ priority: 'low' });
    const edited = await asAgent.patch(`/jobs/${job.id}`, { priority: 'high', version: job.version });
    expect(edited.status).toBe(200);
    expect(new Date(edited.body.data.sla_due_at).getTime() - new Date(job.created_at).getTime()).toBe(24 * 3600_000);
    expect((await asAgent.patch(`/jobs/${job.id}`, { summary: 'Stale', version: job.version })).status).toBe(409);
    const manual = await asAgent.patch(`/jobs/${job.id}`, { sla_due_at: '2030-05-01T12:00:00Z', version: edited.body.data.version });
    expect(manual.body.data).toMatchObject({ sla_due_at: '2030-05-01T12:00:00.000Z', sla_overridden: true });
    await asDispatcher.post(`/jobs/${job.id}/status`, { status: 'canceled', reason: 'Customer sold the house' });
    const closed = await asAgent.patch(`/jobs/${job.id}`, { summary: 'Too late', version: manual.body.data.version + 1 });
    expect([closed.status, closed.body.error.code]).toEqual([409, 'job_closed']);
    expect((await asAgent.patch(`/jobs/${job.id}`, { notes: 'Sold to a neighbour', version: manual.body.data.version + 1 })).status).toBe(200);
  });

  it('shows the job’s story in the contact’s timeline and stamps customer messages on linked jobs', async () => {
    const conversation = chatwoot.addConversation(1, 502);
    const job = await newJob({ chatwoot_contact_id: 7200, conversation_ids: [conversation.id] });
    await asAgent.post(`/jobs/${job.id}/notes`, { body: 'Ring the back door' });
    const timeline = (await asAgent.get('/contacts/7200/timeline')).body.data;
    expect(timeline.map((e: { kind: string }) => e.kind)).toEqual(['job_note', 'job_created']);
    expect(timeline[0].data).toMatchObject({ job_id: job.id, summary: 'Leaking radiator valve', body: 'Ring the back door' });
    const { processDelivery } = await import('../../webhooks/chatwoot/process.ts');
    const { messageEvent } = await import('../fakes/chatwoot-webhooks.ts');
    const installation = await t.db.knex('installations').first('id');
    const payload = messageEvent({ id: 90_001, conversationId: conversation.id, content: 'Is anyone coming today?' });
    const [delivery] = await t.db.knex('webhook_deliveries').insert({ installation_id: installation.id, dedupe_key: `job-activity-${job.id}`, event: 'message_created', headers: {}, body: JSON.stringify(payload) }).returning('id');
    expect(await processDelivery(t.db.knex, delivery.id)).toBe('processed');
    expect((await asAgent.get(`/jobs/${job.id}`)).body.data.last_activity_at).not.toBeNull();
  });

  it('lists with filters and shows a board by status', async () => {
    const mine = await newJob({ priority: 'urgent', service_category: 'roofing', chatwoot_contact_id: 7100 });
    const list = (await asAgent.get('/jobs', { service_category: 'Roofing', priority: 'urgent' })).body.data;
    expect(list.map((j: { id: string }) => j.id)).toEqual([mine.id]);
    expect((await asAgent.get('/jobs', { contact_id: 7100, status: 'new,triaged' })).body.data.map((j: { id: string }) => j.id)).toEqual([mine.id]);
    expect((await asAgent.get('/jobs', { q: mine.reference })).body.data.map((j: { id: string }) => j.id)).toEqual([mine.id]);
    chatwoot.addConversation(1, 610);
    const found = await asAgent.get('/jobs', { q: mine.reference, limit: 1 });
    expect(found.status, JSON.stringify(found.body)).toBe(200);
    const linked = await asAgent.put(`/jobs/${mine.id}/conversations/610`);
    expect(linked.status, JSON.stringify(linked.body)).toBe(200);
    expect((await asAgent.get('/jobs', { conversation_id: 610 })).body.data.map((j: { id: string }) => j.id)).toEqual([mine.id]);
    expect((await asAgent.delete(`/jobs/${mine.id}/conversations/610`)).status).toBe(200);
    expect((await asAgent.get('/jobs', { q: mine.reference.toLowerCase().replace('-', '') })).body.data.map((j: { id: string }) => j.id)).toEqual([mine.id]);
    const board = (await asAgent.get('/jobs/board', { per_column: 2 })).body.data.columns;
    expect(board.map((c: { status: string }) => c.status)).toEqual(['new', 'triaged', 'assigned', 'in_progress', 'pending_review', 'completed']);
    const newColumn = board[0];
    expect(newColumn.count).toBeGreaterThan(2);
    expect(newColumn.jobs).toHaveLength(2);
    expect(newColumn.next_cursor).toBeTruthy();
    expect((await asAgent.get('/jobs', { status: 'bogus' })).status).toBe(422);
  });

  it('emits SLA events once per threshold', async () => {
    const late = await newJob({ sla_due_at: new Date(Date.now() - 60_000).toISOString() });
    const soon = await newJob({ sla_due_at: new Date(Date.now() + 30 * 60_000).toISOString() });
    expect(await emitSlaEvents(t.db.knex)).toBeGreaterThanOrEqual(2);
    expect(await emitSlaEvents(t.db.knex)).toBe(0);
    const kinds = async (id: string) => (await asAgent.get(`/jobs/${id}`)).body.data.events.map((e: { kind: string }) => e.kind);
    expect(await kinds(late.id)).toEqual(['created', 'sla_breached']);
    expect(await kinds(soon.id)).toEqual(['created', 'sla_approaching']);
    expect((await asAgent.get('/jobs', { sla_state: 'breached' })).body.data.map((j: { id: string }) => j.id)).toContain(late.id);
    expect((await asAgent.get(`/jobs/${soon.id}`)).body.data.sla_state).toBe('approaching');
    // Written by the sweep as a system process: audited as itself, not as a person.
    const trail = await withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) =>
      trx('audit_events').where({ resource_id: late.id, action: 'job.sla_breached' }).first('actor_type', 'actor_id'),
    );
    expect(trail).toEqual({ actor_type: 'system', actor_id: 'sla-sweep' });
  });

  it('a broken SLA sweep throws, per account, instead of reporting nothing to do', async () => {
    // An impossible "now" breaks every account's statement: the sweep tries each, then throws them together.
    const error = await emitSlaEvents(t.db.knex, new Date(Number.NaN)).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(AggregateError);
    expect((error as AggregateError).errors.length).toBe(await t.db.knex('accounts').count<{ count: string }[]>('* as count').then(([r]) => Number(r!.count)));
    expect((error as Error).message).toMatch(/The SLA sweep failed for \d+ account\(s\): account \d+/);
    // With the scheduler's per-account runner, each failure goes there and the sweep carries on.
    const failed: number[] = [];
    const forAccount = async <T>(accountId: number, work: () => Promise<T>) => work().catch(() => void failed.push(accountId));
    expect(await emitSlaEvents(t.db.knex, new Date(Number.NaN), forAccount)).toBe(0);
    expect(failed.length).toBe((error as AggregateError).errors.length);
  });
});

describe('vendors and compliance', () => {
  it('derives compliance from document expiry', async () => {
    const compliant = await newVendor({ name: 'Compliant Co' });
    const expiring = await newVendor({ name: 'Expiring Co' }, [{ kind: 'insurance', expires_on: isoDate(10) }]);
    const expired = await newVendor({ name: 'Expired Co' }, [{ kind: 'insurance', expires_on: isoDate(400) }, { kind: 'licence', expires_on: isoDate(-1) }]);
    const missing = await newVendor({ name: 'Missing Co' }, []);
    const state = async (id: string) => (await asAgent.get(`/vendors/${id}`)).body.data.compliance;
    expect([await state(compliant.id), await state(expiring.id), await state(expired.id), await state(missing.id)]).toEqual(['compliant', 'expiring', 'expired', 'missing']);
    expect((await asAgent.get('/vendors', { compliance: 'expired' })).body.data.map((v: { name: string }) => v.name)).toEqual(['Expired Co']);
    expect((await asAgent.post('/vendors', { name: 'Not yours' })).status).toBe(403); // agents read the roster, dispatch keeps it
  });

  it('validates areas, hours and time off', async () => {
    expect((await asDispatcher.post('/vendors', { name: 'x', radius_km: 10 })).status).toBe(422);
    expect((await asDispatcher.post('/vendors', { name: 'x', time_zone: 'Mars/Olympus' })).status).toBe(422);
    const vendor = await newVendor({ name: 'Hours Ltd', time_zone: 'Europe/London' });
    expect((await asDispatcher.put(`/vendors/${vendor.id}/availability`, { slots: [{ weekday: 1, starts: '17:00', ends: '08:00' }] })).status).toBe(422);
    expect((await asDispatcher.put(`/vendors/${vendor.id}/availability`, { slots: [{ weekday: 8, starts: '08:00', ends: '17:00' }] })).status).toBe(422);
    expect((await asDispatcher.put(`/vendors/${vendor.id}/availability`, { slots: [{ weekday: 1, starts: '08:00', ends: '17:00' }] })).status).toBe(200);
    expect((await asDispatcher.post(`/vendors/${vendor.id}/time-off`, { starts_at: '2030-01-02T00:00:00Z', ends_at: '2030-01-01T00:00:00Z' })).status).toBe(422);
    const detail = (await asAgent.get(`/vendors/${vendor.id}`)).body.data;
    expect(detail.availability).toEqual([{ weekday: 1, starts: '08:00:00', ends: '17:00:00' }]);
  });
});

describe('vendor suggestions and assignment', () => {
  // Next Monday 10:00–12:00 UTC, inside everyone's hours unless said otherwise.
  const monday = (() => {
    const d = new Date();
    d.setUTCDate(d.getUTCDate() + ((8 - d.getUTCDay()) % 7 || 7));
    d.setUTCHours(10, 0, 0, 0);
    return d;
  })();
  const window = { window_starts_at: monday.toISOString(), window_ends_at: new Date(monday.getTime() + 2 * 3600_000).toISOString() };
  const centre = { lat: 51.5074, lng: -0.1278 }; // job site
  let vendors: Record<string, { id: string; name: string; version: number }>;
  let job: Awaited<ReturnType<typeof newJob>>;

  beforeAll(async () => {
    const hours = (id: string) => asDispatcher.put(`/vendors/${id}/availability`, { slots: [1, 2, 3, 4, 5].map((weekday) => ({ weekday, starts: '08:00', ends: '18:00' })) });
    vendors = {
      near: await newVendor({ name: 'Near Glaziers', categories: ['glazing'], base_lat: 51.51, base_lng: -0.13, radius_km: 20 }),
      preferred: await newVendor({ name: 'Preferred Glass', categories: ['glazing', 'carpentry'], base_lat: 51.6, base_lng: -0.1, radius_km: 30 }),
      postal: await newVendor({ name: 'Postcode Panes', categories: ['glazing'], postal_codes: ['SW1A 1AA'] }),
      blocked: await newVendor({ name: 'Blocked Windows', categories: ['glazing'], base_lat: 51.5, base_lng: -0.12, radius_km: 20 }),
      expired: await newVendor({ name: 'Expired Glass', categories: ['glazing'], base_lat: 51.5, base_lng: -0.12, radius_km: 20 }, [{ kind: 'insurance', expires_on: isoDate(-3) }]),
      far: await newVendor({ name: 'Far Away Glass', categories: ['glazing'], base_lat: 53.48, base_lng: -2.24, radius_km: 25 }),
      off: await newVendor({ name: 'Holiday Glass', categories: ['glazing'], base_lat: 51.5, base_lng: -0.12, radius_km: 20 }),
      weekend: await newVendor({ name: 'Weekend Glass', categories: ['glazing'], base_lat: 51.5, base_lng: -0.12, radius_km: 20 }),
      plumber: await newVendor({ name: 'Only Plumbing', categories: ['plumbing'] }),
    };
    for (const v of Object.values(vendors)) await hours(v.id);
    await asDispatcher.put(`/vendors/${vendors.weekend!.id}/availability`, { slots: [{ weekday: 6, starts: '08:00', ends: '18:00' }] });
    await asDispatcher.post(`/vendors/${vendors.off!.id}/time-off`, { starts_at: new Date(monday.getTime() - day).toISOString(), ends_at: new Date(monday.getTime() + day).toISOString(), reason: 'Holiday' });
    await asDispatcher.put(`/vendors/${vendors.preferred!.id}/clients/7300`, { relation: 'preferred' });
    await asDispatcher.put(`/vendors/${vendors.blocked!.id}/clients/7300`, { relation: 'blocked', note: 'Broke a pane last time' });
    // Give "near" some open work so workload counts.
    for (let i = 0; i < 4; i++) {
      const busy = await newJob({ service_category: 'glazing' });
      expect((await asDispatcher.post(`/jobs/${busy.id}/assignment`, { vendor_id: vendors.near!.id })).status).toBe(200);
    }
    job = await newJob({ summary: 'Broken shop window', service_category: 'glazing', postal_code: 'sw1a 1aa', chatwoot_contact_id: 7300, ...centre, ...window });
  });

  it('ranks eligible vendors with an explained score and says why the others are out', async () => {
    const res = await asDispatcher.get(`/jobs/${job.id}/suggestions`);
    expect(res.status).toBe(200);
    const { candidates, excluded, evaluated } = res.body.data;
    expect(evaluated).toBe(8); // glazing vendors only
    expect(candidates.map((c: { name: string }) => c.name)).toEqual(['Preferred Glass', 'Near Glaziers', 'Postcode Panes']);
    const [preferred, near] = candidates;
    expect(preferred.score.preference).toEqual({ points: 25, max: 25, why: 'the client’s preferred vendor' });
    expect(preferred.score.category_fit.points).toBe(15);
    expect(near.score.workload).toEqual({ points: 15, max: 25, why: '4 open jobs' });
    expect(near.score.distance.why).toMatch(/km away, within a 20 km radius/);
    expect(near.score.total).toBeCloseTo(near.score.distance.points + near.score.workload.points + near.score.preference.points + near.score.category_fit.points, 5);
    const reasons = Object.fromEntries(excluded.map((e: { name: string; reasons: string[] }) => [e.name, e.reasons]));
    expect(reasons).toEqual({
      'Blocked Windows': ['blocked_by_client'],
      'Expired Glass': ['compliance_expired'],
      'Far Away Glass': ['outside_area'],
      'Holiday Glass': ['unavailable'],
      'Weekend Glass': ['unavailable'],
    });
  });

  it('counts a window that ends at midnight as inside hours that run to midnight', async () => {
    const late = await newVendor({ name: 'Night Glass', categories: ['night glazing'], time_zone: 'UTC' });
    await asDispatcher.put(`/vendors/${late.id}/availability`, { slots: [{ weekday: 1, starts: '18:00', ends: '24:00' }] });
    const start = new Date(monday.getTime() + 12 * 3600_000); // Monday 22:00 UTC
    const nightJob = await newJob({ service_category: 'night glazing', window_starts_at: start.toISOString(), window_ends_at: new Date(start.getTime() + 2 * 3600_000).toISOString() });
    const { candidates } = (await asDispatcher.get(`/jobs/${nightJob.id}/suggestions`)).body.data;
    expect(candidates.map((c: { name: string }) => c.name)).toEqual(['Night Glass']);
  });

  it('assigns, needs an audited override for expired compliance, refuses blocked and foreign vendors, keeps the history', async () => {
    const expired = await asDispatcher.post(`/jobs/${job.id}/assignment`, { vendor_id: vendors.expired!.id });
    expect([expired.status, expired.body.error.code]).toEqual([409, 'compliance_override_required']);
    const blocked = await asDispatcher.post(`/jobs/${job.id}/assignment`, { vendor_id: vendors.blocked!.id, compliance_override_reason: 'irrelevant' });
    expect([blocked.status, blocked.body.error.code]).toEqual([409, 'vendor_blocked']);
    const adminB = await signInAgent(t, chatwoot, 2, 'administrator', 'Admin B');
    await apiAs(t, adminB.token).patch('/admin/capabilities', { profile: 'construction' });
    const foreign = (await apiAs(t, adminB.token).post('/vendors', { name: 'Vendor of B', categories: ['glazing'] })).body.data;
    expect((await asDispatcher.post(`/jobs/${job.id}/assignment`, { vendor_id: foreign.id })).status).toBe(404);

    const overridden = await asDispatcher.post(`/jobs/${job.id}/assignment`, { vendor_id: vendors.expired!.id, compliance_override_reason: 'Renewal confirmed by phone' });
    expect(overridden.status).toBe(200);
    expect(overridden.body.data).toMatchObject({ status: 'assigned', vendor_id: vendors.expired!.id });
    const reassigned = await asDispatcher.post(`/jobs/${job.id}/assignment`, { vendor_id: vendors.preferred!.id, reason: 'Client asked for their usual glazier' });
    expect(reassigned.status).toBe(200);
    const detail = (await asDispatcher.get(`/jobs/${job.id}`)).body.data;
    expect(detail.vendor).toMatchObject({ id: vendors.preferred!.id, name: 'Preferred Glass' });
    expect(detail.assignments.map((a: { vendor_name: string; unassigned_at: string | null; compliance_override_reason: string | null }) => [a.vendor_name, Boolean(a.unassigned_at), a.compliance_override_reason])).toEqual([
      ['Expired Glass', true, 'Renewal confirmed by phone'],
      ['Preferred Glass', false, null],
    ]);
    expect(detail.assignments[1].score.total).toBeGreaterThan(0);
    const audit = await withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) =>
      trx('audit_events').where({ resource_id: job.id }).whereIn('action', ['job.assigned', 'job.reassigned']).orderBy('id').select('action', 'after'),
    );
    expect(audit[0]).toMatchObject({ action: 'job.assigned', after: { compliance: 'expired', compliance_override_reason: 'Renewal confirmed by phone' } });
    expect(audit[1]).toMatchObject({ action: 'job.reassigned', after: { reason: 'Client asked for their usual glazier' } });

    const back = await asDispatcher.post(`/jobs/${job.id}/unassign`, { reason: 'Vendor fell ill' });
    expect(back.body.data).toMatchObject({ status: 'triaged', vendor_id: null });
    expect((await asAgent.post(`/jobs/${job.id}/assignment`, { vendor_id: vendors.near!.id })).status).toBe(403);
  });
});

describe('portal users see only their own jobs', () => {
  it('a vendor sees and moves the jobs they hold; a client sees their contact’s jobs without internal notes', async () => {
    const vendor = await newVendor({ name: 'Portal Plumbing', categories: ['plumbing'] });
    const theirs = await newJob({ service_category: 'plumbing', chatwoot_contact_id: 7400, notes: 'Gate code 1234' });
    const notTheirs = await newJob({ service_category: 'plumbing', chatwoot_contact_id: 7401 });
    await asDispatcher.post(`/jobs/${theirs.id}/assignment`, { vendor_id: vendor.id });
    await asAgent.post(`/jobs/${theirs.id}/notes`, { body: 'Customer is difficult' });
    const vendorSession = await createVendorPortalSession(t, admin.accountId, vendor.id);
    const asVendor = apiAs(t, vendorSession.token);
    expect((await asVendor.get('/jobs')).body.data.map((j: { id: string }) => j.id)).toEqual([theirs.id]);
    expect((await asVendor.get(`/jobs/${notTheirs.id}`)).status).toBe(404);
    expect((await asVendor.post(`/jobs/${theirs.id}/status`, { status: 'in_progress' })).status).toBe(200);
    // Finishing needs the required checklist item done first; it is named.
    const finish = await asVendor.post(`/jobs/${theirs.id}/status`, { status: 'pending_review' });
    expect([finish.status, finish.body.error.code, finish.body.error.details.missing]).toEqual([422, 'requirements_missing', [{ type: 'item', label: 'Water off' }]]);
    const waterOff = (await asVendor.get(`/jobs/${theirs.id}`)).body.data.checklist.find((i: { label: string }) => i.label === 'Water off');
    expect((await asVendor.put(`/jobs/${theirs.id}/checklist/${waterOff.id}`, { done: true })).status).toBe(200);
    expect((await asVendor.post(`/jobs/${theirs.id}/status`, { status: 'pending_review' })).status).toBe(200);
    expect((await asVendor.get(`/jobs/${theirs.id}/suggestions`)).status).toBe(403);
    // Their view of the story: progress only — no scores, reasons, notes or who on the team did it.
    const story = (await asVendor.get(`/jobs/${theirs.id}`)).body.data.events;
    expect(story.find((e: { kind: string }) => e.kind === 'assigned')).toEqual({ id: expect.any(Number), kind: 'assigned', data: { vendor_name: 'Portal Plumbing' }, occurred_at: expect.any(String) });
    expect(JSON.stringify(story)).not.toMatch(/score|actor_id|Customer is difficult/);

    const client = await createClientPortalSession(t, agent, 7400);
    const asClient = apiAs(t, client.token);
    const seen = (await asClient.get('/jobs')).body.data;
    expect(seen.map((j: { id: string }) => j.id)).toEqual([theirs.id]);
    expect(seen[0].notes).toBeUndefined();
    const detail = (await asClient.get(`/jobs/${theirs.id}`)).body.data;
    expect(detail.events.map((e: { kind: string }) => e.kind)).not.toContain('note');
    expect(detail.assignments).toBeUndefined();
    expect((await asClient.get(`/jobs/${notTheirs.id}`)).status).toBe(404);
    expect((await request(t.app).get('/api/v1/jobs')).status).toBe(401);
  });
});

describe('automation: pipeline stage → job, job completed → deal and task', () => {
  it('creates one job when a deal enters the stage, however often it bounces, audited as the rule', async () => {
    const [first, second, third] = pipeline.stages;
    const rule = await asAdmin.post('/automation-rules', {
      name: 'Survey booked → site visit',
      pipeline_id: pipeline.id,
      trigger: 'deal_entered_stage',
      stage_id: second!.id,
      action: 'create_job',
      config: { summary: 'Site visit for {deal_title} ({deal_reference})', priority: 'high', service_category: 'Survey' },
    });
    expect(rule.status, JSON.stringify(rule.body)).toBe(201);
    const completedRule = await asAdmin.post('/automation-rules', {
      name: 'Visit done → proposal',
      pipeline_id: pipeline.id,
      trigger: 'job_completed',
      action: 'move_deal',
      config: { stage_id: third!.id },
    });
    expect(completedRule.status).toBe(201);
    await asAdmin.post('/automation-rules', { name: 'Visit done → call back', pipeline_id: pipeline.id, trigger: 'job_completed', action: 'create_task', config: { title: 'Call about {job_reference}', due_in_minutes: 60 } });

    const deal = (await asAgent.post('/deals', { title: 'Loft conversion', pipeline_id: pipeline.id, chatwoot_contact_id: 7500 })).body.data;
    let version = deal.version;
    for (const stage of [second!, first!, second!]) {
      const moved = await asAgent.post(`/deals/${deal.id}/move`, { stage_id: stage.id, version });
      expect(moved.status).toBe(200);
      version = moved.body.data.version;
    }
    const jobs = (await asAgent.get('/jobs', { deal_id: deal.id })).body.data;
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({ summary: `Site visit for Loft conversion (${deal.reference})`, source: 'pipeline', priority: 'high', service_category: 'survey', chatwoot_contact_id: 7500 });
    const created = await withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) => trx('audit_events').where({ action: 'job.created', resource_id: jobs[0].id }).first('actor_type', 'actor_id', 'after'));
    expect(created).toMatchObject({ actor_type: 'system', actor_id: `automation:${rule.body.data.id}` });
    expect(created.after.automation_rule_id).toBe(rule.body.data.id);

    // Completing the job moves the deal on and leaves a follow-up task, once.
    const vendor = await newVendor({ name: 'Surveyors Ltd', categories: ['survey'] });
    await asDispatcher.post(`/jobs/${jobs[0].id}/assignment`, { vendor_id: vendor.id });
    await asDispatcher.post(`/jobs/${jobs[0].id}/status`, { status: 'in_progress' });
    expect((await asDispatcher.post(`/jobs/${jobs[0].id}/status`, { status: 'completed' })).status).toBe(200);
    expect((await asAgent.get(`/deals/${deal.id}`)).body.data.stage_id).toBe(third!.id);
    const tasks = (await asAgent.get('/tasks', { deal_id: deal.id })).body.data;
    expect(tasks.map((task: { title: string; job_id: string }) => [task.title, task.job_id])).toEqual([[`Call about ${jobs[0].reference}`, jobs[0].id]]);
    await asDispatcher.post(`/jobs/${jobs[0].id}/status`, { status: 'in_progress' });
    await asDispatcher.post(`/jobs/${jobs[0].id}/status`, { status: 'completed' });
    expect((await asAgent.get('/tasks', { deal_id: deal.id })).body.data).toHaveLength(1);
  });

  it('never blocks the person’s change when a rule can no longer act; the run records why', async () => {
    const template = (await asDispatcher.post('/checklist-templates', { name: 'Retired soon', items: [{ label: 'x' }] })).body.data;
    const rule = (
      await asAdmin.post('/automation-rules', { name: 'Stale', pipeline_id: pipeline.id, trigger: 'deal_entered_stage', stage_id: pipeline.stages[4]!.id, action: 'create_job', config: { summary: 'From {deal_title}', checklist_template_id: template.id } })
    ).body.data;
    await asDispatcher.patch(`/checklist-templates/${template.id}`, { active: false });
    const deal = (await asAgent.post('/deals', { title: 'Stale rule deal', pipeline_id: pipeline.id })).body.data;
    const moved = await asAgent.post(`/deals/${deal.id}/move`, { stage_id: pipeline.stages[4]!.id, version: deal.version });
    expect(moved.status).toBe(200);
    expect((await asAgent.get('/jobs', { deal_id: deal.id })).body.data).toEqual([]);
    const run = await withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) => trx('automation_runs').where({ rule_id: rule.id, subject_id: deal.id }).first('result_type', 'result_id'));
    expect(run).toMatchObject({ result_type: 'error', result_id: expect.stringMatching(/template/i) });
    await asAdmin.delete(`/automation-rules/${rule.id}`);
  });

  it('refuses rules that do not fit their trigger or pipeline', async () => {
    const base = { name: 'Bad', pipeline_id: pipeline.id };
    const cases = [
      { ...base, trigger: 'job_completed', action: 'create_job', config: { summary: 'x' } },
      { ...base, trigger: 'deal_entered_stage', action: 'create_job', config: { summary: 'x' } },
      { ...base, trigger: 'job_completed', action: 'move_deal', config: { stage_id: '00000000-0000-4000-8000-000000000000' } },
      { ...base, trigger: 'job_completed', action: 'move_deal', config: {} },
    ];
    for (const body of cases) expect((await asAdmin.post('/automation-rules', body)).status, JSON.stringify(body)).toBe(422);
    const rule = (await asAdmin.post('/automation-rules', { ...base, trigger: 'deal_entered_stage', stage_id: pipeline.stages[3]!.id, action: 'create_job', config: { summary: 'x' } })).body.data;
    const reshaped = await asAdmin.patch(`/automation-rules/${rule.id}`, { config: { title: 'a task title is not a job summary' } });
    expect([reshaped.status, reshaped.body.error.details.fields[0].path]).toEqual([422, 'body.config.summary']);
    await asAdmin.delete(`/automation-rules/${rule.id}`);
    expect((await asDispatcher.post('/automation-rules', { ...base, trigger: 'job_completed', action: 'create_task', config: { title: 'x' } })).status).toBe(403);
  });
});

describe('the whole flow: a chat becomes a job, is assigned, done with evidence and closed', () => {
  it('goes inbound → job → triage → suggestion → assignment → vendor work → review → completed, and Chatwoot sees each step', async () => {
    const sharp = (await import('sharp')).default;
    await asDispatcher.post('/checklist-templates', { name: 'Boiler service', service_category: 'heating', items: [{ label: 'Flue gas reading' }, { label: 'Photo of the data plate' }] });
    const vendor = await newVendor({ name: 'Warm Homes Heating', categories: ['heating'], postal_codes: ['M1 1AE'] });
    const conversation = chatwoot.addConversation(1, 640);

    // An agent turns the chat into a job from the sidebar.
    const job = await newJob({ summary: 'Boiler losing pressure', source: 'chat', service_category: 'heating', postal_code: 'M1 1AE', chatwoot_contact_id: 7700, conversation_ids: [conversation.id] });
    // Dispatch triages, asks for suggestions and assigns the best one.
    expect((await asDispatcher.post(`/jobs/${job.id}/status`, { status: 'triaged' })).status).toBe(200);
    const suggestions = (await asDispatcher.get(`/jobs/${job.id}/suggestions`)).body.data;
    expect(suggestions.candidates[0]).toMatchObject({ vendor_id: vendor.id, score: { distance: { points: 15, why: 'serves the job’s postal code' } } });
    expect((await asDispatcher.post(`/jobs/${job.id}/assignment`, { vendor_id: suggestions.candidates[0].vendor_id })).body.data.status).toBe('assigned');

    // The vendor works it from their portal: starts, ticks the checklist, uploads a photo, sends it for review.
    const crewToken = (await createVendorPortalSession(t, admin.accountId, vendor.id)).token;
    const crew = apiAs(t, crewToken);
    expect((await crew.post(`/jobs/${job.id}/status`, { status: 'in_progress' })).status).toBe(200);
    for (const item of (await crew.get(`/jobs/${job.id}`)).body.data.checklist) {
      expect((await crew.put(`/jobs/${job.id}/checklist/${item.id}`, { done: true })).status).toBe(200);
    }
    const plate = await sharp({ create: { width: 640, height: 480, channels: 3, background: '#888' } }).png().toBuffer();
    const uploaded = await request(t.app)
      .post(`/api/v1/jobs/${job.id}/artifacts`)
      .set('Authorization', `Bearer ${crewToken}`)
      .attach('file', plate, 'data-plate.png');
    expect(uploaded.status).toBe(201);
    expect((await crew.post(`/jobs/${job.id}/status`, { status: 'pending_review' })).status).toBe(200);

    // Dispatch reviews and completes: no override needed, the checklist is done.
    const done = await asDispatcher.post(`/jobs/${job.id}/status`, { status: 'completed' });
    expect(done.body.data).toMatchObject({ status: 'completed', sla_state: 'met', completion_override_reason: null });
    const story = (await asDispatcher.get(`/jobs/${job.id}`)).body.data.events.map((e: { kind: string; data: { to?: string } }) => (e.kind === 'status_changed' ? `→${e.data.to}` : e.kind));
    expect(story).toEqual([
      'created', '→triaged', 'assigned', '→assigned', '→in_progress', 'checklist_item_done', 'checklist_item_done', 'artifact_added', '→pending_review', '→completed',
    ]);

    // Chatwoot's conversation tells the agent the same story, once per step.
    await drainOutbox(t.db.knex, t.services.sealer, agent.accountId, 1000);
    expect(conversation.messages.map((m) => m.content.replace(/^Onelink · J-\d+ “Boiler losing pressure”: /, ''))).toEqual([
      'job created', 'new → triaged', 'assigned to Warm Homes Heating', 'assigned → in progress', 'in progress → pending review', 'pending review → completed',
    ]);
    expect(conversation.customAttributes).toMatchObject({ onelink_job: job.reference, onelink_job_status: 'completed' });
  });
});
