// Schema-driven fuzzing of every operation in our own OpenAPI document (built from the route
// registry, so a route is covered the day it is added), signed in as an admin with every
// capability on. The cases come from test/helpers/fuzz-cases.ts (the fault suite sends the same
// ones through the load balancer): each starts from a valid request and breaks one thing. It
// asserts: no 5xx; every 4xx in the error envelope; no row of any table changed by a refused request.
//
// Bounded and seeded for CI; `npm run test:fuzz` runs longer (FUZZ_RUNS cases per operation on
// top of the targeted ones; FUZZ_SEED picks another seed).
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capabilities } from '../../extension/capabilities/profiles.ts';
import { withAccountForTests as withAccount } from '../../extension/db/tenant.ts';
import { apiAs } from '../helpers/api.ts';
import { changedTables, fingerprinter, type Fingerprinter } from '../helpers/db-fingerprint.ts';
import {
  createApiFixtures,
  describeCase,
  fuzzCases,
  inErrorEnvelope,
  operationsOf,
  signOutLast,
  type FuzzRequest,
  type OpenApiDocument,
  type Operation,
} from '../helpers/fuzz-cases.ts';
import { createClientPortalSession, createServiceToken, signInAgent, type SignedIn } from '../helpers/identity.ts';
import { useWorld } from '../helpers/world.ts';

const runsPerOperation = Number(process.env.FUZZ_RUNS ?? 6);
const seed = Number(process.env.FUZZ_SEED ?? 20261130);

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
  await createApiFixtures((method, path, body) => (method === 'get' ? api.get(path) : api[method](path, body)), capabilities, ids);
  const agent = await signInAgent(t, chatwoot, 1, 'agent', 'Fuzzed agent');
  ids.userId = agent.userId;
  ids.tokenId = (await createServiceToken(t, admin, ['deals:read'])).id;
  ids.portalUserId = (await createClientPortalSession(t, agent, 9001)).portalUserId;
  ids.artifactId = (
    await request(t.app).post(`/api/v1/jobs/${ids.jobId}/artifacts`).set('Authorization', `Bearer ${admin.token}`).attach('file', Buffer.from('%PDF-1.4\n%%EOF\n'), 'a.pdf')
  ).body.data.id;
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

  operations = operationsOf((await request(t.app).get('/api/v1/openapi.json')).body as OpenApiDocument);
  prints = await fingerprinter(t.db);
});
afterAll(() => prints?.close());

function send(r: FuzzRequest) {
  const req = (request(world.t.app) as unknown as Record<string, (url: string) => request.Test>)[r.method]!(r.url).set('Authorization', `Bearer ${admin.token}`);
  if (r.body === undefined) return req;
  if (r.contentType) req.set('Content-Type', r.contentType);
  else req.unset('Content-Type');
  return req.send(r.body);
}

describe('fuzzing every operation of the OpenAPI document', () => {
  it(`answers malformed requests with a 4xx in the envelope and changes nothing (seed ${seed})`, { timeout: 3_600_000 }, async () => {
    expect(operations.length).toBeGreaterThanOrEqual(100);
    const generator = fuzzCases(ids, world.chatwoot.url);
    const problems: string[] = [];
    const statuses: Record<string, number> = {};
    let before = await prints.take();
    let sent = 0;
    for (const op of signOutLast(operations)) {
      for (const c of generator.casesFor(op, seed, runsPerOperation)) {
        const res = await send(generator.requestFor(op, c));
        sent++;
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        const after = await prints.take();
        if (res.status >= 500) problems.push(`${res.status} ${describeCase(op, c)} → ${res.text.slice(0, 200)}`);
        else if (res.status >= 400) {
          if (!inErrorEnvelope(res.body)) problems.push(`${res.status} outside the envelope: ${describeCase(op, c)} → ${res.text.slice(0, 200)}`);
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
