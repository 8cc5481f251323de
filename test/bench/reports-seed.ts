// Seed for bench:reports: the CRM and dispatch history the reports read, built set-based
// (generate_series) so the full size takes minutes. Everything is derived from the row number
// through hashints, so two runs seed the same shapes. Columns and tables added by later report
// migrations are filled when they exist (their triggers fire on the bulk inserts below).
import type { Knex } from 'knex';
import { freshMilestonesSql, milestoneColumns } from '../../migrations/202612040920_report_jobs.ts';
import { seedAccounts, sqlArray } from './harness.ts';

export interface SeedSize {
  accounts: number;
  dealsPerAccount: number;
  jobsPerAccount: number;
  vendorsPerAccount: number;
  callsPerAccount: number;
}

const words = ['Boiler', 'Roof', 'Kitchen', 'Bathroom', 'Gutter', 'Heating', 'Window', 'Deck', 'Fence', 'Solar'];
const lostReasons = ['Price too high', 'Went with a competitor', 'No response', 'Bad timing', 'Outside our area'];
/** deals.source values (202612040900_report_funnel). */
const dealSources = ['manual', 'chat', 'call', 'portal', 'automation', 'api'];
const jobSources = ['call', 'sms', 'chat', 'manual', 'pipeline', 'portal'];
const categories = ['plumbing', 'roofing', 'electrical', 'hvac', 'glazing', 'carpentry', 'painting', 'flooring'];
const stageNames = ['Lead', 'Site visit', 'Quote sent', 'Scheduled', 'In progress', 'Completed', 'Lost'];
/** Position of the won and the lost stage in each pipeline. */
const wonAt = 5;
const lostAt = 6;

/** A deterministic fraction in [0, 1] from a row number and a salt. */
const h = (n: string, salt: number) => `((hashint8((${n})::bigint * 7919 + ${salt}) & 2147483647)::float8 / 2147483647)`;
const seconds = (expr: string) => `((${expr}) * interval '1 second')`;

async function columnsOf(trx: Knex.Transaction, table: string) {
  const { rows } = await trx.raw<{ rows: Array<{ column_name: string }> }>(
    `select column_name from information_schema.columns where table_schema = current_schema() and table_name = ?`,
    [table],
  );
  return new Set(rows.map((r) => r.column_name));
}

/** `column` and its value in an insert's select list, when the column exists. */
function optional(columns: Set<string>, pairs: Record<string, string>) {
  const present = Object.entries(pairs).filter(([column]) => columns.has(column));
  return { names: present.map(([c]) => `, ${c}`).join(''), values: present.map(([, v]) => `, ${v}`).join('') };
}

async function seedPeople(trx: Knex.Transaction, accountId: number, size: SeedSize) {
  await trx.raw(
    `insert into users (account_id, chatwoot_user_id, name, chatwoot_role)
     select ?, g, case when g = 1 then 'Admin' else 'Agent ' || g end, case when g = 1 then 'administrator' else 'agent' end
       from generate_series(1, 20) g`,
    [accountId],
  );
  await trx.raw(
    `insert into vendors (account_id, name, categories, postal_codes, base_lat, base_lng, radius_km, time_zone, active)
     select ?, 'Vendor ' || lpad(g::text, 4, '0'), array[(${sqlArray(categories)})[1 + g % 8]], array['e' || (g % 50)],
            51.5, -0.12, 30, 'Europe/London', true
       from generate_series(1, ?) g`,
    [accountId, size.vendorsPerAccount],
  );
  // Two documents per vendor: about one in ten lapsed during the past months, one in twenty expires soon.
  await trx.raw(
    `insert into vendor_documents (account_id, vendor_id, kind, expires_on)
     select v.account_id, v.id, k.kind, current_date + case when n % 10 = 0 then -40 when n % 20 = 1 then 10 else 300 end
       from (select account_id, id, row_number() over (order by name) n from vendors where account_id = ?) v
       cross join (values ('insurance'), ('licence')) k(kind)`,
    [accountId],
  );
  await trx.raw(
    `insert into vendor_client_links (account_id, vendor_id, chatwoot_contact_id, relation)
     select account_id, id, 100000 + n * 7 % 2000, (array['preferred', 'approved', 'blocked'])[1 + n % 3]
       from (select account_id, id, row_number() over (order by name) n from vendors where account_id = ?) v`,
    [accountId],
  );
}

