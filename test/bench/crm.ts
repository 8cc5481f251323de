// npm run bench:crm — CRM at scale: 3 accounts × 100k deals, 100k tasks and ~134k cached
// contacts (≈1M searchable rows). Measures, server-side (the service functions a request
// handler calls, inside their tenant transactions): the board's first page for a pipeline, a
// card move, and search; each also as a ratio to a primary-key SELECT through the same tenant
// transaction in the same run. Then EXPLAINs every query those operations ran and lists the
// scans, flagging any sequential scan of a big table.
// BENCH_DEALS=20000 for a quicker, smaller run.
import type { Knex } from 'knex';
import { read } from '../../extension/db/tenant.ts';
import { boardChanges, pipelineBoard } from '../../extension/modules/deals/board.ts';
import { moveDeal } from '../../extension/modules/deals/service.ts';
import { listPipelines } from '../../extension/modules/pipelines/service.ts';
import { search } from '../../extension/modules/search/service.ts';
import { benchDatabase, contextFor, seedAccounts, sqlArray, measure, plansOf, printPlans, report } from './harness.ts';

const dealsPerAccount = Number(process.env.BENCH_DEALS ?? 100_000);
const tasksPerAccount = dealsPerAccount;
const contactsPerAccount = Math.round(dealsPerAccount * 1.34);
const accounts = 3;
const iterations = Number(process.env.BENCH_ITERATIONS ?? 300);
const bigTables = ['deals', 'tasks', 'chatwoot_contacts', 'deal_stage_events'];

const words = ['Boiler', 'Roof', 'Kitchen', 'Bathroom', 'Gutter', 'Heating', 'Window', 'Deck', 'Fence', 'Solar', 'Garage', 'Basement', 'Attic', 'Driveway', 'Patio', 'Plumbing', 'Wiring', 'Insulation', 'Chimney', 'Skylight'];
const verbs = ['repair', 'replacement', 'install', 'inspection', 'renovation', 'quote', 'service', 'upgrade'];
const surnames = ['Harrington', 'Okafor', 'Nguyen', 'Schmidt', 'Patel', 'Garcia', 'Kowalski', 'Rossi', 'Tanaka', 'Dubois', 'Andersen', 'Murphy', 'Silva', 'Cohen', 'Ivanova', 'Haddad', 'Lindqvist', 'Mensah', 'Fischer', 'OBrien'];

