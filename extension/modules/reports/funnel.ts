// Pipeline funnel: per stage of one pipeline, how many deals entered it in the range, how many of
// those moved on or are won, and how long they stayed; the deals won and lost in the range (win
// rate, velocity per currency, lost reasons); and the deals created in the range by month.
//
// Stage entries come from deal_stage_visits (kept by triggers, see funnel-visits.ts), which carry
// their deal's status, owner, source and deletion as they are today, so the stage figures read the
// visits alone; closes are deal_stage_events that made a deal won or lost (a partial index holds
// just those). Deal filters (owner, source, a custom field, the agent's own scope) apply to the deal
// as it is today.
import type { Knex } from 'knex';
import { z } from 'zod';
import { invalidField } from '../../errors.ts';
import { dealReference, dealSources } from '../deals/rules.ts';
import { fromMinorUnits } from '../quotes/money.ts';
import { definitionsOf } from './definitions.ts';
import { drillParts, drillToken, unknownDrill, type ReportArgs, type ReportModule } from './report.ts';
import type { CellValue, DrillList, ReportColumn, ReportRow, ReportTable } from './shape.ts';

const filters = z.object({
  pipeline_id: z.uuid().optional().describe('The pipeline (default: the first active one)'),
  owner_id: z.uuid().optional().describe('Deals owned by this user (today)'),
  source: z.enum(dealSources).optional().describe('Deals that came from this source'),
  field: z.string().min(1).max(100).optional().describe('A custom field key; with `value`, deals whose field equals it'),
  value: z.string().max(200).optional().describe('The custom field’s value (compared as text)'),
});
type Filters = z.infer<typeof filters>;
type Args = ReportArgs<Filters>;

// ---- SQL fragments with positional bindings ---------------------------------------------------

interface Sql { text: string; values: unknown[] }
const isSql = (v: unknown): v is Sql => typeof v === 'object' && v !== null && 'text' in v && 'values' in v && Array.isArray((v as Sql).values);

/** A fragment: interpolated Sql is inlined, anything else becomes a bound `?`. */
function sql(strings: TemplateStringsArray, ...parts: unknown[]): Sql {
  let text = strings[0]!;
  const values: unknown[] = [];
  parts.forEach((part, i) => {
    if (isSql(part)) {
      text += part.text;
      values.push(...part.values);
    } else {
      text += '?';
      values.push(part);
    }
    text += strings[i + 1]!;
  });
  return { text, values };
}
const join = (fragments: Sql[], separator: string): Sql => ({ text: fragments.map((f) => f.text).join(separator), values: fragments.flatMap((f) => f.values) });
async function query<T>(trx: Knex.Transaction, fragment: Sql): Promise<T[]> {
  return (await trx.raw<{ rows: T[] }>(fragment.text, fragment.values as Knex.RawBinding[])).rows;
}

/** The deal conditions every figure applies to `deals d`: the account, not deleted, the filters, the scope. */
function dealConditions({ ctx, filters: f, scope }: Args): Sql {
  const parts = [sql`d.account_id = ${ctx.accountId}`, sql`d.deleted_at is null`];
  if (!scope.all) parts.push(scope.userId ? sql`d.owner_id = ${scope.userId}` : sql`false`);
  if (f.owner_id) parts.push(sql`d.owner_id = ${f.owner_id}`);
  if (f.source) parts.push(sql`d.source = ${f.source}`);
  if (f.field !== undefined) parts.push(sql`d.custom_fields ->> ${f.field} = ${f.value}`);
  return join(parts, ' and ');
}

/**
 * The same conditions on a visit `v`, from the deal's columns it carries. A custom field still asks
 * the deals: the matching ones are read once (field_deals, see visitsInRange), not once per visit.
 */
function visitConditions({ ctx, filters: f, scope }: Args): Sql {
  const parts = [sql`v.account_id = ${ctx.accountId}`, sql`not v.deal_deleted`];
  if (!scope.all) parts.push(scope.userId ? sql`v.deal_owner_id = ${scope.userId}` : sql`false`);
  if (f.owner_id) parts.push(sql`v.deal_owner_id = ${f.owner_id}`);
  if (f.source) parts.push(sql`v.deal_source = ${f.source}`);
  if (f.field !== undefined) parts.push(sql`v.deal_id in (select fd.id from field_deals fd)`);
  return join(parts, ' and ');
}

