// Row-level security and fast search. Under RLS, Postgres only lets a condition use an index
// when its operator is LEAKPROOF (cannot reveal rows through errors or side channels); the text
// search operators (@@, ILIKE, pg_trgm's <% and %) are not marked so, although none of them
// raises errors that depend on the row. Without the mark, a search filters every row of the
// account instead of reading the index. Marking them needs a superuser: the embedded database
// does it at start; with your own Postgres, run `leakproofSql` once as a superuser.
import type { Knex } from 'knex';
import pg from 'pg';

export const leakproofFunctions = [
  'pg_catalog.ts_match_vq(tsvector, tsquery)',
  'pg_catalog.texticlike(text, text)',
  'public.word_similarity_op(text, text)',
  'public.similarity_op(text, text)',
];

export const leakproofSql = leakproofFunctions.map((fn) => `alter function ${fn} leakproof;`).join('\n');

/** Marks the search operators leakproof in one database (connect as a superuser). */
export async function markSearchOperatorsLeakproof(superuserUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: superuserUrl });
  await client.connect();
  try {
    await client.query(leakproofSql);
  } finally {
    await client.end();
  }
}

/** The search operators not yet marked leakproof in the connected database. */
export async function searchOperatorsNotLeakproof(db: Knex): Promise<string[]> {
  const missing: string[] = [];
  for (const fn of leakproofFunctions) {
    const { rows } = await db.raw<{ rows: Array<{ leakproof: boolean }> }>('select proleakproof as leakproof from pg_proc where oid = ?::regprocedure', [fn]);
    if (!rows[0]?.leakproof) missing.push(fn);
  }
  return missing;
}
