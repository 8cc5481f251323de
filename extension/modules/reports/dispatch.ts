// Dispatch: where jobs come from, how fast they are triaged, assigned and completed, how many meet
// their SLA, come back reopened or are canceled, and (with calls on) the missed calls and how fast
// they were called back. Jobs are read from the job_milestones rollup (one row per job, kept by
// triggers on the job and its story: the moments reached and the job's fields the filters use); calls from the call log.
import type { Knex } from 'knex';
import { z } from 'zod';
import { jobPriorities, jobSources } from '../jobs/rules.ts';
import { definitionsOf } from './definitions.ts';
import { iso, jobDrill, jobFilterSql, percentilesSql, rangeBindings, secondsBetween } from './jobs-common.ts';
import { drillParts, drillToken, unknownDrill, type ReportArgs, type ReportModule } from './report.ts';
import { drillListOf, type DrillList, type ReportTable } from './shape.ts';

const filters = z.object({
  source: z.enum(jobSources).optional().describe('Only jobs from this source'),
  service_category: z.string().min(1).max(120).optional().describe('Only jobs of this service category'),
  vendor_id: z.uuid().optional().describe('Only jobs the vendor holds'),
  priority: z.enum(jobPriorities).optional().describe('Only jobs of this priority'),
});
type Filters = z.infer<typeof filters>;
type Args = ReportArgs<Filters>;

const sourceLabels: Record<(typeof jobSources)[number], string> = {
  call: 'Call',
  sms: 'SMS',
  chat: 'Chat',
  portal: 'Client portal',
  pipeline: 'Pipeline',
  manual: 'By hand',
};
const sourceOrder = ['call', 'sms', 'chat', 'portal', 'pipeline', 'manual'] as const;

/** Call statuses where nobody answered: Twilio's no-answer or cancel (missed), busy, failed, or a voicemail. */
const missedStatuses = `('missed', 'busy', 'failed', 'voicemail')`;

const num = (v: unknown) => (v == null ? null : Number(v));
const share = (part: number, whole: number) => (whole > 0 ? part / whole : null);

// Which jobs each drill lists: SQL over m (job_milestones).
const createdIn = 'm.created_at >= :start and m.created_at < :end';
const completedIn = 'm.completed_at >= :start and m.completed_at < :end';
const canceledIn = 'm.canceled_at >= :start and m.canceled_at < :end';
const jobSets: Record<string, { title: string; where: string }> = {
  triaged: { title: 'Jobs created in the range and triaged', where: `${createdIn} and m.triaged_at is not null` },
  assigned: { title: 'Jobs created in the range and assigned', where: `${createdIn} and m.assigned_at is not null` },
  completed: { title: 'Jobs completed in the range', where: completedIn },
  sla_due: { title: 'Jobs completed in the range with an SLA due time', where: `${completedIn} and m.sla_due_at is not null` },
  sla_met: { title: 'Jobs completed in the range by their SLA due time', where: `${completedIn} and m.completed_at <= m.sla_due_at` },
  reopened: { title: 'Jobs completed in the range that had been reopened', where: `${completedIn} and m.reopened_count > 0` },
  canceled: { title: 'Jobs canceled in the range', where: canceledIn },
  finished: { title: 'Jobs completed or canceled in the range', where: `((${completedIn}) or (${canceledIn}))` },
};

async function jobFigures(trx: Knex.Transaction, args: Args) {
  const f = jobFilterSql(args.filters);
  const b = { ...rangeBindings(args.ctx.accountId, args.range), ...f.bindings };
  const from = `from job_milestones m where m.account_id = :account`;
  const created = (
    await trx.raw(
      `select m.source, count(*)::int as jobs, count(m.triaged_at)::int as triaged, count(m.assigned_at)::int as assigned,
              ${percentilesSql(secondsBetween('m.created_at', 'm.triaged_at'), 'triage')},
              ${percentilesSql(secondsBetween('m.created_at', 'm.assigned_at'), 'assign')}
         ${from} and ${createdIn}${f.sql}
        group by rollup (m.source)`,
      b,
    )
  ).rows as Array<Record<string, unknown>>;
  const [finished] = (
    await trx.raw(
      `select count(*) filter (where ${completedIn})::int as completed,
              count(*) filter (where ${completedIn} and m.sla_due_at is not null)::int as sla_due,
              count(*) filter (where ${completedIn} and m.completed_at <= m.sla_due_at)::int as sla_met,
              count(*) filter (where ${completedIn} and m.reopened_count > 0)::int as reopened,
              count(*) filter (where ${canceledIn})::int as canceled,
              ${percentilesSql(secondsBetween('m.created_at', 'm.completed_at'), 'complete', completedIn)}
         from (select * from job_milestones where account_id = :account and completed_at >= :start and completed_at < :end
               union all
               select * from job_milestones where account_id = :account and canceled_at >= :start and canceled_at < :end) m
        where true${f.sql}`,
      b,
    )
  ).rows as Array<Record<string, unknown>>;
  return { created, finished: finished! };
}

