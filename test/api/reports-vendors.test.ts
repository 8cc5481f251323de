// The vendor scorecard against a hand-computed fixture (March 2026, UTC): offers accepted, declined
// and lapsed with the median time to accept, on-time arrival with the grace (exactly at the grace is
// on time), first-time completion, SLA met, checklists, compliance days lapsed across the range's
// edges (a renewal recorded mid-range, an expiry on the last day, a document recorded after the range),
// client blocks and the rank. Drill lists hold exactly the records behind each cell; "no data yet"
// when no offers were sent; who may read it; another account never shows.
import type { Knex } from 'knex';
import { beforeAll, describe, expect, it } from 'vitest';
import { withAccountForTests as withAccount } from '../../extension/db/tenant.ts';
import { apiAs } from '../helpers/api.ts';
import type { TestApp } from '../helpers/app.ts';
import { signInAgent, signInDispatcher, type SignedIn } from '../helpers/identity.ts';
import { useWorld } from '../helpers/world.ts';

const world = useWorld([1, 2]);
let t: TestApp;
let admin: SignedIn;
let adminB: SignedIn;
let asAdmin: ReturnType<typeof apiAs>;
const v = {} as Record<'a' | 'b' | 'c' | 'd' | 'other', string>;
const range = { from: '2026-03-01', to: '2026-03-31' };

type EventSpec = [kind: string, at: string, data?: Record<string, unknown>];
let nextNumber = 200;

async function seedJob(
  trx: Knex.Transaction,
  accountId: number,
  spec: { status: string; vendor?: string; window?: string; slaDue?: string; created: string; category?: string; items?: boolean[]; events: EventSpec[] },
) {
  const [row] = await trx('jobs')
    .insert({
      account_id: accountId, number: nextNumber++, status: spec.status, source: 'manual', summary: `Job ${nextNumber - 1}`, service_category: spec.category ?? 'plumbing',
      vendor_id: spec.vendor ?? null, window_starts_at: spec.window ?? null, sla_due_at: spec.slaDue ?? null, created_by_type: 'user', created_by_id: 'seed', created_at: spec.created,
    })
    .returning(['id', 'number']);
  for (const [kind, at, data] of spec.events) {
    await trx('job_events').insert({ account_id: accountId, job_id: row.id, kind, data: data ?? {}, actor_type: 'user', actor_id: 'seed', occurred_at: at });
  }
  for (const [position, done] of (spec.items ?? []).entries()) {
    await trx('job_checklist_items').insert({ account_id: accountId, job_id: row.id, position, label: `Step ${position}`, done_at: done ? spec.created : null });
  }
  return row as { id: string; number: number };
}
const moved = (from: string, to: string, at: string): EventSpec => ['status_changed', at, { from, to }];

const jobs = {} as Record<string, { id: string; number: number }>;

