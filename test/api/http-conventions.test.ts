import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { sendData } from '../../extension/http/envelope.ts';
import { conflict } from '../../extension/http/errors.ts';
import { pageQuery, paginate } from '../../extension/http/pagination.ts';
import { defineRoute } from '../../extension/http/registry.ts';
import { createTestApp, type TestApp } from '../helpers/app.ts';

// Routes that exist only in this test, to exercise the conventions every real route inherits.
const probeRoutes = [
  defineRoute({
    method: 'post',
    path: '/probe/things/:thingId',
    summary: 'probe: validation',
    tags: ['probe'],
    access: { public: true },
    params: z.object({ thingId: z.uuid() }),
    query: z.object({ dryRun: z.enum(['true', 'false']).optional() }),
    body: z.object({ name: z.string().min(1), amount: z.number().int().nonnegative() }),
    handler: ({ params, body, res }) => sendData(res, { id: params.thingId, ...body }, {}, 201),
  }),
  defineRoute({
    method: 'get',
    path: '/probe/explode',
    summary: 'probe: unexpected error',
    tags: ['probe'],
    access: { public: true },
    handler: () => {
      throw new Error('secret internal detail: password=hunter2');
    },
  }),
  defineRoute({
    method: 'get',
    path: '/probe/database-refusal',
    summary: 'probe: a Postgres error escaping a handler',
    tags: ['probe'],
    access: { public: true },
    handler: () => {
      // Shaped like pg's DatabaseError: the statement and the offending value must not reach the client.
      throw Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), { code: '22021', severity: 'ERROR', where: 'insert into "deals" ("title") values ($1)', routine: 'report_invalid_encoding' });
    },
  }),
  defineRoute({
    method: 'get',
    path: '/probe/conflict',
    summary: 'probe: typed error',
    tags: ['probe'],
    access: { public: true },
    handler: () => {
      throw conflict('stale_version', 'The record changed since you loaded it', { current_version: 3 });
    },
  }),
];

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ extraRoutes: probeRoutes, env: { ONELINK_BODY_LIMIT_KB: '2' } });
});
afterAll(() => t.close());

const thingId = '4b8f3c8e-2f7a-4f5e-9a43-1d7f0f2b6c11';

describe('response envelope', () => {
  it('wraps success in { data, meta }', async () => {
    const res = await request(t.app).post(`/api/v1/probe/things/${thingId}`).send({ name: 'Boiler', amount: 1200 });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ data: { id: thingId, name: 'Boiler', amount: 1200 }, meta: {} });
  });

  it('maps typed errors to their status and code with details', async () => {
    const res = await request(t.app).get('/api/v1/probe/conflict');
    expect(res.status).toBe(409);
    expect(res.body).toEqual({
      error: { code: 'stale_version', message: 'The record changed since you loaded it', details: { current_version: 3 } },
    });
  });

  it('answers unknown API routes with 404 in the envelope', async () => {
    const res = await request(t.app).get('/api/v1/no/such/route');
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('route_not_found');
  });

  it('answers unknown non-API paths with 404 in the envelope too', async () => {
    const res = await request(t.app).get('/definitely-missing.txt');
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('route_not_found');
  });

  it('hides unexpected errors behind a 500 with no stack trace or internals', async () => {
    const res = await request(t.app).get('/api/v1/probe/explode');
    expect(res.status).toBe(500);
    expect(res.body.error.code).toBe('internal_error');
    expect(JSON.stringify(res.body)).not.toMatch(/hunter2|secret internal|at .*\.ts/);
  });
});

describe('database errors', () => {
  it('never hand SQL, codes or values to the client', async () => {
    const res = await request(t.app).get('/api/v1/probe/database-refusal');
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ error: { code: 'internal_error', message: expect.any(String), details: null } });
    expect(res.text).not.toMatch(/insert|deals|22021|UTF8|encoding/i);
  });
});

