// Speed to first response: for conversations linked to a deal or a job whose customer first wrote
// within the range, the time to the first agent reply (conversations/cache.ts keeps both instants
// from the message webhooks), by response bucket joined to what became of the deals and jobs, by
// inbox and by agent. One pass over the range's conversations answers every table (grouping sets).
import type { Knex } from 'knex';
import { z } from 'zod';
import { invalidField } from '../../errors.ts';
import { chatwootId, chatwootIdParam } from '../../http/schemas.ts';
import { dealReference } from '../deals/rules.ts';
import { jobReference } from '../jobs/rules.ts';
import { definitionsOf, responseBuckets } from './definitions.ts';
import { drillParts, drillToken, unknownDrill, type ReportArgs, type ReportModule, type ReportScope } from './report.ts';
import type { DrillList, ReportColumn, ReportRow, ReportTable } from './shape.ts';

// Query values arrive as text; the routes hand the parsed values to the report again, so numbers pass too.
const idFilter = z.union([chatwootIdParam, chatwootId]);
const filters = z.object({
  inbox_id: idFilter.optional().describe('Only conversations in this Chatwoot inbox'),
  agent_id: idFilter.optional().describe('Only conversations first answered by this Chatwoot agent (user id)'),
  business_hours: z
    .union([z.enum(['true', 'false']).transform((v) => v === 'true'), z.boolean()])
    .optional()
    .describe('true: count only time inside the account’s business hours (GET /reports/settings)'),
});
type Filters = z.infer<typeof filters>;

type BucketKey = (typeof responseBuckets)[number]['key'] | 'unanswered';
const bucketKeys: BucketKey[] = [...responseBuckets.map((b) => b.key), 'unanswered'];
const bucketLabel = (key: BucketKey) => responseBuckets.find((b) => b.key === key)?.label ?? 'Unanswered';

/** The bucket of a response time in seconds, in SQL, from the one list of bounds. */
const bucketSql = `case when m.seconds is null then 'unanswered' ${responseBuckets
  .filter((b) => Number.isFinite(b.below))
  .map((b) => `when m.seconds < ${b.below} then '${b.key}'`)
  .join(' ')} else 'later' end collate "C"`;

interface Measured {
  sql: string;
  bindings: Record<string, unknown>;
}

/**
 * The conversations measured, one row each: linked to a live deal, or to a job where jobs are on;
 * the customer's first message in the range; never a vendor's thread (the vendor is not the
 * customer); within the filters and the scope (an agent's own: the conversations they answered
 * first). `seconds` is null while unanswered.
 */
