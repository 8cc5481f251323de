// npm run bench:dispatch — dispatch at scale: one account with 5,000 vendors (categories, service
// areas, weekly hours, time off, compliance documents, client relationships) and 200,000 jobs,
// next to a second account of the same size (so every query must stay inside its tenant).
// Measures, server-side (the service functions a request handler calls, inside their tenant
// transactions): vendor suggestions for an open job, the dispatch board's first page, a filtered
// job list and a job's detail; each also as a ratio to a primary-key SELECT through the same
// tenant transaction in the same run. Then lists the scans every query used.
// BENCH_JOBS=20000 BENCH_VENDORS=500 for a quicker, smaller run.
import type { Knex } from 'knex';
import { read } from '../../extension/db/tenant.ts';
import { suggestVendors } from '../../extension/modules/assignment/service.ts';
import { getJob, jobBoard, listJobs } from '../../extension/modules/jobs/service.ts';
import { benchDatabase, contextFor, seedAccounts, sqlArray, measure, plansOf, printPlans, report } from './harness.ts';

const jobsPerAccount = Number(process.env.BENCH_JOBS ?? 200_000);
const vendorsPerAccount = Number(process.env.BENCH_VENDORS ?? 5_000);
const accounts = 2;
const iterations = Number(process.env.BENCH_ITERATIONS ?? 300);
const bigTables = ['jobs', 'job_events', 'vendors', 'vendor_availability', 'vendor_documents', 'job_vendors'];

const categories = ['plumbing', 'roofing', 'electrical', 'hvac', 'glazing', 'carpentry', 'painting', 'flooring', 'landscaping', 'locksmith', 'masonry', 'pest control', 'cleaning', 'appliances', 'drainage', 'fencing', 'gutters', 'insulation', 'solar', 'security'];

