import { Validator } from '@seriousme/openapi-schema-validator';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.ts';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

type Layer = { route?: { path: string; methods: Record<string, boolean> }; handle?: { stack?: Layer[] }; rawPath?: string };

/** Every route Express actually serves, read from its router stack rather than from our registry. */
function servedRoutes(stack: Layer[], prefix = ''): string[] {
  return stack.flatMap((layer) => {
    if (layer.route) return Object.keys(layer.route.methods).map((method) => `${method} ${prefix}${layer.route!.path}`);
    if (layer.handle?.stack) return servedRoutes(layer.handle.stack, `${prefix}${layer.rawPath && layer.rawPath !== '/' ? layer.rawPath : ''}`);
    return [];
  });
}

describe('OpenAPI document', () => {
  it('is valid OpenAPI 3.1', async () => {
    const res = await request(t.app).get('/api/v1/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe('3.1.0');
    const validator = new Validator();
    const result = await validator.validate(res.body);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('describes every route the app serves', async () => {
    const doc = (await request(t.app).get('/api/v1/openapi.json')).body as { paths: Record<string, Record<string, unknown>> };
    const documented = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => `${method} ${path.replace(/\{([^}]+)\}/g, ':$1')}`),
    );
    const served = servedRoutes((t.app as unknown as { router: { stack: Layer[] } }).router.stack);
    expect(served.length).toBeGreaterThanOrEqual(5);
    expect(documented.sort()).toEqual(served.sort());
  });

  it('explains every operation and tag, marks public ones, and shows an example of every body', async () => {
    type Operation = { description?: string; tags: string[]; security?: unknown[]; requestBody?: { content: Record<string, { schema: object; example?: unknown }> } };
    const doc = (await request(t.app).get('/api/v1/openapi.json')).body as {
      paths: Record<string, Record<string, Operation>>;
      tags: Array<{ name: string; description: string }>;
    };
    const declared = new Map(doc.tags.map((tag) => [tag.name, tag.description]));
    const operations = Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ at: `${method} ${path}`, op })));
    for (const { at, op } of operations) {
      expect(op.description, at).toMatch(/\S/);
      expect(op.security, at).toBeDefined();
      for (const tag of op.tags) expect(declared.get(tag), `${at}: tag ${tag}`).toMatch(/\S/);
      if (op.requestBody) expect(op.requestBody.content['application/json']?.example, at).toBeDefined();
    }
    const publicOps = operations.filter(({ op }) => op.security!.length === 0).map(({ at }) => at);
    expect(publicOps).toContain('get /health/live');
    expect(publicOps).toContain('post /api/v1/auth/chatwoot');
    expect(publicOps).not.toContain('get /api/v1/jobs');
  });

  it('describes dates as strings with a format, in bodies and answers', async () => {
    const doc = (await request(t.app).get('/api/v1/openapi.json')).body as { paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { properties: Record<string, unknown> }; example: Record<string, unknown> }> } }>> };
    const body = doc.paths['/api/v1/jobs']!.post!.requestBody!.content['application/json']!;
    expect(JSON.stringify(body.schema.properties.sla_due_at)).toContain('"type":"string","format":"date-time"');
    expect(body.example.sla_due_at).toBe('2030-01-31T09:00:00Z');
    const { z } = await import('zod');
    const { timestamp } = await import('../../extension/http/schemas.ts');
    expect(z.toJSONSchema(z.object({ at: timestamp }), { io: 'output', unrepresentable: 'any' }).properties!.at).toMatchObject({ type: 'string', format: 'date-time' });
  });

  it('has a readable reference page listing every path', async () => {
    const doc = (await request(t.app).get('/api/v1/openapi.json')).body as { paths: Record<string, unknown> };
    const page = await request(t.app).get('/api/v1/docs');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    for (const path of Object.keys(doc.paths)) expect(page.text).toContain(path);
  });
});