function measured(args: ReportArgs<Filters>): Measured {
  const { ctx, range, filters: f, scope } = args;
  const jobs = ctx.capabilities.has('dispatch.jobs');
  const bindings: Record<string, unknown> = { accountId: ctx.accountId, start: range.start, end: range.end, jobs, businessHours: Boolean(f.business_hours) };
  const where = conversationConditions(f, scope, bindings);
  // Business seconds of a span = open seconds of the week up to its end minus up to its start, read
  // on the zone's local clock at each instant (so DST moves opening times with the clock): whole
  // weeks since a fixed local Monday (2001-01-01) times the week's open seconds, plus the open
  // seconds before the minute (report_settings.open_before_minute: element k + 1 for minute k, the
  // last one the week's total), plus the part of the minute itself when that minute is open.
  const openSeconds = (local: string) => {
    const weeks = `floor(${local} / 604800)`;
    const rest = `(${local} - ${weeks} * 604800)`;
    // Clamped: a float rounding at a week's very end must not index outside the table.
    const minute = `least(greatest(floor(${rest} / 60)::int, 0), 10079)`;
    const before = (k: string) => `(select open_before from settings)[${k}]`;
    return `(${weeks} * ${before('10081')} + ${before(`${minute} + 1`)} + least(${rest} - ${minute} * 60, ${before(`${minute} + 2`)} - ${before(`${minute} + 1`)}))`;
  };
  const sql = `
    with settings as materialized (
      -- The account's zone and minute table, read once as values (sub-selects, never joined to each
      -- row: a row carrying the 80 kB table would be copied per row). The slice copies the stored
      -- array out of its compressed storage once, rather than at every look-up.
      select r.time_zone, r.open_before_minute[1:10081] as open_before
        from report_settings r
       where r.account_id = :accountId and :businessHours
    ), conversations as materialized (
      -- The range's conversations, from the index alone.
      select c.chatwoot_conversation_id as id, c.inbox_id, c.chatwoot_contact_id, c.first_customer_message_at as first_at,
             c.first_reply_at as reply_at, c.first_reply_agent_id as agent_id
        from chatwoot_conversations c
       where c.account_id = :accountId
         and c.first_customer_message_at >= :start and c.first_customer_message_at < :end
         and not exists (select 1 from vendor_threads v where v.account_id = :accountId and v.chatwoot_conversation_id = c.chatwoot_conversation_id)
         ${where.join(' ')}
    ), outcomes as (
      -- What became of each conversation's linked deals and jobs (a conversation may have several):
      -- the links of the range's conversations found by hashing (no look-up per conversation), then
      -- one aggregate per conversation.
      select o.id, bool_or(o.is_deal and o.closed) as deal_closed, bool_or(o.is_deal and o.won) as deal_won,
             bool_or(not o.is_deal and o.closed) as job_finished, bool_or(not o.is_deal and o.won) as job_completed
        from (select c.id, true as is_deal, d.status in ('won', 'lost') as closed, d.status = 'won' as won
                from conversations c
                join deals d on d.account_id = :accountId and d.chatwoot_conversation_id = c.id and d.deleted_at is null
              union all
              select c.id, false, j.status in ('completed', 'canceled'), j.status = 'completed'
                from conversations c
                join job_conversations jc on jc.account_id = :accountId and jc.chatwoot_conversation_id = c.id
                join jobs j on j.account_id = :accountId and j.id = jc.job_id
               where :jobs) o
       group by o.id
    ), linked as materialized (
      -- Linked conversations, with their instants on the local clock (seconds from 2001-01-01
      -- local) when business hours count: each converted once.
      select c.*, o.deal_closed, o.deal_won, o.job_finished, o.job_completed,
             date_part('epoch', (c.first_at at time zone (select time_zone from settings)) - timestamp '2001-01-01') as local_first,
             date_part('epoch', (c.reply_at at time zone (select time_zone from settings)) - timestamp '2001-01-01') as local_reply
        from conversations c
        join outcomes o on o.id = c.id
    ), m as materialized (
      select l.id, l.inbox_id, l.chatwoot_contact_id, l.first_at, l.reply_at, l.agent_id, l.deal_closed, l.deal_won, l.job_finished, l.job_completed,
             case when l.reply_at is null then null
                  when :businessHours then ${openSeconds('l.local_reply')} - ${openSeconds('l.local_first')}
                  else date_part('epoch', l.reply_at - l.first_at) end as seconds
        from linked l
    ), measured as (
      select m.*, ${bucketSql} as bucket from m
    )`;
  return { sql, bindings };
}

/** The filters' and the scope's conditions on `chatwoot_conversations c`, their values added to `bindings`. */
function conversationConditions(f: Partial<Filters>, scope: ReportScope, bindings: Record<string, unknown>): string[] {
  const where: string[] = [];
  if (f.inbox_id !== undefined) {
    where.push('and c.inbox_id = :inboxId');
    bindings.inboxId = f.inbox_id;
  }
  if (f.agent_id !== undefined) {
    where.push('and c.first_reply_agent_id = :agentId');
    bindings.agentId = f.agent_id;
  }
  where.push(scopeSql(scope, bindings));
  return where;
}

/** reports:read sees the account; an agent only the conversations they answered first; nobody else anything. */
function scopeSql(scope: ReportScope, bindings: Record<string, unknown>): string {
  if (scope.all) return '';
  if (scope.chatwootUserId === undefined) return 'and false';
  bindings.me = scope.chatwootUserId;
  return 'and c.first_reply_agent_id = :me';
}

