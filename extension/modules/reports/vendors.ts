// Vendor scorecard: per vendor, the offers sent and how they were answered, arriving on time,
// finishing first time, SLA met, checklists done, days their compliance lapsed and clients who
// blocked them; ranked by the rule in the `rank` definition. Jobs come from the job_milestones
// rollup, offers from job_offers by send time.
import type { Knex } from 'knex';
import { z } from 'zod';
import { jobReference } from '../jobs/rules.ts';
import { definitionsOf, onTimeGraceMinutes } from './definitions.ts';
import { iso, jobDrill, percentilesSql, rangeBindings, secondsBetween } from './jobs-common.ts';
import { drillParts, drillToken, unknownDrill, type ReportArgs, type ReportModule } from './report.ts';
import { drillListOf, type DrillList, type ReportColumn, type ReportRow, type ReportTable } from './shape.ts';

const filters = z.object({
  service_category: z.string().min(1).max(120).optional().describe('Only jobs (and offers of jobs) of this service category'),
  vendor_id: z.uuid().optional().describe('Only this vendor'),
});
type Filters = z.infer<typeof filters>;
type Args = ReportArgs<Filters>;

const completedIn = 'm.completed_at >= :start and m.completed_at < :end';
const arrivedIn = 'm.arrived_at >= :start and m.arrived_at < :end and m.window_starts_at is not null';
const onTimeSql = `m.arrived_at <= m.window_starts_at + make_interval(mins => ${onTimeGraceMinutes})`;

function bindingsOf(args: Args) {
  return {
    ...rangeBindings(args.ctx.accountId, args.range),
    fromDay: args.range.from,
    toDay: args.range.to,
    tz: args.range.timeZone,
    ...(args.filters.service_category ? { category: args.filters.service_category } : {}),
    ...(args.filters.vendor_id ? { vendor: args.filters.vendor_id } : {}),
  };
}
const categorySql = (args: Args) => (args.filters.service_category ? ' and m.service_category = :category' : '');
/** Offers are filtered by their job's category through the rollup (only when a category is chosen). */
const offerCategoryJoin = (args: Args) => (args.filters.service_category ? ' join job_milestones m on m.account_id = o.account_id and m.job_id = o.job_id' : '');
const vendorSql = (args: Args, column: string) => (args.filters.vendor_id ? ` and ${column} = :vendor` : '');

/**
 * Per vendor and kind of document (compared as people type kinds: trimmed, case-folded, as the
 * compliance state does), the days of the range the kind was lapsed, as a date multirange: from
 * the kind's first document (or the range's first day) to the range's last day, less the days some
 * approved document of the kind covered (from the day it was recorded up to its expiry date).
 * Only kinds with a document expired before the range's last day can lapse.
 */
const lapsedKindsSql = (args: Args) => `
  with docs as (
    select d.vendor_id, lower(btrim(d.kind)) as kind, d.expires_on, (d.created_at at time zone :tz)::date as recorded_on
      from vendor_documents d
     where d.account_id = :account and d.deleted_at is null and d.status = 'approved'${vendorSql(args, 'd.vendor_id')}),
  kinds as (
    select vendor_id, kind,
           datemultirange(daterange(greatest(:fromDay::date, min(recorded_on)), :toDay::date, '[]'))
             - range_agg(case when expires_on is null then daterange(recorded_on, null, '[)')
                              when expires_on < recorded_on then 'empty'::daterange
                              else daterange(recorded_on, expires_on, '[]') end) as lapsed
      from docs
     group by vendor_id, kind
    having bool_or(expires_on < :toDay::date) and min(recorded_on) <= :toDay::date)`;
const daysIn = (multirange: string) => `(select coalesce(sum(upper(r) - lower(r)), 0) from unnest(${multirange}) r)::int`;