beforeAll(async () => {
  t = world.t;
  admin = await signInAgent(t, world.chatwoot, 1, 'administrator', 'Vera Admin');
  adminB = await signInAgent(t, world.chatwoot, 2, 'administrator', 'Admin of B');
  asAdmin = apiAs(t, admin.token);
  for (const a of [admin, adminB]) expect((await apiAs(t, a.token).patch('/admin/capabilities', { profile: 'construction' })).status).toBe(200);
  const acc = admin.accountId;
  await withAccount(t.db.knex, acc, { readOnly: false }, async (trx) => {
    const rows = await trx('vendors')
      .insert(['Ace Plumbing', 'Bolt Electric', 'Cobalt Roofing', 'Dormant Ltd'].map((name) => ({ account_id: acc, name, categories: name === 'Cobalt Roofing' ? ['roofing'] : ['plumbing'] })))
      .returning('id');
    const ids: string[] = rows.map((r: { id: string }) => r.id);
    [v.a, v.b, v.c, v.d] = [ids[0]!, ids[1]!, ids[2]!, ids[3]!];
    const assign = (vendor: string, at: string): EventSpec[] => [['assigned', at, { vendor_id: vendor }], moved('new', 'assigned', at)];
    // A: on the way 5 min after the window opened (on time), completed by its SLA; 2 of 3 items done.
    jobs.j1 = await seedJob(trx, acc, {
      status: 'completed', vendor: v.a, window: '2026-03-03T13:00:00Z', slaDue: '2026-03-03T16:00:00Z', created: '2026-03-02T14:00:00Z', items: [true, true, false],
      events: [...assign(v.a, '2026-03-02T14:30:00Z'), ['en_route', '2026-03-03T13:05:00Z'], moved('assigned', 'in_progress', '2026-03-03T13:20:00Z'), moved('in_progress', 'completed', '2026-03-03T15:00:00Z')],
    });
    // A: started 20 min after the window opened (late), reopened, completed again a minute past its SLA; 1 of 1 item done.
    jobs.j2 = await seedJob(trx, acc, {
      status: 'completed', vendor: v.a, window: '2026-03-05T09:00:00Z', slaDue: '2026-03-06T09:59:00Z', created: '2026-03-04T10:00:00Z', items: [true],
      events: [
        ...assign(v.a, '2026-03-04T10:20:00Z'), moved('assigned', 'in_progress', '2026-03-05T09:20:00Z'), moved('in_progress', 'completed', '2026-03-05T12:00:00Z'),
        moved('completed', 'in_progress', '2026-03-06T08:00:00Z'), moved('in_progress', 'completed', '2026-03-06T10:00:00Z'),
      ],
    });
    // B: on the way exactly 15 minutes after the window opened (on time), not completed.
    jobs.j3 = await seedJob(trx, acc, {
      status: 'assigned', vendor: v.b, window: '2026-03-20T10:00:00Z', created: '2026-03-19T09:00:00Z',
      events: [...assign(v.b, '2026-03-19T09:10:00Z'), ['en_route', '2026-03-20T10:15:00Z']],
    });
    // B: completed in range, no SLA, no checklist, never reopened.
    jobs.j4 = await seedJob(trx, acc, {
      status: 'completed', vendor: v.b, created: '2026-03-09T12:00:00Z',
      events: [...assign(v.b, '2026-03-09T12:10:00Z'), moved('assigned', 'in_progress', '2026-03-09T13:00:00Z'), moved('in_progress', 'completed', '2026-03-09T15:00:00Z')],
    });
    // A, roofing: only seen without the plumbing filter… completed in April: outside.
    jobs.j5 = await seedJob(trx, acc, {
      status: 'completed', vendor: v.a, created: '2026-03-30T09:00:00Z', category: 'roofing',
      events: [...assign(v.a, '2026-03-30T09:10:00Z'), moved('assigned', 'in_progress', '2026-03-30T10:00:00Z'), moved('in_progress', 'completed', '2026-04-01T00:00:00Z')],
    });
    const offer = (vendor: string, job: string, status: string, sent: string, answered: string | null, reason: string | null = null) => ({
      account_id: acc, vendor_id: vendor, job_id: job, status, created_at: sent, answer_by: new Date(Date.parse(sent) + 15 * 60_000), answered_at: answered, decline_reason: reason,
      offered_by_type: 'user', offered_by_id: 'seed',
    });
    await trx('job_offers').insert([
      offer(v.b, jobs.j1!.id, 'declined', '2026-03-02T14:10:00Z', '2026-03-02T14:15:00Z', 'Too far'),
      offer(v.a, jobs.j1!.id, 'accepted', '2026-03-02T14:20:00Z', '2026-03-02T14:30:00Z'),
      offer(v.a, jobs.j2!.id, 'accepted', '2026-03-04T10:05:00Z', '2026-03-04T10:20:00Z'),
      offer(v.b, jobs.j4!.id, 'lapsed', '2026-03-09T11:40:00Z', '2026-03-09T11:55:00Z'),
      // Sent in February: outside.
      offer(v.a, jobs.j4!.id, 'accepted', '2026-02-20T10:00:00Z', '2026-02-20T10:01:00Z'),
    ]);
    const doc = (vendor: string, kind: string, expires: string | null, recorded: string, extra: Record<string, unknown> = {}) => ({
      account_id: acc, vendor_id: vendor, kind, expires_on: expires, created_at: recorded, ...extra,
    });
    await trx('vendor_documents').insert([
      // A: insurance good to 10 March, the renewal recorded 20 March → lapsed 11–19 March = 9 days; a licence without expiry.
      doc(v.a, 'Insurance', '2026-03-10', '2026-01-05T09:00:00Z', { reference: '=cmd|calc' }),
      doc(v.a, 'insurance ', '2027-03-01', '2026-03-20T09:00:00Z'),
      doc(v.a, 'licence', null, '2026-01-05T09:00:00Z'),
      // B: good up to and including the range's last day; another due in April.
      doc(v.b, 'insurance', '2026-03-31', '2026-01-05T09:00:00Z'),
      doc(v.b, 'licence', '2026-04-05', '2026-01-05T09:00:00Z'),
      // C: expired before the range: all 31 days; a removed one and one awaiting review do not count.
      doc(v.c, 'licence', '2026-02-15', '2025-12-01T09:00:00Z'),
      doc(v.c, 'permit', '2026-01-01', '2025-12-01T09:00:00Z', { deleted_at: '2025-12-02T00:00:00Z' }),
      // D: recorded only after the range (its expiry inside it does not reach back).
      doc(v.d, 'insurance', '2026-03-15', '2026-04-02T09:00:00Z'),
    ]);
    await trx('vendor_client_links').insert([
      { account_id: acc, vendor_id: v.c, chatwoot_contact_id: 501, relation: 'blocked', note: '@SUM(1)' },
      { account_id: acc, vendor_id: v.c, chatwoot_contact_id: 502, relation: 'blocked' },
      { account_id: acc, vendor_id: v.a, chatwoot_contact_id: 503, relation: 'blocked' },
      { account_id: acc, vendor_id: v.b, chatwoot_contact_id: 504, relation: 'preferred' },
    ]);
  });
  await withAccount(t.db.knex, adminB.accountId, { readOnly: false }, async (trx) => {
    const [other] = await trx('vendors').insert({ account_id: adminB.accountId, name: 'Other Account Vendor' }).returning('id');
    v.other = other.id;
    await trx('vendor_client_links').insert({ account_id: adminB.accountId, vendor_id: other.id, chatwoot_contact_id: 501, relation: 'blocked' });
  });
});