async function refuseWithoutHours(trx: Knex.Transaction, accountId: number, f: Filters) {
  if (!f.business_hours) return;
  const row = await trx('report_settings').where({ account_id: accountId }).first('business_hours');
  if (!row || !(row.business_hours as unknown[]).length) {
    throw invalidField('business_hours', 'the account has no business hours yet: an admin sets them with PUT /api/v1/reports/settings', 'no_business_hours');
  }
}

const rounded = (v: number | null | undefined) => (v === null || v === undefined ? null : Math.round(Number(v) * 1000) / 1000);
const share = (part: number, whole: number) => (whole > 0 ? part / whole : null);

interface GroupRow {
  by_bucket: number;
  by_inbox: number;
  by_agent: number;
  bucket: BucketKey | null;
  inbox_id: number | null;
  agent_id: number | null;
  agent_name: string | null;
  conversations: number;
  answered: number;
  deals_closed: number;
  deals_won: number;
  jobs_finished: number;
  jobs_completed: number;
  median: number | null;
  p90: number | null;
}

const col = (key: string, label: string, kind: ReportColumn['kind'], definition?: ReportColumn['definition']): ReportColumn => ({ key, label, kind, ...(definition ? { definition } : {}) });

async function figures(args: ReportArgs<Filters>): Promise<{ tables: ReportTable[]; definitions: ReturnType<typeof definitionsOf> }> {
  const { trx, ctx } = args;
  await refuseWithoutHours(trx, ctx.accountId, args.filters);
  const jobsOn = ctx.capabilities.has('dispatch.jobs');
  const { sql, bindings } = measured(args);
  const { rows } = await trx.raw<{ rows: GroupRow[] }>(
    `${sql}
     select g.*, u.name as agent_name
       from (select grouping(bucket) as by_bucket, grouping(inbox_id) as by_inbox, grouping(agent_id) as by_agent, bucket, inbox_id, agent_id,
                    count(*)::int as conversations, count(seconds)::int as answered,
                    count(*) filter (where deal_closed)::int as deals_closed, count(*) filter (where deal_won)::int as deals_won,
                    count(*) filter (where job_finished)::int as jobs_finished, count(*) filter (where job_completed)::int as jobs_completed,
                    percentile_cont(0.5) within group (order by seconds) as median, percentile_cont(0.9) within group (order by seconds) as p90
               from measured
              group by grouping sets ((bucket), (inbox_id), (agent_id), ())) g
       left join users u on u.account_id = :accountId and u.chatwoot_user_id = g.agent_id and g.by_agent = 0
      order by g.inbox_id nulls last, g.agent_id`,
    bindings,
  );
  const total = rows.find((r) => r.by_bucket && r.by_inbox && r.by_agent);
  const byBucket = new Map(rows.filter((r) => !r.by_bucket).map((r) => [r.bucket!, r]));

  const bucketColumns = [
    col('conversations', 'Conversations', 'count', 'response_bucket'),
    col('deals_closed', 'With a closed deal', 'count', 'outcome_win_rate'),
    col('deals_won', 'With a won deal', 'count', 'outcome_win_rate'),
    col('win_rate', 'Win rate', 'percent', 'outcome_win_rate'),
    ...(jobsOn
      ? [col('jobs_finished', 'With a finished job', 'count', 'outcome_completed'), col('jobs_completed', 'With a completed job', 'count', 'outcome_completed'), col('completion_rate', 'Jobs completed', 'percent', 'outcome_completed')]
      : []),
  ];
  type CountKey = 'conversations' | 'deals_closed' | 'deals_won' | 'jobs_finished' | 'jobs_completed';
  const countKeys: CountKey[] = ['conversations', 'deals_closed', 'deals_won', ...(jobsOn ? (['jobs_finished', 'jobs_completed'] as const) : [])];
  const bucketRows: ReportRow[] = bucketKeys.map((key) => {
    const r = byBucket.get(key);
    const n = (k: CountKey) => r?.[k] ?? 0;
    return {
      key,
      label: bucketLabel(key),
      cells: {
        conversations: n('conversations'),
        deals_closed: n('deals_closed'),
        deals_won: n('deals_won'),
        win_rate: share(n('deals_won'), n('deals_closed')),
        ...(jobsOn ? { jobs_finished: n('jobs_finished'), jobs_completed: n('jobs_completed'), completion_rate: share(n('jobs_completed'), n('jobs_finished')) } : {}),
      },
      drill: Object.fromEntries(countKeys.map((k) => [k, drillToken('bucket', key, k)])),
    };
  });

  const timeColumns = [col('conversations', 'Conversations', 'count', 'first_response'), col('answered', 'Answered', 'count', 'first_response'), col('median', 'Median', 'duration', 'first_response'), col('p90', '90th percentile', 'duration', 'first_response')];
  const inboxRows: ReportRow[] = rows
    .filter((r) => !r.by_inbox)
    .map((r) => {
      const key = r.inbox_id === null ? 'none' : String(r.inbox_id);
      return {
        key,
        label: r.inbox_id === null ? 'Inbox not known' : `Inbox ${r.inbox_id}`,
        cells: { conversations: r.conversations, answered: r.answered, median: rounded(r.median), p90: rounded(r.p90) },
        drill: { conversations: drillToken('inbox', key, 'conversations'), answered: drillToken('inbox', key, 'answered') },
      };
    });
  const agentRows: ReportRow[] = rows
    .filter((r) => !r.by_agent && r.agent_id !== null)
    .map((r) => ({
      key: String(r.agent_id),
      label: r.agent_name ?? `Chatwoot agent ${r.agent_id}`,
      cells: { answered: r.answered, median: rounded(r.median), p90: rounded(r.p90) },
      drill: { answered: drillToken('agent', String(r.agent_id)) },
    }));
  const summary: ReportRow = {
    key: 'all',
    label: 'All conversations',
    cells: {
      conversations: total?.conversations ?? 0,
      answered: total?.answered ?? 0,
      unanswered: (total?.conversations ?? 0) - (total?.answered ?? 0),
      median: rounded(total?.median),
      p90: rounded(total?.p90),
    },
    drill: { conversations: drillToken('summary', 'conversations'), answered: drillToken('summary', 'answered'), unanswered: drillToken('summary', 'unanswered') },
  };

  const tables: ReportTable[] = [
    {
      id: 'summary',
      title: 'First response',
      row_heading: 'Scope',
      columns: [col('conversations', 'Conversations', 'count', 'first_response'), col('answered', 'Answered', 'count', 'first_response'), col('unanswered', 'Unanswered', 'count', 'first_response'), col('median', 'Median', 'duration', 'first_response'), col('p90', '90th percentile', 'duration', 'first_response')],
      rows: [summary],
    },
    { id: 'buckets', title: 'By response time, with outcomes', row_heading: 'First response', columns: bucketColumns, rows: bucketRows, chart: { column: 'conversations', orientation: 'vertical' } },
    { id: 'by_inbox', title: 'By inbox', row_heading: 'Inbox', columns: timeColumns, rows: inboxRows, chart: { column: 'median', orientation: 'horizontal' }, ...(inboxRows.length ? {} : { empty: 'No conversation linked to a deal or job began in this range' }) },
    { id: 'by_agent', title: 'By agent (first reply)', row_heading: 'Agent', columns: timeColumns.slice(1), rows: agentRows, chart: { column: 'median', orientation: 'horizontal' }, ...(agentRows.length ? {} : { empty: 'No conversation of this range was answered yet' }) },
  ];
  const keys = ['first_response', 'response_bucket', 'outcome_win_rate', ...(jobsOn ? (['outcome_completed'] as const) : []), ...(args.filters.business_hours ? (['business_hours'] as const) : [])] as const;
  return { tables, definitions: definitionsOf(keys) };
}

