// npm run bench:reports — the reports at scale: 3 accounts × 100k deals in two pipelines with ~1M
// stage events, 200k jobs in all with their story (job_events, offers, checklists), calls with
// missed calls and call backs, and Chatwoot conversations linked to deals and jobs (seeded in
// reports-seed.ts). Measures, server-side and per account, each report's figures for a 90-day
// range and one drill-down of each (the functions the routes call, inside their read-only tenant
// transaction), next to a primary-key SELECT through the same transaction in the same run. Then
// EXPLAINs every query each report ran and flags any sequential scan of an event or record table.
// Exits non-zero when a target is missed or such a scan appears; a report still unbuilt is skipped.
// BENCH_DEALS=10000 for a quicker, smaller run (jobs, calls and conversations scale with it).
import type { Knex } from 'knex';
import pg from 'pg';
import { permissions, permissionsFor } from '../../extension/auth/permissions.ts';
import { capabilities } from '../../extension/capabilities/profiles.ts';
import type { RequestContext } from '../../extension/context.ts';
import { read } from '../../extension/db/tenant.ts';
import type { ReportModule } from '../../extension/modules/reports/report.ts';
import { figuresOf, reports, rowsOf } from '../../extension/modules/reports/routes.ts';
import { drillLimit } from '../../extension/modules/reports/shape.ts';
import { benchDatabase, contextFor, percentile, plansOf, printPlans, report, type Timing } from './harness.ts';
import { seedReports, type SeedSize } from './reports-seed.ts';

const accounts = 3;
const dealsPerAccount = Number(process.env.BENCH_DEALS ?? 100_000);
// 200k jobs in all at full size; smaller runs keep the proportions.
const jobsPerAccount = Math.round(Number(process.env.BENCH_JOBS ?? (200_000 * dealsPerAccount) / 100_000) / accounts);
const size: SeedSize = {
  accounts,
  dealsPerAccount,
  jobsPerAccount,
  vendorsPerAccount: Number(process.env.BENCH_VENDORS ?? 300),
  callsPerAccount: jobsPerAccount,
};
/** Samples per account and report. */
const iterations = Number(process.env.BENCH_ITERATIONS ?? 30);
const timeZone = process.env.BENCH_TZ ?? 'America/New_York';
const overviewTarget = 150;
const defaultTarget = 300;
const bigTables = ['deal_stage_events', 'deal_stage_visits', 'job_events', 'job_milestones', 'job_offers', 'calls', 'chatwoot_conversations', 'deals', 'jobs'];

/**
 * This week so far (Monday to today in the bench's zone): what the Reports app and the admin panel
 * ask the overview for (it sets the range against the same days just before).
 */
function thisWeek() {
  const today = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date());
  const weekday = new Date(`${today}T00:00:00Z`).getUTCDay(); // 0 = Sunday
  const monday = new Date(Date.parse(`${today}T00:00:00Z`) - ((weekday + 6) % 7) * 86_400_000).toISOString().slice(0, 10);
  return { from: monday, to: today, tz: timeZone };
}

/** The last 90 days, today included, as the Reports app asks for them. */
function ninetyDays() {
  const day = (delta: number) => new Date(Date.now() + delta * 86_400_000).toISOString().slice(0, 10);
  return { from: day(-89), to: day(0), tz: timeZone };
}

/** An admin of the account with every capability switched on: every report, every section. */
async function adminContext(db: Knex, accountId: number): Promise<RequestContext> {
  const ctx = await contextFor(db, accountId);
  return { ...ctx, roles: ['admin'], permissions: new Set(permissions), capabilities: new Set(capabilities) };
}

/** Like the harness' measure, round-robin over the accounts, keeping each account's samples apart too. */
async function measureAccounts(name: string, contexts: RequestContext[], op: (ctx: RequestContext) => Promise<unknown>) {
  for (let i = 0; i < Math.min(10, iterations) * contexts.length; i++) await op(contexts[i % contexts.length]!);
  const perAccount: number[][] = contexts.map(() => []);
  for (let i = 0; i < iterations * contexts.length; i++) {
    const a = i % contexts.length;
    const started = process.hrtime.bigint();
    await op(contexts[a]!);
    perAccount[a]!.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  const timing = (label: string, times: number[]): Timing => {
    const sorted = [...times].sort((x, y) => x - y);
    return { name: label, samples: sorted.length, p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99) };
  };
  return { all: timing(name, perAccount.flat()), accounts: perAccount.map((times, a) => timing(`${name} — account ${a + 1}`, times)) };
}

