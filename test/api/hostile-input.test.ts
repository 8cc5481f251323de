// Malformed input a hostile client sends, one case per class that used to reach Postgres and
// answer 500: NUL and lone surrogates in text and jsonb, Chatwoot ids past 2^31, timestamps that
// are not real instants, tampered cursors; plus non-JSON bodies, oversized validation answers and
// signed Twilio callbacks that cannot be stored. Each answer is a 4xx in the envelope and changes
// nothing.
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capabilities } from '../../extension/capabilities/profiles.ts';
import { maxFieldIssues } from '../../extension/http/errors.ts';
import { isPublic, type AnyRoute } from '../../extension/http/registry.ts';
import { sendTwilioCallback, newCallSid } from '../fakes/twilio.ts';
import { apiAs } from '../helpers/api.ts';
import { changedTables, fingerprinter, type Fingerprinter } from '../helpers/db-fingerprint.ts';
import { signInAgent, type SignedIn } from '../helpers/identity.ts';
import { useWorld } from '../helpers/world.ts';

const world = useWorld([1]);
let admin: SignedIn;
let api: ReturnType<typeof apiAs>;
let prints: Fingerprinter;
let pipeline: { id: string; stages: Array<{ id: string }> };
let deal: { id: string; version: number };

beforeAll(async () => {
  admin = await signInAgent(world.t, world.chatwoot, 1, 'administrator');
  api = apiAs(world.t, admin.token);
  const allOn = Object.fromEntries(capabilities.map((c) => [c, true]));
  expect((await api.patch('/admin/capabilities', { overrides: allOn })).status).toBe(200);
  pipeline = (await api.get('/pipelines')).body.data[0];
  deal = (await api.post('/deals', { title: 'Boiler service', pipeline_id: pipeline.id })).body.data;
  prints = await fingerprinter(world.t.db);
});
afterAll(() => prints?.close());

/** Runs a request that must be refused: a 4xx in the envelope, no row changed anywhere. */
async function refused(send: () => request.Test | Promise<request.Response>, status: number, code?: string) {
  const before = await prints.take();
  const res = await send();
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(Object.keys(res.body.error).sort()).toEqual(['code', 'details', 'message']);
  expect(res.body.error).toMatchObject({ code: code ?? expect.any(String), message: expect.any(String) });
  expect(changedTables(before, await prints.take())).toEqual([]);
  return res;
}

const fieldPaths = (res: request.Response) => (res.body.error.details.fields as Array<{ path: string }>).map((f) => f.path);

describe('NUL characters', () => {
  it('are refused in a free-text field with 422 naming the field', async () => {
    const res = await refused(() => api.post('/deals', { title: 'a\u0000b', pipeline_id: pipeline.id }), 422, 'validation_failed');
    expect(res.body.error.details.fields).toEqual([{ path: 'body.title', message: expect.stringMatching(/NUL/), code: 'invalid_characters' }]);
  });

  it('are refused in a text filter of a list', async () => {
    const res = await refused(() => request(world.t.app).get('/api/v1/deals?q=a%00b').set('Authorization', `Bearer ${admin.token}`), 422);
    expect(fieldPaths(res)).toEqual(['query.q']);
    await refused(() => request(world.t.app).get('/api/v1/search?q=ab%00cd').set('Authorization', `Bearer ${admin.token}`), 422);
  });

  it('are refused in a path parameter and in an object key', async () => {
    await refused(() => request(world.t.app).get('/api/v1/vendors/%00').set('Authorization', `Bearer ${admin.token}`), 422);
    const res = await refused(() => api.post('/deals', { title: 'Keyed', pipeline_id: pipeline.id, custom_fields: { 'bad\u0000key': 'x' } }), 422);
    expect(fieldPaths(res)[0]).toMatch(/^body\.custom_fields\./);
  });
});