/**
 * Runs `work` with nested loops off: a 90-day range holds thousands of closes (and a drill-down
 * tens of thousands of visits), and joining each to its deal by primary key costs more than reading
 * the account's deals once from a covering index. Restores the setting after, so the rest of the
 * snapshot transaction plans as usual.
 */
async function withHashJoins<T>(trx: Knex.Transaction, work: () => Promise<T>): Promise<T> {
  const { rows } = await trx.raw<{ rows: Array<{ value: string }> }>(`select current_setting('enable_nestloop') as value`);
  await trx.raw(`select set_config('enable_nestloop', 'off', true)`);
  try {
    return await work();
  } finally {
    await trx.raw(`select set_config('enable_nestloop', ?, true)`, [rows[0]!.value]);
  }
}

function checkFilters(f: Filters) {
  if ((f.field === undefined) !== (f.value === undefined)) {
    throw invalidField(f.field === undefined ? 'field' : 'value', 'give `field` and `value` together', 'field_value_pair');
  }
}

// ---- the pipeline and its stages ------------------------------------------------------------------

interface Stage { id: string; name: string; position: number; kind: 'open' | 'won' | 'lost'; archived: boolean }

async function pipelineOf({ trx, ctx, filters: f }: Args): Promise<{ id: string; name: string } | null> {
  const q = trx('pipelines').where({ account_id: ctx.accountId });
  if (f.pipeline_id) {
    const found = await q.andWhere({ id: f.pipeline_id }).first('id', 'name');
    if (!found) throw invalidField('pipeline_id', 'is not a pipeline of this account', 'unknown_pipeline');
    return found;
  }
  return (await q.whereNull('archived_at').orderBy([{ column: 'position' }, { column: 'created_at' }, { column: 'id' }]).first('id', 'name')) ?? null;
}

async function stagesOf(trx: Knex.Transaction, accountId: number, pipelineId: string): Promise<Stage[]> {
  const rows = await trx('stages')
    .where({ account_id: accountId, pipeline_id: pipelineId })
    .orderBy([{ column: 'position' }, { column: 'created_at' }, { column: 'id' }])
    .select('id', 'name', 'position', 'kind', 'archived_at');
  return rows.map((r: { id: string; name: string; position: number; kind: Stage['kind']; archived_at: Date | null }) => ({ id: r.id, name: r.name, position: r.position, kind: r.kind, archived: r.archived_at !== null }));
}

/** Visits of the pipeline's stages entered in the range, with the deal's status today (deal filters applied). */
function visitsInRange(args: Args, pipelineId: string, stageId?: string | Sql): Sql {
  const { ctx, range, filters: f } = args;
  const fieldDeals = f.field === undefined ? sql`` : sql`
    with field_deals as materialized (
      select d.id from deals d where d.account_id = ${ctx.accountId} and d.deleted_at is null and d.custom_fields ->> ${f.field} = ${f.value})`;
  return sql`${fieldDeals}
    select v.event_id, v.deal_id, v.stage_id, v.entered_at, v.left_at, v.next_stage_id, v.deal_status as status
      from deal_stage_visits v
     where v.account_id = ${ctx.accountId} and v.pipeline_id = ${pipelineId}
       and v.entered_at >= ${range.start} and v.entered_at < ${range.end}
       ${stageId ? sql`and v.stage_id = ${stageId}` : sql``}
       and ${visitConditions(args)}`;
}

/** A visit that moved on to a later, not-lost stage of the same pipeline (positions as they are today). */
const movedOn = (pipelineId: string) => sql`(ns.pipeline_id = ${pipelineId} and ns.position > s.position and ns.kind <> 'lost')`;

