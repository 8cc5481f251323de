// The dispatch report against a hand-computed fixture: jobs by source, time to triage, assign and
// complete, SLA met, reopened and canceled, missed calls and call backs, in New York time with the
// clock change of 8 March 2026 inside the range. Drill lists hold exactly the jobs (and calls) behind
// each number; the CSV is formula-safe; who may read it; and the job_milestones rollup equals a
// fresh computation from the raw events after random event streams.
import fc from 'fast-check';
import type { Knex } from 'knex';
import { beforeAll, describe, expect, it } from 'vitest';
import { withAccountForTests as withAccount } from '../../extension/db/tenant.ts';
import { freshJobMilestones, storedJobMilestones } from '../../extension/modules/reports/jobs-common.ts';
import { apiAs } from '../helpers/api.ts';
import type { TestApp } from '../helpers/app.ts';
import { createServiceToken, signInAgent, signInDispatcher, type SignedIn } from '../helpers/identity.ts';
import { useWorld } from '../helpers/world.ts';

const world = useWorld([1, 2, 3]);
let t: TestApp;
let admin: SignedIn;
let adminB: SignedIn;
let admin3: SignedIn;
let asAdmin: ReturnType<typeof apiAs>;
const vendors = {} as Record<'a' | 'b', string>;
const jobIds = {} as Record<string, string>;

// 1–14 March 2026 in New York: from 05:00Z on 1 March (EST) to 04:00Z on 15 March (EDT).
const range = { from: '2026-03-01', to: '2026-03-14', tz: 'America/New_York' };

type EventSpec = [kind: string, at: string, data?: Record<string, unknown>];
interface JobSpec {
  key: string;
  number: number;
  source: string;
  created: string;
  status: string;
  vendor?: string;
  summary?: string;
  window?: string;
  slaDue?: string;
  completed?: string;
  category?: string;
  priority?: string;
  events: EventSpec[];
}

async function seedJob(trx: Knex.Transaction, accountId: number, spec: JobSpec) {
  const [row] = await trx('jobs')
    .insert({
      account_id: accountId,
      number: spec.number,
      status: spec.status,
      priority: spec.priority ?? 'normal',
      source: spec.source,
      summary: spec.summary ?? `Job ${spec.key}`,
      service_category: spec.category ?? 'plumbing',
      vendor_id: spec.vendor ?? null,
      window_starts_at: spec.window ?? null,
      sla_due_at: spec.slaDue ?? null,
      completed_at: spec.completed ?? null,
      created_by_type: 'user',
      created_by_id: 'seed',
      created_at: spec.created,
      status_changed_at: spec.created,
    })
    .returning('id');
  jobIds[spec.key] = row.id;
  const events: EventSpec[] = [['created', spec.created, { status: 'new', source: spec.source }], ...spec.events];
  for (const [kind, at, data] of events) {
    await trx('job_events').insert({ account_id: accountId, job_id: row.id, kind, data: data ?? {}, actor_type: 'user', actor_id: 'seed', occurred_at: at });
  }
  return row.id as string;
}

const moved = (from: string, to: string, at: string, extra: Record<string, unknown> = {}): EventSpec => ['status_changed', at, { from, to, ...extra }];