describe('lone surrogates and NUL inside jsonb values', () => {
  it('are refused in custom fields, nested anywhere', async () => {
    const res = await refused(() => api.post('/deals', { title: 'Nested', pipeline_id: pipeline.id, custom_fields: { site: { notes: ['ok', '\ud800'] } } }), 422);
    expect(fieldPaths(res)).toEqual(['body.custom_fields.site.notes.1']);
  });

  it('are refused in job notes, field labels, saved-view filters and rule configs', async () => {
    await refused(() => api.post('/jobs', { summary: 'Leak', notes: 'tap \udc00 drips' }), 422);
    await refused(() => api.post('/admin/fields', { entity: 'deal', key: 'colour', label: 'Col\u0000our', type: 'text' }), 422);
    await refused(() => api.post('/saved-views', { board: 'pipeline', name: 'Mine', filters: { q: '\ud83d' } }), 422);
    await refused(
      () => api.post('/automation-rules', { name: 'R', pipeline_id: pipeline.id, trigger: 'deal_entered_stage', action: 'create_task', config: { title: 'Call \udfff back' } }),
      422,
    );
  });

  it('still accepts well-formed astral characters (a surrogate pair)', async () => {
    const res = await api.post('/deals', { title: 'Leak 🚿 fixed', pipeline_id: pipeline.id, custom_fields: {} });
    expect(res.status).toBe(201);
    expect(res.body.data.title).toBe('Leak 🚿 fixed');
  });
});

describe('Chatwoot ids', () => {
  it('stores ids past 2^31 (Chatwoot’s are bigint) and finds them again', async () => {
    const big = 2_147_483_648;
    const res = await api.post('/deals', { title: 'Big contact', pipeline_id: pipeline.id, chatwoot_contact_id: big, chatwoot_conversation_id: 2 ** 40 });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.data.chatwoot_contact_id).toBe(big);
    const listed = await api.get('/deals', { contact_id: String(big) });
    expect(listed.status).toBe(200);
    expect(listed.body.data.map((d: { id: string }) => d.id)).toEqual([res.body.data.id]);
    const timeline = await api.get(`/contacts/${big}/timeline`);
    expect(timeline.status).toBe(200);
    const task = await api.post('/tasks', { title: 'Call back', chatwoot_contact_id: big, chatwoot_team_id: 2 ** 33 });
    expect(task.status, JSON.stringify(task.body)).toBe(201);
  });

  it('refuses ids past 2^53 − 1 (and 2^63) and ids spelled other than as digits', async () => {
    await refused(() => api.post('/deals', { title: 'Huge', pipeline_id: pipeline.id, chatwoot_contact_id: 2 ** 63 }), 422);
    await refused(() => api.post('/deals', { title: 'Huge', pipeline_id: pipeline.id, chatwoot_contact_id: Number.MAX_SAFE_INTEGER + 2 }), 422);
    await refused(() => api.get('/contacts/9223372036854775808/timeline'), 422);
    for (const spelled of ['1e3', '0x10', ' 7', '-1', '0', '1.5']) await refused(() => api.get('/deals', { contact_id: spelled }), 422);
  });

  it('are bigint in every column that holds one', async () => {
    const { rows } = await world.t.db.knex.raw<{ rows: Array<{ table_name: string; column_name: string }> }>(`
      select table_name, column_name from information_schema.columns
       where table_schema = current_schema() and data_type = 'integer'
         and (column_name like 'chatwoot\\_%\\_id' or column_name in ('inbox_id', 'assignee_id', 'callback_team_id'))`);
    expect(rows).toEqual([]);
  });
});

describe('timestamps', () => {
  it('refuses instants outside a sane range, days that do not exist, and non-strings', async () => {
    for (const due of ['-271821-04-20T00:00:00.000Z', '+275760-09-13T00:00:00.000Z', '1899-12-31T23:59:59Z', '2026-02-30T10:00:00Z', '2026-02-28T24:00:00Z', 'yesterday', '2026-02-28', true, 0, 1_700_000_000_000]) {
      const res = await refused(() => api.post('/tasks', { title: 'When?', due_at: due }), 422);
      expect(fieldPaths(res), String(due)).toEqual(['body.due_at']);
    }
    await refused(() => api.get('/deals', { created_from: '2026-02-30T00:00:00Z' }), 422);
    await refused(() => api.get('/calls', { started_from: '-271821-04-20T00:00:00.000Z' }), 422);
  });

  it('takes required means required: null is not 1970', async () => {
    const vendor = (await api.post('/vendors', { name: 'Crew' })).body.data;
    const res = await refused(() => api.post(`/vendors/${vendor.id}/time-off`, { starts_at: null, ends_at: '2030-01-02T00:00:00Z' }), 422);
    expect(fieldPaths(res)).toEqual(['body.starts_at']);
  });

  it('refuses calendar dates that do not exist', async () => {
    await refused(() => api.patch(`/deals/${deal.id}`, { expected_close_date: '2026-02-30', version: deal.version }), 422);
  });

  it('keeps a valid instant exactly, whatever its offset', async () => {
    const res = await api.post('/tasks', { title: 'On time', due_at: '2030-06-30T09:15:00.250+02:00' });
    expect(res.status).toBe(201);
    expect(new Date(res.body.data.due_at).toISOString()).toBe('2030-06-30T07:15:00.250Z');
  });
});

