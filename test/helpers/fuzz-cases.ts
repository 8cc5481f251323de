// Schema-driven fuzz cases for every operation of our OpenAPI document, shared by the fuzz test
// (supertest, in-process) and the fault suite (fetch, through the load balancer). Each case starts
// from a valid request — real objects' ids in the path, the operation's required query, a body
// built from its schema — and breaks one thing: NUL or a lone surrogate in text, an id past 2^31
// or 2^63, a timestamp that is no real instant, a tampered cursor, a wrong type, a missing field,
// a huge array, a body that is not JSON. The caller sends the request and judges the answer.
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';

export type Schema = Record<string, unknown> & {
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
export interface Parameter { name: string; in: 'path' | 'query'; required: boolean; schema: Schema }
export interface Operation { method: string; path: string; guarded: boolean; parameters: Parameter[]; body?: Schema }

/** What a case breaks, and how. */
export type Case =
  | { where: 'path' | 'query'; name: string; value: unknown }
  | { where: 'body'; at: Array<string | number>; value: unknown }
  | { where: 'missing'; name: string }
  | { where: 'content-type'; type: string | null; raw: string }
  | { where: 'unknown-query'; value: string };

/** A case as an HTTP request: `url` is the path with its query; `body` is undefined for none. */
export interface FuzzRequest { method: string; url: string; contentType: string | null; body?: string }

export interface OpenApiDocument {
  paths: Record<string, Record<string, { parameters?: Parameter[]; security?: unknown[]; requestBody?: { content: Record<string, { schema: Schema }> } }>>;
}

/** Every operation of the document, with its parameters and JSON body schema. */
export function operationsOf(doc: OpenApiDocument): Operation[] {
  return Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({ method, path, guarded: Boolean(op.security?.length), parameters: op.parameters ?? [], body: op.requestBody?.content['application/json']?.schema })),
  );
}

/** Signing out ends the session every later request uses: that operation goes last. */
export function signOutLast(operations: Operation[]): Operation[] {
  return [...operations].sort((a, b) => Number(a.path === '/api/v1/auth/session') - Number(b.path === '/api/v1/auth/session'));
}

/** The standard error envelope (extension/http/errors.ts): `{ error: { code, message, details } }`. */
export function inErrorEnvelope(body: unknown): boolean {
  const error = (body as { error?: Record<string, unknown> } | undefined)?.error;
  return Boolean(error && typeof error.code === 'string' && typeof error.message === 'string' && 'details' in error);
}

export const describeCase = (op: Operation, c: Case) => {
  const shown = JSON.stringify(c, (_k, v: unknown) => (Array.isArray(v) && v.length > 5 ? `[${v.length} items]` : v));
  return `${op.method.toUpperCase()} ${op.path} ${shown.length > 300 ? `${shown.slice(0, 300)}…` : shown}`;
};

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

function branches(schema: Schema): Schema[] {
  return schema.anyOf ?? schema.oneOf ?? [];
}

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

// ---- requests ----------------------------------------------------------------------------------

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

/**
 * The case generator for one set of fixtures: `ids` holds a real object for each kind of id a
 * path or field takes (e.g. `dealId`), `uri` the address given where a schema asks for a URI.
 */
export function fuzzCases(ids: Record<string, string>, uri: string) {
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
        if (schema.format === 'uri') return uri;
        return 'x'.repeat(Math.max(schema.minLength ?? 1, name === 'q' ? 3 : 1));
      }
      default:
        return 'x';
    }
  }

  /** Random cases for an operation: any parameter, any place in its body, a missing field, a wrong media type. */
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

  /** An operation's cases: the targeted ones, then `randomRuns` drawn from `seed`. */
  function casesFor(op: Operation, seed: number, randomRuns: number): Case[] {
    return [...targetedCases(op), ...(randomRuns > 0 ? fc.sample(cases(op), { seed, numRuns: randomRuns }) : [])];
  }

  /** The valid request for `op` with the one thing `c` breaks. */
  function requestFor(op: Operation, c: Case): FuzzRequest {
    const pathValues: Record<string, unknown> = {};
    const query: Record<string, unknown> = {};
    for (const p of op.parameters) {
      if (p.in === 'path') pathValues[p.name] = validValue(p.schema, p.name);
      else if (p.required) query[p.name] = validValue(p.schema, p.name);
    }
    const body: unknown = op.body ? validValue(op.body) : undefined;
    let raw: string | undefined;
    let contentType: string | null = 'application/json';
    if (c.where === 'path') pathValues[c.name] = c.value;
    if (c.where === 'query') query[c.name] = c.value;
    if (c.where === 'unknown-query') query.fuzz = c.value;
    if (c.where === 'body') setAt(body, c.at, c.value);
    if (c.where === 'missing') delete (body as Record<string, unknown>)[c.name];
    if (c.where === 'content-type') ({ raw, type: contentType } = c);
    const path = op.path.replace(/\{([^}]+)\}/g, (_m, name: string) => encode(typeof pathValues[name] === 'string' ? (pathValues[name] as string) : JSON.stringify(pathValues[name])));
    const qs = queryString(query);
    if (raw === undefined && body !== undefined) raw = JSON.stringify(body);
    return { method: op.method, url: `${path}${qs ? `?${qs}` : ''}`, contentType, body: raw };
  }

  return { validValue, cases, targetedCases, casesFor, requestFor };
}