type Row = { key: string; label: string; cells: Record<string, unknown>; drill?: Record<string, string> };
const scorecard = async (query: Record<string, unknown> = {}, api = asAdmin) => {
  const res = await api.get('/reports/vendors', { ...range, ...query });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.data.tables[0] as { rows: Row[]; empty?: string };
};
const drillRows = async (drill: string) => {
  const res = await asAdmin.get('/reports/vendors/rows', { ...range, drill });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.data as { rows: Array<{ id: string; kind: string; link: string | null; cells: Record<string, unknown> }>; total: number };
};

describe('vendor scorecard', () => {
  it('scores each vendor by hand-computed figures and ranks them', async () => {
    const { rows } = await scorecard();
    expect(rows.map((r) => r.label)).toEqual(['Bolt Electric', 'Ace Plumbing', 'Cobalt Roofing']);
    expect(Object.fromEntries(rows.map((r) => [r.label, r.cells]))).toEqual({
      // B: on time 1/1 (exactly at the grace), first time 1/1; no SLA, no checklist → mean 1.0 → first.
      'Bolt Electric': {
        rank: 1, offers_sent: 2, offers_accepted: 0, offers_declined: 1, offers_lapsed: 1, time_to_accept: null,
        on_time: 1, jobs_completed: 1, first_time: 1, sla_met: null, checklist: null, compliance_lapsed: 0, client_blocks: 0,
      },
      // A: accepted after 600 s and 900 s → median 750; on time 1/2, first time 1/2, SLA 1/2, checklist 3/4 → mean 0.5625.
      'Ace Plumbing': {
        rank: 2, offers_sent: 2, offers_accepted: 2, offers_declined: 0, offers_lapsed: 0, time_to_accept: 750,
        on_time: 0.5, jobs_completed: 2, first_time: 0.5, sla_met: 0.5, checklist: 0.75, compliance_lapsed: 9, client_blocks: 1,
      },
      // C: nothing to measure → last; lapsed all 31 days; blocked twice.
      'Cobalt Roofing': {
        rank: 3, offers_sent: 0, offers_accepted: 0, offers_declined: 0, offers_lapsed: 0, time_to_accept: null,
        on_time: null, jobs_completed: 0, first_time: null, sla_met: null, checklist: null, compliance_lapsed: 31, client_blocks: 2,
      },
    });
  });

  it('drills to the offers, jobs, documents and blocks behind each cell', async () => {
    const { rows } = await scorecard();
    const a = rows.find((r) => r.key === v.a)!;
    const b = rows.find((r) => r.key === v.b)!;
    const c = rows.find((r) => r.key === v.c)!;
    const accepted = await drillRows(a.drill!.offers_accepted!);
    expect(accepted.rows.map((r) => [r.kind, r.link, r.cells.status, r.cells.time_to_answer])).toEqual([['offer', `J-${jobs.j1!.number}`, 'accepted', 600], ['offer', `J-${jobs.j2!.number}`, 'accepted', 900]]);
    expect((await drillRows(b.drill!.offers_declined!)).rows.map((r) => r.cells.decline_reason)).toEqual(['Too far']);
    expect((await drillRows(b.drill!.offers_lapsed!)).rows.map((r) => r.link)).toEqual([`J-${jobs.j4!.number}`]);
    const arrivals = await drillRows(a.drill!.on_time!);
    expect(arrivals.rows.map((r) => [r.id, r.cells.on_time])).toEqual([[jobs.j1!.id, 'yes'], [jobs.j2!.id, 'no']]);
    const done = await drillRows(a.drill!.checklist!);
    expect(done.rows.map((r) => [r.cells.reference, r.cells.checklist_done, r.cells.checklist_items])).toEqual([[`J-${jobs.j1!.number}`, 2, 3], [`J-${jobs.j2!.number}`, 1, 1]]);
    expect((await drillRows(a.drill!.sla_met!)).rows.map((r) => r.cells.sla_met)).toEqual(['yes', 'no']);
    expect((await drillRows(a.drill!.first_time!)).rows.map((r) => r.cells.reopened)).toEqual([0, 1]);
    const documents = await drillRows(a.drill!.compliance_lapsed!);
    expect(documents.rows.map((r) => [r.cells.kind, r.cells.expires_on, r.cells.lapsed_days])).toEqual([['Insurance', '2026-03-10', 9], ['insurance ', '2027-03-01', 9]]);
    expect((await drillRows(c.drill!.client_blocks!)).rows.map((r) => r.cells.contact)).toEqual(['501', '502']);
    expect(b.drill!.compliance_lapsed).toBeUndefined();
  });

  it('shows "no data yet" (null, never zero) for offers when the account sent none in the range', async () => {
    const { rows } = await scorecard({ from: '2026-03-10', to: '2026-03-31' });
    const a = rows.find((r) => r.key === v.a)!;
    expect([a.cells.offers_sent, a.cells.offers_accepted, a.cells.time_to_accept]).toEqual([null, null, null]);
    // Compliance 11–19 March within 10–31 March: still 9 days; C from 10 to 31 March: 22.
    expect(a.cells.compliance_lapsed).toBe(9);
    expect(rows.find((r) => r.key === v.c)!.cells.compliance_lapsed).toBe(22);
  });

  it('filters by vendor and by category', async () => {
    expect((await scorecard({ vendor_id: v.b })).rows.map((r) => r.label)).toEqual(['Bolt Electric']);
    const roofing = await scorecard({ service_category: 'roofing' });
    // Roofing jobs: none completed, offered or arrived at in March; C offers roofing (its blocks and lapse show), A and B do not.
    expect(roofing.rows.map((r) => r.label)).toEqual(['Cobalt Roofing']);
    // June 2025: before any document was recorded, nothing at all.
    expect((await scorecard({ from: '2025-06-01', to: '2025-06-30', vendor_id: v.b })).empty).toMatch(/No vendor/);
  });

  it('CSV of the scorecard and of a drill list, formula-safe', async () => {
    const csv = await asAdmin.get('/reports/vendors.csv', { ...range, table: 'scorecard' });
    expect(csv.status).toBe(200);
    expect(csv.text.split('\n')[1]).toBe('Bolt Electric,1,2,0,1,1,,1,1,1,,,0,0');
    const { rows } = await scorecard();
    const docs = await asAdmin.get('/reports/vendors/rows.csv', { ...range, drill: rows.find((r) => r.key === v.a)!.drill!.compliance_lapsed });
    expect(docs.text).toContain(`Insurance,'=cmd|calc,2026-03-10`);
    const blocks = await asAdmin.get('/reports/vendors/rows.csv', { ...range, drill: rows.find((r) => r.key === v.c)!.drill!.client_blocks });
    expect(blocks.text).toContain(`501,'@SUM(1)`);
  });

  it('refuses drill tokens it did not hand out, and never lists another account', async () => {
    for (const drill of ['offers:sent', `offers:everything:${v.a}`, `nope:${v.a}`, 'completed:not-a-uuid', `completed:x:${v.a}`, '%zz']) {
      expect((await asAdmin.get('/reports/vendors/rows', { ...range, drill })).status, drill).toBe(422);
    }
    expect((await drillRows(`blocks:${v.other}`)).rows).toEqual([]);
    expect((await scorecard()).rows.map((r) => r.key)).not.toContain(v.other);
  });

  it('dispatchers read it; agents may not; without dispatch.vendors nobody does', async () => {
    const dispatcher = await signInDispatcher(t, world.chatwoot, 1, admin);
    expect((await apiAs(t, dispatcher.token).get('/reports/vendors', range)).status).toBe(200);
    const agent = await signInAgent(t, world.chatwoot, 1, 'agent', 'Ann Agent');
    expect((await apiAs(t, agent.token).get('/reports/vendors', range)).status).toBe(403);
    const asB = apiAs(t, adminB.token);
    expect((await asB.patch('/admin/capabilities', { overrides: { 'dispatch.vendors': false } })).status).toBe(200);
    expect((await asB.get('/reports/vendors', range)).status).toBe(403);
    expect((await asB.get('/reports/dispatch', range)).status).toBe(200);
  });
});