async function seedPipelines(trx: Knex.Transaction, accountId: number) {
  for (const [p, name] of ['Projects', 'Maintenance'].entries()) {
    const [pipeline] = await trx('pipelines').insert({ account_id: accountId, name, position: p }).returning('id');
    await trx('stages').insert(
      stageNames.map((s, i) => ({ account_id: accountId, pipeline_id: pipeline.id, name: s, position: i, kind: i === wonAt ? 'won' : i === lostAt ? 'lost' : 'open' })),
    );
  }
}

/**
 * Deals over the past 12 months, each with 2–5 stage events (its creation included): open deals
 * walk forward, about one in seven skips a stage, 30 % end won and 20 % lost (most with a reason).
 */
async function seedDeals(trx: Knex.Transaction, accountId: number, size: SeedSize) {
  const dealColumns = await columnsOf(trx, 'deals');
  const p = { account: accountId, deals: size.dealsPerAccount };
  await trx.raw(
    `create temp table bench_deal_plan on commit drop as
     with base as (
       select g,
              case when g % 5 = 0 then 1 else 0 end as p,
              case when g % 10 < 3 then 'won' when g % 10 < 5 then 'lost' else 'open' end as outcome,
              case when g % 7 = 3 then 1 else 0 end as skip,
              2 + (hashint4(g) & 3) as k0,
              now() - ${h('g', 1)} * interval '365 days' as created_at,
              ${h('g', 2)} as h2
         from generate_series(1, :deals) g)
     select *, case when outcome = 'open' and skip = 1 then least(k0, 4) else k0 end as k,
            least(extract(epoch from now() - created_at) * 0.9, (1 + h2 * 59) * 86400) as spread
       from base`,
    p,
  );
  // One row per event: the stage position reached and when.
  await trx.raw(
    `create temp table bench_deal_steps on commit drop as
     select b.g, b.p, i, b.k,
            case when i = 1 then 0 when i = b.k and b.outcome = 'won' then ${wonAt} when i = b.k and b.outcome = 'lost' then ${lostAt} else i - 1 + b.skip end as pos,
            b.created_at + ${seconds(`b.spread * (i - 1 + case when i > 1 and i < b.k then 0.9 * ${h('b.g * 8 + i', 3)} - 0.45 else 0 end) / (b.k - 1)`)} as at
       from bench_deal_plan b cross join lateral generate_series(1, b.k) i`,
  );
  await trx.raw(`create index on bench_deal_steps (g, i)`);
  // Temporary tables get no automatic statistics: without them the joins below are planned as nested loops.
  await trx.raw(`analyze bench_deal_plan, bench_deal_steps`);
  const extra = optional(dealColumns, { source: `(${sqlArray(dealSources)})[1 + (b.g / 3) % 6]` });
  // The per-row trigger keeping deal_stage_totals would update the same few rows 100k times in one
  // transaction (each update walks a longer chain of row versions): off for the bulk insert, and
  // the totals computed once from the deals instead (what the trigger would have summed).
  await trx.raw(`alter table deals disable trigger deals_stage_totals`);
  await trx.raw(
    `with st as (select s.id, s.pipeline_id, s.position, pl.position as p from stages s join pipelines pl on pl.account_id = s.account_id and pl.id = s.pipeline_id where s.account_id = :account),
          u as (select array_agg(id order by chatwoot_user_id) ids from users where account_id = :account)
     insert into deals (account_id, number, title, status, lost_reason, pipeline_id, stage_id, rank, amount_minor, currency, owner_id,
                        chatwoot_contact_id, chatwoot_conversation_id, custom_fields, created_by_type, created_by_id, created_at, updated_at, stage_entered_at${extra.names})
     select :account, b.g, (${sqlArray(words)})[1 + b.g % 10] || ' job ' || b.g,
            case when last.pos = ${wonAt} then 'won' when last.pos = ${lostAt} then 'lost' else 'open' end,
            case when last.pos = ${lostAt} and b.g % 7 <> 0 then (${sqlArray(lostReasons)})[1 + (b.g / 10) % 5] end,
            st.pipeline_id, st.id, 'd' || lpad(to_hex(b.g / 14), 4, '0'),
            case when b.g % 20 <> 0 then (1 + b.g % 5000) * 100 end, case when b.g % 20 = 0 then null when b.g % 3 = 0 then 'EUR' else 'USD' end,
            u.ids[1 + b.g % 20], 100000 + b.g % 50000, case when b.g % 5 < 3 then b.g end,
            jsonb_build_object('trade', (${sqlArray(categories)})[1 + b.g % 8]), 'system', 'bench', b.created_at, last.at, last.at${extra.values}
       from bench_deal_plan b
       join bench_deal_steps last on last.g = b.g and last.i = b.k
       join st on st.p = b.p and st.position = last.pos
       cross join u`,
    p,
  );
  await trx.raw(`alter table deals enable trigger deals_stage_totals`);
  await trx.raw(
    `insert into deal_stage_totals (account_id, stage_id, currency, deal_count, amount_minor)
     select account_id, stage_id, coalesce(currency, ''), count(*), coalesce(sum(amount_minor), 0)
       from deals where account_id = ? and deleted_at is null group by 1, 2, 3`,
    [accountId],
  );
  await trx.raw(`insert into account_counters (account_id, name, value) values (?, 'deal', ?)`, [accountId, size.dealsPerAccount]);
  // In order per deal, so a trigger that keeps stage visits sees each deal's moves as they happened;
  // in slices of deals, so each statement's transition table stays small for that trigger's joins,
  // with fresh statistics before each (its join is planned for the events there are by then).
  const slice = 10_000;
  for (let first = 1; first <= size.dealsPerAccount; first += slice) {
    if (first > 1) await trx.raw(`analyze deal_stage_events, deal_stage_visits`);
    await trx.raw(
      `with st as (select s.id, s.position, pl.position as p from stages s join pipelines pl on pl.account_id = s.account_id and pl.id = s.pipeline_id where s.account_id = :account)
       insert into deal_stage_events (account_id, deal_id, from_stage_id, to_stage_id, from_status, to_status, actor_type, actor_id, occurred_at)
       select d.account_id, d.id, prev_stage.id, stage.id,
              case when prev.pos is null then null when prev.pos = ${wonAt} then 'won' when prev.pos = ${lostAt} then 'lost' else 'open' end,
              case when s.pos = ${wonAt} then 'won' when s.pos = ${lostAt} then 'lost' else 'open' end,
              case when s.i = 1 then 'system' else 'user' end, case when s.i = 1 then 'bench' else d.owner_id::text end, s.at
         from bench_deal_steps s
         join deals d on d.account_id = :account and d.number = s.g
         join st stage on stage.p = s.p and stage.position = s.pos
         left join bench_deal_steps prev on prev.g = s.g and prev.i = s.i - 1
         left join st prev_stage on prev_stage.p = s.p and prev_stage.position = prev.pos
        where s.g between :first and :last
        order by s.g, s.i`,
      { ...p, first, last: first + slice - 1 },
    );
  }
}

