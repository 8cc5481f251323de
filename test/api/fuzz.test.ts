// Schema-driven fuzzing of every operation in our own OpenAPI document (built from the route
// registry, so a route is covered the day it is added), signed in as an admin with every
// capability on. Each request starts from a valid one — real objects' ids in the path, the
// operation's required query, a body built from its schema — and breaks one thing: NUL or a lone
// surrogate in text, an id past 2^31 or 2^63, a timestamp that is no real instant, a tampered
// cursor, a wrong type, a missing field, a huge array, a body that is not JSON. It asserts: no
// 5xx; every 4xx in the error envelope; no row of any table changed by a refused request.
//
// Bounded and seeded for CI; `npm run test:fuzz` runs longer (FUZZ_RUNS cases per operation on
// top of the targeted ones; FUZZ_SEED picks another seed).
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capabilities } from '../../extension/capabilities/profiles.ts';
import { withAccountForTests as withAccount } from '../../extension/db/tenant.ts';
import { apiAs } from '../helpers/api.ts';
import { changedTables, fingerprinter, type Fingerprinter } from '../helpers/db-fingerprint.ts';
import { createClientPortalSession, createServiceToken, signInAgent, type SignedIn } from '../helpers/identity.ts';
import { useWorld } from '../helpers/world.ts';

const runsPerOperation = Number(process.env.FUZZ_RUNS ?? 6);
const seed = Number(process.env.FUZZ_SEED ?? 20261130);

type Schema = Record<string, unknown> & {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
  enum?: unknown[];
  const?: unknown;
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  additionalProperties?: Schema | boolean;
  propertyNames?: Schema;
  default?: unknown;
};
interface Parameter { name: string; in: 'path' | 'query'; required: boolean; schema: Schema }
interface Operation { method: string; path: string; guarded: boolean; parameters: Parameter[]; body?: Schema }

/** What a case breaks, and how. */
type Case =
  | { where: 'path' | 'query'; name: string; value: unknown }
  | { where: 'body'; at: Array<string | number>; value: unknown }
  | { where: 'missing'; name: string }
  | { where: 'content-type'; type: string | null; raw: string }
  | { where: 'unknown-query'; value: string };

const world = useWorld([1]);
let admin: SignedIn;
let operations: Operation[];
let prints: Fingerprinter;
/** A real object for each kind of id a path takes. */
const ids: Record<string, string> = {};

