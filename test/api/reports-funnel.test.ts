// The pipeline funnel report against fixed deals whose figures are worked out by hand below, in
// America/New_York over February and March 2026 (clocks go forward on 8 March): stage entries,
// conversion, time in stage (median and p90), won and lost in the range per currency, lost
// reasons, cohorts by local month; the drill-down lists, CSV, filters, scope and tenancy. Then
// the stage-visit rollup against a fresh computation from random event streams, and deal sources.
import fc from 'fast-check';
import request from 'supertest';
import { beforeAll, describe, expect, it } from 'vitest';
import { withAccountForTests as withAccount } from '../../extension/db/tenant.ts';
import type { RequestContext } from '../../extension/context.ts';
import { funnelHeadlines } from '../../extension/modules/reports/funnel.ts';
import { freshDealStageVisits, keptDealStageVisits } from '../../extension/modules/reports/funnel-visits.ts';
import { resolveRange } from '../../extension/modules/reports/range.ts';
import { apiAs } from '../helpers/api.ts';
import type { TestApp } from '../helpers/app.ts';
import { createServiceToken, signInAgent, type SignedIn } from '../helpers/identity.ts';
import { useWorld } from '../helpers/world.ts';

const world = useWorld([1, 2]);
let t: TestApp;
let admin: SignedIn;
let agent: SignedIn;
let adminB: SignedIn;

// Range: 2026-02-01 .. 2026-03-31 in New York = [2026-02-01T05:00Z (EST), 2026-04-01T04:00Z (EDT)), 59 days.
const range = { from: '2026-02-01', to: '2026-03-31', tz: 'America/New_York' };

type StageName = 'Lead' | 'Qualified' | 'Proposal' | 'Won' | 'Lost' | 'Intake' | 'Done';
type Status = 'open' | 'won' | 'lost';
interface Fixture {
  n: number;
  title: string;
  owner: 'agent' | 'admin';
  source: string;
  amount?: [number, string];
  custom?: Record<string, string>;
  lostReason?: string;
  deleted?: boolean;
  events: Array<[StageName, Status, string]>;
}