/** The extra condition of a drill token (on the `measured` rows), or unknownDrill. */
function drillCondition(token: string, jobsOn: boolean, bindings: Record<string, unknown>): { where: string; title: string } {
  const [kind, a, b, ...rest] = drillParts(token);
  if (rest.length) throw unknownDrill();
  if (kind === 'bucket' && bucketKeys.includes(a as BucketKey)) {
    bindings.bucket = a;
    const measures: Record<string, string> = { conversations: 'true', deals_closed: 'deal_closed', deals_won: 'deal_won', ...(jobsOn ? { jobs_finished: 'job_finished', jobs_completed: 'job_completed' } : {}) };
    if (!b || !measures[b]) throw unknownDrill();
    return { where: `bucket = :bucket and ${measures[b]}`, title: `${bucketLabel(a as BucketKey)}: ${b.replace('_', ' ')}` };
  }
  if (kind === 'inbox' && a && (b === 'conversations' || b === 'answered')) {
    const answered = b === 'answered' ? ' and seconds is not null' : '';
    if (a === 'none') return { where: `inbox_id is null${answered}`, title: `Inbox not known: ${b}` };
    if (!/^[1-9]\d{0,15}$/.test(a)) throw unknownDrill();
    bindings.drillInbox = Number(a);
    return { where: `inbox_id = :drillInbox${answered}`, title: `Inbox ${a}: ${b}` };
  }
  if (kind === 'agent' && a && /^[1-9]\d{0,15}$/.test(a) && b === undefined) {
    bindings.drillAgent = Number(a);
    return { where: 'agent_id = :drillAgent and seconds is not null', title: `First answered by agent ${a}` };
  }
  if (kind === 'summary' && b === undefined) {
    const where = { conversations: 'true', answered: 'seconds is not null', unanswered: 'seconds is null' }[a ?? ''];
    if (where) return { where, title: `All conversations: ${a}` };
  }
  throw unknownDrill();
}

