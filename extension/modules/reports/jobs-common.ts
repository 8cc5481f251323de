// What the dispatch report and the vendor scorecard share: the job_milestones rollup and its fresh
// twin, the job filters as SQL, percentiles, and the list of jobs behind a figure.
import type { Knex } from 'knex';
import { freshMilestonesSql, milestoneColumns } from '../../../migrations/202612040920_report_jobs.ts';
import { jobReference } from '../jobs/rules.ts';
import type { ReportRange } from './range.ts';
import { drillListOf, type DrillList, type ReportColumn } from './shape.ts';

export { milestoneColumns };

/** The rollup as the triggers keep it, for one account (tests compare it with freshJobMilestones). */
export async function storedJobMilestones(trx: Knex.Transaction, accountId: number) {
  return trx('job_milestones').where({ account_id: accountId }).orderBy('job_id').select(...milestoneColumns);
}

/** The same rows computed from the raw jobs and job_events of one account. */
export async function freshJobMilestones(trx: Knex.Transaction, accountId: number) {
  const { rows } = await trx.raw(`${freshMilestonesSql('j.account_id = ?')} order by j.id`, [accountId]);
  return rows as Array<Record<(typeof milestoneColumns)[number], unknown>>;
}


/** The job filters both reports take, as SQL on the rollup row `m` (which mirrors the job's fields) with named bindings. */
export function jobFilterSql(filters: { source?: string; service_category?: string; vendor_id?: string; priority?: string }) {
  const parts: string[] = [];
  if (filters.source) parts.push('m.source = :source');
  if (filters.service_category) parts.push('m.service_category = :category');
  if (filters.vendor_id) parts.push('m.vendor_id = :vendor');
  if (filters.priority) parts.push('m.priority = :priority');
  return {
    sql: parts.map((p) => ` and ${p}`).join(''),
    bindings: {
      ...(filters.source ? { source: filters.source } : {}),
      ...(filters.service_category ? { category: filters.service_category } : {}),
      ...(filters.vendor_id ? { vendor: filters.vendor_id } : {}),
      ...(filters.priority ? { priority: filters.priority } : {}),
    },
  };
}

/** Median and 90th percentile (interpolated, whole seconds) of an interval expression, as SQL select items. */
export const percentilesSql = (seconds: string, name: string, filter = 'true') =>
  `round(percentile_cont(0.5) within group (order by ${seconds}) filter (where ${filter}))::float8 as ${name}_median,
   round(percentile_cont(0.9) within group (order by ${seconds}) filter (where ${filter}))::float8 as ${name}_p90`;

export const secondsBetween = (from: string, to: string) => `extract(epoch from (${to} - ${from}))`;

/** The range's instants as bindings. */
export const rangeBindings = (accountId: number, range: ReportRange) => ({ account: accountId, start: range.start, end: range.end });

const iso = (value: unknown) => (value instanceof Date ? value.toISOString() : value == null ? null : String(value));

export const jobDrillColumns: ReportColumn[] = [
  { key: 'reference', label: 'Job', kind: 'text' },
  { key: 'summary', label: 'Summary', kind: 'text' },
  { key: 'source', label: 'Source', kind: 'text' },
  { key: 'status', label: 'Status', kind: 'text' },
  { key: 'vendor', label: 'Vendor', kind: 'text' },
  { key: 'created', label: 'Created', kind: 'datetime' },
  { key: 'triaged', label: 'Triaged', kind: 'datetime' },
  { key: 'assigned', label: 'Assigned', kind: 'datetime' },
  { key: 'window_starts', label: 'Window opens', kind: 'datetime' },
  { key: 'arrived', label: 'Arrived', kind: 'datetime' },
  { key: 'completed', label: 'Completed', kind: 'datetime' },
  { key: 'canceled', label: 'Canceled', kind: 'datetime' },
  { key: 'sla_due', label: 'SLA due', kind: 'datetime' },
  { key: 'reopened', label: 'Times reopened', kind: 'count' },
];

/**
 * The jobs behind a figure: `where` is SQL over `m` (job_milestones) with named bindings; extra
 * columns may be given as SQL select items over `m`, named like their column keys. The page is cut
 * from the rollup first, so only its rows are looked up in jobs.
 */
export async function jobDrill(
  trx: Knex.Transaction,
  options: { title: string; where: string; bindings: Record<string, unknown>; limit: number; extra?: Array<ReportColumn & { sql: string }> },
): Promise<DrillList> {
  const extra = options.extra ?? [];
  const { rows } = await trx.raw(
    `select j.id, j.number, j.summary, j.status, v.name as vendor_name, p.*
       from (select m.job_id, m.source, m.created_at, m.triaged_at, m.assigned_at, m.window_starts_at, m.arrived_at, m.completed_at, m.canceled_at,
                    m.sla_due_at, m.reopened_count, m.vendor_id, ${extra.map((c) => `${c.sql} as ${c.key}`).join(', ') || 'null as _none'},
                    count(*) over () as total
               from job_milestones m
              where m.account_id = :account and ${options.where}
              order by m.created_at, m.job_id
              limit :limit) p
       join jobs j on j.account_id = :account and j.id = p.job_id
       left join vendors v on v.account_id = :account and v.id = p.vendor_id
      order by p.created_at, j.number`,
    { ...options.bindings, limit: options.limit },
  );
  return drillListOf(options.title, [...jobDrillColumns, ...extra.map(({ sql: _sql, ...column }) => column)], rows, (r) => ({
    id: String(r.id),
    kind: 'job' as const,
    link: jobReference(Number(r.number)),
    cells: {
      reference: jobReference(Number(r.number)),
      summary: String(r.summary),
      source: String(r.source),
      status: String(r.status),
      vendor: (r.vendor_name as string | null) ?? null,
      created: iso(r.created_at),
      triaged: iso(r.triaged_at),
      assigned: iso(r.assigned_at),
      window_starts: iso(r.window_starts_at),
      arrived: iso(r.arrived_at),
      completed: iso(r.completed_at),
      canceled: iso(r.canceled_at),
      sla_due: iso(r.sla_due_at),
      reopened: Number(r.reopened_count),
      ...Object.fromEntries(extra.map((c) => [c.key, c.kind === 'text' || c.kind === 'datetime' ? iso(r[c.key]) : r[c.key] == null ? null : Number(r[c.key])])),
    },
  }));
}

export { iso };