beforeAll(async () => {
  const { t, chatwoot } = world;
  admin = await signInAgent(t, chatwoot, 1, 'administrator', 'Fuzzing admin');
  const api = apiAs(t, admin.token);
  const allOn = Object.fromEntries(capabilities.map((c) => [c, true]));
  expect((await api.patch('/admin/capabilities', { overrides: allOn })).status).toBe(200);
  const agent = await signInAgent(t, chatwoot, 1, 'agent', 'Fuzzed agent');
  ids.userId = agent.userId;
  ids.tokenId = (await createServiceToken(t, admin, ['deals:read'])).id;
  ids.portalUserId = (await createClientPortalSession(t, agent, 9001)).portalUserId;
  const [pipeline] = (await api.get('/pipelines')).body.data;
  ids.pipelineId = pipeline.id;
  ids.stageId = pipeline.stages[0].id;
  const deal = (await api.post('/deals', { title: 'Fuzzed deal', pipeline_id: pipeline.id, chatwoot_contact_id: 9001, chatwoot_conversation_id: 77 })).body.data;
  ids.dealId = deal.id;
  ids.taskId = (await api.post('/tasks', { title: 'Fuzzed task', deal_id: deal.id, chatwoot_contact_id: 9001 })).body.data.id;
  await api.post(`/deals/${deal.id}/notes`, { body: 'A note' });
  ids.contactId = '9001';
  ids.conversationId = '77';
  const template = (await api.post('/checklist-templates', { name: 'Template', items: [{ label: 'Photo of the meter' }] })).body.data;
  ids.templateId = template.id;
  const vendor = (await api.post('/vendors', { name: 'Fuzzed vendor', categories: ['plumbing'] })).body.data;
  ids.vendorId = vendor.id;
  ids.timeOffId = (await api.post(`/vendors/${vendor.id}/time-off`, { starts_at: '2030-01-01T00:00:00Z', ends_at: '2030-01-02T00:00:00Z' })).body.data.id;
  ids.documentId = (await api.post(`/vendors/${vendor.id}/documents`, { kind: 'insurance', expires_on: '2030-01-01' })).body.data.id;
  const job = (await api.post('/jobs', { summary: 'Fuzzed job', chatwoot_contact_id: 9001, checklist_template_id: template.id, deal_ids: [deal.id] })).body.data;
  ids.jobId = job.id;
  ids.itemId = (await api.get(`/jobs/${job.id}`)).body.data.checklist[0].id;
  ids.artifactId = (
    await request(t.app).post(`/api/v1/jobs/${job.id}/artifacts`).set('Authorization', `Bearer ${admin.token}`).attach('file', Buffer.from('%PDF-1.4\n%%EOF\n'), 'a.pdf')
  ).body.data.id;
  ids.ruleId = (
    await api.post('/automation-rules', { name: 'Rule', pipeline_id: pipeline.id, trigger: 'deal_entered_stage', stage_id: pipeline.stages[1].id, action: 'create_task', config: { title: 'Call {deal_title}' } })
  ).body.data.id;
  ids.viewId = (await api.post('/saved-views', { board: 'pipeline', name: 'View', filters: {}, shared: true })).body.data.id;
  ids.fieldId = (await api.post('/admin/fields', { entity: 'deal', key: 'fuzzed', label: 'Fuzzed', type: 'text' })).body.data.id;
  const twilio = await api.put('/twilio/settings', { account_sid: `AC${'c'.repeat(32)}`, auth_token: 'd'.repeat(32), forward_to: ['+14155550100'] });
  const [, , , accountId, token] = new URL(twilio.body.data.webhook_urls.voice).pathname.split('/');
  ids.accountId = accountId!;
  ids.token = token!;
  ids.event = 'status';
  ids.numberId = (await api.post('/twilio/numbers', { e164: '+14155550199', location: 'Downtown' })).body.data.id;
  const [call] = await withAccount(t.db.knex, admin.accountId, { readOnly: false }, (trx) =>
    trx('calls').insert({ account_id: admin.accountId, call_sid: `CA${'e'.repeat(32)}`, from_e164: '+14155550177', status: 'missed', started_at: new Date() }).returning('id'),
  );
  ids.callId = call.id;
  const installation = await t.db.knex('installations').first('id', 'webhook_path_token');
  ids.pathToken = installation.webhook_path_token;
  const [delivery] = await t.db
    .knex('webhook_deliveries')
    .insert({ installation_id: installation.id, dedupe_key: 'fuzz-fixture', account_id: admin.accountId, event: 'contact_created', headers: {}, body: '{}', status: 'failed' })
    .returning('id');
  ids.deliveryId = delivery.id;
  for (const [name, id] of Object.entries(ids)) expect(id, `fixture ${name}`).toBeTruthy();

  const doc = (await request(t.app).get('/api/v1/openapi.json')).body as {
    paths: Record<string, Record<string, { parameters: Parameter[]; security?: unknown[]; requestBody?: { content: Record<string, { schema: Schema }> } }>>;
  };
  operations = Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({ method, path, guarded: Boolean(op.security?.length), parameters: op.parameters ?? [], body: op.requestBody?.content['application/json']?.schema })),
  );
  prints = await fingerprinter(t.db);
});
afterAll(() => prints?.close());

// ---- valid values, from the schema and the field's name -------------------------------------

const camel = (name: string) => name.replace(/_ids?$/, 'Id').replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
const idByName: Record<string, string> = { ownerId: 'userId', assigneeId: 'userId', callbackAssigneeId: 'userId', checklistTemplateId: 'templateId', afterId: 'dealId', beforeId: 'dealId' };
const byName: Record<string, unknown> = {
  account_sid: `AC${'c'.repeat(32)}`,
  key: 'fuzz_key',
  starts: '08:00',
  ends: '17:00',
  currency: 'USD',
  types: 'deal,contact',
  e164: '+14155550123',
  number: '+14155550123',
  forward_to: ['+14155550124'],
  phone: '+14155550125',
  tz: 'Europe/Berlin',
  time_zone: 'Europe/Berlin',
  status: 'open',
};

function branches(schema: Schema): Schema[] {
  return schema.anyOf ?? schema.oneOf ?? [];
}