/**
 * Jobs over the past 12 months with their story in job_events: created → triaged (some straight
 * to assigned) → offered/assigned → on the way → started → (review) → completed, some reopened and
 * completed again, some canceled on the way; open jobs are recent. Offers for part of them.
 */
async function seedJobs(trx: Knex.Transaction, accountId: number, size: SeedSize) {
  const p = { account: accountId, jobs: size.jobsPerAccount, vendors: size.vendorsPerAccount, deals: size.dealsPerAccount };
  await trx.raw(
    `create temp table bench_job_plan on commit drop as
     with base as (
       select g,
              case when g % 20 < 12 then 'completed' when g % 20 < 14 then 'canceled' when g % 20 = 14 then 'new' when g % 20 = 15 then 'triaged'
                   when g % 20 < 18 then 'assigned' when g % 20 = 18 then 'in_progress' else 'pending_review' end as status,
              (${sqlArray(jobSources)})[1 + (g / 7) % 6] as source,
              (array['low','normal','high','urgent'])[1 + g % 4] as priority,
              g % 10 = 7 as skip_triage,
              g % 3 as cancel_from
         from generate_series(1, :jobs) g),
     reach as (
       select *,
              now() - case when status in ('completed', 'canceled') then interval '15 days' + ${h('g', 11)} * interval '350 days'
                           else interval '5 days' + ${h('g', 11)} * interval '40 days' end as created_at,
              status not in ('new') and not (status = 'canceled' and cancel_from = 0) as triage_reached,
              status in ('assigned', 'in_progress', 'pending_review', 'completed') or (status = 'canceled' and cancel_from = 2) as assign_reached,
              status in ('in_progress', 'pending_review', 'completed') as start_reached
         from base),
     t1 as (
       select *, case when triage_reached and not skip_triage then created_at + ${seconds(`120 + ${h('g', 12)} * 8 * 3600`)} end as triaged_at
         from reach),
     t2 as (
       select *, case when assign_reached then coalesce(triaged_at, created_at) + ${seconds(`300 + ${h('g', 13)} * 2 * 86400`)} end as assigned_at
         from t1),
     t3 as (
       select *, date_trunc('hour', assigned_at) + interval '1 day' + (g % 6) * interval '1 hour' as window_starts_at
         from t2),
     t4 as (
       select *,
              case when start_reached and g % 10 < 7 then window_starts_at + ${seconds(`(${h('g', 14)} * 75 - 30) * 60`)} end as en_route_at,
              case when start_reached then window_starts_at + ${seconds(`(${h('g', 15)} * 120 - 15) * 60`)} end as started0
         from t3),
     t5 as (
       select *, case when started0 is not null then greatest(started0, coalesce(en_route_at, started0) + interval '10 minutes') end as started_at
         from t4),
     t6 as (
       select *, case when status = 'pending_review' or (status = 'completed' and g % 4 = 0) then started_at + ${seconds(`3600 + ${h('g', 16)} * 86400`)} end as review_at
         from t5),
     t7 as (
       select *, case when status = 'completed' then coalesce(review_at, started_at) + ${seconds(`1800 + ${h('g', 17)} * 2 * 86400`)} end as completed1_at
         from t6),
     t8 as (
       select *, case when status = 'completed' and g % 13 = 0 then completed1_at + ${seconds(`86400 + ${h('g', 18)} * 3 * 86400`)} end as reopened_at
         from t7)
     select *,
            case when reopened_at is not null then reopened_at + ${seconds(`7200 + ${h('g', 19)} * 2 * 86400`)} else completed1_at end as completed_at,
            case when status = 'canceled' then coalesce(assigned_at, triaged_at, created_at) + ${seconds(`3600 + ${h('g', 20)} * 86400`)} end as canceled_at,
            created_at + case priority when 'urgent' then interval '4 hours' when 'high' then interval '1 day' when 'normal' then interval '2 days' else interval '3 days' end as sla_due_at,
            assign_reached and g % 5 < 2 as offered,
            1 + (g * 7) % :vendors as vendor_n
       from t8`,
    p,
  );
  // The job_milestones triggers update one row per event (~84 s per 67k jobs here): off for the
  // bulk inserts; the rollup is filled once from the raw rows afterwards by the migration's own
  // fresh query (the one its tests hold equal to what the triggers keep).
  await trx.raw(`alter table jobs disable trigger jobs_milestones`);
  await trx.raw(`alter table job_events disable trigger job_events_milestones`);
  await trx.raw(
    `with v as (select array_agg(id order by name) ids from vendors where account_id = :account)
     insert into jobs (account_id, number, status, priority, source, summary, service_category, postal_code, window_starts_at, window_ends_at,
                       sla_due_at, chatwoot_contact_id, vendor_id, cancel_reason, created_by_type, created_by_id, created_at, updated_at,
                       status_changed_at, completed_at, started_at)
     select :account, b.g, b.status, b.priority, b.source, 'Job ' || b.g, (${sqlArray(categories)})[1 + b.g % 8], 'e' || (b.g % 50),
            case when b.assign_reached then b.window_starts_at end, case when b.assign_reached then b.window_starts_at + interval '2 hours' end,
            b.sla_due_at, 100000 + b.g % 50000, case when b.assign_reached then v.ids[b.vendor_n] end,
            case when b.status = 'canceled' then 'Customer canceled' end, 'system', 'bench', b.created_at,
            coalesce(b.canceled_at, b.completed_at, b.review_at, b.started_at, b.assigned_at, b.triaged_at, b.created_at),
            coalesce(b.canceled_at, b.completed_at, b.review_at, b.started_at, b.assigned_at, b.triaged_at, b.created_at),
            b.completed_at, b.started_at
       from bench_job_plan b cross join v`,
    p,
  );
  await trx.raw(`insert into account_counters (account_id, name, value) values (?, 'job', ?)`, [accountId, size.jobsPerAccount]);
  await trx.raw(`create temp table bench_jobs on commit drop as select b.*, j.id as job_id, j.vendor_id from bench_job_plan b join jobs j on j.account_id = :account and j.number = b.g`, p);
  await trx.raw(`create index on bench_jobs (g)`);
  await trx.raw(`analyze bench_job_plan, bench_jobs`);

  // Offers: the accepted one just before assignment; one in three of those after a decline by
  // another vendor; lapsed and still open offers on triaged jobs.
  await trx.raw(
    `with v as (select array_agg(id order by name) ids from vendors where account_id = :account)
     insert into job_offers (account_id, job_id, vendor_id, status, answer_by, decline_reason, offered_by_type, offered_by_id, answered_by_type, answered_by_id, answered_at, created_at)
     select :account::bigint, b.job_id, b.vendor_id, 'accepted', o.at + interval '15 minutes', null, 'user', 'bench', 'portal_user', 'bench', b.assigned_at, o.at
       from bench_jobs b cross join lateral (select b.assigned_at - ${seconds(`60 + ${h('b.g', 21)} * 180`)} as at) o where b.offered
     union all
     select :account::bigint, b.job_id, v.ids[1 + (b.vendor_n + 3) % :vendors], 'declined', b.assigned_at + interval '10 minutes', 'Fully booked', 'user', 'bench', 'portal_user', 'bench',
            b.assigned_at - interval '270 seconds', b.assigned_at - interval '280 seconds'
       from bench_jobs b cross join v where b.offered and b.g % 3 = 0
     union all
     select :account::bigint, b.job_id, v.ids[1 + (b.vendor_n + 5) % :vendors], 'lapsed', b.triaged_at + interval '25 minutes', null, 'system', 'bench', 'system', 'offer-sweep',
            b.triaged_at + interval '25 minutes', b.triaged_at + interval '10 minutes'
       from bench_jobs b cross join v where b.status = 'triaged' and b.g % 2 = 0
     union all
     select :account::bigint, b.job_id, v.ids[1 + (b.vendor_n + 7) % :vendors], 'open', now() + interval '10 minutes', null, 'user', 'bench', null, null, null, now() - interval '5 minutes'
       from bench_jobs b cross join v where b.status = 'triaged' and b.g % 4 = 1`,
    p,
  );

  // The story, in order per job.
  const status = (from: string, to: string, extra = '') => `jsonb_build_object('from', ${from}, 'to', ${to}${extra})`;
  await trx.raw(
    `insert into job_events (account_id, job_id, kind, data, actor_type, actor_id, occurred_at)
     select :account, e.job_id, e.kind, e.data, e.actor_type, 'bench', e.at
       from (
         select job_id, 0 as seq, 'created' as kind, jsonb_build_object('status', 'new', 'source', source, 'priority', priority) as data, 'user' as actor_type, created_at as at from bench_jobs
         union all select job_id, 1, 'status_changed', ${status(`'new'`, `'triaged'`)}, 'user', triaged_at from bench_jobs where triaged_at is not null
         union all select o.job_id, 2, 'offered', jsonb_build_object('offer_id', o.id, 'vendor_id', o.vendor_id), 'user', o.created_at from job_offers o where o.account_id = :account
         union all select o.job_id, 3, 'offer_' || o.status, jsonb_build_object('offer_id', o.id, 'vendor_id', o.vendor_id), 'portal_user', o.answered_at from job_offers o where o.account_id = :account and o.status <> 'open'
         union all select job_id, 4, 'assigned', jsonb_build_object('vendor_id', vendor_id), 'user', assigned_at from bench_jobs where assigned_at is not null
         union all select job_id, 5, 'status_changed', ${status(`case when triaged_at is null then 'new' else 'triaged' end`, `'assigned'`)}, 'user', assigned_at from bench_jobs where assigned_at is not null
         union all select job_id, 6, 'en_route', jsonb_build_object('eta', to_char(en_route_at + interval '30 minutes', 'HH24:MI')), 'portal_user', en_route_at from bench_jobs where en_route_at is not null
         union all select job_id, 7, 'status_changed', ${status(`'assigned'`, `'in_progress'`, `, 'via', 'portal'`)}, 'portal_user', started_at from bench_jobs where started_at is not null
         union all select job_id, 8, 'started', '{}'::jsonb, 'portal_user', started_at from bench_jobs where started_at is not null
         union all select job_id, 9, 'status_changed', ${status(`'in_progress'`, `'pending_review'`)}, 'portal_user', review_at from bench_jobs where review_at is not null
         union all select job_id, 10, 'status_changed', ${status(`case when review_at is null then 'in_progress' else 'pending_review' end`, `'completed'`)}, 'user', completed1_at from bench_jobs where completed1_at is not null
         union all select job_id, 11, 'status_changed', ${status(`'completed'`, `'in_progress'`, `, 'reopened', true`)}, 'user', reopened_at from bench_jobs where reopened_at is not null
         union all select job_id, 12, 'status_changed', ${status(`'in_progress'`, `'completed'`)}, 'user', completed_at from bench_jobs where reopened_at is not null
         union all select job_id, 13, 'status_changed', ${status(`case when assigned_at is not null then 'assigned' when triaged_at is not null then 'triaged' else 'new' end`, `'canceled'`, `, 'reason', 'Customer canceled'`)}, 'user', canceled_at from bench_jobs where canceled_at is not null
       ) e
      order by e.job_id, e.at, e.seq`,
    p,
  );
  await trx.raw(`alter table jobs enable trigger jobs_milestones`);
  await trx.raw(`alter table job_events enable trigger job_events_milestones`);
  await trx.raw(`insert into job_milestones (${milestoneColumns.join(', ')}) ${freshMilestonesSql('j.account_id = ?')}`, [accountId]);
  await trx.raw(
    `insert into job_vendors (account_id, job_id, vendor_id, assigned_by_type, assigned_by_id, assigned_at)
     select :account, job_id, vendor_id, 'user', 'bench', assigned_at from bench_jobs where assigned_at is not null`,
    p,
  );
  // Three checklist items on every started job; on completed ones most are ticked.
  await trx.raw(
    `insert into job_checklist_items (account_id, job_id, position, label, required, done_at, done_by_type, done_by_id)
     select :account, b.job_id, n, (array['Photos before', 'Work done', 'Photos after'])[n], true,
            case when b.completed_at is not null and (b.g + n) % 10 <> 0 then b.completed_at - interval '10 minutes' end,
            case when b.completed_at is not null and (b.g + n) % 10 <> 0 then 'portal_user' end,
            case when b.completed_at is not null and (b.g + n) % 10 <> 0 then 'bench' end
       from bench_jobs b cross join generate_series(1, 3) n where b.started_at is not null`,
    p,
  );
  // Jobs made from a deal (pipeline automation) point back to it.
  await trx.raw(
    `insert into job_deals (account_id, job_id, deal_id)
     select :account, b.job_id, d.id from bench_jobs b join deals d on d.account_id = :account and d.number = b.g
      where b.source = 'pipeline' and b.g <= :deals`,
    p,
  );
}