async function seed(db: Knex) {
  const started = Date.now();
  const accountIds = await seedAccounts(db, accounts, async (trx, accountId) => {
    await trx.raw(
      `insert into users (account_id, chatwoot_user_id, name, chatwoot_role) select ?, g, 'Agent ' || g, 'agent' from generate_series(1, 20) g`,
      [accountId],
    );
    // Two pipelines, so the board reads one of several.
    for (const [p, name] of ['Projects', 'Maintenance'].entries()) {
      const [pipeline] = await trx('pipelines').insert({ account_id: accountId, name, position: p }).returning('id');
      const stages = ['Lead', 'Site visit', 'Quote sent', 'Scheduled', 'In progress', 'Completed', 'Lost'];
      await trx('stages').insert(stages.map((s, i) => ({ account_id: accountId, pipeline_id: pipeline.id, name: s, position: i, kind: i === 5 ? 'won' : i === 6 ? 'lost' : 'open' })));
    }
    // Deals: 80 % in the first pipeline, spread over its stages; ranks are valid fractional keys ('d' + 4 hex digits).
    await trx.raw(
      `with s as (select st.id, st.pipeline_id, st.position, st.kind, row_number() over (order by p.position, st.position) - 1 as n
                    from stages st join pipelines p on p.account_id = st.account_id and p.id = st.pipeline_id where st.account_id = :account),
            u as (select array_agg(id) ids from users where account_id = :account)
       insert into deals (account_id, number, title, status, pipeline_id, stage_id, rank, amount_minor, currency, owner_id,
                          chatwoot_contact_id, custom_fields, created_by_type, created_by_id, created_at)
       select :account, g,
              (${sqlArray(words)})[1 + g % 20] || ' ' || (${sqlArray(verbs)})[1 + (g / 20) % 8] || ' for ' || (${sqlArray(surnames)})[1 + (g / 7) % 20] || ' ' || g,
              s.kind, s.pipeline_id, s.id, 'd' || lpad(to_hex(g / 14), 4, '0'), (g % 5000) * 100, case when g % 3 = 0 then 'EUR' else 'USD' end,
              u.ids[1 + g % 20], 100000 + g % ${contactsPerAccount}, jsonb_build_object('trade', (array['plumbing','roofing','electrical','hvac'])[1 + g % 4]),
              'system', 'bench', now() - (g || ' minutes')::interval
         from generate_series(1, :deals) g
         join s on s.n = case when g % 5 = 0 then 7 + g % 7 else g % 7 end
         cross join u`,
      { account: accountId, deals: dealsPerAccount },
    );
    await trx.raw(
      `insert into account_counters (account_id, name, value) values (?, 'deal', ?)`,
      [accountId, dealsPerAccount],
    );
    await trx.raw(
      `insert into deal_stage_events (account_id, deal_id, to_stage_id, to_status, actor_type, actor_id, occurred_at)
       select account_id, id, stage_id, status, 'system', 'bench', created_at from deals where account_id = ?`,
      [accountId],
    );
    await trx.raw(
      `with u as (select array_agg(id) ids from users where account_id = :account)
       insert into tasks (account_id, title, status, priority, due_at, assignee_id, chatwoot_contact_id, created_by_type, created_by_id)
       select :account, (array['Call','Email','Visit','Measure','Quote','Follow up with'])[1 + g % 6] || ' ' || (${sqlArray(surnames)})[1 + (g / 3) % 20] || ' about ' || lower((${sqlArray(words)})[1 + g % 20]) || ' ' || g,
              (array['open','in_progress','done','canceled'])[1 + g % 4], 'normal', now() + ((g % 500) - 250 || ' hours')::interval,
              u.ids[1 + g % 20], 100000 + g % ${contactsPerAccount}, 'system', 'bench'
         from generate_series(1, :tasks) g cross join u`,
      { account: accountId, tasks: tasksPerAccount },
    );
    await trx.raw(
      `insert into chatwoot_contacts (account_id, chatwoot_contact_id, name, email, phone_e164)
       select ?, 100000 + g, (array['Ada','Ben','Chloe','Dmitri','Esther','Farid','Grace','Hiro','Ines','Jonas'])[1 + g % 10] || ' ' || (${sqlArray(surnames)})[1 + (g / 10) % 20],
              'person' || g || '@example.com', '+1415' || lpad((5550000 + g)::text, 7, '0')
         from generate_series(0, ?) g`,
      [accountId, contactsPerAccount - 1],
    );
  });
  await db.raw('vacuum analyze');
  console.log(`Seeded ${accounts} accounts × (${dealsPerAccount} deals, ${tasksPerAccount} tasks, ${contactsPerAccount} contacts) in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return accountIds;
}

async function main() {
  const bench = await benchDatabase();
  const { db } = bench;
  try {
    const accountIds = await seed(db);
    const contexts = await Promise.all(accountIds.map((id) => contextFor(db, id)));
    const pipelines = await Promise.all(contexts.map(async (ctx) => (await listPipelines(ctx))[0]!));
    const sampleIds = await Promise.all(
      contexts.map((ctx) => read(ctx, (trx) => trx('deals').where({ account_id: ctx.accountId }).orderByRaw('random()').limit(iterations + 50).pluck('id'))),
    );
    const pick = <T>(list: T[], i: number) => list[i % list.length]!;

    const baseline = await measure('primary-key SELECT (baseline)', iterations, (i) => {
      const ctx = pick(contexts, i);
      return read(ctx, (trx) => trx('deals').where({ account_id: ctx.accountId, id: pick(sampleIds[i % accounts]!, i) }).first('id', 'title'));
    });
    const board = await measure('board: first page of every stage', iterations, (i) => {
      const a = i % accounts;
      return pipelineBoard(contexts[a]!, pipelines[a]!.id, {}, 25);
    });
    const boardFiltered = await measure('board filtered by owner and text', iterations, (i) => {
      const a = i % accounts;
      return pipelineBoard(contexts[a]!, pipelines[a]!.id, { owner_id: undefined, q: pick(surnames, i).toLowerCase().slice(0, 5) }, 25);
    });
    let versions = new Map<string, number>();
    const move = await measure('move a card', iterations, async (i) => {
      const a = i % accounts;
      const ctx = contexts[a]!;
      const id = sampleIds[a]![Math.floor(i / accounts)]!;
      const version = versions.get(id) ?? (await read(ctx, (trx) => trx('deals').where({ account_id: ctx.accountId, id }).first('version'))).version;
      const stage = pipelines[a]!.stages[i % 5]!;
      const moved = await moveDeal(ctx, id, { stage_id: stage.id, version });
      versions.set(id, moved.version);
    });
    // A live board catching up: what changed since its last answer, one card moved meanwhile
    // (the alternative, reloading the board, is the "board" line above).
    const since = await Promise.all(
      contexts.map(async (ctx, a) => {
        const { as_of: asOf } = await boardChanges(ctx, pipelines[a]!.id, {}, new Date());
        const id = sampleIds[a]![iterations + 10]!;
        const { version } = await read(ctx, (trx) => trx('deals').where({ account_id: ctx.accountId, id }).first('version'));
        await moveDeal(ctx, id, { stage_id: pipelines[a]!.stages[1]!.id, version });
        return asOf;
      }),
    );
    const changes = await measure('board changes since the last answer (one card moved)', iterations, async (i) => {
      const a = i % accounts;
      const answer = await boardChanges(contexts[a]!, pipelines[a]!.id, {}, since[a]!);
      if (answer.changed.length !== 1) throw new Error(`expected one changed card, got ${answer.changed.length}`);
    });

    // Names, partial names, two words, a deal number, phone digits, an e-mail, a typo.
    const queries = ['harrington', 'okafor', 'boiler repair', 'schmid', 'roof nguyen', 'D-4242', '5550123', 'person4242@', 'kowalsky', 'measure patel'];
    const searchTiming = await measure('search deals + tasks + contacts', iterations, (i) => search(pick(contexts, i), pick(queries, i), { limit: 20 }));

    const perQuery = [];
    for (const q of queries) perQuery.push(await measure(`search "${q}"`, 30, (i) => search(pick(contexts, i), q, { limit: 20 })));
    console.log('\nSearch, per query (ms):');
    console.table(perQuery.map((t) => ({ query: t.name, 'p50 ms': t.p50.toFixed(2), 'p95 ms': t.p95.toFixed(2) })));

    report(`CRM benchmark — ${accounts} accounts × ${dealsPerAccount} deals (server-side, ms)`, baseline, [
      { ...board, target: 30 },
      { ...boardFiltered },
      { ...move, target: 15 },
      { ...changes },
      { ...searchTiming, target: 50 },
    ]);

    versions = new Map();
    const plans = {
      board: await plansOf(db, bench.url, contexts[0]!, () => pipelineBoard(contexts[0]!, pipelines[0]!.id, {}, 25), bigTables),
      move: await plansOf(
        db,
        bench.url,
        contexts[0]!,
        async () => {
          const id = sampleIds[0]![iterations + 1]!;
          const { version } = await read(contexts[0]!, (trx) => trx('deals').where({ account_id: contexts[0]!.accountId, id }).first('version'));
          await moveDeal(contexts[0]!, id, { stage_id: pipelines[0]!.stages[2]!.id, version });
        },
        bigTables,
      ),
      'board changes': await plansOf(db, bench.url, contexts[0]!, () => boardChanges(contexts[0]!, pipelines[0]!.id, {}, since[0]!), bigTables),
      search: await plansOf(db, bench.url, contexts[0]!, () => search(contexts[0]!, 'harrington', { limit: 20 }), bigTables),
      'search (typo fallback)': await plansOf(db, bench.url, contexts[0]!, () => search(contexts[0]!, 'kowalsky', { limit: 20 }), bigTables),
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