beforeAll(async () => {
  t = world.t;
  admin = await signInAgent(t, world.chatwoot, 1, 'administrator', 'Dana Admin');
  adminB = await signInAgent(t, world.chatwoot, 2, 'administrator', 'Admin of B');
  admin3 = await signInAgent(t, world.chatwoot, 3, 'administrator', 'Admin of 3');
  asAdmin = apiAs(t, admin.token);
  expect((await asAdmin.patch('/admin/capabilities', { profile: 'construction' })).status).toBe(200);
  // Account 2 stays generic (no dispatch); account 3 is for the rollup's random streams.
  expect((await apiAs(t, admin3.token).patch('/admin/capabilities', { profile: 'construction' })).status).toBe(200);

  await withAccount(t.db.knex, admin.accountId, { readOnly: false }, async (trx) => {
    const [a, b] = await trx('vendors').insert([{ account_id: admin.accountId, name: 'Ace Plumbing' }, { account_id: admin.accountId, name: 'Bolt Electric' }]).returning('id');
    vendors.a = a.id;
    vendors.b = b.id;
    const acc = admin.accountId;
    // Created 23:30 EST on 28 February (04:30Z on 1 March): before the range; completed in it.
    await seedJob(trx, acc, {
      key: 'j0', number: 100, source: 'call', created: '2026-03-01T04:30:00Z', status: 'completed', vendor: vendors.b, completed: '2026-03-02T12:00:00Z',
      events: [['assigned', '2026-03-01T06:00:00Z', { vendor_id: vendors.b }], moved('new', 'assigned', '2026-03-01T06:00:00Z'), moved('assigned', 'in_progress', '2026-03-02T09:00:00Z'), moved('in_progress', 'completed', '2026-03-02T12:00:00Z')],
    });
    // Triaged after 10 min, assigned after 30, on the way 5 min after the window opened, SLA met.
    await seedJob(trx, acc, {
      key: 'j1', number: 101, source: 'call', created: '2026-03-02T14:00:00Z', status: 'completed', vendor: vendors.a, window: '2026-03-03T13:00:00Z',
      slaDue: '2026-03-03T16:00:00Z', completed: '2026-03-03T15:00:00Z', summary: '=HYPERLINK("http://evil")',
      events: [
        moved('new', 'triaged', '2026-03-02T14:10:00Z'),
        ['assigned', '2026-03-02T14:30:00Z', { vendor_id: vendors.a }],
        moved('triaged', 'assigned', '2026-03-02T14:30:00Z'),
        ['en_route', '2026-03-03T13:05:00Z', {}],
        moved('assigned', 'in_progress', '2026-03-03T13:20:00Z'),
        moved('in_progress', 'completed', '2026-03-03T15:00:00Z'),
      ],
    });
    // Assigned without triage after 20 min; completed, reopened, completed again a minute past its SLA.
    await seedJob(trx, acc, {
      key: 'j2', number: 102, source: 'chat', created: '2026-03-04T10:00:00Z', status: 'completed', vendor: vendors.a, window: '2026-03-05T09:00:00Z',
      slaDue: '2026-03-06T09:59:00Z', completed: '2026-03-06T10:00:00Z', priority: 'high',
      events: [
        ['assigned', '2026-03-04T10:20:00Z', { vendor_id: vendors.a }],
        moved('new', 'assigned', '2026-03-04T10:20:00Z'),
        moved('assigned', 'in_progress', '2026-03-05T09:20:00Z'),
        moved('in_progress', 'completed', '2026-03-05T12:00:00Z'),
        moved('completed', 'in_progress', '2026-03-06T08:00:00Z', { reopened: true }),
        // Completed from the phone while offline: it counts at the device's time.
        moved('in_progress', 'completed', '2026-03-06T10:30:00Z', { offline: true, device_time: '2026-03-06T10:00:00.000Z' }),
      ],
    });
    // After the clock change; triaged after 30 min, canceled.
    await seedJob(trx, acc, {
      key: 'j3', number: 103, source: 'portal', created: '2026-03-09T12:00:00Z', status: 'canceled',
      events: [moved('new', 'triaged', '2026-03-09T12:30:00Z'), moved('triaged', 'canceled', '2026-03-10T12:00:00Z', { reason: 'client cancelled' })],
    });
    // 23:30 EDT on 13 March: inside; 00:30 EDT on 15 March: outside.
    await seedJob(trx, acc, { key: 'j4', number: 104, source: 'manual', created: '2026-03-14T03:30:00Z', status: 'new', events: [] });
    await seedJob(trx, acc, { key: 'j5', number: 105, source: 'sms', created: '2026-03-15T04:30:00Z', status: 'new', events: [] });

    const call = (sid: string, direction: string, status: string, from: string, to: string, at: string) =>
      ({ account_id: acc, call_sid: sid, direction, status, from_e164: from, to_e164: to, started_at: at });
    await trx('calls').insert([
      call('CA1', 'inbound', 'missed', '+15550001', '+15559999', '2026-03-02T15:00:00Z'),
      call('CA1b', 'outbound', 'completed', '+15559999', '+15550001', '2026-03-02T15:10:00Z'),
      call('CA2', 'inbound', 'busy', '+15550002', '+15559999', '2026-03-03T10:00:00Z'),
      call('CA2b', 'outbound', 'completed', '+15559999', '+15550002', '2026-03-03T11:00:00Z'),
      // Called before the voicemail, never after it.
      call('CA3a', 'outbound', 'completed', '+15559999', '+15550003', '2026-03-04T09:00:00Z'),
      call('CA3', 'inbound', 'voicemail', '+15550003', '+15559999', '2026-03-04T10:00:00Z'),
      call('CA4', 'inbound', 'completed', '+15550004', '+15559999', '2026-03-05T10:00:00Z'),
      call('CA5', 'inbound', 'missed', '+15550005', '+15559999', '2026-03-15T05:00:00Z'),
    ]);
  });
  // Another account's job and missed call in the same days never show.
  await withAccount(t.db.knex, adminB.accountId, { readOnly: false }, async (trx) => {
    await seedJob(trx, adminB.accountId, { key: 'other', number: 101, source: 'call', created: '2026-03-02T14:00:00Z', status: 'triaged', events: [moved('new', 'triaged', '2026-03-02T14:01:00Z')] });
    await trx('calls').insert({ account_id: adminB.accountId, call_sid: 'CB1', direction: 'inbound', status: 'missed', from_e164: '+15550001', started_at: '2026-03-02T15:00:00Z' });
  });
});