async function stagesTable(args: Args, pipelineId: string, stages: Stage[]): Promise<ReportTable> {
  const { trx, ctx } = args;
  const figures = await query<{ stage_id: string; entered: number; to_next: number; to_won: number; times: Array<number | null> | null }>(
    trx,
    // One aggregate per stage over that stage's visits (the index leads with the stage), rather
    // than sorting the whole range by stage.
    sql`
      select s.id as stage_id, f.*
        from stages s
        cross join lateral (
          select count(*)::int as entered,
                 (count(*) filter (where ${movedOn(pipelineId)}))::int as to_next,
                 (count(*) filter (where v.status = 'won'))::int as to_won,
                 -- both percentiles from one sort
                 percentile_cont(array[0.5, 0.9]) within group (order by date_part('epoch', v.left_at - v.entered_at)) as times
            from (${visitsInRange(args, pipelineId, sql`s.id`)}) v
            left join stages ns on ns.account_id = ${ctx.accountId} and ns.id = v.next_stage_id) f
       where s.account_id = ${ctx.accountId} and s.pipeline_id = ${pipelineId} and f.entered > 0`,
  );
  const byStage = new Map(figures.map((f) => [f.stage_id, f]));
  const rows: ReportRow[] = stages
    .filter((s) => !s.archived || byStage.has(s.id))
    .map((stage) => {
      const f = byStage.get(stage.id);
      const entered = f?.entered ?? 0;
      const share = (n: number) => (entered ? n / entered : null);
      const seconds = (x: number | null | undefined) => (x === null || x === undefined ? null : Math.round(Number(x) * 1000) / 1000);
      return {
        key: stage.id,
        label: stage.name,
        cells: {
          entered,
          to_next: stage.kind === 'open' ? share(f?.to_next ?? 0) : null,
          to_won: share(f?.to_won ?? 0),
          median_time: seconds(f?.times?.[0]),
          p90_time: seconds(f?.times?.[1]),
        },
        drill: {
          entered: drillToken('entered', stage.id),
          ...(stage.kind === 'open' ? { to_next: drillToken('next', stage.id) } : {}),
          to_won: drillToken('won', stage.id),
        },
      };
    });
  return {
    id: 'stages',
    title: 'Stages',
    row_heading: 'Stage',
    columns: [
      { key: 'entered', label: 'Entered', kind: 'count', definition: 'entered' },
      { key: 'to_next', label: 'To next stage', kind: 'percent', definition: 'conversion_next' },
      { key: 'to_won', label: 'To won', kind: 'percent', definition: 'conversion_won' },
      { key: 'median_time', label: 'Median time in stage', kind: 'duration', definition: 'time_in_stage' },
      { key: 'p90_time', label: '90th percentile time in stage', kind: 'duration', definition: 'time_in_stage' },
    ],
    rows,
    chart: { column: 'entered', orientation: 'horizontal' },
    ...(rows.length ? {} : { empty: 'This pipeline has no stages' }),
  };
}

// ---- closes: won and lost in the range ----------------------------------------------------------

/**
 * Each deal's last close (the event making it won or lost) within the range, in a stage of the
 * pipeline (any pipeline when null), with the deal (filters applied). One row per deal.
 */
function closesInRange(args: Args, pipelineId: string | null): Sql {
  const { ctx, range } = args;
  return sql`
    select distinct on (e.deal_id) e.deal_id, e.to_status, e.occurred_at as closed_at,
           d.amount_minor, d.currency, d.status, d.lost_reason
      from deal_stage_events e
      join deals d on d.account_id = e.account_id and d.id = e.deal_id
      ${pipelineId ? sql`join stages s on s.account_id = e.account_id and s.id = e.to_stage_id and s.pipeline_id = ${pipelineId}` : sql``}
     where e.account_id = ${ctx.accountId}
       and e.occurred_at >= ${range.start} and e.occurred_at < ${range.end}
       and e.to_status in ('won', 'lost') and e.from_status is distinct from e.to_status
       and ${dealConditions(args)}
     order by e.deal_id, e.occurred_at desc, e.id desc`;
}

/** The currency key of a close: the currency, or 'none' for deals without an amount. */
const currencyKey = sql`coalesce(c.currency, 'none')`;

/** The key of a lost deal's reason: its md5 (reasons are long), 'none', or 'not_lost' when it is no longer lost. */
const reasonKey = sql`case when c.status <> 'lost' then 'not_lost' when coalesce(c.lost_reason, '') = '' then 'none' else md5(c.lost_reason) end`;