async function seed(db: Knex) {
  const started = Date.now();
  const accountIds = await seedAccounts(db, accounts, async (trx, accountId) => {
    const p = { account: accountId, vendors: vendorsPerAccount, jobs: jobsPerAccount };
    await trx.raw(`insert into users (account_id, chatwoot_user_id, name, chatwoot_role) select ?, g, 'Dispatcher ' || g, 'agent' from generate_series(1, 10) g`, [accountId]);
    // Vendors around London (±0.5°), one to three categories, ten postal districts, a 10–50 km radius.
    await trx.raw(
      `insert into vendors (account_id, name, categories, postal_codes, base_lat, base_lng, radius_km, time_zone, active)
       select :account, 'Vendor ' || g,
              array_remove(array[(${sqlArray(categories)})[1 + g % 20],
                                 case when g % 3 > 0 then (${sqlArray(categories)})[1 + (g / 20) % 20] end,
                                 case when g % 3 = 2 then (${sqlArray(categories)})[1 + (g / 400) % 20] end], null),
              array(select 'e' || ((g + k * 37) % 500) from generate_series(0, 9) k),
              51.5 + ((g * 7919) % 1000 - 500) / 1000.0, -0.12 + ((g * 104729) % 1000 - 500) / 1000.0,
              10 + g % 41, 'Europe/London', g % 50 <> 0
         from generate_series(1, :vendors) g`,
      p,
    );
    await trx.raw(
      `insert into vendor_availability (account_id, vendor_id, weekday, starts, ends)
       select account_id, id, d, '08:00', '18:00' from vendors, generate_series(1, 5) d where account_id = :account`,
      p,
    );
    // Two documents each; about 5 % expired and 5 % expiring.
    await trx.raw(
      `insert into vendor_documents (account_id, vendor_id, kind, expires_on)
       select v.account_id, v.id, k.kind,
              current_date + case when (hashtext(v.id::text) & 1023) % 20 = 0 then -10 when (hashtext(v.id::text) & 1023) % 20 = 1 then 10 else 200 end
         from vendors v cross join (values ('insurance'), ('licence')) k(kind) where v.account_id = :account`,
      p,
    );
    await trx.raw(
      `insert into vendor_time_off (account_id, vendor_id, starts_at, ends_at, reason)
       select account_id, id, now() + interval '2 days', now() + interval '9 days', 'Holiday'
         from vendors where account_id = :account and (hashtext(id::text) & 1023) % 10 = 0`,
      p,
    );
    await trx.raw(
      `insert into vendor_client_links (account_id, vendor_id, chatwoot_contact_id, relation)
       select account_id, id, 100000 + (hashtext(id::text) & 1023) % 2000, (array['preferred', 'approved', 'blocked'])[1 + (hashtext(id::text) & 1023) % 3]
         from vendors where account_id = :account`,
      p,
    );
    // Jobs: 60 % completed, 10 % canceled, the rest open; each vendor holds a share of the work.
    await trx.raw(
      `with v as (select array_agg(id order by name) ids from vendors where account_id = :account)
       insert into jobs (account_id, number, status, priority, source, summary, service_category, postal_code, lat, lng,
                         window_starts_at, window_ends_at, sla_due_at, chatwoot_contact_id, vendor_id, created_by_type, created_by_id,
                         created_at, completed_at)
       select :account, g, s.status, (array['low','normal','high','urgent'])[1 + g % 4], (array['call','sms','chat','manual','pipeline'])[1 + g % 5],
              'Job ' || g, (${sqlArray(categories)})[1 + g % 20], 'e' || (g % 500),
              51.5 + ((g * 31) % 1000 - 500) / 1000.0, -0.12 + ((g * 17) % 1000 - 500) / 1000.0,
              date_trunc('day', now()) + interval '3 days' + (g % 5) * interval '1 day' + interval '10 hours',
              date_trunc('day', now()) + interval '3 days' + (g % 5) * interval '1 day' + interval '12 hours',
              now() - (g || ' minutes')::interval + interval '3 days', 100000 + g % 2000,
              case when s.status in ('assigned', 'in_progress', 'pending_review', 'completed') then v.ids[1 + g % array_length(v.ids, 1)] end,
              'system', 'bench', now() - (g || ' minutes')::interval,
              case when s.status = 'completed' then now() - (g || ' minutes')::interval + interval '1 day' end
         from generate_series(1, :jobs) g cross join v
         cross join lateral (select case when g % 20 < 12 then 'completed' when g % 20 < 14 then 'canceled' when g % 20 = 14 then 'new'
                                         when g % 20 = 15 then 'triaged' when g % 20 < 18 then 'assigned' when g % 20 = 18 then 'in_progress'
                                         else 'pending_review' end as status) s`,
      p,
    );
    await trx.raw(`insert into account_counters (account_id, name, value) values (?, 'job', ?)`, [accountId, jobsPerAccount]);
    await trx.raw(
      `insert into job_events (account_id, job_id, kind, data, actor_type, actor_id, occurred_at)
       select account_id, id, 'created', '{}', 'system', 'bench', created_at from jobs where account_id = :account`,
      p,
    );
    await trx.raw(
      `insert into job_vendors (account_id, job_id, vendor_id, assigned_by_type, assigned_by_id, assigned_at)
       select account_id, id, vendor_id, 'system', 'bench', created_at from jobs where account_id = :account and vendor_id is not null`,
      p,
    );
  });
  await db.raw('vacuum analyze');
  console.log(`Seeded ${accounts} accounts × (${vendorsPerAccount} vendors, ${jobsPerAccount} jobs) in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return accountIds;
}

async function main() {
  const bench = await benchDatabase();
  const { db } = bench;
  try {
    const [accountId] = await seed(db);
    const ctx = await contextFor(db, accountId!);
    const openJobs: string[] = await read(ctx, (trx) =>
      trx('jobs').where({ account_id: ctx.accountId }).whereIn('status', ['new', 'triaged']).orderByRaw('random()').limit(iterations + 50).pluck('id'),
    );
    const anyJobs: string[] = await read(ctx, (trx) => trx('jobs').where({ account_id: ctx.accountId }).orderByRaw('random()').limit(iterations + 50).pluck('id'));
    const pick = (list: string[], i: number) => list[i % list.length]!;

    const baseline = await measure('primary-key SELECT (baseline)', iterations, (i) =>
      read(ctx, (trx) => trx('jobs').where({ account_id: ctx.accountId, id: pick(anyJobs, i) }).first('id', 'summary')),
    );
    const sample = await suggestVendors(ctx, openJobs[0]!, 10);
    const timings = [
      { ...(await measure('vendor suggestions for an open job', iterations, (i) => suggestVendors(ctx, pick(openJobs, i), 10))), target: 50 },
      { ...(await measure('dispatch board, first page (6 columns × 25)', iterations, () => jobBoard(ctx, {}, 25))), target: 30 },
      await measure('job list, status=assigned, first page', iterations, () => listJobs(ctx, { status: ['assigned'] }, { limit: 50 })),
      await measure('job detail (events, checklist, assignments)', iterations, (i) => getJob(ctx, pick(anyJobs, i))),
    ];
    report(`Dispatch benchmark (${jobsPerAccount} jobs and ${vendorsPerAccount} vendors per account, ${accounts} accounts, ${iterations} samples)`, baseline, timings);
    console.log(
      `A suggestion evaluates ${sample.evaluated} vendors of the job's category: ${sample.candidates.length} shown of ${sample.evaluated - sample.excluded_count} eligible, ${sample.excluded_count} excluded.`,
    );

    const plans = {
      suggestions: await plansOf(db, bench.url, ctx, () => suggestVendors(ctx, openJobs[0]!, 10), bigTables),
      board: await plansOf(db, bench.url, ctx, () => jobBoard(ctx, {}, 25), bigTables),
      'job list': await plansOf(db, bench.url, ctx, () => listJobs(ctx, { status: ['assigned'] }, { limit: 50 }), bigTables),
    };
    printPlans(plans);
  } finally {
    await bench.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