/**
 * Calls over the past 12 months to one business number: most answered, about a quarter missed,
 * busy or voicemail, and most of those called back 3 minutes to 2 days later. Calls that made a
 * job (source call) are linked to it.
 */
async function seedCalls(trx: Knex.Transaction, accountId: number, size: SeedSize) {
  const p = { account: accountId, calls: size.callsPerAccount };
  await trx.raw(
    `create temp table bench_call_plan on commit drop as
     select g, now() - interval '3 days' - ${h('g', 31)} * interval '362 days' as started_at,
            '+1415' || lpad((5550001 + g % 30000)::text, 7, '0') as customer,
            case when g % 20 < 14 then 'completed' when g % 20 < 18 then 'missed' when g % 20 = 18 then 'busy' else 'voicemail' end as status,
            g % 10 < 7 as called_back
       from generate_series(1, :calls) g`,
    p,
  );
  await trx.raw(`analyze bench_call_plan`);
  await trx.raw(
    `insert into calls (account_id, call_sid, direction, from_e164, to_e164, status, twilio_final_status, answered, routed_by_onelink, final_seen_at,
                        started_at, ended_at, duration_seconds, chatwoot_contact_id, job_id, created_at, updated_at)
     select :account::bigint, 'CAin' || c.g, 'inbound', c.customer, '+14155550000', c.status,
            case c.status when 'completed' then 'completed' when 'missed' then 'no-answer' when 'busy' then 'busy' else 'completed' end,
            c.status = 'completed', true, c.started_at + interval '2 minutes', c.started_at,
            c.started_at + case when c.status = 'completed' then interval '4 minutes' else interval '30 seconds' end,
            case when c.status = 'completed' then 240 else 30 end, 100000 + c.g % 50000, j.id, c.started_at, c.started_at
       from bench_call_plan c left join jobs j on j.account_id = :account and j.number = c.g and j.source = 'call'
     union all
     select :account::bigint, 'CAout' || c.g, 'outbound', '+14155550000', c.customer, 'completed', 'completed', true, false,
            cb.at + interval '3 minutes', cb.at, cb.at + interval '3 minutes', 180, 100000 + c.g % 50000, null, cb.at, cb.at
       from bench_call_plan c cross join lateral (select c.started_at + ${seconds(`180 + ${h('c.g', 32)} * 2 * 86400`)} as at) cb
      where c.status <> 'completed' and c.called_back`,
    p,
  );
}