interface CloseFigures {
  /** Per currency key (currency code or 'none'), in its order. */
  currencies: Array<{ currency: string; won: number; lost: number; won_amount: string | null }>;
  /** Per lost reason key, most lost first. */
  reasons: Array<{ key: string; reason: string | null; lost: number }>;
}

/**
 * Both close tables from one pass over the range's closes: the same rows grouped by currency
 * (outcomes) and, for the lost ones, by reason (lost reasons).
 */
async function closeFigures(args: Args, pipelineId: string): Promise<CloseFigures> {
  const rows = await query<{ by_reason: number; currency: string | null; reason_key: string | null; reason: string | null; won: number; lost: number; won_amount: string | null }>(
    args.trx,
    sql`
      select grouping(k.currency) as by_reason, k.currency, k.reason_key, min(k.lost_reason) as reason,
             (count(*) filter (where k.to_status = 'won'))::int as won,
             (count(*) filter (where k.to_status = 'lost'))::int as lost,
             (sum(k.amount_minor) filter (where k.to_status = 'won'))::text as won_amount
        from (select c.to_status, c.amount_minor, c.lost_reason, ${currencyKey} as currency,
                     case when c.to_status = 'lost' then ${reasonKey} end as reason_key
                from (${closesInRange(args, pipelineId)}) c) k
       group by grouping sets ((k.currency), (k.reason_key))
       order by 1, 2, 6 desc, 4, 3`,
  );
  return {
    currencies: rows.filter((r) => !r.by_reason).map((r) => ({ currency: r.currency!, won: r.won, lost: r.lost, won_amount: r.won_amount })),
    reasons: rows.filter((r) => r.by_reason && r.reason_key !== null).map((r) => ({ key: r.reason_key!, reason: r.reason, lost: r.lost })),
  };
}

function outcomesTable(args: Args, { currencies: figures }: CloseFigures): ReportTable {
  const row = (key: string, label: string, currency: string | null, won: number, lost: number, wonAmount: string | null): ReportRow => {
    // Velocity in the currency's minor unit per day, rounded half up to a whole minor unit.
    const days = BigInt(args.range.days);
    const perDay = (BigInt(wonAmount ?? '0') * 2n + days) / (2n * days);
    return {
      key,
      label,
      cells: {
        currency,
        won,
        lost,
        win_rate: won + lost ? won / (won + lost) : null,
        won_amount: currency ? fromMinorUnits(wonAmount ?? '0', currency) : null,
        velocity: currency ? fromMinorUnits(perDay.toString(), currency) : null,
      },
      drill: { won: drillToken('outcome', 'won', key), lost: drillToken('outcome', 'lost', key) },
    };
  };
  const totalWon = figures.reduce((n, f) => n + f.won, 0);
  const totalLost = figures.reduce((n, f) => n + f.lost, 0);
  const currencies = figures.filter((f) => f.currency !== 'none');
  const none = figures.find((f) => f.currency === 'none');
  return {
    id: 'outcomes',
    title: 'Won and lost',
    row_heading: 'Deals',
    columns: [
      { key: 'currency', label: 'Currency', kind: 'text' },
      { key: 'won', label: 'Won', kind: 'count', definition: 'closed_in_range' },
      { key: 'lost', label: 'Lost', kind: 'count', definition: 'closed_in_range' },
      { key: 'win_rate', label: 'Win rate', kind: 'percent', definition: 'win_rate' },
      { key: 'won_amount', label: 'Won amount', kind: 'money', definition: 'velocity' },
      { key: 'velocity', label: 'Velocity per day', kind: 'money', definition: 'velocity' },
    ],
    rows: [
      row('all', 'All deals', null, totalWon, totalLost, null),
      ...currencies.map((f) => row(f.currency, f.currency, f.currency, f.won, f.lost, f.won_amount)),
      ...(none ? [row('none', 'No amount', null, none.won, none.lost, null)] : []),
    ],
  };
}