const report = (query: Record<string, unknown> = {}, api = asAdmin) => api.get('/reports/dispatch', { ...range, ...query });
const table = (body: { data: { tables: Array<{ id: string }> } }, id: string) => body.data.tables.find((x) => x.id === id) as unknown as {
  rows: Array<{ key: string; cells: Record<string, unknown>; drill?: Record<string, string> }>;
};
const cells = (body: never, id: string) => Object.fromEntries(table(body, id).rows.map((r) => [r.key, r.cells]));
const drillOf = (body: never, id: string, row: string, column: string) => table(body, id).rows.find((r) => r.key === row)!.drill![column]!;
const refs = async (drill: string, query: Record<string, unknown> = {}) => {
  const res = await asAdmin.get('/reports/dispatch/rows', { ...range, ...query, drill });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return (res.body.data.rows as Array<{ cells: { reference: string } }>).map((r) => r.cells.reference ?? r);
};

describe('dispatch report', () => {
  it('counts jobs by source in the range’s own days (New York, across the clock change)', async () => {
    const res = await report();
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.data.range).toMatchObject({ start: '2026-03-01T05:00:00.000Z', end: '2026-03-15T04:00:00.000Z' });
    // J-101 call, J-102 chat, J-103 portal, J-104 manual; J-100 (Feb 28 local) and J-105 (Mar 15 local) are outside.
    expect(cells(res.body as never, 'sources')).toEqual({
      call: { jobs: 1 }, sms: { jobs: 0 }, chat: { jobs: 1 }, portal: { jobs: 1 }, pipeline: { jobs: 0 }, manual: { jobs: 1 }, total: { jobs: 4 },
    });
    expect(await refs(drillOf(res.body as never, 'sources', 'total', 'jobs'))).toEqual(['J-101', 'J-102', 'J-103', 'J-104']);
    expect(await refs(drillOf(res.body as never, 'sources', 'call', 'jobs'))).toEqual(['J-101']);
    expect(res.body.data.definitions.map((d: { key: string }) => d.key)).toContain('time_to_triage');
  });

  it('times triage, assignment and completion (median, 90th percentile)', async () => {
    const res = await report();
    // Triage: J-101 600 s, J-102 1200 s (assigned without triage), J-103 1800 s → median 1200, p90 1200 + 0.8 × 600 = 1680.
    // Assign: J-101 1800 s, J-102 1200 s → median 1500, p90 1200 + 0.9 × 600 = 1740.
    // Complete (completed in range): J-101 25 h = 90000, J-100 31.5 h = 113400, J-102 (last completion, device time) 48 h = 172800
    //   → median 113400, p90 113400 + 0.8 × 59400 = 160920.
    expect(cells(res.body as never, 'timings')).toEqual({
      triage: { jobs: 3, median: 1200, p90: 1680 },
      assign: { jobs: 2, median: 1500, p90: 1740 },
      complete: { jobs: 3, median: 113400, p90: 160920 },
    });
    expect(await refs(drillOf(res.body as never, 'timings', 'triage', 'jobs'))).toEqual(['J-101', 'J-102', 'J-103']);
    expect(await refs(drillOf(res.body as never, 'timings', 'complete', 'jobs'))).toEqual(['J-100', 'J-101', 'J-102']);
  });

  it('SLA met, reopened and canceled, each drilling to its jobs', async () => {
    const res = await report();
    // SLA: J-101 met, J-102 missed by one minute (J-100 has none) → 1 of 2. Reopened: J-102 → 1 of 3. Canceled: J-103 → 1 of 4 finished.
    expect(cells(res.body as never, 'quality')).toEqual({
      sla_met: { jobs: 1, of: 2, rate: 0.5 },
      reopened: { jobs: 1, of: 3, rate: 1 / 3 },
      canceled: { jobs: 1, of: 4, rate: 0.25 },
    });
    expect(await refs(drillOf(res.body as never, 'quality', 'sla_met', 'jobs'))).toEqual(['J-101']);
    expect(await refs(drillOf(res.body as never, 'quality', 'sla_met', 'of'))).toEqual(['J-101', 'J-102']);
    expect(await refs(drillOf(res.body as never, 'quality', 'reopened', 'jobs'))).toEqual(['J-102']);
    expect(await refs(drillOf(res.body as never, 'quality', 'canceled', 'of'))).toEqual(['J-100', 'J-101', 'J-102', 'J-103']);
    const drilled = await asAdmin.get('/reports/dispatch/rows', { ...range, drill: drillOf(res.body as never, 'quality', 'reopened', 'jobs') });
    expect(drilled.body.data.rows[0]).toMatchObject({
      id: jobIds.j2,
      kind: 'job',
      link: 'J-102',
      cells: { reference: 'J-102', source: 'chat', status: 'completed', vendor: 'Ace Plumbing', created: '2026-03-04T10:00:00.000Z', completed: '2026-03-06T10:00:00.000Z', sla_due: '2026-03-06T09:59:00.000Z', reopened: 1 },
    });
    expect(drilled.body.data).toMatchObject({ total: 1, truncated: false });
  });

  it('missed calls and the time to call back', async () => {
    const res = await report();
    // Missed: CA1 (missed), CA2 (busy), CA3 (voicemail). Called back: CA1 after 600 s, CA2 after 3600 s → median 2100, p90 600 + 0.9 × 3000 = 3300.
    expect(cells(res.body as never, 'calls')).toEqual({
      missed: { calls: 3, median: null, p90: null },
      called_back: { calls: 2, median: 2100, p90: 3300 },
      not_called_back: { calls: 1, median: null, p90: null },
    });
    const never = await asAdmin.get('/reports/dispatch/rows', { ...range, drill: drillOf(res.body as never, 'calls', 'not_called_back', 'calls') });
    expect(never.body.data.rows).toEqual([
      expect.objectContaining({ kind: 'call', cells: { from: '+15550003', status: 'voicemail', started: '2026-03-04T10:00:00.000Z', called_back: null, time_to_call_back: null } }),
    ]);
    const back = await asAdmin.get('/reports/dispatch/rows', { ...range, drill: drillOf(res.body as never, 'calls', 'called_back', 'calls') });
    expect(back.body.data.rows.map((r: { cells: { time_to_call_back: number } }) => r.cells.time_to_call_back)).toEqual([600, 3600]);
  });

  it('filters by source, priority, vendor and category (figures and drills alike)', async () => {
    const byVendor = await report({ vendor_id: vendors.a });
    expect(cells(byVendor.body as never, 'sources').total).toEqual({ jobs: 2 });
    expect(cells(byVendor.body as never, 'quality').sla_met).toEqual({ jobs: 1, of: 2, rate: 0.5 });
    expect(await refs(drillOf(byVendor.body as never, 'timings', 'complete', 'jobs'), { vendor_id: vendors.a })).toEqual(['J-101', 'J-102']);
    const high = await report({ priority: 'high' });
    expect(cells(high.body as never, 'timings').complete).toEqual({ jobs: 1, median: 172800, p90: 172800 });
    const calls = await report({ source: 'call' });
    expect(cells(calls.body as never, 'sources')).toEqual({ call: { jobs: 1 }, total: { jobs: 1 } });
    expect(cells((await report({ service_category: 'roofing' })).body as never, 'sources').total).toEqual({ jobs: 0 });
    expect((await report({ source: 'fax' })).status).toBe(422);
  });

  it('CSV of a table and of a drill list, formula-safe', async () => {
    const csv = await asAdmin.get('/reports/dispatch.csv', { ...range, table: 'quality' });
    expect(csv.status).toBe(200);
    expect(csv.headers['content-type']).toMatch(/text\/csv/);
    expect(csv.text.split('\n')[1]).toBe('SLA met,1,2,0.5');
    const res = await report();
    const rows = await asAdmin.get('/reports/dispatch/rows.csv', { ...range, drill: drillOf(res.body as never, 'quality', 'sla_met', 'jobs') });
    expect(rows.status).toBe(200);
    expect(rows.text).toContain(`J-101,"'=HYPERLINK(""http://evil"")"`);
    expect((await asAdmin.get('/reports/dispatch.csv', { ...range, table: 'nope' })).status).toBe(422);
  });

  it('refuses drill tokens it did not hand out', async () => {
    for (const drill of ['jobs:everything', 'created:fax', 'calls:all', 'x', 'jobs:completed:extra', '%E0%A4%A']) {
      const res = await asAdmin.get('/reports/dispatch/rows', { ...range, drill });
      expect(res.status, drill).toBe(422);
      expect(res.body.error.code ?? JSON.stringify(res.body)).toBeTruthy();
    }
  });

  it('dispatchers read it; agents may not; without dispatch.jobs nobody does', async () => {
    const dispatcher = await signInDispatcher(t, world.chatwoot, 1, admin);
    expect((await report({}, apiAs(t, dispatcher.token))).status).toBe(200);
    const agent = await signInAgent(t, world.chatwoot, 1, 'agent', 'Ann Agent');
    expect((await report({}, apiAs(t, agent.token))).status).toBe(403);
    expect((await report({}, apiAs(t, adminB.token))).status).toBe(403);
  });

  it('a service token with reports:read reads the account’s figures, the overview included', async () => {
    const service = apiAs(t, (await createServiceToken(t, admin, ['reports:read'])).token);
    const res = await report({}, service);
    expect(res.status).toBe(200);
    expect(res.body.data.scope).toBe('account');
    // The overview is open to agents too (reports:own); reports:read covers it.
    const overview = await service.get('/reports/overview', range);
    expect(overview.status).toBe(200);
    expect(overview.body.data.scope).toBe('account');
    // The overview's dispatch figures are this report's: 3 jobs completed, SLA met 1 of 2 (see above).
    const headline = Object.fromEntries(overview.body.data.tables[0].rows.map((r: { key: string; cells: object }) => [r.key, r.cells]));
    expect(headline.jobs_completed.this_week).toBe(3);
    expect(headline.sla_met.this_week).toBe(0.5);
    expect(headline.jobs_completed.change).toBe(3 - headline.jobs_completed.last_week);
  });

  it('leaves the calls out when calls are off', async () => {
    expect((await asAdmin.patch('/admin/capabilities', { overrides: { 'calls.twilio': false } })).status).toBe(200);
    try {
      const res = await report();
      expect(res.body.data.tables.map((x: { id: string }) => x.id)).toEqual(['sources', 'timings', 'quality']);
      expect((await asAdmin.get('/reports/dispatch/rows', { ...range, drill: 'calls:missed' })).status).toBe(422);
    } finally {
      await asAdmin.patch('/admin/capabilities', { overrides: { 'calls.twilio': true } });
    }
  });
});