// Times are UTC; the comment gives New York's wall clock.
const fixtures: Fixture[] = [
  // D-901: straight through; Lead 1 d, Qualified 2 d, Proposal 4 d, won Feb 9.
  { n: 901, title: 'Alpha boiler', owner: 'agent', source: 'chat', amount: [100_000, 'USD'], custom: { trade: 'plumbing' }, events: [
    ['Lead', 'open', '2026-02-02T15:00:00Z'], ['Qualified', 'open', '2026-02-03T15:00:00Z'], ['Proposal', 'open', '2026-02-05T15:00:00Z'], ['Won', 'won', '2026-02-09T15:00:00Z']] },
  // D-902: skips Qualified (Lead 2 d → Proposal), lost Feb 20 after 8 d in Proposal.
  { n: 902, title: 'Bravo roof', owner: 'admin', source: 'manual', amount: [50_000, 'EUR'], custom: { trade: 'roofing' }, lostReason: 'Too expensive', events: [
    ['Lead', 'open', '2026-02-10T15:00:00Z'], ['Proposal', 'open', '2026-02-12T15:00:00Z'], ['Lost', 'lost', '2026-02-20T15:00:00Z']] },
  // D-903: won from Lead after 1 d, reopened into Qualified 4 d later, won again Mar 10 12:00 EDT
  // (Qualified: Feb 20 15:00Z → Mar 10 16:00Z = 18 d 1 h = 1 558 800 s).
  { n: 903, title: 'Charlie deck', owner: 'agent', source: 'api', amount: [20_000, 'USD'], events: [
    ['Lead', 'open', '2026-02-15T15:00:00Z'], ['Won', 'won', '2026-02-16T15:00:00Z'], ['Qualified', 'open', '2026-02-20T15:00:00Z'], ['Won', 'won', '2026-03-10T16:00:00Z']] },
  // D-904: created Mar 8 01:30 EST, qualified at 03:30 EDT: one real hour (3 600 s) across the jump;
  // lost at 23:30 EDT on Mar 31 (= Apr 1 03:30Z: in the range) with no reason; Qualified 2 059 200 s.
  { n: 904, title: 'Delta gutter', owner: 'agent', source: 'chat', events: [
    ['Lead', 'open', '2026-03-08T06:30:00Z'], ['Qualified', 'open', '2026-03-08T07:30:00Z'], ['Lost', 'lost', '2026-04-01T03:30:00Z']] },
  // D-905: created before the range; qualified Jan 31 23:30 EST (= Feb 1 04:30Z: before the range); lost Feb 25.
  { n: 905, title: 'Echo fence', owner: 'admin', source: 'portal', amount: [30_000, 'USD'], lostReason: 'Too expensive', events: [
    ['Lead', 'open', '2026-01-20T15:00:00Z'], ['Qualified', 'open', '2026-02-01T04:30:00Z'], ['Lost', 'lost', '2026-02-25T15:00:00Z']] },
  // D-906: created Feb 28 23:30 EST (= Mar 1 04:30Z: a February deal), lost after 34.5 h, reopened into Lead a day later.
  { n: 906, title: 'Foxtrot patio', owner: 'agent', source: 'chat', amount: [10_000, 'USD'], events: [
    ['Lead', 'open', '2026-03-01T04:30:00Z'], ['Lost', 'lost', '2026-03-02T15:00:00Z'], ['Lead', 'open', '2026-03-03T15:00:00Z']] },
  // D-907: yen; 5 d in Lead, won Mar 25.
  { n: 907, title: 'Golf solar', owner: 'admin', source: 'manual', amount: [98_000, 'JPY'], custom: { trade: 'plumbing' }, events: [
    ['Lead', 'open', '2026-03-20T14:00:00Z'], ['Won', 'won', '2026-03-25T14:00:00Z']] },
  // D-908: a title a spreadsheet would run; still in Lead.
  { n: 908, title: '=HYPERLINK("http://evil.example","x")', owner: 'agent', source: 'manual', events: [['Lead', 'open', '2026-03-15T15:00:00Z']] },
  // D-909: deleted: never counts.
  { n: 909, title: 'India deleted', owner: 'agent', source: 'chat', amount: [5_000, 'USD'], deleted: true, events: [
    ['Lead', 'open', '2026-02-05T15:00:00Z'], ['Won', 'won', '2026-02-06T15:00:00Z']] },
  // D-910: created in the Service pipeline, moved to Sales' Proposal, then won in place (no won stage move: no new visit).
  { n: 910, title: 'Hotel wiring', owner: 'admin', source: 'call', amount: [40_000, 'USD'], events: [
    ['Intake', 'open', '2026-02-05T15:00:00Z'], ['Proposal', 'open', '2026-02-06T15:00:00Z'], ['Proposal', 'won', '2026-03-05T15:00:00Z']] },
];

let stageIds: Record<StageName, string>;
let salesId: string;
let serviceId: string;

async function seedPipelines(accountId: number, withService: boolean) {
  return withAccount(t.db.knex, accountId, { readOnly: false }, async (trx) => {
    const ids = {} as Record<StageName, string>;
    const [sales] = await trx('pipelines').insert({ account_id: accountId, name: 'Sales', position: 0 }).returning('id');
    const salesStages: Array<[StageName, Status]> = [['Lead', 'open'], ['Qualified', 'open'], ['Proposal', 'open'], ['Won', 'won'], ['Lost', 'lost']];
    for (const [i, [name, kind]] of salesStages.entries()) {
      ids[name] = (await trx('stages').insert({ account_id: accountId, pipeline_id: sales.id, name, position: i, kind }).returning('id'))[0].id;
    }
    let service: { id: string } | undefined;
    if (withService) {
      [service] = await trx('pipelines').insert({ account_id: accountId, name: 'Service', position: 1 }).returning('id');
      ids.Intake = (await trx('stages').insert({ account_id: accountId, pipeline_id: service!.id, name: 'Intake', position: 0, kind: 'open' }).returning('id'))[0].id;
      ids.Done = (await trx('stages').insert({ account_id: accountId, pipeline_id: service!.id, name: 'Done', position: 1, kind: 'won' }).returning('id'))[0].id;
    }
    return { ids, salesId: sales.id as string, serviceId: service?.id };
  });
}

