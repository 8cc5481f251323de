// The schema distributes by account_id (Citus; docs/scaling.md) only while every tenant table keeps
// account_id first in its primary key, unique keys and indexes, and no foreign key can join two
// accounts. Checked on the real schema (every migration applied), so a new table, index or key
// cannot slip in; and docs/scaling.md must say what becomes of every table.
import fs from 'node:fs';
import path from 'node:path';
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, testSchema, type TestDatabase } from '../helpers/database.ts';

type Becomes = 'distributed' | 'reference' | 'local';

/**
 * Every table that is NOT distributed by account_id, what it becomes, and why. A table missing
 * here must have account_id and is checked as a distributed tenant table.
 */
const notDistributed: Record<string, { becomes: Exclude<Becomes, 'distributed'>; why: string }> = {
  accounts: {
    becomes: 'reference',
    why: 'the tenant registry itself: one row per Chatwoot account, referred to by every tenant table, and found by (installation, Chatwoot account id) when a webhook arrives, before any account is known',
  },
  installations: { becomes: 'reference', why: 'a connected Chatwoot, above its accounts (no account_id)' },
  webhook_deliveries: {
    becomes: 'local',
    why: 'the inbox stores a delivery before its account is known (account_id is filled in when processed); keyed by installation',
  },
  webhook_refusals: { becomes: 'local', why: 'counters of refused deliveries per installation, often with no account' },
  sweep_runs: { becomes: 'local', why: 'one row per scheduled sweep as a whole, across accounts' },
  knex_migrations: { becomes: 'local', why: 'which migrations ran' },
  knex_migrations_lock: { becomes: 'local', why: 'the migration lock' },
  rate_limit_hits: { becomes: 'local', why: 'rate-limit counters per limiter and client address, not tenant data; short-lived' },
};

/**
 * Indexes of distributed tables allowed not to lead with account_id, each with its reason. Empty:
 * every index leads with it today. (Citus itself only requires it of unique ones; non-unique
 * ones that lead with another column still work, but read every shard.)
 */
const indexExceptions: Record<string, string> = {};

interface Table { name: string; hasAccount: boolean }
interface Index { table: string; name: string; primary: boolean; unique: boolean; columns: Array<string | null> }
interface ForeignKey { table: string; name: string; columns: string[]; target: string; targetColumns: string[] }
interface Catalog { tables: Table[]; indexes: Index[]; foreignKeys: ForeignKey[] }

const becomes = (table: string): Becomes => notDistributed[table]?.becomes ?? 'distributed';

/** The schema's tables, indexes (with their columns in order) and foreign keys, from pg_catalog. */
async function readCatalog(conn: Knex | Knex.Transaction): Promise<Catalog> {
  const query = async <T>(sql: string) => (await conn.raw<{ rows: T[] }>(sql, [testSchema])).rows;
  const tables = await query<Table>(`
    select c.relname as name,
           exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'account_id' and not a.attisdropped) as "hasAccount"
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = ? and c.relkind in ('r', 'p')
     order by 1`);
  // An expression in an index has no column name: it shows as null, never as account_id.
  const indexes = await query<Index>(`
    select t.relname as "table", i.relname as name, x.indisprimary as "primary", x.indisunique as "unique",
           array(select a.attname::text from unnest(x.indkey::int2[]) with ordinality k(attnum, ord)
                   left join pg_attribute a on a.attrelid = t.oid and a.attnum = k.attnum order by k.ord) as columns
      from pg_index x
      join pg_class t on t.oid = x.indrelid
      join pg_class i on i.oid = x.indexrelid
      join pg_namespace n on n.oid = t.relnamespace
     where n.nspname = ?
     order by 1, 2`);
  const foreignKeys = await query<ForeignKey>(`
    select t.relname as "table", c.conname as name, f.relname as target,
           array(select a.attname::text from unnest(c.conkey) with ordinality k(attnum, ord)
                   join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.attnum order by k.ord) as columns,
           array(select a.attname::text from unnest(c.confkey) with ordinality k(attnum, ord)
                   join pg_attribute a on a.attrelid = c.confrelid and a.attnum = k.attnum order by k.ord) as "targetColumns"
      from pg_constraint c
      join pg_class t on t.oid = c.conrelid
      join pg_class f on f.oid = c.confrelid
      join pg_namespace n on n.oid = t.relnamespace
     where n.nspname = ? and c.contype = 'f'
     order by 1, 2`);
  return { tables, indexes, foreignKeys };
}

// (A table without account_id and without a reason is reported by unexplainedTables instead.)
const distributedTables = (c: Catalog) => c.tables.filter((t) => t.hasAccount && becomes(t.name) === 'distributed');

function unexplainedTables(c: Catalog): string[] {
  return c.tables.filter((t) => !t.hasAccount && !notDistributed[t.name]).map((t) => t.name);
}

function primaryKeyProblems(c: Catalog): string[] {
  return distributedTables(c).flatMap((t) => {
    const pk = c.indexes.find((i) => i.table === t.name && i.primary);
    if (!pk) return [`${t.name}: no primary key`];
    return pk.columns[0] === 'account_id' ? [] : [`${t.name}: primary key (${pk.columns.join(', ')})`];
  });
}