const drillColumns: ReportColumn[] = [
  col('conversation', 'Conversation', 'text'),
  col('contact', 'Contact', 'text'),
  col('inbox', 'Inbox', 'text'),
  col('first_message_at', 'First customer message', 'datetime', 'first_response'),
  col('first_reply_at', 'First reply', 'datetime', 'first_response'),
  col('response', 'First response', 'duration', 'first_response'),
  col('agent', 'Agent', 'text'),
  col('deals', 'Deals', 'text', 'outcome_win_rate'),
  col('jobs', 'Jobs', 'text', 'outcome_completed'),
];

interface DrillRow {
  id: number;
  inbox_id: number | null;
  contact_name: string | null;
  first_at: Date;
  reply_at: Date | null;
  seconds: number | null;
  agent_id: number | null;
  agent_name: string | null;
  deals: Array<{ number: number; status: string }> | null;
  jobs: Array<{ number: number; status: string }> | null;
  total: number;
}

async function rows(args: ReportArgs<Filters> & { drill: string; limit: number }): Promise<DrillList> {
  const { trx, ctx } = args;
  await refuseWithoutHours(trx, ctx.accountId, args.filters);
  const jobsOn = ctx.capabilities.has('dispatch.jobs');
  const { sql, bindings } = measured(args);
  const { where, title } = drillCondition(args.drill, jobsOn, bindings);
  bindings.limit = args.limit;
  const { rows: found } = await trx.raw<{ rows: DrillRow[] }>(
    `${sql}
     select x.id, x.inbox_id, x.first_at, x.reply_at, x.seconds, x.agent_id, x.total, ct.name as contact_name, u.name as agent_name,
            (select jsonb_agg(jsonb_build_object('number', d.number, 'status', d.status) order by d.number) from deals d
              where d.account_id = :accountId and d.chatwoot_conversation_id = x.id and d.deleted_at is null) as deals,
            case when :jobs then (select jsonb_agg(jsonb_build_object('number', j.number, 'status', j.status) order by j.number)
                                    from job_conversations jc join jobs j on j.account_id = jc.account_id and j.id = jc.job_id
                                   where jc.account_id = :accountId and jc.chatwoot_conversation_id = x.id) end as jobs
       from (select measured.*, count(*) over () as total from measured where ${where} order by first_at, id limit :limit) x
       left join chatwoot_contacts ct on ct.account_id = :accountId and ct.chatwoot_contact_id = x.chatwoot_contact_id
       left join users u on u.account_id = :accountId and u.chatwoot_user_id = x.agent_id
      order by x.first_at, x.id`,
    bindings,
  );
  const total = found.length ? Number(found[0]!.total) : 0;
  return {
    title,
    columns: jobsOn ? drillColumns : drillColumns.filter((c) => c.key !== 'jobs'),
    rows: found.map((r) => ({
      id: String(r.id),
      kind: 'conversation' as const,
      link: String(r.id),
      cells: {
        conversation: `#${r.id}`,
        contact: r.contact_name,
        inbox: r.inbox_id === null ? null : `Inbox ${r.inbox_id}`,
        first_message_at: new Date(r.first_at).toISOString(),
        first_reply_at: r.reply_at ? new Date(r.reply_at).toISOString() : null,
        response: rounded(r.seconds),
        agent: r.agent_id === null ? null : (r.agent_name ?? `Chatwoot agent ${r.agent_id}`),
        deals: (r.deals ?? []).map((d) => `${dealReference(d.number)} ${d.status}`).join('; ') || null,
        ...(jobsOn ? { jobs: (r.jobs ?? []).map((j) => `${jobReference(j.number)} ${j.status}`).join('; ') || null } : {}),
      },
    })),
    total,
    truncated: total > found.length,
  };
}