type Seeded = Awaited<ReturnType<typeof seedPipelines>>;

async function seedDeals(accountId: number, deals: Fixture[], { ids, salesId: sales, serviceId: service }: Seeded, owners: Record<'agent' | 'admin', string>) {
  const pipelineOf = (stage: StageName) => (stage === 'Intake' || stage === 'Done' ? service : sales);
  await withAccount(t.db.knex, accountId, { readOnly: false }, async (trx) => {
    const events: object[] = [];
    for (const d of deals) {
      const [lastStage, lastStatus] = d.events.at(-1)!;
      const [deal] = await trx('deals')
        .insert({
          account_id: accountId, number: d.n, title: d.title, status: lastStatus, lost_reason: lastStatus === 'lost' ? (d.lostReason ?? null) : null,
          pipeline_id: pipelineOf(lastStage),
          stage_id: ids[lastStage], rank: `a${d.n}`, amount_minor: d.amount?.[0] ?? null, currency: d.amount?.[1] ?? null, owner_id: owners[d.owner],
          custom_fields: d.custom ?? {}, source: d.source, created_by_type: 'user', created_by_id: owners[d.owner],
          created_at: d.events[0]![2], deleted_at: d.deleted ? '2026-03-30T12:00:00Z' : null,
        })
        .returning('id');
      d.events.forEach(([stage, status, at], i) => {
        const before = d.events[i - 1];
        events.push({
          account_id: accountId, deal_id: deal.id, from_stage_id: before ? ids[before[0]] : null, to_stage_id: ids[stage], from_status: before?.[1] ?? null,
          to_status: status, actor_type: 'user', actor_id: owners[d.owner], occurred_at: at,
        });
      });
    }
    // All events in one statement: the rollup's trigger rebuilds every touched deal at once.
    await trx('deal_stage_events').insert(events);
  });
}

const asAdmin = () => apiAs(t, admin.token);
const asAgent = () => apiAs(t, agent.token);
type Table = { id: string; rows: Array<{ key: string; label: string; cells: Record<string, unknown>; drill?: Record<string, string> }> };
const tableOf = (body: { data: { tables: Table[] } }, id: string) => body.data.tables.find((x) => x.id === id)!;
const rowOf = (table: Table, key: string) => table.rows.find((r) => r.key === key)!;
const funnel = (api: ReturnType<typeof apiAs>, query: Record<string, unknown> = {}) => api.get('/reports/funnel', { ...range, ...query });
const drill = async (api: ReturnType<typeof apiAs>, token: string, query: Record<string, unknown> = {}) => {
  const res = await api.get('/reports/funnel/rows', { ...range, ...query, drill: token });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.data as { total: number; truncated: boolean; rows: Array<{ id: string; kind: string; link: string; cells: Record<string, unknown> }> };
};
const references = (list: { rows: Array<{ link: string }> }) => list.rows.map((r) => r.link).sort();

beforeAll(async () => {
  t = world.t;
  admin = await signInAgent(t, world.chatwoot, 1, 'administrator', 'Ada Admin');
  agent = await signInAgent(t, world.chatwoot, 1, 'agent', 'Sam Seller');
  adminB = await signInAgent(t, world.chatwoot, 2, 'administrator', 'Bea Other');
  const seeded = await seedPipelines(admin.accountId, true);
  stageIds = seeded.ids;
  salesId = seeded.salesId;
  serviceId = seeded.serviceId!;
  await seedDeals(admin.accountId, fixtures, seeded, { agent: agent.userId, admin: admin.userId });
  // Another account: a deal won in the range that account 1 must never see.
  const other = await seedPipelines(adminB.accountId, false);
  await seedDeals(adminB.accountId, [{ n: 901, title: 'Other account deal', owner: 'admin', source: 'manual', amount: [777_700, 'USD'], events: [
    ['Lead', 'open', '2026-02-02T15:00:00Z'], ['Won', 'won', '2026-02-03T15:00:00Z']] }], other, { agent: adminB.userId, admin: adminB.userId });
});