async function perVendor(trx: Knex.Transaction, args: Args) {
  const b = bindingsOf(args);
  const offers = (
    await trx.raw(
      `select o.vendor_id, count(*)::int as sent,
              count(*) filter (where o.status = 'accepted')::int as accepted,
              count(*) filter (where o.status = 'declined')::int as declined,
              count(*) filter (where o.status = 'lapsed')::int as lapsed,
              ${percentilesSql(secondsBetween('o.created_at', 'o.answered_at'), 'accept', `o.status = 'accepted'`)}
         from job_offers o${offerCategoryJoin(args)}
        where o.account_id = :account and o.created_at >= :start and o.created_at < :end${vendorSql(args, 'o.vendor_id')}${categorySql(args)}
        group by o.vendor_id`,
      b,
    )
  ).rows as Array<Record<string, unknown>>;
  // "No data yet" is about the account: has it sent any offer in the range at all?
  const anyOffers = offers.length > 0 || (await trx('job_offers').where({ account_id: args.ctx.accountId }).where('created_at', '>=', args.range.start).where('created_at', '<', args.range.end).first(trx.raw('1'))) !== undefined;
  const arrivals = (
    await trx.raw(
      `select m.arrival_vendor_id as vendor_id, count(*)::int as arrivals, count(*) filter (where ${onTimeSql})::int as on_time
         from job_milestones m
        where m.account_id = :account and ${arrivedIn} and m.arrival_vendor_id is not null${vendorSql(args, 'm.arrival_vendor_id')}${categorySql(args)}
        group by m.arrival_vendor_id`,
      b,
    )
  ).rows as Array<Record<string, unknown>>;
  const completed = (
    await trx.raw(
      `select m.vendor_id, count(*)::int as completed, count(*) filter (where m.reopened_count = 0)::int as first_time,
              count(m.sla_due_at)::int as sla_due, count(*) filter (where m.completed_at <= m.sla_due_at)::int as sla_met,
              coalesce(sum(m.checklist_items), 0)::int as items, coalesce(sum(m.checklist_done), 0)::int as items_done
         from job_milestones m
        where m.account_id = :account and ${completedIn} and m.vendor_id is not null${vendorSql(args, 'm.vendor_id')}${categorySql(args)}
        group by m.vendor_id`,
      b,
    )
  ).rows as Array<Record<string, unknown>>;
  // A day two kinds lapsed on counts once: the kinds' days are merged per vendor.
  const lapsed = (
    await trx.raw(`${lapsedKindsSql(args)} select vendor_id, ${daysIn('range_agg(lapsed)')} as days from kinds group by vendor_id having not isempty(range_agg(lapsed))`, b)
  ).rows as Array<Record<string, unknown>>;
  const blocks = (
    await trx.raw(
      `select vendor_id, count(*)::int as blocks from vendor_client_links
        where account_id = :account and relation = 'blocked'${vendorSql(args, 'vendor_id')} group by vendor_id`,
      b,
    )
  ).rows as Array<Record<string, unknown>>;
  return { offers, anyOffers, arrivals, completed, lapsed, blocks };
}

const columns: ReportColumn[] = [
  { key: 'rank', label: 'Rank', kind: 'number', definition: 'rank' },
  { key: 'offers_sent', label: 'Offers sent', kind: 'count', definition: 'offers' },
  { key: 'offers_accepted', label: 'Accepted', kind: 'count', definition: 'offers' },
  { key: 'offers_declined', label: 'Declined', kind: 'count', definition: 'offers' },
  { key: 'offers_lapsed', label: 'Lapsed', kind: 'count', definition: 'offers' },
  { key: 'time_to_accept', label: 'Median time to accept', kind: 'duration', definition: 'time_to_accept' },
  { key: 'on_time', label: 'On time', kind: 'percent', definition: 'on_time_arrival' },
  { key: 'jobs_completed', label: 'Jobs completed', kind: 'count', definition: 'vendor_jobs_completed' },
  { key: 'first_time', label: 'First-time completion', kind: 'percent', definition: 'first_time_completion' },
  { key: 'sla_met', label: 'SLA met', kind: 'percent', definition: 'vendor_sla_met' },
  { key: 'checklist', label: 'Checklist done', kind: 'percent', definition: 'checklist_completion' },
  { key: 'compliance_lapsed', label: 'Compliance days lapsed', kind: 'count', definition: 'compliance_lapsed' },
  { key: 'client_blocks', label: 'Client blocks', kind: 'count', definition: 'client_blocks' },
];
const definitionKeys = [
  'rank', 'offers', 'time_to_accept', 'on_time_arrival', 'vendor_jobs_completed', 'first_time_completion', 'vendor_sla_met', 'checklist_completion', 'compliance_lapsed', 'client_blocks',
] as const;

const share = (part: number, whole: number) => (whole > 0 ? part / whole : null);

