// A cheap fingerprint of every table of our schema (row count and a hash of every row), read as
// the database's superuser so row-level security hides nothing: compare two to prove that a
// refused request changed no row anywhere.
import pg from 'pg';
import { inject } from 'vitest';
import type { TestDatabase } from './database.ts';

/**
 * Tables a refused request may still touch: a session's last-use time moves on any authenticated
 * request, refused webhook deliveries are counted (never stored) so admins see them failing, and
 * rate limits count refused attempts (a sign-in with a bad token) on their limiter and address.
 */
const volatileTables = new Set(['sessions', 'webhook_refusals', 'rate_limit_hits']);

export interface Fingerprinter {
  take(): Promise<Record<string, string>>;
  close(): Promise<void>;
}

export async function fingerprinter(db: TestDatabase, schema = 'onelink'): Promise<Fingerprinter> {
  const url = new URL(inject('pgAdminUrl'));
  url.pathname = `/${db.name}`;
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  const { rows } = await client.query<{ name: string }>(
    `select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = $1 and c.relkind in ('r', 'p') order by 1`,
    [schema],
  );
  const tables = rows.map((r) => r.name).filter((name) => !volatileTables.has(name));
  const sql = tables
    .map((name) => {
      const table = `${client.escapeIdentifier(schema)}.${client.escapeIdentifier(name)}`;
      return `select ${client.escapeLiteral(name)} as name, count(*)::text || ':' || coalesce(sum(hashtextextended(t::text, 0)), 0)::text as print from ${table} t`;
    })
    .join(' union all ');
  return {
    async take() {
      const result = await client.query<{ name: string; print: string }>(sql);
      return Object.fromEntries(result.rows.map((r) => [r.name, r.print]));
    },
    close: () => client.end(),
  };
}

/** The tables whose fingerprint differs between two takes. */
export function changedTables(before: Record<string, string>, after: Record<string, string>) {
  return Object.keys({ ...before, ...after }).filter((name) => before[name] !== after[name]);
}