function indexProblems(c: Catalog): string[] {
  const names = new Set(distributedTables(c).map((t) => t.name));
  return c.indexes
    .filter((i) => names.has(i.table) && i.columns[0] !== 'account_id' && !indexExceptions[i.name])
    .map((i) => `${i.table}.${i.name}${i.unique ? ' (unique)' : ''}: (${i.columns.map((col) => col ?? '<expression>').join(', ')})`);
}

function foreignKeyProblems(c: Catalog): string[] {
  return c.foreignKeys.flatMap((fk) => {
    const from = becomes(fk.table);
    const to = becomes(fk.target);
    const where = `${fk.table}.${fk.name} → ${fk.target}`;
    if (from === 'distributed' && to === 'distributed') {
      // account_id pairs with account_id, at the same position on both sides.
      const at = fk.columns.indexOf('account_id');
      return at >= 0 && fk.targetColumns.indexOf('account_id') === at
        ? []
        : [`${where}: (${fk.columns.join(', ')}) → (${fk.targetColumns.join(', ')}) does not pair account_id with account_id`];
    }
    // What Citus allows besides: any table → a reference table, and local → local.
    if (to === 'reference' || (from === 'local' && to === 'local')) return [];
    return [`${where}: a ${from} table cannot refer to a ${to} one`];
  });
}

let db: TestDatabase;
let catalog: Catalog;

beforeAll(async () => {
  db = await createTestDatabase();
  catalog = await readCatalog(db.knex);
});
afterAll(() => db.drop());

describe('distribution by account_id', () => {
  it('finds the schema it checks', () => {
    // Guards against a catalog query that silently reads nothing.
    expect(distributedTables(catalog).length).toBeGreaterThan(50);
    expect(catalog.indexes.length).toBeGreaterThan(100);
    expect(catalog.foreignKeys.length).toBeGreaterThan(50);
  });

  it('gives every table without account_id a reason not to be distributed', () => {
    expect(unexplainedTables(catalog), 'a table without account_id: add account_id, or list it in notDistributed with its reason').toEqual([]);
  });

  it('leads the primary key of every distributed table with account_id', () => {
    expect(primaryKeyProblems(catalog)).toEqual([]);
  });

  it('leads every unique key and every index of a distributed table with account_id', () => {
    expect(indexProblems(catalog)).toEqual([]);
  });

  it('keeps every foreign key between tenant tables inside one account', () => {
    expect(foreignKeyProblems(catalog)).toEqual([]);
  });

  it('catches a table that breaks each rule (the checks are not vacuous)', async () => {
    const trx = await db.knex.transaction();
    try {
      await trx.raw(`create table distribution_probe_target (account_id bigint not null, id bigint not null, primary key (account_id, id))`);
      await trx.raw(`create table distribution_probe (
        account_id bigint not null, id bigint not null, other bigint,
        primary key (id, account_id),
        foreign key (other, account_id) references distribution_probe_target (account_id, id))`);
      await trx.raw(`create index distribution_probe_other on distribution_probe (other)`);
      await trx.raw(`create unique index distribution_probe_lower on distribution_probe ((lower(other::text)), account_id)`);
      await trx.raw(`create table distribution_probe_orphan (id bigint primary key)`);
      const probed = await readCatalog(trx);
      expect(unexplainedTables(probed)).toEqual(['distribution_probe_orphan']);
      expect(primaryKeyProblems(probed)).toEqual(['distribution_probe: primary key (id, account_id)']);
      expect(indexProblems(probed)).toEqual([
        'distribution_probe.distribution_probe_lower (unique): (<expression>, account_id)',
        'distribution_probe.distribution_probe_other: (other)',
        'distribution_probe.distribution_probe_pkey (unique): (id, account_id)',
      ]);
      expect(foreignKeyProblems(probed)).toEqual([
        'distribution_probe.distribution_probe_other_account_id_fkey → distribution_probe_target: (other, account_id) → (account_id, id) does not pair account_id with account_id',
      ]);
    } finally {
      await trx.rollback();
    }
  });

  it('is what docs/scaling.md says of every table', () => {
    const doc = fs.readFileSync(path.resolve(import.meta.dirname, '../../docs/scaling.md'), 'utf8');
    const said = new Map<string, Becomes>();
    for (const m of doc.matchAll(/create_distributed_table\('onelink\.([a-z_]+)'/g)) said.set(m[1]!, 'distributed');
    for (const m of doc.matchAll(/create_reference_table\('onelink\.([a-z_]+)'/g)) said.set(m[1]!, 'reference');
    // The tables that stay on the coordinator: | `name` | local | why |
    for (const m of doc.matchAll(/^\| `([a-z_]+)` \| local \|/gm)) said.set(m[1]!, 'local');
    const actual = new Map(catalog.tables.map((t) => [t.name, becomes(t.name)]));
    expect(Object.fromEntries([...said].sort()), 'docs/scaling.md names each table once, as the schema has it').toEqual(Object.fromEntries([...actual].sort()));
  });
});