describe('job_milestones', () => {
  it('equals a fresh computation from the raw events after random event streams', async () => {
    const acc = admin3.accountId;
    const vendorIds = await withAccount(t.db.knex, acc, { readOnly: false }, async (trx) =>
      (await trx('vendors').insert([{ account_id: acc, name: 'V1' }, { account_id: acc, name: 'V2' }]).returning('id')).map((r: { id: string }) => r.id),
    );
    const statuses = ['new', 'triaged', 'assigned', 'in_progress', 'pending_review', 'completed', 'canceled'];
    const event = fc.oneof(
      fc.record({ kind: fc.constant('status_changed'), from: fc.constantFrom(...statuses), to: fc.constantFrom(...statuses), offline: fc.boolean(), skew: fc.integer({ min: -600, max: 0 }) }),
      fc.record({ kind: fc.constantFrom('assigned', 'reassigned'), vendor: fc.constantFrom(0, 1) }),
      fc.record({ kind: fc.constantFrom('unassigned', 'en_route', 'started', 'note', 'sla_breached') }),
    );
    // Besides events: the job's own fields change, checklist items come, get ticked or unticked, and go.
    const change = fc.oneof(
      fc.record({ t: fc.constant('event' as const), minutes: fc.integer({ min: 0, max: 5000 }), event }),
      fc.record({
        t: fc.constant('fields' as const),
        priority: fc.constantFrom('low', 'normal', 'high', 'urgent'),
        category: fc.constantFrom('plumbing', 'roofing', null),
        vendor: fc.constantFrom(0, 1, null),
        slaMinutes: fc.option(fc.integer({ min: -60, max: 6000 })),
      }),
      fc.record({ t: fc.constant('item' as const), done: fc.boolean() }),
      fc.record({ t: fc.constant('tick' as const), pick: fc.nat(), done: fc.boolean() }),
      fc.record({ t: fc.constant('drop' as const), pick: fc.nat() }),
    );
    const stream = fc.array(change, { maxLength: 16 });
    let number = 1;
    await fc.assert(
      fc.asyncProperty(fc.array(stream, { minLength: 1, maxLength: 3 }), async (jobs) => {
        await withAccount(t.db.knex, acc, { readOnly: false }, async (trx) => {
          for (const changes of jobs) {
            const created = new Date(Date.UTC(2026, 2, 1));
            const [job] = await trx('jobs')
              .insert({ account_id: acc, number: number++, summary: 'random', created_by_type: 'user', created_by_id: 'seed', created_at: created })
              .returning('id');
            const items: string[] = [];
            for (const c of changes) {
              if (c.t === 'fields') {
                await trx('jobs')
                  .where({ account_id: acc, id: job.id })
                  .update({
                    priority: c.priority,
                    service_category: c.category,
                    vendor_id: c.vendor === null ? null : vendorIds[c.vendor],
                    sla_due_at: c.slaMinutes === null ? null : new Date(created.getTime() + c.slaMinutes * 60_000),
                    window_starts_at: c.slaMinutes === null ? null : new Date(created.getTime() + c.slaMinutes * 30_000),
                  });
              } else if (c.t === 'item') {
                const [item] = await trx('job_checklist_items').insert({ account_id: acc, job_id: job.id, position: items.length, label: 'step', done_at: c.done ? created : null }).returning('id');
                items.push(item.id);
              } else if (c.t === 'tick' && items.length) {
                await trx('job_checklist_items').where({ account_id: acc, id: items[c.pick % items.length] }).update({ done_at: c.done ? created : null });
              } else if (c.t === 'drop' && items.length) {
                await trx('job_checklist_items').where({ account_id: acc, id: items.splice(c.pick % items.length, 1)[0] }).delete();
              } else if (c.t === 'event') {
                const e = c.event;
                const at = new Date(created.getTime() + c.minutes * 60_000);
                const data: Record<string, unknown> =
                  e.kind === 'status_changed'
                    ? { from: e.from, to: e.to, ...('offline' in e && e.offline ? { offline: true, device_time: new Date(at.getTime() + e.skew * 1000).toISOString() } : {}) }
                    : 'vendor' in e ? { vendor_id: vendorIds[e.vendor] } : {};
                await trx('job_events').insert({ account_id: acc, job_id: job.id, kind: e.kind, data, actor_type: 'user', actor_id: 'seed', occurred_at: at });
              }
            }
          }
        });
        const [stored, fresh] = await withAccount(t.db.knex, acc, { readOnly: true }, async (trx) => [await storedJobMilestones(trx, acc), await freshJobMilestones(trx, acc)]);
        expect(JSON.parse(JSON.stringify(stored))).toEqual(JSON.parse(JSON.stringify(fresh)));
      }),
      { numRuns: 30 },
    );
  });

  it('is kept by the real services too (create, checklist, assign, on the way, start, complete, edit)', async () => {
    // Account 1: the random streams' job numbers in account 3 did not go through its job counter.
    const api = asAdmin;
    const acc = admin.accountId;
    const [vendor] = await withAccount(t.db.knex, acc, { readOnly: false }, (trx) => trx('vendors').insert({ account_id: acc, name: 'Real Path Ltd', categories: ['plumbing'] }).returning('id'));
    const created = await api.post('/jobs', { summary: 'Leaking tap', service_category: 'plumbing' });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const jobId = created.body.data.id as string;
    const item = await api.post(`/jobs/${jobId}/checklist`, { label: 'Shut the water off' });
    expect(item.status, JSON.stringify(item.body)).toBe(201);
    expect((await api.put(`/jobs/${jobId}/checklist/${item.body.data.id}`, { done: true })).status).toBe(200);
    const assigned = await api.post(`/jobs/${jobId}/assignment`, { vendor_id: vendor.id, compliance_override_reason: 'documents on their way' });
    expect(assigned.status, JSON.stringify(assigned.body)).toBe(200);
    expect((await api.post(`/jobs/${jobId}/en-route`, {})).status).toBeLessThan(300);
    const { version } = (await api.get(`/jobs/${jobId}`)).body.data;
    const edited = await api.patch(`/jobs/${jobId}`, { priority: 'urgent', version });
    expect(edited.status, JSON.stringify(edited.body)).toBe(200);
    for (const status of ['in_progress', 'completed']) {
      const moved = await api.post(`/jobs/${jobId}/status`, { status });
      expect(moved.status, JSON.stringify(moved.body)).toBe(200);
    }
    const [stored, fresh] = await withAccount(t.db.knex, acc, { readOnly: true }, async (trx) => [await storedJobMilestones(trx, acc), await freshJobMilestones(trx, acc)]);
    expect(JSON.parse(JSON.stringify(stored))).toEqual(JSON.parse(JSON.stringify(fresh)));
    expect(stored.find((m) => m.job_id === jobId)).toMatchObject({
      vendor_id: vendor.id, story_vendor_id: vendor.id, arrival_vendor_id: vendor.id, priority: 'urgent', checklist_items: 1, checklist_done: 1, reopened_count: 0,
    });
    expect(stored.find((m) => m.job_id === jobId)!.completed_at).not.toBeNull();
  });

  it('reads the range through indexes, never scanning job events or calls', async () => {
    const plans = await withAccount(t.db.knex, admin.accountId, { readOnly: true }, async (trx) => {
      await trx.raw('set local enable_seqscan = off');
      const explain = async (sql: string) => JSON.stringify((await trx.raw(`explain (format json) ${sql}`)).rows);
      return [
        await explain(`select count(*) from job_milestones where account_id = ${admin.accountId} and created_at >= '2026-03-01' and created_at < '2026-06-01'`),
        await explain(`select count(*) from calls where account_id = ${admin.accountId} and direction = 'inbound' and status in ('missed', 'busy', 'failed', 'voicemail') and started_at >= '2026-03-01' and started_at < '2026-06-01'`),
      ];
    });
    expect(plans[0]).toMatch(/job_milestones_created/);
    expect(plans[1]).toMatch(/calls_missed/);
  });
});