/** Missed inbound calls in the range, each with the next outbound call to the caller's number. */
const missedCallsSql = `
  select c.id, c.from_e164, c.status, c.started_at, c.chatwoot_conversation_id, c.job_id, back.started_at as called_back_at
    from calls c
    left join lateral (
      select o.started_at from calls o
       where o.account_id = c.account_id and o.direction = 'outbound' and o.to_e164 = c.from_e164 and o.started_at > c.started_at
       order by o.started_at limit 1) back on true
   where c.account_id = :account and c.direction = 'inbound' and c.status in ${missedStatuses}
     and c.started_at >= :start and c.started_at < :end`;

async function callFigures(trx: Knex.Transaction, args: Args) {
  const [row] = (
    await trx.raw(
      `select count(*)::int as missed, count(called_back_at)::int as called_back,
              ${percentilesSql(secondsBetween('started_at', 'called_back_at'), 'back', 'called_back_at is not null')}
         from (${missedCallsSql}) x`,
      rangeBindings(args.ctx.accountId, args.range),
    )
  ).rows as Array<Record<string, unknown>>;
  return row!;
}

const callsShown = (args: Pick<Args, 'ctx'>) => args.ctx.capabilities.has('calls.twilio');

async function figures(args: Args): Promise<{ tables: ReportTable[]; definitions: ReturnType<typeof definitionsOf> }> {
  const { trx } = args;
  // Dispatch figures are the account's; a scope of one person's own figures has none here.
  const everything = args.scope.all;
  const { created, finished } = everything ? await jobFigures(trx, args) : { created: [], finished: {} as Record<string, unknown> };
  const bySource = new Map(created.filter((r) => r.source != null).map((r) => [String(r.source), r]));
  const all = created.find((r) => r.source == null) ?? {};
  const n = (v: unknown) => Number(v ?? 0);

  const sources: ReportTable = {
    id: 'sources',
    title: 'Jobs created by source',
    row_heading: 'Source',
    columns: [{ key: 'jobs', label: 'Jobs created', kind: 'count', definition: 'jobs_created' }],
    rows: [
      ...sourceOrder
        .filter((s) => !args.filters.source || s === args.filters.source)
        .map((s) => ({ key: s, label: sourceLabels[s], cells: { jobs: n(bySource.get(s)?.jobs) }, drill: { jobs: drillToken('created', s) } })),
      { key: 'total', label: 'All sources', cells: { jobs: n(all.jobs) }, drill: { jobs: drillToken('created', 'all') } },
    ],
    chart: { column: 'jobs', orientation: 'horizontal' },
  };

  const timingColumns = [
    { key: 'jobs', label: 'Jobs', kind: 'count' as const },
    { key: 'median', label: 'Median', kind: 'duration' as const },
    { key: 'p90', label: '90th percentile', kind: 'duration' as const },
  ];
  const timings: ReportTable = {
    id: 'timings',
    title: 'Time to triage, assign and complete',
    row_heading: 'Measure',
    columns: timingColumns,
    rows: [
      { key: 'triage', label: 'Time to triage', count: all.triaged, median: all.triage_median, p90: all.triage_p90, drill: 'triaged' },
      { key: 'assign', label: 'Time to assign', count: all.assigned, median: all.assign_median, p90: all.assign_p90, drill: 'assigned' },
      { key: 'complete', label: 'Time to complete', count: finished.completed, median: finished.complete_median, p90: finished.complete_p90, drill: 'completed' },
    ].map((r) => ({ key: r.key, label: r.label, cells: { jobs: n(r.count), median: num(r.median), p90: num(r.p90) }, drill: { jobs: drillToken('jobs', r.drill) } })),
  };

  const quality: ReportTable = {
    id: 'quality',
    title: 'SLA, reopened and canceled',
    row_heading: 'Measure',
    columns: [
      { key: 'jobs', label: 'Jobs', kind: 'count' },
      { key: 'of', label: 'Of', kind: 'count' },
      { key: 'rate', label: 'Share', kind: 'percent' },
    ],
    rows: [
      { key: 'sla_met', label: 'SLA met', part: n(finished.sla_met), whole: n(finished.sla_due), drill: ['sla_met', 'sla_due'] },
      { key: 'reopened', label: 'Reopened', part: n(finished.reopened), whole: n(finished.completed), drill: ['reopened', 'completed'] },
      { key: 'canceled', label: 'Canceled', part: n(finished.canceled), whole: n(finished.completed) + n(finished.canceled), drill: ['canceled', 'finished'] },
    ].map((r) => ({
      key: r.key,
      label: r.label,
      cells: { jobs: r.part, of: r.whole, rate: share(r.part, r.whole) },
      drill: { jobs: drillToken('jobs', r.drill[0]!), of: drillToken('jobs', r.drill[1]!) },
    })),
  };

  const tables = [sources, timings, quality];
  const keys = ['jobs_created', 'time_to_triage', 'time_to_assign', 'time_to_complete', 'sla_met', 'reopened', 'canceled'] as const;
  if (!callsShown(args)) return { tables, definitions: definitionsOf(keys) };

  const calls = everything ? await callFigures(trx, args) : {};
  const missed = n(calls.missed);
  const back = n(calls.called_back);
  tables.push({
    id: 'calls',
    title: 'Missed calls and call backs',
    row_heading: 'Measure',
    columns: timingColumns.map((c) => (c.key === 'jobs' ? { key: 'calls', label: 'Calls', kind: 'count' as const } : c)),
    rows: [
      { key: 'missed', label: 'Missed calls', cells: { calls: missed, median: null, p90: null }, drill: { calls: drillToken('calls', 'missed') } },
      { key: 'called_back', label: 'Called back', cells: { calls: back, median: num(calls.back_median), p90: num(calls.back_p90) }, drill: { calls: drillToken('calls', 'called_back') } },
      { key: 'not_called_back', label: 'Not called back', cells: { calls: missed - back, median: null, p90: null }, drill: { calls: drillToken('calls', 'not_called_back') } },
    ],
    chart: { column: 'calls', orientation: 'horizontal' },
  });
  return { tables, definitions: definitionsOf([...keys, 'missed_calls', 'time_to_call_back']) };
}

