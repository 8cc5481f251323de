// Shared parts of the benchmarks: a throw-away database migrated like production, timing,
// percentiles, and plan inspection. Benchmarks print their figures; they assert nothing.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Knex } from 'knex';
import pg from 'pg';
import { callerContext, type AccountRow } from '../../extension/accounts/service.ts';
import type { RequestContext } from '../../extension/context.ts';
import { withAccountForTests as withAccount } from '../../extension/db/tenant.ts';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../extension/db/embedded-postgres.ts';
import { createKnex } from '../../extension/db/knex.ts';
import { markSearchOperatorsLeakproof } from '../../extension/db/leakproof.ts';
import { migrateLatest } from '../../extension/db/migrations.ts';
import { freePort } from '../helpers/ports.ts';

export const schema = 'onelink';

export interface BenchDatabase { db: Knex; url: string; close(): Promise<void> }

/** BENCH_DATABASE_URL (a database the bench may fill), or a fresh embedded Postgres. */
export async function benchDatabase(): Promise<BenchDatabase> {
  let embedded: EmbeddedPostgres | undefined;
  let dir: string | undefined;
  let url = process.env.BENCH_DATABASE_URL;
  if (!url) {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onelink-bench-'));
    embedded = await startEmbeddedPostgres({ dir: path.join(dir, 'postgres'), port: await freePort(), database: 'onelink' });
    url = embedded.url;
  }
  const db = createKnex({ url, schema, poolMax: 4 });
  await migrateLatest(db, schema);
  if (embedded) {
    const superuserUrl = new URL(embedded.adminUrl);
    superuserUrl.pathname = '/onelink';
    await markSearchOperatorsLeakproof(superuserUrl.toString());
  }
  return {
    db,
    url,
    async close() {
      await db.destroy();
      await embedded?.stop();
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function percentile(sorted: number[], p: number) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export interface Timing { name: string; samples: number; p50: number; p95: number; p99: number }

/** Runs `op` `iterations` times (after a warm-up) and reports milliseconds. */
export async function measure(name: string, iterations: number, op: (i: number) => Promise<unknown>): Promise<Timing> {
  for (let i = 0; i < Math.min(20, iterations); i++) await op(i);
  const times: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const started = process.hrtime.bigint();
    await op(i);
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  times.sort((a, b) => a - b);
  return { name, samples: iterations, p50: percentile(times, 50), p95: percentile(times, 95), p99: percentile(times, 99) };
}

export function report(title: string, baseline: Timing, timings: Array<Timing & { target?: number }>) {
  const rows = [baseline, ...timings].map((t) => ({
    operation: t.name,
    samples: t.samples,
    'p50 ms': t.p50.toFixed(2),
    'p95 ms': t.p95.toFixed(2),
    'p99 ms': t.p99.toFixed(2),
    'p95 / baseline p95': (t.p95 / baseline.p95).toFixed(1),
    'target p95 ms': 'target' in t && t.target ? `< ${t.target}` : '',
    met: 'target' in t && typeof t.target === 'number' ? (t.p95 < t.target ? 'yes' : 'NO') : '',
  }));
  console.log(`\n${title}`);
  console.table(rows);
}

/** Plan node types and the relations they scan, from EXPLAIN (FORMAT JSON). */
export function planScans(plan: unknown): Array<{ node: string; relation?: string; index?: string }> {
  const found: Array<{ node: string; relation?: string; index?: string }> = [];
  const walk = (node: Record<string, unknown>) => {
    if (typeof node['Relation Name'] === 'string' || typeof node['Index Name'] === 'string') {
      found.push({ node: String(node['Node Type']), relation: node['Relation Name'] as string | undefined, index: node['Index Name'] as string | undefined });
    }
    for (const child of (node.Plans as Array<Record<string, unknown>> | undefined) ?? []) walk(child);
  };
  walk((plan as Array<{ Plan: Record<string, unknown> }>)[0]!.Plan);
  return found;
}

export async function explain(client: pg.PoolClient | pg.Client, sql: string, bindings: unknown[]) {
  const { rows } = await client.query(`explain (format json) ${sql}`, bindings);
  return planScans(rows[0]['QUERY PLAN']);
}

/** A dispatcher's context in `accountId` (the first user there), as a request would build it. */
export async function contextFor(db: Knex, accountId: number): Promise<RequestContext> {
  const account = (await db<AccountRow>('accounts').where({ account_id: accountId }).first())!;
  const user = await withAccount(db, accountId, { readOnly: true }, (trx) => trx('users').where({ account_id: accountId }).first('id'));
  return callerContext(db, account, { type: 'user', id: user.id }, ['agent', 'dispatcher'], null);
}

/** EXPLAINs every SELECT `operation` runs, inside the same tenant setting. */
export async function plansOf(db: Knex, url: string, ctx: RequestContext, operation: () => Promise<unknown>, bigTables: string[]) {
  const queries: Array<{ sql: string; bindings: unknown[] }> = [];
  const settings: string[] = [];
  const listener = (q: { sql: string; bindings?: unknown[] }) => {
    if (/^\s*set local /i.test(q.sql)) settings.push(q.sql); // e.g. search's enable_seqscan = off
    else if (/^\s*(with|select|\()/i.test(q.sql) && !q.sql.includes('set_config')) queries.push({ sql: q.sql, bindings: q.bindings ?? [] });
  };
  db.on('query', listener);
  await operation();
  db.off('query', listener);
  // The captured SQL is already in Postgres' $n form: run EXPLAIN on a plain connection.
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const scans = [];
  try {
    await client.query('begin read only');
    await client.query(`select set_config('onelink.account_id', $1, true)`, [String(ctx.accountId)]);
    for (const setting of settings) await client.query(setting);
    for (const q of queries) {
      const { rows } = await client.query(`explain (format json) ${q.sql}`, q.bindings);
      scans.push(...planScans(rows[0]['QUERY PLAN']));
    }
  } finally {
    await client.query('rollback');
    await client.end();
  }
  const summary = [...new Set(scans.map((s) => `${s.node} ${s.index ?? s.relation}`))];
  const sequential = scans.filter((s) => s.node === 'Seq Scan' && bigTables.includes(s.relation ?? ''));
  return { queries: queries.length, summary, sequential };
}

/** Prints the scan nodes each operation used, and any sequential scan of a big table. */
export function printPlans(plans: Record<string, Awaited<ReturnType<typeof plansOf>>>) {
  console.log('\nQuery plans (scan nodes used by each operation):');
  for (const [name, plan] of Object.entries(plans)) {
    console.log(`- ${name}: ${plan.queries} queries; ${plan.summary.join('; ')}`);
    console.log(`  sequential scans of big tables: ${plan.sequential.length ? plan.sequential.map((s) => s.relation).join(', ') : 'none'}`);
  }
}

/** A SQL array literal of fixed words (bench data only, never input). */
export const sqlArray = (values: string[]) => `array[${values.map((v) => `'${v}'`).join(',')}]`;

/**
 * `count` construction accounts of one installation, each filled by `fill` inside its own
 * tenant transaction; answers their account ids.
 */
export async function seedAccounts(db: Knex, count: number, fill: (trx: Knex.Transaction, accountId: number) => Promise<void>) {
  const [installation] = await db('installations').insert({ base_url: 'https://chat.bench.example', api_token_sealed: 'v1.x.x.x', webhook_path_token: 'bench' }).returning('id');
  const accountIds: number[] = [];
  for (let a = 0; a < count; a++) {
    const { rows } = await db.raw(`select nextval(pg_get_serial_sequence('accounts', 'account_id')) as id`);
    const accountId = Number(rows[0].id);
    accountIds.push(accountId);
    await withAccount(db, accountId, { readOnly: false }, async (trx) => {
      await trx('accounts').insert({ account_id: accountId, installation_id: installation.id, chatwoot_account_id: a + 1, name: `Bench ${a + 1}`, profile: 'construction' });
      await fill(trx, accountId);
    });
  }
  return accountIds;
}