/** The first drill token the figures hand out, first table first. */
function firstDrill(figures: Awaited<ReturnType<typeof figuresOf>>) {
  for (const table of figures.tables) {
    for (const row of table.rows) {
      const token = Object.values(row.drill ?? {})[0];
      if (token) return { token, where: `${table.id} / ${row.label}` };
    }
  }
  return undefined;
}

interface QueryPlan { sql: string; ms: number; plan: string[] }

/**
 * Runs every SELECT `operation` ran under EXPLAIN ANALYZE (same tenant setting), slowest first:
 * the plan lines to show when a report misses its target or scans a big table.
 */
async function analyzed(db: Knex, url: string, ctx: RequestContext, operation: () => Promise<unknown>): Promise<QueryPlan[]> {
  const queries: Array<{ sql: string; bindings: unknown[] }> = [];
  const settings: string[] = [];
  const listener = (q: { sql: string; bindings?: unknown[] }) => {
    if (/^\s*set local /i.test(q.sql)) settings.push(q.sql);
    else if (/^\s*(with|select|\()/i.test(q.sql) && !q.sql.includes('set_config')) queries.push({ sql: q.sql, bindings: q.bindings ?? [] });
  };
  db.on('query', listener);
  try {
    await operation();
  } finally {
    db.off('query', listener);
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const plans: QueryPlan[] = [];
  try {
    await client.query('begin read only');
    await client.query(`select set_config('onelink.account_id', $1, true)`, [String(ctx.accountId)]);
    for (const setting of settings) await client.query(setting);
    for (const q of queries) {
      const { rows } = await client.query(`explain (analyze, buffers, format text) ${q.sql}`, q.bindings);
      const plan = rows.map((r: Record<string, string>) => r['QUERY PLAN']!);
      const ms = Number(/Execution Time: ([\d.]+)/.exec(plan.join('\n'))?.[1] ?? 0);
      plans.push({ sql: q.sql, ms, plan });
    }
  } finally {
    await client.query('rollback');
    await client.end();
  }
  return plans.sort((a, b) => b.ms - a.ms);
}

const oneLine = (sql: string, max = 300) => {
  const flat = sql.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
};

function printAnalyzed(title: string, plans: QueryPlan[], count: number) {
  console.log(`\n${title}`);
  for (const q of plans.slice(0, count)) {
    console.log(`  ${q.ms.toFixed(1)} ms — ${oneLine(q.sql)}`);
    for (const line of q.plan) console.log(`    ${line}`);
  }
}

/** The plan lines of each query that scans a big table sequentially. */
function seqScanLines(plans: QueryPlan[]) {
  const scan = new RegExp(`Seq Scan on (${bigTables.join('|')})\\b`);
  return plans.filter((q) => q.plan.some((line) => scan.test(line)));
}

/**
 * What is measured: every report as an admin (figures and one drill-down), then the paths that
 * read differently: response time counted in business hours, and an agent's own figures.
 */
function cases(admins: RequestContext[]) {
  const agents = admins.map((ctx) => ({ ...ctx, roles: ['agent' as const], permissions: permissionsFor(['agent']) }));
  const named = (name: string) => (reports as ReportModule[]).find((m) => m.name === name)!;
  // The overview is timed over the week it is asked for (target 150 ms) and, like every report, over 90 days.
  return [
    { label: 'overview', module: named('overview'), contexts: admins, extra: {}, drill: false, week: true, target: overviewTarget },
    ...(reports as ReportModule[]).map((module) => ({ label: module.name, module, contexts: admins, extra: {}, drill: module.name !== 'overview', week: false, target: defaultTarget })),
    { label: 'response-time, business hours', module: named('response-time'), contexts: admins, extra: { business_hours: 'true' }, drill: false, week: false, target: defaultTarget },
    { label: 'funnel, an agent’s own', module: named('funnel'), contexts: agents, extra: {}, drill: false, week: false, target: defaultTarget },
    { label: 'response-time, an agent’s own', module: named('response-time'), contexts: agents, extra: {}, drill: false, week: false, target: defaultTarget },
  ];
}

interface Line { report: string; what: 'figures' | 'drill-down'; timing?: Timing; target: number; note?: string; failed?: boolean }

async function main() {
  const bench = await benchDatabase();
  const { db } = bench;
  let failed = false;
  try {
    const started = Date.now();
    const { accountIds, steps } = await seedReports(db, size);
    const seeded = (Date.now() - started) / 1000;
    const analyzeStarted = Date.now();
    await db.raw('vacuum analyze');
    const counts = await db.raw(`select relname, n_live_tup from pg_stat_user_tables where schemaname = current_schema() and relname = any(?) order by relname`, [
      [...bigTables, 'job_checklist_items', 'job_conversations', 'job_vendors'],
    ]);
    console.log(`Seeded ${accounts} accounts in ${seeded.toFixed(0)} s (vacuum analyze ${((Date.now() - analyzeStarted) / 1000).toFixed(0)} s); deal_stage_visits filled by its trigger (one insert per 10k deals), job_milestones and deal_stage_totals computed once after the bulk inserts (their per-row triggers off meanwhile):`);
    console.table(Object.fromEntries(Object.entries(steps).map(([k, v]) => [k, { seconds: Number(v.toFixed(1)) }])));
    console.table(Object.fromEntries(counts.rows.map((r: { relname: string; n_live_tup: string }) => [r.relname, { rows: Number(r.n_live_tup) }])));

    const adminContexts = await Promise.all(accountIds.map((id) => adminContext(db, id)));
    const contexts = adminContexts;
    const ninety = ninetyDays();
    const sampleIds = await Promise.all(
      contexts.map((ctx) => read(ctx, (trx) => trx('deals').where({ account_id: ctx.accountId }).orderByRaw('random()').limit(200).pluck('id'))),
    );
    let n = 0;
    const baseline = (
      await measureAccounts('primary-key SELECT (baseline)', contexts, (ctx) => {
        const ids = sampleIds[contexts.indexOf(ctx)]!;
        return read(ctx, (trx) => trx('deals').where({ account_id: ctx.accountId, id: ids[n++ % ids.length] }).first('id', 'title'));
      })
    ).all;

    const lines: Line[] = [];
    const perAccount: Timing[] = [];
    const plans: Record<string, Awaited<ReturnType<typeof plansOf>>> = {};
    const details: Array<{ title: string; plans: QueryPlan[]; reason: string }> = [];
    for (const { label: name, module, contexts, extra, drill, week, target } of cases(adminContexts)) {
      const query = week ? thisWeek() : ninety;
      const label = week ? `${name} (this week so far)` : name;
      const figures = (ctx: RequestContext) => figuresOf(module, ctx, { ...query, ...extra });
      try {
        await figures(contexts[0]!);
      } catch (err) {
        const message = (err as Error).message;
        const unbuilt = message === 'report not built yet';
        if (!unbuilt) failed = true;
        console.log(`\n${label}: ${unbuilt ? 'skipped, not built yet' : `FAILED: ${message}`}`);
        if (!unbuilt) console.error(err);
        lines.push({ report: label, what: 'figures', target, note: unbuilt ? 'skipped (not built yet)' : `error: ${message}`, failed: !unbuilt });
        continue;
      }
      const timed = await measureAccounts(`${label}: figures, ${week ? `${query.from} to ${query.to}` : '90 days'}`, contexts, figures);
      perAccount.push(...timed.accounts);
      lines.push({ report: label, what: 'figures', timing: timed.all, target });
      plans[`${label} figures`] = await plansOf(db, bench.url, contexts[0]!, () => figures(contexts[0]!), bigTables);
      const figurePlans = await analyzed(db, bench.url, contexts[0]!, () => figures(contexts[0]!));

      // The drill-down: each account's own token (tokens may carry ids of that account's records).
      const drills = await Promise.all(contexts.map(async (ctx) => firstDrill(await figures(ctx))));
      let drillPlans: QueryPlan[] = [];
      let drillTiming: Timing | undefined;
      if (drill && drills.every(Boolean)) {
        const rows = (ctx: RequestContext) => rowsOf(module, ctx, { ...query, ...extra, drill: drills[contexts.indexOf(ctx)]!.token }, drillLimit);
        const drillTimed = await measureAccounts(`${label}: drill-down (${drills[0]!.where})`, contexts, rows);
        perAccount.push(...drillTimed.accounts);
        drillTiming = drillTimed.all;
        lines.push({ report: label, what: 'drill-down', timing: drillTiming, target, note: drills[0]!.where });
        plans[`${label} drill-down`] = await plansOf(db, bench.url, contexts[0]!, () => rows(contexts[0]!), bigTables);
        drillPlans = await analyzed(db, bench.url, contexts[0]!, () => rows(contexts[0]!));
      } else if (drill) {
        lines.push({ report: label, what: 'drill-down', target, note: 'no drill token in the figures' });
      }

      for (const [what, timing, queryPlans] of [
        ['figures', timed.all, figurePlans],
        ['drill-down', drillTiming, drillPlans],
      ] as const) {
        const scans = seqScanLines(queryPlans);
        if (timing && timing.p95 >= target) details.push({ title: `${label} ${what}: p95 ${timing.p95.toFixed(1)} ms ≥ ${target} ms — slowest queries (EXPLAIN ANALYZE, account 1)`, plans: queryPlans, reason: 'slow' });
        if (scans.length) details.push({ title: `${label} ${what}: sequential scan of a big table`, plans: scans, reason: 'seq' });
      }
    }

    report(`Reports benchmark — ${accounts} accounts × ${dealsPerAccount} deals, ${jobsPerAccount * accounts} jobs, 90 days in ${timeZone} (server-side, ms)`, baseline, [
      ...lines.filter((l) => l.timing).map((l) => ({ ...l.timing!, target: l.target })),
    ]);
    console.log('\nPer account:');
    console.table(perAccount.map((t) => ({ operation: t.name, 'p50 ms': t.p50.toFixed(1), 'p95 ms': t.p95.toFixed(1), 'p99 ms': t.p99.toFixed(1) })));

    printPlans(plans);
    for (const d of details) printAnalyzed(d.title, d.plans, d.reason === 'slow' ? 3 : d.plans.length);

    // The summary that goes in the docs.
    const seqBy = (key: string) => plans[key]?.sequential.map((s) => s.relation).join(', ') ?? '';
    const summary = lines.map((l) => {
      const seq = seqBy(`${l.report} ${l.what}`);
      const slow = l.timing ? l.timing.p95 >= l.target : false;
      const ok = l.timing && !slow && !seq;
      if ((l.timing && !ok) || l.failed) failed = true;
      return {
        report: l.what === 'figures' ? l.report : `${l.report} (drill-down)`,
        'p95 ms': l.timing ? Number(l.timing.p95.toFixed(1)) : '',
        'ratio to PK': l.timing ? Number((l.timing.p95 / baseline.p95).toFixed(1)) : '',
        target: `< ${l.target} ms`,
        result: l.timing ? (ok ? 'OK' : `MISS${slow ? ' (slow)' : ''}${seq ? ` (seq scan: ${seq})` : ''}`) : (l.note ?? ''),
      };
    });
    console.log(`\nSummary (p95 over ${accounts} accounts × ${iterations} samples; primary-key SELECT p95 ${baseline.p95.toFixed(2)} ms):`);
    console.table(summary);
    const skipped = lines.filter((l) => l.note?.startsWith('skipped')).map((l) => l.report);
    if (skipped.length) console.log(`Skipped, not built yet: ${skipped.join(', ')}`);
    console.log(failed ? 'RESULT: MISS — see the lines marked MISS (and the plans above).' : 'RESULT: every measured report met its target with no sequential scan of a big table.');
  } finally {
    await bench.close();
  }
  if (failed) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