function lostReasonsTable({ reasons: figures }: CloseFigures): ReportTable {
  const labelOf = (f: { key: string; reason: string | null }) => (f.key === 'none' ? 'No reason given' : f.key === 'not_lost' ? 'Not lost any more' : f.reason!);
  return {
    id: 'lost_reasons',
    title: 'Lost reasons',
    row_heading: 'Reason',
    columns: [{ key: 'lost', label: 'Deals lost', kind: 'count', definition: 'lost_reasons' }],
    rows: figures.map((f) => ({ key: f.key, label: labelOf(f), cells: { lost: f.lost }, drill: { lost: drillToken('reason', f.key) } })),
    chart: { column: 'lost', orientation: 'horizontal' },
    ...(figures.length ? {} : { empty: 'No deals lost in this range' }),
  };
}

// ---- cohorts by creation month ------------------------------------------------------------------

/** The calendar months the range touches, as YYYY-MM (the range's dates are already in its zone). */
function monthsOf(from: string, to: string): string[] {
  const months: string[] = [];
  let [year, month] = from.split('-').map(Number) as [number, number];
  const last = to.slice(0, 7);
  for (;;) {
    const key = `${year}-${String(month).padStart(2, '0')}`;
    months.push(key);
    if (key >= last) return months;
    month += 1;
    if (month > 12) [year, month] = [year + 1, 1];
  }
}

function createdInRange(args: Args, pipelineId: string): Sql {
  const { ctx, range } = args;
  return sql`
    select d.id, d.status, to_char(d.created_at at time zone ${range.timeZone}, 'YYYY-MM') as month
      from deals d
     where d.account_id = ${ctx.accountId} and d.pipeline_id = ${pipelineId}
       and d.created_at >= ${range.start} and d.created_at < ${range.end}
       and ${dealConditions(args)}`;
}

const cohortColumns = ['created', 'won', 'lost', 'open'] as const;

async function cohortsTable(args: Args, pipelineId: string): Promise<ReportTable> {
  const figures = await query<{ month: string; created: number; won: number; lost: number; open: number }>(
    args.trx,
    sql`
      select c.month, count(*)::int as created,
             (count(*) filter (where c.status = 'won'))::int as won,
             (count(*) filter (where c.status = 'lost'))::int as lost,
             (count(*) filter (where c.status = 'open'))::int as open
        from (${createdInRange(args, pipelineId)}) c
       group by 1`,
  );
  const byMonth = new Map(figures.map((f) => [f.month, f]));
  return {
    id: 'cohorts',
    title: 'Cohorts by month created',
    row_heading: 'Month created',
    columns: [
      { key: 'created', label: 'Created', kind: 'count', definition: 'cohort' },
      { key: 'won', label: 'Won', kind: 'count', definition: 'cohort' },
      { key: 'lost', label: 'Lost', kind: 'count', definition: 'cohort' },
      { key: 'open', label: 'Open', kind: 'count', definition: 'cohort' },
    ],
    rows: monthsOf(args.range.from, args.range.to).map((month) => {
      const f = byMonth.get(month);
      return {
        key: month,
        label: month,
        cells: Object.fromEntries(cohortColumns.map((c) => [c, f?.[c] ?? 0])),
        drill: Object.fromEntries(cohortColumns.map((c) => [c, drillToken('cohort', month, c)])),
      };
    }),
    chart: { column: 'created', orientation: 'vertical' },
  };
}

// ---- drill-down -------------------------------------------------------------------------------

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface DrillRow {
  deal_id: string;
  number: number;
  title: string;
  stage: string;
  status: string;
  owner: string | null;
  amount_minor: string | null;
  currency: string | null;
  created_at: Date;
  at: Date | null;
  total: number;
}