/** How many random cases per operation bring the total to at least `total` (targeted ones first). */
export function randomRunsFor(operations: Operation[], generator: ReturnType<typeof fuzzCases>, total: number): number {
  const targeted = operations.reduce((sum, op) => sum + generator.targetedCases(op).length, 0);
  return Math.max(0, Math.ceil((total - targeted) / operations.length));
}

// ---- fixtures ----------------------------------------------------------------------------------

/** An API call as the signed-in admin; `path` is under /api/v1. */
export type AdminCall = (method: 'get' | 'post' | 'patch' | 'put', path: string, body?: object) => Promise<{ status: number; body: unknown }>;

/** The few fields of answers the fixtures read. */
interface Created { id: string; stages: Array<{ id: string }>; checklist: Array<{ id: string }>; webhook_urls: { voice: string } }

/**
 * The objects fuzzed paths point at, made through the API as an admin: every capability on, a
 * deal, a task, a job with a checklist, a vendor with time off and a document, a rule, a view, a
 * custom field and Twilio settings with a number. Adds their ids to `ids`; other fixtures (users,
 * files, rows the API cannot make) are the caller's.
 */
export async function createApiFixtures(call: AdminCall, capabilityNames: readonly string[], ids: Record<string, string>) {
  const ok = async (what: string, pending: Promise<{ status: number; body: unknown }>) => {
    const res = await pending;
    if (res.status >= 300) throw new Error(`fuzz fixture ${what}: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
    return (res.body as { data: Created }).data;
  };
  await ok('capabilities', call('patch', '/admin/capabilities', { overrides: Object.fromEntries(capabilityNames.map((c) => [c, true])) }));
  const [pipeline] = (await ok('pipelines', call('get', '/pipelines'))) as unknown as Created[];
  if (!pipeline) throw new Error('fuzz fixture pipelines: the account has none');
  ids.pipelineId = pipeline.id;
  ids.stageId = pipeline.stages[0]!.id;
  const deal = await ok('deal', call('post', '/deals', { title: 'Fuzzed deal', pipeline_id: pipeline.id, chatwoot_contact_id: 9001, chatwoot_conversation_id: 77 }));
  ids.dealId = deal.id;
  ids.taskId = (await ok('task', call('post', '/tasks', { title: 'Fuzzed task', deal_id: deal.id, chatwoot_contact_id: 9001 }))).id;
  await ok('note', call('post', `/deals/${deal.id}/notes`, { body: 'A note' }));
  ids.contactId = '9001';
  ids.conversationId = '77';
  const template = await ok('checklist template', call('post', '/checklist-templates', { name: 'Template', items: [{ label: 'Photo of the meter' }] }));
  ids.templateId = template.id;
  const vendor = await ok('vendor', call('post', '/vendors', { name: 'Fuzzed vendor', categories: ['plumbing'] }));
  ids.vendorId = vendor.id;
  ids.timeOffId = (await ok('time off', call('post', `/vendors/${vendor.id}/time-off`, { starts_at: '2030-01-01T00:00:00Z', ends_at: '2030-01-02T00:00:00Z' }))).id;
  ids.documentId = (await ok('vendor document', call('post', `/vendors/${vendor.id}/documents`, { kind: 'insurance', expires_on: '2030-01-01' }))).id;
  const job = await ok('job', call('post', '/jobs', { summary: 'Fuzzed job', chatwoot_contact_id: 9001, checklist_template_id: template.id, deal_ids: [deal.id] }));
  ids.jobId = job.id;
  ids.itemId = (await ok('job', call('get', `/jobs/${job.id}`))).checklist[0]!.id;
  ids.ruleId = (
    await ok('automation rule', call('post', '/automation-rules', { name: 'Rule', pipeline_id: pipeline.id, trigger: 'deal_entered_stage', stage_id: pipeline.stages[1]!.id, action: 'create_task', config: { title: 'Call {deal_title}' } }))
  ).id;
  ids.viewId = (await ok('saved view', call('post', '/saved-views', { board: 'pipeline', name: 'View', filters: {}, shared: true }))).id;
  ids.fieldId = (await ok('custom field', call('post', '/admin/fields', { entity: 'deal', key: 'fuzzed', label: 'Fuzzed', type: 'text' }))).id;
  const twilio = await ok('twilio settings', call('put', '/twilio/settings', { account_sid: `AC${'c'.repeat(32)}`, auth_token: 'd'.repeat(32), forward_to: ['+14155550100'] }));
  const [, , , accountId, token] = new URL(twilio.webhook_urls.voice).pathname.split('/');
  ids.accountId = accountId!;
  ids.token = token!;
  ids.event = 'status';
  ids.numberId = (await ok('twilio number', call('post', '/twilio/numbers', { e164: '+14155550199', location: 'Downtown' }))).id;
}