describe('funnel figures', () => {
  it('counts stage entries, conversion and time in stage per stage, in pipeline order', async () => {
    const res = await funnel(asAdmin());
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.data.scope).toBe('account');
    expect(res.body.data.range).toMatchObject({ start: '2026-02-01T05:00:00.000Z', end: '2026-04-01T04:00:00.000Z' });
    const stages = tableOf(res.body, 'stages');
    expect(stages.rows.map((r) => r.label)).toEqual(['Lead', 'Qualified', 'Proposal', 'Won', 'Lost']);
    // Lead: entries D901, D902, D903, D904, D906 twice (created, reopened into it), D907, D908 = 8 (D905 before the range, D909 deleted).
    // Moved on to a later non-lost stage: 901, 902 (skip), 903 (→ Won), 904, 907 = 5/8; won today: 901, 903, 907 = 3/8.
    // Ended visits: 3600 (904, across DST), 86400, 86400, 124200, 172800, 432000 → median (86400+124200)/2 = 105300;
    // p90 at rank 4.5: 172800 + 0.5 × (432000 − 172800) = 302400.
    expect(rowOf(stages, stageIds.Lead).cells).toEqual({ entered: 8, to_next: 0.625, to_won: 0.375, median_time: 105_300, p90_time: 302_400 });
    // Qualified: 901 (→ Proposal, 172800), 903 reopened (→ Won, 1558800), 904 (→ Lost, 2059200); 905 entered before the range.
    // To next 2/3, won today 2/3; median 1558800; p90 at rank 1.8: 1558800 + 0.8 × 500400 = 1959120.
    expect(rowOf(stages, stageIds.Qualified).cells).toEqual({ entered: 3, to_next: 2 / 3, to_won: 2 / 3, median_time: 1_558_800, p90_time: 1_959_120 });
    // Proposal: 901 (→ Won, 345600), 902 (→ Lost, 691200), 910 from the other pipeline (still there, won in place).
    // To next 1/3; won today 901, 910 = 2/3; median 518400; p90 at rank 0.9: 345600 + 0.9 × 345600 = 656640.
    expect(rowOf(stages, stageIds.Proposal).cells).toEqual({ entered: 3, to_next: 1 / 3, to_won: 2 / 3, median_time: 518_400, p90_time: 656_640 });
    // Won: 901, 903 twice (left once after 4 d, 345600), 907: 4 entries, all won today; no "to next" for a won stage.
    expect(rowOf(stages, stageIds.Won).cells).toEqual({ entered: 4, to_next: null, to_won: 1, median_time: 345_600, p90_time: 345_600 });
    // Lost: 902, 904 (at 23:30 local on the last day), 905, 906 (left after a day): none won today.
    expect(rowOf(stages, stageIds.Lost).cells).toEqual({ entered: 4, to_next: null, to_won: 0, median_time: 86_400, p90_time: 86_400 });
  });

  it('counts won and lost in the range once per deal, per currency, never adding currencies', async () => {
    const outcomes = tableOf((await funnel(asAdmin())).body, 'outcomes');
    // Last close in the range per deal: won 901, 903 (won twice: once), 907, 910 (in place); lost 902, 904, 905, 906 (reopened since).
    expect(outcomes.rows.map((r) => r.key)).toEqual(['all', 'EUR', 'JPY', 'USD', 'none']);
    expect(rowOf(outcomes, 'all').cells).toEqual({ currency: null, won: 4, lost: 4, win_rate: 0.5, won_amount: null, velocity: null });
    expect(rowOf(outcomes, 'EUR').cells).toEqual({ currency: 'EUR', won: 0, lost: 1, win_rate: 0, won_amount: '0.00', velocity: '0.00' });
    // JPY: 98000 won; 98000 / 59 days = 1661.02 → 1661.
    expect(rowOf(outcomes, 'JPY').cells).toEqual({ currency: 'JPY', won: 1, lost: 0, win_rate: 1, won_amount: '98000', velocity: '1661' });
    // USD: 1000.00 + 200.00 + 400.00 = 1600.00 won (901, 903, 910), lost 905, 906: 3/5; 160000 cents / 59 = 2711.86 → 27.12.
    expect(rowOf(outcomes, 'USD').cells).toEqual({ currency: 'USD', won: 3, lost: 2, win_rate: 0.6, won_amount: '1600.00', velocity: '27.12' });
    expect(rowOf(outcomes, 'none').cells).toEqual({ currency: null, won: 0, lost: 1, win_rate: 0, won_amount: null, velocity: null });
  });

  it('groups lost deals by their reason, with none given and reopened since apart', async () => {
    const reasons = tableOf((await funnel(asAdmin())).body, 'lost_reasons');
    expect(reasons.rows.map((r) => [r.label, r.cells.lost])).toEqual([['Too expensive', 2], ['No reason given', 1], ['Not lost any more', 1]]);
    expect(references(await drill(asAdmin(), rowOf(reasons, 'none').drill!.lost!))).toEqual(['D-904']);
    expect(references(await drill(asAdmin(), reasons.rows[0]!.drill!.lost!))).toEqual(['D-902', 'D-905']);
  });

  it('groups deals created in the range by their month in the range’s time zone', async () => {
    const cohorts = tableOf((await funnel(asAdmin())).body, 'cohorts');
    // February (NY): 901, 902, 903, 906 (Feb 28 23:30 EST), 910 (now in Sales) → won 901, 903, 910; lost 902; open 906.
    // March: 904, 907, 908 → won 907, lost 904, open 908. (905 was created in January; 909 is deleted.)
    expect(cohorts.rows.map((r) => [r.key, r.cells])).toEqual([
      ['2026-02', { created: 5, won: 3, lost: 1, open: 1 }],
      ['2026-03', { created: 3, won: 1, lost: 1, open: 1 }],
    ]);
    expect(references(await drill(asAdmin(), rowOf(cohorts, '2026-02').drill!.won!))).toEqual(['D-901', 'D-903', 'D-910']);
    // In UTC, 906 (Mar 1 04:30Z) is a March deal and 904's loss (Apr 1 03:30Z) falls outside the range.
    const utc = (await asAdmin().get('/reports/funnel', { ...range, tz: 'UTC' })).body;
    expect(tableOf(utc, 'cohorts').rows.map((r) => r.cells.created)).toEqual([4, 4]);
    expect(rowOf(tableOf(utc, 'outcomes'), 'all').cells).toMatchObject({ won: 4, lost: 3 });
  });

  it('reads another pipeline by id, and a deal moved out of it did not move on there', async () => {
    const stages = tableOf((await funnel(asAdmin(), { pipeline_id: serviceId })).body, 'stages');
    expect(rowOf(stages, stageIds.Intake).cells).toMatchObject({ entered: 1, to_next: 0, to_won: 1 });
    const unknown = await funnel(asAdmin(), { pipeline_id: '00000000-0000-4000-8000-000000000000' });
    expect([unknown.status, unknown.body.error.code]).toEqual([422, 'validation_failed']);
  });

  it('filters by owner, source and a custom field', async () => {
    const lead = async (query: Record<string, unknown>) => rowOf(tableOf((await funnel(asAdmin(), query)).body, 'stages'), stageIds.Lead).cells.entered;
    expect(await lead({ source: 'chat' })).toBe(4); // 901, 904, 906 twice
    expect(await lead({ owner_id: admin.userId })).toBe(2); // 902, 907
    expect(await lead({ field: 'trade', value: 'plumbing' })).toBe(2); // 901, 907
    const plumbing = { field: 'trade', value: 'plumbing' };
    const stages = tableOf((await funnel(asAdmin(), plumbing)).body, 'stages');
    expect(references(await drill(asAdmin(), rowOf(stages, stageIds.Lead).drill!.entered!, plumbing))).toEqual(['D-901', 'D-907']);
    expect((await funnel(asAdmin(), { field: 'trade' })).status).toBe(422);
    expect((await funnel(asAdmin(), { source: 'carrier-pigeon' })).status).toBe(422);
  });

  it('gives the headline figures for all pipelines', async () => {
    const figures = await withAccount(t.db.knex, admin.accountId, { readOnly: true }, async (trx) =>
      funnelHeadlines({ trx, ctx: { accountId: admin.accountId } as RequestContext, range: await resolveRange(trx, range), filters: {}, scope: { all: true } }),
    );
    expect(figures).toEqual({ dealsWon: 4, winRate: 0.5 });
    const own = await withAccount(t.db.knex, admin.accountId, { readOnly: true }, async (trx) =>
      funnelHeadlines({ trx, ctx: { accountId: admin.accountId } as RequestContext, range: await resolveRange(trx, range), filters: {}, scope: { all: false, userId: agent.userId } }),
    );
    // The agent's deals: won 901, 903; lost 904, 906.
    expect(own).toEqual({ dealsWon: 2, winRate: 0.5 });
  });
});

