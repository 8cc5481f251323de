// A worker's LISTEN connection survives the database dropping it (a Postgres restart ends every
// session): it connects again, says so (the worker then looks for what it missed), and hears the
// next announcement.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startListener, type Listener } from '../../extension/db/listener.ts';
import { createLogger } from '../../extension/logger.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.drop());

describe('a worker’s listen connection', () => {
  it('connects again after its session is ended, and hears announcements again', async () => {
    const heard: Array<string | undefined> = [];
    let reconnected = 0;
    const listener: Listener = await startListener({
      url: db.url,
      applicationName: 'onelink-listener-test',
      channel: 'onelink_listener_test',
      logger: createLogger({ LOG_LEVEL: 'silent', NODE_ENV: 'test' }),
      onNotification: (payload) => heard.push(payload),
      onReconnected: () => void (reconnected += 1),
    });
    try {
      await db.knex.raw(`select pg_notify('onelink_listener_test', 'before')`);
      await expect.poll(() => heard).toEqual(['before']);
      // What a restart does to it: the session is terminated from outside.
      const ended = await db.knex.raw(`select pg_terminate_backend(pid) as ok from pg_stat_activity where application_name = 'onelink-listener-test'`);
      expect(ended.rows).toEqual([{ ok: true }]);
      await expect.poll(() => reconnected, { timeout: 10_000 }).toBe(1);
      await db.knex.raw(`select pg_notify('onelink_listener_test', 'after')`);
      await expect.poll(() => heard).toEqual(['before', 'after']);
    } finally {
      await listener.stop();
    }
    // Stopped means stopped: no reconnect, nothing heard.
    await db.knex.raw(`select pg_notify('onelink_listener_test', 'late')`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect([heard.length, reconnected]).toEqual([2, 1]);
  });
});