/** The deals (one row per record behind the cell) with what the list shows, newest `at` last. */
async function dealList(args: Args & { limit: number }, records: Sql, title: string, at: { key: string; label: string } | null): Promise<DrillList> {
  const { trx, ctx, limit } = args;
  const rows = await query<DrillRow>(
    trx,
    sql`
      select r.deal_id, d.number, d.title, st.name as stage, d.status, u.name as owner, d.amount_minor::text as amount_minor, d.currency,
             d.created_at, r.at, (count(*) over ())::int as total
        from (${records}) r
        join deals d on d.account_id = ${ctx.accountId} and d.id = r.deal_id
        join stages st on st.account_id = ${ctx.accountId} and st.id = d.stage_id
        left join users u on u.account_id = ${ctx.accountId} and u.id = d.owner_id
       order by r.at nulls last, d.number, r.seq
       limit ${limit}`,
  );
  const columns: ReportColumn[] = [
    { key: 'reference', label: 'Deal', kind: 'text' },
    { key: 'title', label: 'Title', kind: 'text' },
    { key: 'stage', label: 'Stage (today)', kind: 'text' },
    { key: 'status', label: 'Status (today)', kind: 'text' },
    { key: 'owner', label: 'Owner', kind: 'text' },
    { key: 'amount', label: 'Amount', kind: 'money' },
    { key: 'currency', label: 'Currency', kind: 'text' },
    { key: 'created', label: 'Created', kind: 'datetime' },
    ...(at ? [{ key: at.key, label: at.label, kind: 'datetime' as const }] : []),
  ];
  const total = rows[0]?.total ?? 0;
  return {
    title,
    columns,
    rows: rows.map((r) => {
      const cells: Record<string, CellValue> = {
        reference: dealReference(r.number),
        title: r.title,
        stage: r.stage,
        status: r.status,
        owner: r.owner,
        amount: r.amount_minor !== null && r.currency ? fromMinorUnits(r.amount_minor, r.currency) : null,
        currency: r.currency,
        created: r.created_at.toISOString(),
      };
      if (at) cells[at.key] = r.at ? r.at.toISOString() : null;
      return { id: r.deal_id, kind: 'deal' as const, cells, link: dealReference(r.number) };
    }),
    total,
    truncated: total > rows.length,
  };
}

async function drillRows(args: Args & { drill: string; limit: number }): Promise<DrillList> {
  checkFilters(args.filters);
  const parts = drillParts(args.drill);
  const pipeline = await pipelineOf(args);
  if (!pipeline) throw unknownDrill();
  const [kind, a, b] = parts;

  if ((kind === 'entered' || kind === 'next' || kind === 'won') && parts.length === 2 && uuidPattern.test(a!)) {
    const stage = (await stagesOf(args.trx, args.ctx.accountId, pipeline.id)).find((s) => s.id === a);
    if (!stage || (kind === 'next' && stage.kind !== 'open')) throw unknownDrill();
    const condition = kind === 'entered' ? sql`true` : kind === 'next' ? movedOn(pipeline.id) : sql`v.status = 'won'`;
    const records = sql`
      select v.deal_id, v.entered_at as at, v.event_id as seq
        from (${visitsInRange(args, pipeline.id, stage.id)}) v
        join stages s on s.account_id = ${args.ctx.accountId} and s.id = v.stage_id
        left join stages ns on ns.account_id = ${args.ctx.accountId} and ns.id = v.next_stage_id
       where ${condition}`;
    const what = { entered: 'entered', next: 'moved on from', won: 'won after entering' }[kind];
    return dealList(args, records, `Deals that ${what} ${stage.name}`, { key: 'entered', label: 'Entered stage' });
  }

  if (kind === 'outcome' && parts.length === 3 && (a === 'won' || a === 'lost') && /^(all|none|[A-Z]{3})$/.test(b!)) {
    const currency = b === 'all' ? sql`true` : sql`${currencyKey} = ${b}`;
    const records = sql`select c.deal_id, c.closed_at as at, 0 as seq from (${closesInRange(args, pipeline.id)}) c where c.to_status = ${a} and ${currency}`;
    const which = b === 'all' ? '' : b === 'none' ? ' (no amount)' : ` (${b})`;
    return dealList(args, records, `Deals ${a} in the range${which}`, { key: 'closed', label: a === 'won' ? 'Won' : 'Lost' });
  }

  if (kind === 'reason' && parts.length === 2 && /^(none|not_lost|[0-9a-f]{32})$/.test(a!)) {
    const records = sql`select c.deal_id, c.closed_at as at, 0 as seq from (${closesInRange(args, pipeline.id)}) c where c.to_status = 'lost' and ${reasonKey} = ${a}`;
    return dealList(args, records, 'Deals lost in the range for this reason', { key: 'closed', label: 'Lost' });
  }

  if (kind === 'cohort' && parts.length === 3 && /^\d{4}-\d{2}$/.test(a!) && (cohortColumns as readonly string[]).includes(b!)) {
    if (!monthsOf(args.range.from, args.range.to).includes(a!)) throw unknownDrill();
    const status = b === 'created' ? sql`true` : sql`c.status = ${b}`;
    const records = sql`select c.id as deal_id, null::timestamptz as at, 0 as seq from (${createdInRange(args, pipeline.id)}) c where c.month = ${a} and ${status}`;
    return dealList(args, records, b === 'created' ? `Deals created in ${a}` : `Deals created in ${a}, ${b} today`, null);
  }

  throw unknownDrill();
}