describe('tampered cursors', () => {
  const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
  const tampered = [
    b64(['x', 'y']),
    b64(['x']),
    b64(['x', 'y', 'z']),
    b64([1, 2]),
    b64([null, null]),
    b64(['2026-02-30 10:00:00+00', 'not-a-uuid']),
    b64(['99999999999999999999', 'x']),
    b64(['\u0000', '\u0000']),
    b64({ a: 1 }),
    'not-a-cursor',
    '%%%',
  ];

  it('answer 400 invalid_cursor on every list that takes one', async () => {
    const lists = (world.t.app.locals.routes as AnyRoute[]).filter((r) => r.method === 'get' && !isPublic(r.access) && r.query && 'cursor' in ((r.query as unknown as { shape?: object }).shape ?? {}));
    expect(lists.length).toBeGreaterThanOrEqual(8);
    const ids: Record<string, string> = { dealId: deal.id, pipelineId: pipeline.id, stageId: pipeline.stages[0]!.id, contactId: '5', vendorId: '00000000-0000-4000-8000-000000000000' };
    for (const route of lists) {
      const path = route.path.replace(/:([A-Za-z]+)/g, (_m, name: string) => ids[name]!);
      for (const cursor of tampered) {
        const res = await api.get(path, { cursor });
        expect(res.status, `${route.path} ${cursor}: ${JSON.stringify(res.body)}`).toBe(400);
        expect(res.body.error.code).toBe('invalid_cursor');
      }
    }
  });
});

describe('request bodies that are not JSON', () => {
  it('answer 415 on a JSON route and change nothing', async () => {
    const res = await refused(
      () => request(world.t.app).patch(`/api/v1/deals/${deal.id}`).set('Authorization', `Bearer ${admin.token}`).set('Content-Type', 'text/plain').send(`{"title":"x","version":${deal.version}}`),
      415,
      'unsupported_media_type',
    );
    expect(res.body.error.message).toMatch(/application\/json/);
    await refused(() => request(world.t.app).post('/api/v1/deals').set('Authorization', `Bearer ${admin.token}`).type('form').send({ title: 'x', pipeline_id: pipeline.id }), 415);
  });
});

describe('validation answers', () => {
  it('stay small: at most 20 fields, short messages, the rest counted', async () => {
    const body = { name: 'Crew', postal_codes: Array.from({ length: 2000 }, () => 12345), categories: Array.from({ length: 50 }, () => ({})) };
    const res = await refused(() => api.post('/vendors', body), 422);
    expect(res.body.error.details.fields.length).toBeLessThanOrEqual(maxFieldIssues);
    expect(res.body.error.details.more).toBeGreaterThanOrEqual(2000);
    expect(JSON.stringify(res.body).length).toBeLessThan(8_000);
    const statuses = Array.from({ length: 500 }, () => 'not-a-uuid');
    const bulk = await refused(() => api.post('/deals/bulk', { deal_ids: statuses, stage_id: 'nope' }), 422);
    expect(JSON.stringify(bulk.body).length).toBeLessThan(8_000);
    for (const field of bulk.body.error.details.fields) expect(field.message.length).toBeLessThanOrEqual(200);
  });
});

describe('signed Twilio callbacks', () => {
  it('answer 400 and store nothing when a form field holds NUL', async () => {
    const authToken = 'f'.repeat(32);
    const settings = await api.put('/twilio/settings', { account_sid: `AC${'a'.repeat(32)}`, auth_token: authToken, forward_to: ['+14155550100'] });
    expect(settings.status, JSON.stringify(settings.body)).toBe(200);
    const path = new URL(settings.body.data.webhook_urls.status_callback).pathname;
    const fields = { AccountSid: `AC${'a'.repeat(32)}`, CallSid: newCallSid(), From: '+14155550111', To: '+14155550199', CallStatus: 'completed', CallerName: 'Eve\u0000' };
    await refused(() => sendTwilioCallback(world.t.app, world.t.config.PUBLIC_URL, path, fields, authToken), 400, 'invalid_body');
    const clean = await sendTwilioCallback(world.t.app, world.t.config.PUBLIC_URL, path, { ...fields, CallerName: 'Eve' }, authToken);
    expect(clean.status).toBe(204);
  });
});