describe('funnel drill-down and CSV', () => {
  it('lists exactly the deals behind a cell', async () => {
    const stages = tableOf((await funnel(asAdmin())).body, 'stages');
    const entered = await drill(asAdmin(), rowOf(stages, stageIds.Lead).drill!.entered!);
    expect(entered.total).toBe(8);
    expect(references(entered)).toEqual(['D-901', 'D-902', 'D-903', 'D-904', 'D-906', 'D-906', 'D-907', 'D-908']);
    expect(entered.rows[0]).toMatchObject({ kind: 'deal', link: 'D-901', cells: { reference: 'D-901', title: 'Alpha boiler', stage: 'Won', status: 'won', owner: 'Sam Seller', amount: '1000.00', currency: 'USD', entered: '2026-02-02T15:00:00.000Z' } });
    expect(references(await drill(asAdmin(), rowOf(stages, stageIds.Lead).drill!.to_next!))).toEqual(['D-901', 'D-902', 'D-903', 'D-904', 'D-907']);
    expect(references(await drill(asAdmin(), rowOf(stages, stageIds.Proposal).drill!.to_won!))).toEqual(['D-901', 'D-910']);
    const outcomes = tableOf((await funnel(asAdmin())).body, 'outcomes');
    expect(references(await drill(asAdmin(), rowOf(outcomes, 'USD').drill!.won!))).toEqual(['D-901', 'D-903', 'D-910']);
    expect(references(await drill(asAdmin(), rowOf(outcomes, 'all').drill!.lost!))).toEqual(['D-902', 'D-904', 'D-905', 'D-906']);
  });

  it('refuses a drill token it did not hand out, in the error envelope', async () => {
    for (const token of ['entered:not-a-uuid', 'nonsense', `entered:${stageIds.Intake}`, 'cohort:2025-01:won', 'outcome:won:usd', `next:${stageIds.Won}`]) {
      const res = await asAdmin().get('/reports/funnel/rows', { ...range, drill: token });
      expect([res.status, res.body.error?.code, res.body.error?.details?.fields?.[0]?.code], token).toEqual([422, 'validation_failed', 'unknown_drill']);
    }
  });

  it('refuses a bad range', async () => {
    for (const bad of [{ from: '2026-03-01', to: '2026-02-01' }, { tz: 'Mars/Olympus' }, { from: '2025-01-01', to: '2026-02-05' }]) {
      const res = await asAdmin().get('/reports/funnel', { ...range, ...bad });
      expect(res.status, JSON.stringify(bad)).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(res.body.error.code).toBeTruthy();
    }
  });

  it('exports a table and a drill-down as formula-safe CSV', async () => {
    const csv = await request(t.app).get('/api/v1/reports/funnel.csv').query({ ...range, table: 'stages' }).set('Authorization', `Bearer ${admin.token}`);
    expect(csv.status).toBe(200);
    expect(csv.text.split('\n')[1]).toBe('Lead,8,0.625,0.375,105300,302400');
    const stages = tableOf((await funnel(asAdmin())).body, 'stages');
    const rows = await request(t.app).get('/api/v1/reports/funnel/rows.csv').query({ ...range, drill: rowOf(stages, stageIds.Lead).drill!.entered }).set('Authorization', `Bearer ${admin.token}`);
    expect(rows.status).toBe(200);
    expect(rows.text).toContain(`"'=HYPERLINK(""http://evil.example"",""x"")"`);
    expect(rows.text).not.toMatch(/,=HYPERLINK|,"=HYPERLINK/);
  });
});

describe('funnel access', () => {
  it('shows an agent only their own deals', async () => {
    const res = await funnel(asAgent());
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.data.scope).toBe('own');
    // The agent owns 901, 903, 904, 906, 908 (909 deleted): Lead entries 901, 903, 904, 906 twice, 908.
    expect(rowOf(tableOf(res.body, 'stages'), stageIds.Lead).cells.entered).toBe(6);
    expect(rowOf(tableOf(res.body, 'outcomes'), 'all').cells).toMatchObject({ won: 2, lost: 2 });
    const list = await drill(asAgent(), rowOf(tableOf(res.body, 'stages'), stageIds.Lead).drill!.entered!);
    expect(references(list)).toEqual(['D-901', 'D-903', 'D-904', 'D-906', 'D-906', 'D-908']);
  });

  it('never shows another account’s deals', async () => {
    const res = await funnel(apiAs(t, adminB.token));
    expect(res.status).toBe(200);
    expect(rowOf(tableOf(res.body, 'outcomes'), 'all').cells).toMatchObject({ won: 1, lost: 0 });
    expect(rowOf(tableOf(res.body, 'outcomes'), 'USD').cells).toMatchObject({ won_amount: '7777.00' });
    // Account 1's stage ids mean nothing there.
    expect((await apiAs(t, adminB.token).get('/reports/funnel/rows', { ...range, drill: `entered:${stageIds.Lead}` })).status).toBe(422);
  });

  it('is closed while the account has deals switched off', async () => {
    const asB = apiAs(t, adminB.token);
    expect((await asB.patch('/admin/capabilities', { overrides: { 'crm.deals': false } })).status).toBe(200);
    try {
      const res = await funnel(asB);
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBeTruthy();
    } finally {
      await asB.patch('/admin/capabilities', { overrides: { 'crm.deals': null } });
    }
  });
});