const callColumns = [
  { key: 'from', label: 'Caller', kind: 'text' as const },
  { key: 'status', label: 'Status', kind: 'text' as const },
  { key: 'started', label: 'Called at', kind: 'datetime' as const },
  { key: 'called_back', label: 'Called back at', kind: 'datetime' as const },
  { key: 'time_to_call_back', label: 'Time to call back', kind: 'duration' as const },
];

async function callRows(args: Args & { limit: number }, which: string): Promise<DrillList> {
  const where = { missed: 'true', called_back: 'called_back_at is not null', not_called_back: 'called_back_at is null' }[which];
  if (!where) throw unknownDrill();
  const { rows } = await args.trx.raw(
    `select x.*, count(*) over () as total from (${missedCallsSql}) x where ${where} order by x.started_at, x.id limit :limit`,
    { ...rangeBindings(args.ctx.accountId, args.range), limit: args.limit },
  );
  const titles: Record<string, string> = { missed: 'Missed calls', called_back: 'Missed calls called back', not_called_back: 'Missed calls not called back' };
  return drillListOf(titles[which]!, callColumns, rows, (r) => ({
    id: String(r.id),
    kind: 'call' as const,
    link: r.chatwoot_conversation_id == null ? null : String(r.chatwoot_conversation_id),
    cells: {
      from: (r.from_e164 as string | null) ?? null,
      status: String(r.status),
      started: iso(r.started_at),
      called_back: iso(r.called_back_at),
      time_to_call_back: r.called_back_at ? Math.round((new Date(r.called_back_at as Date).getTime() - new Date(r.started_at as Date).getTime()) / 1000) : null,
    },
  }));
}

async function rows(args: Args & { drill: string; limit: number }): Promise<DrillList> {
  const [kind, which, ...rest] = drillParts(args.drill);
  if (rest.length || !which) throw unknownDrill();
  if (!args.scope.all) return { title: 'Nothing to list', columns: [], rows: [], total: 0, truncated: false };
  if (kind === 'calls') {
    if (!callsShown(args)) throw unknownDrill();
    return callRows(args, which);
  }
  const f = jobFilterSql(args.filters);
  const bindings = { ...rangeBindings(args.ctx.accountId, args.range), ...f.bindings };
  if (kind === 'created') {
    if (which !== 'all' && !(sourceOrder as readonly string[]).includes(which)) throw unknownDrill();
    const title = which === 'all' ? 'Jobs created in the range' : `Jobs created in the range from ${sourceLabels[which as keyof typeof sourceLabels]}`;
    return jobDrill(args.trx, { title, where: `${createdIn}${which === 'all' ? '' : ' and m.source = :drillSource'}${f.sql}`, bindings: { ...bindings, drillSource: which }, limit: args.limit });
  }
  const set = kind === 'jobs' ? jobSets[which] : undefined;
  if (!set) throw unknownDrill();
  return jobDrill(args.trx, { title: set.title, where: `${set.where}${f.sql}`, bindings, limit: args.limit });
}

export const dispatchReport: ReportModule<typeof filters> = {
  name: 'dispatch',
  title: 'Dispatch',
  summary: 'jobs by source, time to triage, assign and complete, SLA met, reopened and canceled, missed calls and call backs',
  access: { permission: 'reports:read', capability: 'dispatch.jobs' },
  filters,
  figures,
  rows,
};

/** This range's completed jobs and the share that met their SLA (the admin overview). */
export async function dispatchHeadlines(args: ReportArgs<Record<string, never>>): Promise<{ jobsCompleted: number; slaMet: number | null }> {
  if (!args.scope.all) return { jobsCompleted: 0, slaMet: null };
  const [row] = (
    await args.trx.raw(
      `select count(*)::int as completed, count(m.sla_due_at)::int as sla_due, count(*) filter (where m.completed_at <= m.sla_due_at)::int as sla_met
         from job_milestones m
        where m.account_id = :account and ${completedIn}`,
      rangeBindings(args.ctx.accountId, args.range),
    )
  ).rows as Array<{ completed: number; sla_due: number; sla_met: number }>;
  return { jobsCompleted: row!.completed, slaMet: share(row!.sla_met, row!.sla_due) };
}