async function figures(args: Args): Promise<{ tables: ReportTable[]; definitions: ReturnType<typeof definitionsOf> }> {
  const table: ReportTable = { id: 'scorecard', title: 'Vendor scorecard', row_heading: 'Vendor', columns, rows: [], chart: { column: 'on_time', orientation: 'horizontal' } };
  const definitions = definitionsOf(definitionKeys);
  if (!args.scope.all) return { tables: [table], definitions };
  const data = await perVendor(args.trx, args);
  const byVendor = <T extends Record<string, unknown>>(rows: T[]) => new Map(rows.map((r) => [String(r.vendor_id), r]));
  const offers = byVendor(data.offers);
  const arrivals = byVendor(data.arrivals);
  const completed = byVendor(data.completed);
  const lapsed = byVendor(data.lapsed);
  const blocks = byVendor(data.blocks);
  const ids = new Set([...offers.keys(), ...arrivals.keys(), ...completed.keys(), ...lapsed.keys(), ...blocks.keys()]);
  if (!ids.size) {
    table.empty = 'No vendor had offers, arrivals, completed jobs, lapsed compliance or client blocks in this range.';
    return { tables: [table], definitions };
  }
  const vendorQuery = args.trx('vendors').where({ account_id: args.ctx.accountId }).whereIn('id', [...ids]).select('id', 'name', 'categories', 'deleted_at');
  const vendors = (await vendorQuery) as Array<{ id: string; name: string; categories: string[]; deleted_at: Date | null }>;
  const n = (row: Record<string, unknown> | undefined, key: string) => Number(row?.[key] ?? 0);

  const scored = vendors
    // With a category chosen, blocks and lapsed documents alone show only the vendors offering it.
    .filter((v) => !args.filters.service_category || offers.has(v.id) || arrivals.has(v.id) || completed.has(v.id) || v.categories.includes(args.filters.service_category))
    .map((v) => {
      const o = offers.get(v.id);
      const a = arrivals.get(v.id);
      const c = completed.get(v.id);
      const cells = {
        rank: null as number | null,
        // Never zeros that look like figures while the account has no offers at all: null is "no data yet".
        offers_sent: data.anyOffers ? n(o, 'sent') : null,
        offers_accepted: data.anyOffers ? n(o, 'accepted') : null,
        offers_declined: data.anyOffers ? n(o, 'declined') : null,
        offers_lapsed: data.anyOffers ? n(o, 'lapsed') : null,
        time_to_accept: o?.accept_median == null ? null : Number(o.accept_median),
        on_time: share(n(a, 'on_time'), n(a, 'arrivals')),
        jobs_completed: n(c, 'completed'),
        first_time: share(n(c, 'first_time'), n(c, 'completed')),
        sla_met: share(n(c, 'sla_met'), n(c, 'sla_due')),
        checklist: share(n(c, 'items_done'), n(c, 'items')),
        compliance_lapsed: n(lapsed.get(v.id), 'days'),
        client_blocks: n(blocks.get(v.id), 'blocks'),
      };
      const shares = [cells.on_time, cells.first_time, cells.sla_met, cells.checklist].filter((s): s is number => s !== null);
      const drill: Record<string, string> = {};
      const give = (key: string, ...parts: string[]) => (drill[key] = drillToken(...parts, v.id));
      if (o) for (const k of ['sent', 'accepted', 'declined', 'lapsed']) give(`offers_${k}`, 'offers', k);
      if (o && o.accept_median != null) give('time_to_accept', 'offers', 'accepted');
      if (a) give('on_time', 'arrivals');
      if (c) for (const k of ['jobs_completed', 'first_time']) give(k, 'completed');
      if (c && n(c, 'sla_due')) give('sla_met', 'sla');
      if (c && n(c, 'items')) give('checklist', 'checklist');
      if (cells.compliance_lapsed) give('compliance_lapsed', 'documents');
      if (cells.client_blocks) give('client_blocks', 'blocks');
      return { vendor: v, cells, drill, score: shares.length ? shares.reduce((x, y) => x + y, 0) / shares.length : null };
    });
  scored.sort(
    (x, y) =>
      (x.score === null ? 1 : 0) - (y.score === null ? 1 : 0) ||
      (y.score ?? 0) - (x.score ?? 0) ||
      y.cells.jobs_completed - x.cells.jobs_completed ||
      x.cells.compliance_lapsed - y.cells.compliance_lapsed ||
      x.cells.client_blocks - y.cells.client_blocks ||
      x.vendor.name.localeCompare(y.vendor.name) ||
      x.vendor.id.localeCompare(y.vendor.id),
  );
  table.rows = scored.map((s, i): ReportRow => ({
    key: s.vendor.id,
    label: s.vendor.deleted_at ? `${s.vendor.name} (removed)` : s.vendor.name,
    cells: { ...s.cells, rank: i + 1 },
    drill: s.drill,
  }));
  return { tables: [table], definitions };
}