function validValue(schema: Schema, name = ''): unknown {
  if (name in byName && !schema.enum && schema.const === undefined) return byName[name];
  if (schema.const !== undefined) return schema.const;
  if (schema.enum) return schema.enum[0];
  if (schema.allOf) return Object.assign({}, ...schema.allOf.map((s) => validValue(s, name)));
  const options = branches(schema);
  if (options.length) return validValue(options.find((s) => s.type !== 'null') ?? options[0]!, name);
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  switch (type) {
    case 'object': {
      const value: Record<string, unknown> = {};
      for (const [key, property] of Object.entries(schema.properties ?? {})) value[key] = validValue(property, key);
      return value;
    }
    case 'array':
      return Array.from({ length: Math.max(schema.minItems ?? 0, 1) }, () => validValue(schema.items ?? {}, name));
    case 'integer':
    case 'number':
      return Math.max(schema.minimum ?? 1, Math.min(schema.maximum ?? 5, 5));
    case 'boolean':
      return false;
    case 'string': {
      const known = ids[idByName[camel(name)] ?? camel(name)];
      if (schema.format === 'uuid') return known ?? randomUUID();
      if (schema.pattern === '^[1-9][0-9]{0,15}$') return known ?? '9001';
      if (schema.format === 'date-time') return '2030-01-02T03:04:05Z';
      if (schema.format === 'date') return '2030-01-31';
      if (schema.format === 'email') return 'fuzz@example.com';
      if (schema.format === 'uri') return world.chatwoot.url;
      return 'x'.repeat(Math.max(schema.minLength ?? 1, name === 'q' ? 3 : 1));
    }
    default:
      return 'x';
  }
}

// ---- hostile values ------------------------------------------------------------------------

/** Text Postgres refuses or cannot store: NUL, lone surrogates, and random UTF-16 with them. */
const hostileText = fc.oneof(
  fc.constantFrom('\u0000', 'a\u0000b', '\ud800', 'x\udfffy', '\ud83d', '\udc00\ud800'),
  fc
    .tuple(fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 12 }), fc.constantFrom('\u0000', '\ud800', '\udbff'))
    .map(([noise, bad]) => `${noise}${bad}`),
);
const outOfRangeIds = fc.constantFrom(2_147_483_648, 2 ** 53, 2 ** 63, -1, 0, 1.5, 1e308, '2147483648', '9223372036854775808', '1e3');
const badTimestamps = fc.constantFrom(
  '-271821-04-20T00:00:00.000Z',
  '+275760-09-13T00:00:00.000Z',
  '2026-02-30T00:00:00Z',
  '2026-02-30',
  '0000-01-01T00:00:00Z',
  '2026-13-01T00:00:00Z',
  'yesterday',
  true,
  null,
  0,
  1_700_000_000_000,
);
const wrongTypes = fc.constantFrom<unknown>(null, true, 1, -1, 'str', [], {}, [[[]]], { nested: { deeper: '\u0000' } });
const hugeArray = fc.constantFrom<unknown>(Array.from({ length: 3000 }, () => 'x'), Array.from({ length: 3000 }, () => ({ a: 1 })), Array.from({ length: 3000 }, (_, i) => i));
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const tamperedCursors = fc.constantFrom(
  b64(['x', 'y']),
  b64(['x']),
  b64(['a', 'b', 'c', 'd']),
  b64([1, 2]),
  b64([null, null]),
  b64(['2026-02-30 10:00:00+00', 'not-a-uuid']),
  b64(['99999999999999999999', '00000000-0000-0000-0000-000000000000']),
  b64(['\u0000', '\ud800']),
  b64({ a: 1 }),
  'not-a-cursor',
  '%%%',
);
const anyHostile = fc.oneof(hostileText, outOfRangeIds, badTimestamps, wrongTypes);

/** A hostile value suited to a field: its own kind of trouble first, then anything. */
function hostileFor(schema: Schema | undefined, name: string): fc.Arbitrary<unknown> {
  const flat = schema ? [schema, ...branches(schema)] : [];
  if (name === 'cursor') return tamperedCursors;
  if (flat.some((s) => s.format === 'date-time' || s.format === 'date')) return fc.oneof(badTimestamps, hostileText);
  if (flat.some((s) => s.type === 'integer' || s.pattern === '^[1-9][0-9]{0,15}$')) return fc.oneof(outOfRangeIds, hostileText, wrongTypes);
  if (flat.some((s) => s.type === 'array')) return fc.oneof(hugeArray, hostileText, wrongTypes);
  if (flat.some((s) => s.type === 'object')) return fc.oneof(hostileText.map((v) => ({ key: v })), hostileText.map((v) => ({ [v]: 'value' })), wrongTypes);
  return fc.oneof(hostileText, anyHostile);
}

/** Every place inside a body a value can be replaced at (top-level fields, array items, nested fields). */
function placesIn(value: unknown, at: Array<string | number> = []): Array<Array<string | number>> {
  if (Array.isArray(value)) return value.slice(0, 3).flatMap((item, i) => [[...at, i], ...placesIn(item, [...at, i])]);
  if (value && typeof value === 'object') return Object.entries(value).flatMap(([key, item]) => [[...at, key], ...placesIn(item, [...at, key])]);
  return [];
}