describe('stage visit rollup', () => {
  it('equals a fresh computation from the events and deals after random event streams and deal changes', async () => {
    const stages = ['Lead', 'Qualified', 'Proposal', 'Won', 'Lost', 'Intake', 'Done'] as const;
    const kindOf = (s: StageName): Status => (s === 'Won' || s === 'Done' ? 'won' : s === 'Lost' ? 'lost' : 'open');
    const event = fc.record({
      stage: fc.constantFrom(...stages),
      inPlace: fc.constantFrom<Status | null>(null, null, null, 'won', 'lost', 'open'), // a status change that keeps the stage
      minutes: fc.integer({ min: -60, max: 600 }), // some land before earlier events; 0 ties
      alone: fc.boolean(), // inserted on its own, or with the following ones in one statement
    });
    // Between events, a deal's own columns the visits carry may change (status, owner, source, deleted).
    const dealChange = fc.record({
      status: fc.constantFrom<Status>('open', 'won', 'lost'),
      owner: fc.constantFrom<'agent' | 'admin' | null>('agent', 'admin', null),
      source: fc.constantFrom('manual', 'chat', 'api'),
      deleted: fc.boolean(),
    });
    const stream = fc.array(fc.record({ deal: fc.integer({ min: 0, max: 2 }), e: event, change: fc.oneof({ arbitrary: fc.constant(null), weight: 3 }, { arbitrary: dealChange, weight: 1 }) }), { minLength: 1, maxLength: 14 });
    let run = 0;
    await fc.assert(
      fc.asyncProperty(stream, async (steps) => {
        run++;
        const rollback = new Error('rollback');
        const outcome = await withAccount(t.db.knex, admin.accountId, { readOnly: false }, async (trx) => {
          const deals: Array<{ id: string; stage: StageName; status: Status; at: number }> = [];
          for (let i = 0; i < 3; i++) {
            const [deal] = await trx('deals')
              .insert({ account_id: admin.accountId, number: 10_000 + run * 3 + i, title: 'random', status: 'open', pipeline_id: salesId, stage_id: stageIds.Lead, rank: 'a0', created_by_type: 'user', created_by_id: 'x' })
              .returning('id');
            deals.push({ id: deal.id, stage: 'Lead', status: 'open', at: Date.parse('2026-05-01T00:00:00Z') });
          }
          let pending: object[] = [];
          const flush = async () => {
            if (pending.length) await trx('deal_stage_events').insert(pending);
            pending = [];
          };
          for (const [i, { deal: k, e, change }] of steps.entries()) {
            const deal = deals[k]!;
            if (change) {
              await flush();
              await trx('deals')
                .where({ account_id: admin.accountId, id: deal.id })
                .update({
                  status: change.status, source: change.source, deleted_at: change.deleted ? new Date() : null,
                  owner_id: change.owner === null ? null : change.owner === 'agent' ? agent.userId : admin.userId,
                });
              continue;
            }
            const stage = e.inPlace ? deal.stage : e.stage;
            const status = e.inPlace ?? kindOf(stage);
            deal.at += e.minutes * 60_000;
            pending.push({
              account_id: admin.accountId, deal_id: deal.id, from_stage_id: i ? stageIds[deal.stage] : null, to_stage_id: stageIds[stage], from_status: deal.status,
              to_status: status, actor_type: 'user', actor_id: 'x', occurred_at: new Date(deal.at),
            });
            Object.assign(deal, { stage, status });
            if (e.alone) await flush();
          }
          await flush();
          const [kept, fresh] = [await keptDealStageVisits(trx, admin.accountId), await freshDealStageVisits(trx, admin.accountId)];
          throw Object.assign(rollback, { kept, fresh });
        }).catch((err: Error & { kept?: unknown; fresh?: unknown }) => {
          if (err !== rollback) throw err;
          return err;
        });
        expect(outcome.kept).toEqual(outcome.fresh);
      }),
      { numRuns: 40 },
    );
  });
});

