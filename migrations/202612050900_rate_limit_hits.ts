// Rate-limit counters shared by every replica (extension/http/rate-limit-store.ts): one row per
// limiter and client address, holding the hits of the current fixed window and when it ends.
//
//   rate_limit_hits   limiter (the route: method and path), client (the address the limit counts),
//                     hits, window_ends_at
//
// Not a tenant table: a limit counts requests before anyone is known (sign-in, webhooks, portal
// links), so no account owns a row and there is no account_id, row security or foreign key.
//
// Unlogged: every hit rewrites a row, and nothing here is worth a write-ahead log record — after a
// crash Postgres empties the table, which only gives every client a fresh minute. It is also not
// copied to standbys, which need no counters.
//
// Ended windows are reused by the next hit of the same key and deleted in bulk now and then by the
// store; the table stays as small as the number of clients seen in the last minute or so.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create unlogged table rate_limit_hits (
      limiter text not null,
      client text not null,
      hits integer not null check (hits >= 0),
      window_ends_at timestamptz not null,
      primary key (limiter, client)
    )`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop table if exists rate_limit_hits');
}