const offerColumns: ReportColumn[] = [
  { key: 'job', label: 'Job', kind: 'text' },
  { key: 'summary', label: 'Summary', kind: 'text' },
  { key: 'vendor', label: 'Vendor', kind: 'text' },
  { key: 'status', label: 'Status', kind: 'text' },
  { key: 'sent', label: 'Sent', kind: 'datetime' },
  { key: 'answer_by', label: 'Answer by', kind: 'datetime' },
  { key: 'answered', label: 'Answered', kind: 'datetime' },
  { key: 'time_to_answer', label: 'Time to answer', kind: 'duration' },
  { key: 'decline_reason', label: 'Decline reason', kind: 'text' },
];

async function offerRows(args: Args & { limit: number }, which: string, vendorId: string): Promise<DrillList> {
  if (!['sent', 'accepted', 'declined', 'lapsed'].includes(which)) throw unknownDrill();
  const { rows } = await args.trx.raw(
    `select o.id, o.status, o.created_at, o.answer_by, o.answered_at, o.decline_reason, j.number, j.summary, v.name as vendor_name,
            ${secondsBetween('o.created_at', 'o.answered_at')} as seconds, count(*) over () as total
       from job_offers o
       join jobs j on j.account_id = o.account_id and j.id = o.job_id${offerCategoryJoin(args)}
       join vendors v on v.account_id = o.account_id and v.id = o.vendor_id
      where o.account_id = :account and o.vendor_id = :drillVendor and o.created_at >= :start and o.created_at < :end${categorySql(args)}
        ${which === 'sent' ? '' : 'and o.status = :drillStatus'}
      order by o.created_at, o.id limit :limit`,
    { ...bindingsOf(args), drillVendor: vendorId, drillStatus: which, limit: args.limit },
  );
  return drillListOf(`Offers ${which === 'sent' ? 'sent' : which} in the range`, offerColumns, rows, (r) => ({
    id: String(r.id),
    kind: 'offer' as const,
    link: jobReference(Number(r.number)),
    cells: {
      job: jobReference(Number(r.number)),
      summary: String(r.summary),
      vendor: String(r.vendor_name),
      status: String(r.status),
      sent: iso(r.created_at),
      answer_by: iso(r.answer_by),
      answered: iso(r.answered_at),
      time_to_answer: r.seconds == null ? null : Math.round(Number(r.seconds)),
      decline_reason: (r.decline_reason as string | null) ?? null,
    },
  }));
}

async function documentRows(args: Args & { limit: number }, vendorId: string): Promise<DrillList> {
  const { rows } = await args.trx.raw(
    `${lapsedKindsSql(args)},
     lapsed as (select kind, ${daysIn('lapsed')} as days from kinds where vendor_id = :drillVendor and not isempty(lapsed))
     select d.id, d.kind, d.reference, d.expires_on::text as expires_on, d.created_at, l.days, count(*) over () as total
       from vendor_documents d join lapsed l on l.kind = lower(btrim(d.kind))
      where d.account_id = :account and d.vendor_id = :drillVendor and d.deleted_at is null and d.status = 'approved'
      order by lower(btrim(d.kind)), d.expires_on nulls last, d.id limit :limit`,
    { ...bindingsOf(args), drillVendor: vendorId, limit: args.limit },
  );
  return drillListOf('Compliance documents of the kinds that lapsed in the range', [
      { key: 'kind', label: 'Document', kind: 'text' },
      { key: 'reference', label: 'Reference', kind: 'text' },
      { key: 'expires_on', label: 'Expires on', kind: 'text' },
      { key: 'recorded', label: 'Recorded', kind: 'datetime' },
      { key: 'lapsed_days', label: 'Days this kind lapsed in the range', kind: 'count' },
    ], rows, (r) => ({
    id: String(r.id),
    kind: 'vendor' as const,
    link: null,
    cells: { kind: String(r.kind), reference: (r.reference as string | null) ?? null, expires_on: (r.expires_on as string | null) ?? null, recorded: iso(r.created_at), lapsed_days: Number(r.days) },
  }));
}