describe('stage visit rollup, bulk', () => {
  it('equals a fresh computation after one statement inserts many events (an import)', async () => {
    const rollback = new Error('rollback');
    const outcome = await withAccount(t.db.knex, admin.accountId, { readOnly: false }, async (trx) => {
      await trx.raw(
        `insert into deals (account_id, number, title, status, pipeline_id, stage_id, rank, created_by_type, created_by_id)
         select ?, 20000 + g, 'bulk', 'open', ?, ?, 'a0', 'user', 'x' from generate_series(1, 100) g`,
        [admin.accountId, salesId, stageIds.Lead],
      );
      // 8 events per deal (800 in one statement), cycling through the stages, some in place.
      await trx.raw(
        `insert into deal_stage_events (account_id, deal_id, to_stage_id, to_status, actor_type, actor_id, occurred_at)
         select d.account_id, d.id, (array[?, ?, ?, ?, ?]::uuid[])[1 + (d.number + k / 2) % 5], 'open', 'user', 'x', timestamptz '2026-06-01' + (k || ' hours')::interval
           from deals d cross join generate_series(0, 7) k where d.account_id = ? and d.number > 20000`,
        [stageIds.Lead, stageIds.Qualified, stageIds.Proposal, stageIds.Won, stageIds.Lost, admin.accountId],
      );
      const [kept, fresh] = [await keptDealStageVisits(trx, admin.accountId), await freshDealStageVisits(trx, admin.accountId)];
      throw Object.assign(rollback, { kept, fresh });
    }).catch((err: Error & { kept?: unknown[]; fresh?: unknown[] }) => {
      if (err !== rollback) throw err;
      return err;
    });
    expect(outcome.kept!.length).toBeGreaterThan(400);
    expect(outcome.kept).toEqual(outcome.fresh);
  });
});

describe('deal source', () => {
  it('is set from what created the deal, or as given', async () => {
    const create = async (token: string, body: Record<string, unknown>) => {
      const res = await apiAs(t, token).post('/deals', { title: 'Source check', pipeline_id: serviceId, ...body });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      return res.body.data.source;
    };
    expect(await create(agent.token, {})).toBe('manual');
    expect(await create(agent.token, { chatwoot_conversation_id: 4242 })).toBe('chat');
    expect(await create(agent.token, { source: 'call' })).toBe('call');
    const service = await createServiceToken(t, admin, ['deals:read', 'deals:write']);
    expect(await create(service.token, {})).toBe('api');
    expect((await apiAs(t, agent.token).post('/deals', { title: 'x', pipeline_id: serviceId, source: 'fax' })).status).toBe(422);
  });
});
