// Rate limits shared by replicas: two apps on one database (as two web processes behind a load
// balancer) allow a client the limit between them, not each; a window ends and counting starts
// again; concurrent hits are counted exactly; and a limiter whose database does not answer lets the
// request through to meet the outage itself.
import express from 'express';
import knexFactory from 'knex';
import type { Express } from 'express';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../extension/app.ts';
import { createKnex } from '../../extension/db/knex.ts';
import { sendData } from '../../extension/http/envelope.ts';
import { postgresRateLimitStores } from '../../extension/http/rate-limit-store.ts';
import { defineRoute, toExpressHandlers } from '../../extension/http/registry.ts';
import { createLogger } from '../../extension/logger.ts';
import { createTestApp, testServices, type TestApp } from '../helpers/app.ts';
import { testSchema } from '../helpers/database.ts';

let t: TestApp;
let second: Express;

beforeAll(async () => {
  t = await createTestApp({ env: { ONELINK_SIGN_IN_ATTEMPTS_PER_MINUTE: '5' } });
  // Another replica: its own app and pool on the same database.
  const pool = createKnex({ url: t.db.url, schema: testSchema });
  second = createApp({ services: testServices(pool, t.config), logger: createLogger(t.config), databaseMode: 'external' });
  second.locals.pool = pool;
});
afterAll(async () => {
  (second.locals.stopBackground as () => void)();
  (t.app.locals.stopBackground as () => void)();
  await (second.locals.pool as ReturnType<typeof createKnex>).destroy();
  await t.close();
});

const guess = (app: Express) => request(app).post('/api/v1/portal/sessions').send({ token: 'olm_1_guessing-a-token' });

describe('a rate limit shared by two replicas', () => {
  it('allows the limit in total across both, then 429 in the envelope on either; a new window starts afresh', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await guess(i % 2 ? second : t.app)).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401]);

    for (const app of [second, t.app]) {
      const refused = await guess(app);
      expect(refused.status).toBe(429);
      expect(refused.body).toEqual({ error: { code: 'rate_limited', message: expect.any(String), details: null } });
      expect(refused.headers.ratelimit).toMatch(/\br=0\b/);
    }
    // Other entry points keep their own count.
    expect((await request(second).post('/api/v1/auth/chatwoot').send({ access_token: 'guessing-a-token' })).status).not.toBe(429);

    // The minute is over (moved into the past rather than waited for): both replicas count from one again.
    await t.db.knex.raw(`update rate_limit_hits set window_ends_at = now() - interval '1 second'`);
    expect((await guess(second)).status).toBe(401);
    expect((await guess(t.app)).status).toBe(401);
    const { rows } = await t.db.knex.raw(`select hits from rate_limit_hits where limiter = 'POST /api/v1/portal/sessions'`);
    expect(rows).toEqual([{ hits: 2 }]);
  });
});

describe('the Postgres store', () => {
  it('counts concurrent hits from two pools exactly: 50 at once get 1..50, each once', async () => {
    const otherPool = createKnex({ url: t.db.url, schema: testSchema });
    try {
      const stores = [postgresRateLimitStores(t.db.knex)('test concurrent'), postgresRateLimitStores(otherPool)('test concurrent')];
      const counts = await Promise.all(Array.from({ length: 50 }, (_, i) => Promise.resolve(stores[i % 2]!.increment('198.51.100.7'))));
      expect(counts.map((c) => c.totalHits).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      expect(new Set(counts.map((c) => c.resetTime!.getTime())).size).toBe(1);
      expect((await stores[1]!.get!('198.51.100.7'))?.totalHits).toBe(50);
    } finally {
      await otherPool.destroy();
    }
  });

  it('ends a window after windowMs and deletes ended windows; decrements (failures-only limits) and resets one client', async () => {
    const store = postgresRateLimitStores(t.db.knex)('test window');
    await store.init!({ windowMs: 300 } as Parameters<NonNullable<typeof store.init>>[0]);
    expect((await store.increment('a')).totalHits).toBe(1);
    expect((await store.increment('a')).totalHits).toBe(2);
    await store.decrement('a');
    expect((await store.get!('a'))?.totalHits).toBe(1);
    expect((await store.increment('b')).totalHits).toBe(1);
    await new Promise((r) => setTimeout(r, 350));
    expect(await store.get!('a')).toBeUndefined();
    expect((await store.increment('a')).totalHits).toBe(1);
    // That hit, a window after the last clean-up, also deleted the ended windows ('b').
    const left = () => t.db.knex.raw(`select client from rate_limit_hits where limiter = 'test window'`).then(({ rows }) => rows);
    await expect.poll(left, { timeout: 2000, interval: 25 }).toEqual([{ client: 'a' }]);
    await store.resetKey('a');
    expect(await store.get!('a')).toBeUndefined();
    expect((await store.increment('a')).totalHits).toBe(1);
  });

  it('lets requests through when the database does not answer (they meet the outage themselves)', async () => {
    const quiet = () => undefined;
    const unreachable = knexFactory({ client: 'pg', connection: 'postgres://nobody:nothing@127.0.0.1:1/none', log: { warn: quiet, error: quiet, debug: quiet, deprecate: quiet } });
    const logged: unknown[] = [];
    const route = defineRoute({ method: 'get', path: '/limited', summary: 'test', tags: ['test'], access: { public: true }, rateLimitPerMinute: 1, handler: ({ res }) => sendData(res, { ok: true }) });
    const logger = { warn: () => undefined, error: (fields: object) => void logged.push(fields) };
    const app = express();
    app.get('/limited', ...toExpressHandlers(route, async () => Promise.reject(new Error('public')), 16, { stores: postgresRateLimitStores(unreachable), logger }));
    try {
      expect((await request(app).get('/limited')).status).toBe(200);
      expect((await request(app).get('/limited')).status).toBe(200);
      expect(logged).toHaveLength(2);
    } finally {
      await unreachable.destroy();
    }
  });

  it('refuses to build a rate-limited route without the shared stores', () => {
    const route = defineRoute({ method: 'post', path: '/unshared', summary: 'test', tags: ['test'], access: { public: true }, rateLimitPerMinute: 3, handler: () => undefined });
    expect(() => toExpressHandlers(route, async () => Promise.reject(new Error('public')), 16)).toThrow(/shared rate-limit stores/);
  });
});
