// Postgres extensions the schema relies on: trigram and full-text search helpers,
// case-insensitive text (emails) and gen_random_uuid()/digest() from pgcrypto.
// They live in `public` so every schema on the search path sees them.
import type { Knex } from 'knex';

const extensions = ['pg_trgm', 'citext', 'pgcrypto', 'btree_gin'];

export async function up(knex: Knex): Promise<void> {
  for (const name of extensions) await knex.raw('create extension if not exists ?? with schema public', [name]);
}

export async function down(knex: Knex): Promise<void> {
  // Other schemas in the same database may use them too: drop only if nothing depends on them.
  for (const name of [...extensions].reverse()) await knex.raw('drop extension if exists ?? restrict', [name]);
}
