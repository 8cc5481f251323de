// Rate limits that hold across replicas: express-rate-limit's counters kept in Postgres
// (rate_limit_hits) instead of each process's memory, so several web processes behind a load
// balancer allow a client `limit` requests a window between them, not `limit` each.
//
// Fixed windows: a key's first hit opens a window of `windowMs`; later hits in it count up; the first
// hit after it ends opens a new one. Each hit is ONE upsert that returns the new count: Postgres locks
// the row for the update, so concurrent hits (from any process) are counted exactly, with no
// read-then-write race. Ended windows are deleted in bulk at most once a window per process.
//
// When Postgres does not answer, the limiter lets the request through (passOnStoreError in
// registry.ts): every limited route needs the database itself, so the request then meets the same
// outage and gets its usual 5xx (webhook senders retry), rather than a 429 that would blame the client.
import type { Knex } from 'knex';
import type { ClientRateLimitInfo, Options, Store } from 'express-rate-limit';

/** A Store for one limiter, named by `limiter` (the route's method and path); each must differ. */
export type RateLimitStores = (limiter: string) => Store;

interface HitRow { hits: number; window_ends_at: Date }

const info = (row: HitRow | undefined): ClientRateLimitInfo | undefined => row && { totalHits: row.hits, resetTime: row.window_ends_at };

/** Stores for the limiters of one app, sharing their counters with every process on the same database. */
export function postgresRateLimitStores(db: Knex): RateLimitStores {
  const named = new Set<string>();
  let lastSweep = Date.now();

  // Old windows are harmless (the next hit of the key reuses its row) but would pile up with every
  // address ever seen: one process in a window deletes them, in one statement, off the request path.
  const sweepEnded = (windowMs: number) => {
    if (Date.now() - lastSweep < windowMs) return;
    lastSweep = Date.now();
    void db.raw('delete from rate_limit_hits where window_ends_at < now()').catch(() => undefined);
  };

  return (limiter) => {
    // Two limiters on one name would silently share a budget.
    if (named.has(limiter)) throw new Error(`Two rate limiters are named ${limiter}`);
    named.add(limiter);
    let windowMs = 60_000;
    return {
      prefix: `${limiter} `,
      init(options: Options) {
        windowMs = options.windowMs;
      },
      async increment(client) {
        sweepEnded(windowMs);
        const { rows } = await db.raw<{ rows: HitRow[] }>(
          `insert into rate_limit_hits as r (limiter, client, hits, window_ends_at)
           values (?, ?, 1, now() + ? * interval '1 millisecond')
           on conflict (limiter, client) do update set
             hits = case when r.window_ends_at > now() then r.hits + 1 else 1 end,
             window_ends_at = case when r.window_ends_at > now() then r.window_ends_at else excluded.window_ends_at end
           returning hits, window_ends_at`,
          [limiter, client, windowMs],
        );
        return info(rows[0])!;
      },
      async decrement(client) {
        await db.raw(`update rate_limit_hits set hits = hits - 1 where limiter = ? and client = ? and hits > 0 and window_ends_at > now()`, [limiter, client]);
      },
      async get(client) {
        const { rows } = await db.raw<{ rows: HitRow[] }>(
          'select hits, window_ends_at from rate_limit_hits where limiter = ? and client = ? and window_ends_at > now()',
          [limiter, client],
        );
        return info(rows[0]);
      },
      async resetKey(client) {
        await db.raw('delete from rate_limit_hits where limiter = ? and client = ?', [limiter, client]);
      },
      async resetAll() {
        await db.raw('delete from rate_limit_hits where limiter = ?', [limiter]);
      },
    };
  };
}