/**
 * For the overview: the median first response (seconds, wall-clock) and how many conversations were
 * answered, over the conversations the report measures. It needs only whether a conversation is
 * linked, not what became of the links: two hashed look-ups into the linked ids, no aggregation.
 */
export async function responseHeadlines(args: ReportArgs<Partial<Filters>>): Promise<{ medianFirstResponse: number | null; answered: number }> {
  const { ctx, range, filters: f, scope } = args;
  const bindings: Record<string, unknown> = { accountId: ctx.accountId, start: range.start, end: range.end, jobs: ctx.capabilities.has('dispatch.jobs') };
  const where = conversationConditions(f, scope, bindings);
  const { rows: found } = await args.trx.raw<{ rows: Array<{ median: number | null; answered: number }> }>(
    `select percentile_cont(0.5) within group (order by date_part('epoch', c.first_reply_at - c.first_customer_message_at)) as median,
            count(c.first_reply_at)::int as answered
       from chatwoot_conversations c
      where c.account_id = :accountId
        and c.first_customer_message_at >= :start and c.first_customer_message_at < :end
        and not exists (select 1 from vendor_threads v where v.account_id = :accountId and v.chatwoot_conversation_id = c.chatwoot_conversation_id)
        and (exists (select 1 from deals d
                      where d.account_id = :accountId and d.chatwoot_conversation_id = c.chatwoot_conversation_id
                        and d.chatwoot_conversation_id is not null and d.deleted_at is null)
             or (:jobs and exists (select 1 from job_conversations jc where jc.account_id = :accountId and jc.chatwoot_conversation_id = c.chatwoot_conversation_id)))
        ${where.join(' ')}`,
    bindings,
  );
  return { medianFirstResponse: rounded(found[0]?.median), answered: found[0]?.answered ?? 0 };
}

export const responseTimeReport: ReportModule<typeof filters> = {
  name: 'response-time',
  title: 'Speed to first response',
  summary: 'time from a customer’s first message to the first agent reply, for conversations linked to deals or jobs; by response bucket with win and completion rates, by inbox and by agent',
  access: { permission: 'reports:own', capability: null },
  filters,
  figures,
  rows,
};
