import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateLatest, migrateRollback } from '../../extension/db/migrations.ts';
import { createTestApp, type TestApp } from '../helpers/app.ts';
import { testSchema } from '../helpers/database.ts';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

describe('health probes', () => {
  it('reports liveness', async () => {
    const res = await request(t.app).get('/health/live');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ data: { status: 'ok' }, meta: {} });
  });

  it('is ready when the database answers and every migration is applied', async () => {
    const res = await request(t.app).get('/health/ready');
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ status: 'ready', database: 'reachable', pending_migrations: [] });
  });

  it('is not ready (503) while a migration is pending, and ready again once applied', async () => {
    const reverted = await migrateRollback(t.db.knex, testSchema);
    expect(reverted.length).toBeGreaterThan(0);
    const pending = await request(t.app).get('/health/ready');
    expect(pending.status).toBe(503);
    expect(pending.body.error.code).toBe('not_ready');
    expect(pending.body.error.details.pending_migrations).toEqual(reverted.slice().sort());

    await migrateLatest(t.db.knex, testSchema);
    expect((await request(t.app).get('/health/ready')).status).toBe(200);
  });

  it('describes the service on /api/v1/status', async () => {
    const res = await request(t.app).get('/api/v1/status');
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({
      service: 'onelink',
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
      public_url: 'http://onelink.test',
      database: { mode: 'external', reachable: true },
      migrations: { pending: [] },
    });
    expect(res.body.data.migrations.applied).toBeGreaterThan(0);
  });
});