/**
 * Chatwoot conversations: one for 60 % of deals (deals.chatwoot_conversation_id) and for half the
 * jobs (job_conversations), plus some linked to nothing. The first customer message comes a little
 * before the record was made; the first reply follows after under 5 min (40 %), under an hour
 * (30 %), under a day (20 %), later (7 %), or not yet (3 %).
 */
async function seedConversations(trx: Knex.Transaction, accountId: number) {
  const columns = await columnsOf(trx, 'chatwoot_conversations');
  const firstMessage = `src.at - ${seconds(`${h('src.id', 41)} * 1200`)}`;
  const delay = `case when ${h('src.id', 42)} < 0.4 then 30 + ${h('src.id', 43)} * 269
                      when ${h('src.id', 42)} < 0.7 then 300 + ${h('src.id', 43)} * 3299
                      when ${h('src.id', 42)} < 0.9 then 3600 + ${h('src.id', 43)} * 82799
                      when ${h('src.id', 42)} < 0.97 then 86400 + ${h('src.id', 43)} * 4 * 86400 end`;
  const extra = optional(columns, {
    first_customer_message_at: 'fm.at',
    first_reply_at: `case when fr.at <= now() then fr.at end`,
    first_reply_agent_id: `case when fr.at <= now() then 1 + src.id % 20 end`,
  });
  await trx.raw(
    `insert into chatwoot_conversations (account_id, chatwoot_conversation_id, inbox_id, status, assignee_id, chatwoot_contact_id, last_activity_at, synced_at${extra.names})
     select :account, src.id, 1 + src.id % 4, case when src.id % 3 = 0 then 'open' else 'resolved' end, 1 + src.id % 20, src.contact,
            coalesce(fr.at, fm.at), now()${extra.values}
       from (select number::bigint as id, created_at as at, chatwoot_contact_id as contact from deals where account_id = :account and chatwoot_conversation_id is not null
             union all
             select 1000000 + number, created_at, chatwoot_contact_id from jobs where account_id = :account and number % 2 = 0
             union all
             select 2000000 + number, created_at, chatwoot_contact_id from deals where account_id = :account and number % 10 = 9) src
       cross join lateral (select ${firstMessage} as at) fm
       cross join lateral (select fm.at + ${seconds(delay)} as at) fr`,
    { account: accountId },
  );
  const settings = await columnsOf(trx, 'report_settings');
  if (settings.size) {
    // Weekday opening hours, so a business-hours response time has something to count in.
    const hours = [1, 2, 3, 4, 5].map((day) => ({ day, opens: '08:00', closes: '18:00' }));
    await trx.raw(`insert into report_settings (account_id, time_zone, business_hours) values (?, 'America/New_York', ?::jsonb)`, [accountId, JSON.stringify(hours)]);
  }
  await trx.raw(
    `insert into job_conversations (account_id, job_id, chatwoot_conversation_id, linked_at)
     select account_id, id, 1000000 + number, created_at from jobs where account_id = ? and number % 2 = 0`,
    [accountId],
  );
}