describe('input validation', () => {
  it('answers 422 with every failing field of params, query and body at once', async () => {
    const res = await request(t.app).post('/api/v1/probe/things/not-a-uuid?dryRun=maybe').send({ name: '', amount: -5 });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('validation_failed');
    const paths = res.body.error.details.fields.map((f: { path: string }) => f.path).sort();
    expect(paths).toEqual(['body.amount', 'body.name', 'params.thingId', 'query.dryRun']);
    for (const field of res.body.error.details.fields) expect(field.message).toEqual(expect.any(String));
  });

  it('answers 422 when the body is missing', async () => {
    const res = await request(t.app).post(`/api/v1/probe/things/${thingId}`);
    expect(res.status).toBe(422);
    expect(res.body.error.details.fields[0].path).toMatch(/^body/);
  });

  it('answers 400 for malformed JSON', async () => {
    const res = await request(t.app)
      .post(`/api/v1/probe/things/${thingId}`)
      .set('Content-Type', 'application/json')
      .send('{"name": "Boiler",');
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('malformed_json');
  });

  it('answers 413 for a body over the configured limit', async () => {
    const res = await request(t.app)
      .post(`/api/v1/probe/things/${thingId}`)
      .send({ name: 'x'.repeat(4096), amount: 1 });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('payload_too_large');
  });
});

describe('request ids', () => {
  it('puts a generated request id on every response', async () => {
    const res = await request(t.app).get('/health/live');
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('keeps a sane caller-supplied request id and replaces an unsafe one', async () => {
    const kept = await request(t.app).get('/health/live').set('X-Request-Id', 'lb-trace-0001');
    expect(kept.headers['x-request-id']).toBe('lb-trace-0001');
    const replaced = await request(t.app).get('/health/live').set('X-Request-Id', 'bad id\twith spaces');
    expect(replaced.headers['x-request-id']).not.toBe('bad id\twith spaces');
  });
});

describe('cursor pagination', () => {
  beforeAll(async () => {
    await t.db.knex.schema.createTable('pagination_probe', (table) => {
      table.integer('account_id').notNullable();
      table.integer('id').notNullable();
      table.text('name').notNullable();
      table.primary(['account_id', 'id']);
    });
    await t.db.knex('pagination_probe').insert(
      Array.from({ length: 25 }, (_, i) => ({ account_id: i % 2 === 0 ? 1 : 2, id: i + 1, name: `row ${i + 1}` })),
    );
  });

  it('walks every row exactly once, in order, with an opaque cursor', async () => {
    const seen: number[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await paginate<{ id: number }>(t.db.knex('pagination_probe').where({ account_id: 1 }), {
        keys: { id: 'integer' },
        limit: 5,
        cursor,
      });
      seen.push(...page.items.map((row) => row.id));
      cursor = page.nextCursor ?? undefined;
      pages++;
      if (cursor) expect(cursor).not.toMatch(/\d+,|\[|\{/); // opaque, not raw JSON
    } while (cursor);
    expect(seen).toEqual([1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25]);
    expect(pages).toBe(3);
  });

  it('pages in descending order too', async () => {
    const first = await paginate<{ id: number }>(t.db.knex('pagination_probe').where({ account_id: 2 }), {
      keys: { id: 'integer' },
      direction: 'desc',
      limit: 4,
    });
    const second = await paginate<{ id: number }>(t.db.knex('pagination_probe').where({ account_id: 2 }), {
      keys: { id: 'integer' },
      direction: 'desc',
      limit: 4,
      cursor: first.nextCursor!,
    });
    expect(first.items.map((r) => r.id)).toEqual([24, 22, 20, 18]);
    expect(second.items.map((r) => r.id)).toEqual([16, 14, 12, 10]);
  });

  it('rejects a tampered cursor with 400 invalid_cursor', async () => {
    await expect(
      paginate(t.db.knex('pagination_probe'), { keys: { id: 'integer' }, limit: 5, cursor: 'not-a-cursor' }),
    ).rejects.toMatchObject({ status: 400, code: 'invalid_cursor' });
  });

  it('caps the page size at 200', () => {
    expect(pageQuery.safeParse({ limit: '201' }).success).toBe(false);
    expect(pageQuery.safeParse({ limit: '0' }).success).toBe(false);
    expect(pageQuery.parse({})).toEqual({ limit: 50 });
    expect(pageQuery.parse({ limit: '200' }).limit).toBe(200);
  });
});