// ---- the module -------------------------------------------------------------------------------

export const funnelReport: ReportModule<typeof filters> = {
  name: 'funnel',
  title: 'Pipeline funnel',
  summary: 'deals entering each stage, conversion, time in stage, win rate, velocity, lost reasons and cohorts of one pipeline',
  access: { permission: 'reports:own', capability: 'crm.deals' },
  filters,
  async figures(args) {
    checkFilters(args.filters);
    const definitions = definitionsOf(['entered', 'conversion_next', 'conversion_won', 'time_in_stage', 'closed_in_range', 'win_rate', 'velocity', 'lost_reasons', 'cohort', 'deal_source']);
    const pipeline = await pipelineOf(args);
    if (!pipeline) {
      const empty = (id: string, title: string): ReportTable => ({ id, title, columns: [], rows: [], empty: 'No pipeline yet' });
      return { tables: [empty('stages', 'Stages'), empty('outcomes', 'Won and lost'), empty('lost_reasons', 'Lost reasons'), empty('cohorts', 'Cohorts by month created')], definitions };
    }
    const stages = await stagesOf(args.trx, args.ctx.accountId, pipeline.id);
    const closes = await withHashJoins(args.trx, () => closeFigures(args, pipeline.id));
    const tables = [await stagesTable(args, pipeline.id, stages), outcomesTable(args, closes), lostReasonsTable(closes), await cohortsTable(args, pipeline.id)];
    return { tables, definitions };
  },
  rows: (args) => withHashJoins(args.trx, () => drillRows(args)),
};

/**
 * Deals won and the win rate in the range, every pipeline, for the overview (scope applies): the
 * closes as in the outcomes table, read from the close index alone. Deleted deals are left out by
 * an anti-join against the few deleted ones, an agent's own by the deals they own, so no close
 * looks up its deal.
 */
export async function funnelHeadlines(args: ReportArgs<Record<string, never>>): Promise<{ dealsWon: number; winRate: number | null }> {
  const { ctx, range, scope } = args;
  const own = scope.all ? sql`true` : scope.userId
    ? sql`e.deal_id in (select d.id from deals d where d.account_id = ${ctx.accountId} and d.owner_id = ${scope.userId} and d.deleted_at is null)`
    : sql`false`;
  const [row] = await query<{ won: number; lost: number }>(
    args.trx,
    sql`
      select (count(*) filter (where c.to_status = 'won'))::int as won, (count(*) filter (where c.to_status = 'lost'))::int as lost
        from (select distinct on (e.deal_id) e.deal_id, e.to_status
                from deal_stage_events e
               where e.account_id = ${ctx.accountId}
                 and e.occurred_at >= ${range.start} and e.occurred_at < ${range.end}
                 and e.to_status in ('won', 'lost') and e.from_status is distinct from e.to_status
                 and not exists (select 1 from deals d where d.account_id = ${ctx.accountId} and d.id = e.deal_id and d.deleted_at is not null)
                 and ${own}
               order by e.deal_id, e.occurred_at desc, e.id desc) c`,
  );
  const won = row?.won ?? 0;
  const lost = row?.lost ?? 0;
  return { dealsWon: won, winRate: won + lost ? won / (won + lost) : null };
}