/** Seeds `size.accounts` construction accounts; answers their ids. */
export async function seedReports(db: Knex, size: SeedSize) {
  const steps: Record<string, number> = {};
  const timed = async (name: string, work: () => Promise<void>) => {
    const started = Date.now();
    await work();
    steps[name] = (steps[name] ?? 0) + (Date.now() - started) / 1000;
  };
  let seededBefore = 0;
  const accountIds = await seedAccounts(db, size.accounts, async (trx, accountId) => {
    // Sorts, hashes and the rollup triggers' transition tables in memory.
    await trx.raw(`set local work_mem = '64MB'`);
    // Statistics of the accounts seeded before, so the rollup triggers' joins are planned for the
    // rows there are (before the first account the tables are empty, and the defaults plan better).
    if (seededBefore++ > 0) {
      await timed('analyze between accounts', () => trx.raw('analyze deals, deal_stage_events, deal_stage_visits, stages, jobs, job_events, job_milestones, job_offers'));
    }
    await timed('people and vendors', () => seedPeople(trx, accountId, size));
    await timed('pipelines', () => seedPipelines(trx, accountId));
    await timed('deals and stage events', () => seedDeals(trx, accountId, size));
    await timed('jobs, offers and job events', () => seedJobs(trx, accountId, size));
    await timed('calls', () => seedCalls(trx, accountId, size));
    await timed('conversations', () => seedConversations(trx, accountId));
  });
  return { accountIds, steps };
}