function schemaAt(schema: Schema | undefined, at: Array<string | number>): Schema | undefined {
  let current = schema;
  for (const step of at) {
    if (!current) return undefined;
    const flat = [current, ...branches(current), ...(current.allOf ?? [])];
    current = typeof step === 'number' ? flat.find((s) => s.items)?.items : flat.find((s) => s.properties?.[step])?.properties?.[step] ?? flat.find((s) => typeof s.additionalProperties === 'object')?.additionalProperties as Schema | undefined;
  }
  return current;
}

function cases(op: Operation): fc.Arbitrary<Case> {
  const options: Array<fc.Arbitrary<Case>> = [];
  for (const p of op.parameters) {
    options.push(hostileFor(p.schema, p.name).map((value) => ({ where: p.in, name: p.name, value })));
  }
  if (op.body) {
    const body = validValue(op.body);
    const places = placesIn(body);
    if (places.length) {
      options.push(
        fc.constantFrom(...places).chain((at) => hostileFor(schemaAt(op.body, at), String(at[at.length - 1])).map((value) => ({ where: 'body' as const, at, value }))),
      );
    }
    const required = op.body.required ?? [];
    if (required.length) options.push(fc.constantFrom(...required).map((name) => ({ where: 'missing' as const, name })));
    options.push(
      fc.constantFrom<Case>(
        { where: 'content-type', type: 'text/plain', raw: JSON.stringify(body) },
        { where: 'content-type', type: 'application/x-www-form-urlencoded', raw: 'a=1&b=%00' },
        { where: 'content-type', type: null, raw: JSON.stringify(body) },
        { where: 'content-type', type: 'application/json', raw: '"just a string"' },
        { where: 'content-type', type: 'application/json', raw: '[1,2,3]' },
        { where: 'content-type', type: 'application/json', raw: 'null' },
        { where: 'content-type', type: 'application/json', raw: '{"a":' },
      ),
    );
  }
  // Nothing to break but the query string: only NUL survives the trip through a URL (a lone
  // surrogate cannot be percent-encoded, so the server sees its bytes as plain text).
  if (!options.length) options.push(hostileText.filter((v) => v.includes('\u0000') && !/\p{Cs}/u.test(v)).map((value) => ({ where: 'unknown-query' as const, value })));
  return fc.oneof(...options);
}

/** The five classes, each value sent to every field of its kind whatever the seed. */
function targetedValues(schema: Schema | undefined, name: string): unknown[] {
  const flat = schema ? [schema, ...branches(schema)] : [];
  if (name === 'cursor') return [b64(['x', 'y']), b64([1, 2]), b64(['2026-02-30 10:00:00+00', 'not-a-uuid']), b64(['99999999999999999999', randomUUID()])];
  if (flat.some((s) => s.format === 'date-time' || s.format === 'date')) return ['-271821-04-20T00:00:00.000Z', '2026-02-30T00:00:00Z', true];
  if (flat.some((s) => s.type === 'integer' || s.pattern === '^[1-9][0-9]{0,15}$')) return [2_147_483_648, 2 ** 63];
  if (flat.some((s) => s.type === 'array')) return [Array.from({ length: 3000 }, (_, i) => i), ['\u0000']];
  if (flat.some((s) => s.type === 'object')) return [{ key: 'a\u0000b' }, { nested: { deeper: ['\ud800'] } }];
  return ['a\u0000b', '\ud800'];
}

/** The targeted cases every operation gets: every parameter and every place in its body, each class once. */
function targetedCases(op: Operation): Case[] {
  const list: Case[] = [];
  for (const p of op.parameters) for (const value of targetedValues(p.schema, p.name)) list.push({ where: p.in, name: p.name, value });
  if (op.body) {
    const body = validValue(op.body);
    for (const at of placesIn(body)) for (const value of targetedValues(schemaAt(op.body, at), String(at[at.length - 1]))) list.push({ where: 'body', at, value });
    list.push({ where: 'content-type', type: 'text/plain', raw: JSON.stringify(body) });
  }
  if (!list.length) list.push({ where: 'unknown-query', value: 'a\u0000b' });
  return list;
}

// ---- sending ----------------------------------------------------------------------------------

/** Percent-encodes text, lone surrogates included (as the bytes a careless encoder would send). */
const encode = (text: string) =>
  text.replace(/[\ud800-\udbff][\udc00-\udfff]|[\s\S]/g, (c) => (c.length === 1 && c >= '\ud800' && c <= '\udfff' ? '%ED%A0%80' : encodeURIComponent(c)));