async function blockRows(args: Args & { limit: number }, vendorId: string): Promise<DrillList> {
  const { rows } = await args.trx.raw(
    `select chatwoot_contact_id, note, created_at, count(*) over () as total from vendor_client_links
      where account_id = :account and vendor_id = :drillVendor and relation = 'blocked'
      order by created_at, chatwoot_contact_id limit :limit`,
    { account: args.ctx.accountId, drillVendor: vendorId, limit: args.limit },
  );
  return drillListOf('Clients who blocked the vendor', [
      { key: 'contact', label: 'Chatwoot contact', kind: 'text' },
      { key: 'note', label: 'Note', kind: 'text' },
      { key: 'since', label: 'Since', kind: 'datetime' },
    ], rows, (r) => ({
    id: `${vendorId}:${r.chatwoot_contact_id}`,
    kind: 'vendor' as const,
    link: null,
    cells: { contact: String(r.chatwoot_contact_id), note: (r.note as string | null) ?? null, since: iso(r.created_at) },
  }));
}

async function rows(args: Args & { drill: string; limit: number }): Promise<DrillList> {
  const parts = drillParts(args.drill);
  const vendorId = parts.at(-1) ?? '';
  if (!z.uuid().safeParse(vendorId).success) throw unknownDrill();
  if (!args.scope.all) return { title: 'Nothing to list', columns: [], rows: [], total: 0, truncated: false };
  const [kind, which] = parts;
  if (kind === 'offers' && parts.length === 3) return offerRows(args, which!, vendorId);
  if (parts.length !== 2) throw unknownDrill();
  if (kind === 'documents') return documentRows(args, vendorId);
  if (kind === 'blocks') return blockRows(args, vendorId);
  const b = { ...bindingsOf(args), drillVendor: vendorId };
  const yesNo = (sql: string) => `case when ${sql} then 'yes' else 'no' end`;
  const completedWhere = `${completedIn} and m.vendor_id = :drillVendor${categorySql(args)}`;
  const checklistColumns = [
    { key: 'checklist_items', label: 'Checklist items', kind: 'count' as const, sql: 'm.checklist_items' },
    { key: 'checklist_done', label: 'Ticked done', kind: 'count' as const, sql: 'm.checklist_done' },
  ];
  const slaColumn = { key: 'sla_met', label: 'SLA met', kind: 'text' as const, sql: `case when m.sla_due_at is null then null when m.completed_at <= m.sla_due_at then 'yes' else 'no' end` };
  switch (kind) {
    case 'arrivals':
      return jobDrill(args.trx, {
        title: 'Jobs with a window the vendor arrived at in the range',
        where: `${arrivedIn} and m.arrival_vendor_id = :drillVendor${categorySql(args)}`,
        bindings: b,
        limit: args.limit,
        extra: [{ key: 'on_time', label: 'On time', kind: 'text', sql: yesNo(onTimeSql) }],
      });
    case 'completed':
      return jobDrill(args.trx, { title: 'Jobs the vendor completed in the range', where: completedWhere, bindings: b, limit: args.limit, extra: [slaColumn, ...checklistColumns] });
    case 'sla':
      return jobDrill(args.trx, { title: 'Jobs the vendor completed in the range with an SLA due time', where: `${completedWhere} and m.sla_due_at is not null`, bindings: b, limit: args.limit, extra: [slaColumn] });
    case 'checklist':
      return jobDrill(args.trx, {
        title: 'Jobs the vendor completed in the range with checklist items',
        where: `${completedWhere} and m.checklist_items > 0`,
        bindings: b,
        limit: args.limit,
        extra: checklistColumns,
      });
  }
  throw unknownDrill();
}

export const vendorsReport: ReportModule<typeof filters> = {
  name: 'vendors',
  title: 'Vendor scorecard',
  summary: 'per vendor: offers and time to accept, on-time arrival, first-time completion, SLA met, checklists, compliance lapsed, client blocks; ranked',
  access: { permission: 'reports:read', capability: 'dispatch.vendors' },
  filters,
  figures,
  rows,
};