function queryString(query: Record<string, unknown>) {
  const parts: string[] = [];
  const add = (key: string, value: unknown) => {
    if (Array.isArray(value)) value.slice(0, 50).forEach((v) => add(key, v));
    else if (value && typeof value === 'object') Object.entries(value).forEach(([k, v]) => add(`${key}[${k}]`, v));
    else parts.push(`${encode(key)}=${encode(String(value))}`);
  };
  Object.entries(query).forEach(([key, value]) => add(key, value));
  return parts.join('&');
}

function setAt(target: unknown, at: Array<string | number>, value: unknown) {
  let node = target as Record<string | number, unknown>;
  for (const step of at.slice(0, -1)) node = node[step] as Record<string | number, unknown>;
  node[at[at.length - 1]!] = value;
}

function send(op: Operation, c: Case) {
  const pathValues: Record<string, unknown> = {};
  const query: Record<string, unknown> = {};
  for (const p of op.parameters) {
    if (p.in === 'path') pathValues[p.name] = validValue(p.schema, p.name);
    else if (p.required) query[p.name] = validValue(p.schema, p.name);
  }
  const body: unknown = op.body ? validValue(op.body) : undefined;
  let raw: string | undefined;
  let type: string | null = 'application/json';
  if (c.where === 'path') pathValues[c.name] = c.value;
  if (c.where === 'query') query[c.name] = c.value;
  if (c.where === 'unknown-query') query.fuzz = c.value;
  if (c.where === 'body') setAt(body, c.at, c.value);
  if (c.where === 'missing') delete (body as Record<string, unknown>)[c.name];
  if (c.where === 'content-type') ({ raw, type } = c);
  const path = op.path.replace(/\{([^}]+)\}/g, (_m, name: string) => encode(typeof pathValues[name] === 'string' ? (pathValues[name] as string) : JSON.stringify(pathValues[name])));
  const qs = queryString(query);
  const req = (request(world.t.app) as unknown as Record<string, (url: string) => request.Test>)[op.method]!(`${path}${qs ? `?${qs}` : ''}`).set('Authorization', `Bearer ${admin.token}`);
  if (raw === undefined && body !== undefined) raw = JSON.stringify(body);
  if (raw === undefined) return req;
  if (type) req.set('Content-Type', type);
  else req.unset('Content-Type');
  return req.send(raw);
}

const describeCase = (op: Operation, c: Case) => {
  const shown = JSON.stringify(c, (_k, v: unknown) => (Array.isArray(v) && v.length > 5 ? `[${v.length} items]` : v));
  return `${op.method.toUpperCase()} ${op.path} ${shown.length > 300 ? `${shown.slice(0, 300)}…` : shown}`;
};

describe('fuzzing every operation of the OpenAPI document', () => {
  it(`answers malformed requests with a 4xx in the envelope and changes nothing (seed ${seed})`, { timeout: 3_600_000 }, async () => {
    expect(operations.length).toBeGreaterThanOrEqual(100);
    // Signing out ends the session every later request uses: that operation goes last.
    const ordered = [...operations].sort((a, b) => Number(a.path === '/api/v1/auth/session') - Number(b.path === '/api/v1/auth/session'));
    const problems: string[] = [];
    const statuses: Record<string, number> = {};
    let before = await prints.take();
    let sent = 0;
    for (const op of ordered) {
      const all = [...targetedCases(op), ...fc.sample(cases(op), { seed, numRuns: runsPerOperation })];
      for (const c of all) {
        const res = await send(op, c);
        sent++;
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        const after = await prints.take();
        if (res.status >= 500) problems.push(`${res.status} ${describeCase(op, c)} → ${res.text.slice(0, 200)}`);
        else if (res.status >= 400) {
          const error = (res.body as { error?: Record<string, unknown> } | undefined)?.error;
          if (!error || typeof error.code !== 'string' || typeof error.message !== 'string' || !('details' in error)) {
            problems.push(`${res.status} outside the envelope: ${describeCase(op, c)} → ${res.text.slice(0, 200)}`);
          }
          const changed = changedTables(before, after);
          if (changed.length) problems.push(`${res.status} yet changed ${changed.join(', ')}: ${describeCase(op, c)}`);
          if (res.status === 401 && op.guarded) problems.push(`401 (the fuzzing session was lost): ${describeCase(op, c)}`);
        }
        before = after;
      }
    }
    console.info(`fuzz: ${sent} requests over ${operations.length} operations (seed ${seed}); statuses ${JSON.stringify(statuses)}`);
    expect(problems.slice(0, 40)).toEqual([]);
  });
});
