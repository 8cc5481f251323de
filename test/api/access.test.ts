// RBAC and tenancy, generated from the route registry and the permission table, so a new route
// is covered the day it is added: every route × every role, and every id-taking route across accounts.
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { beforeAll, describe, expect, it } from 'vitest';
import { rolePermissions, roles, vendorOwnerPermissions, type Permission, type Role } from '../../extension/auth/permissions.ts';
import { capabilities } from '../../extension/capabilities/profiles.ts';
import { withAccountForTests as withAccount } from '../../extension/db/tenant.ts';
import { isPublic, type AnyRoute } from '../../extension/http/registry.ts';
import type { FakeChatwoot } from '../fakes/chatwoot.ts';
import type { TestApp } from '../helpers/app.ts';
import { useWorld } from '../helpers/world.ts';
import { createClientPortalSession, createServiceToken, createVendorPortalSession, inviteVendorUser, signInAgent, signInDispatcher, type SignedIn } from '../helpers/identity.ts';

const world = useWorld([1, 2]);
let t: TestApp;
let chatwoot: FakeChatwoot;
let routes: AnyRoute[];
const principals = {} as Record<Role, { token: string; permissions: Set<Permission> }>;
const serviceScopes: Permission[] = ['deals:read', 'jobs:read', 'search:read'];
let adminA: SignedIn;
let adminB: SignedIn;
/** One object of account B for each kind of id a route takes. */
const objectsOfB: Record<string, string> = {};

async function vendorSession(accountId: number) {
  const [vendor] = await withAccount(t.db.knex, accountId, { readOnly: false }, (trx) => trx('vendors').insert({ account_id: accountId, name: 'Vendor Crew Ltd' }).returning('id'));
  return (await createVendorPortalSession(t, accountId, vendor.id)).token;
}

beforeAll(async () => {
  ({ t, chatwoot } = world);
  adminA = await signInAgent(t, chatwoot, 1, 'administrator', 'Admin A');
  adminB = await signInAgent(t, chatwoot, 2, 'administrator', 'Admin B');
  // Every capability on in account A, so only permissions decide there.
  const allOn = Object.fromEntries(capabilities.map((c) => [c, true]));
  for (const admin of [adminA, adminB]) {
    const res = await request(t.app).patch('/api/v1/admin/capabilities').set('Authorization', `Bearer ${admin.token}`).send({ overrides: allOn });
    expect(res.status).toBe(200);
  }
  const agent = await signInAgent(t, chatwoot, 1, 'agent');
  const dispatcher = await signInDispatcher(t, chatwoot, 1, adminA);
  const client = await createClientPortalSession(t, agent, 5001);
  const service = await createServiceToken(t, adminA, serviceScopes);
  const tokens: Record<Role, string> = {
    admin: adminA.token,
    agent: agent.token,
    dispatcher: dispatcher.token,
    vendor: await vendorSession(adminA.accountId),
    client: client.token,
    service: service.token,
  };
  for (const role of roles) {
    // The vendor principal is the vendor's owner (who also manages the vendor's team).
    const extra = role === 'service' ? serviceScopes : role === 'vendor' ? vendorOwnerPermissions : [];
    const inherited = role === 'dispatcher' ? [...rolePermissions.agent, ...rolePermissions.dispatcher] : rolePermissions[role];
    principals[role] = { token: tokens[role], permissions: new Set([...inherited, ...extra]) };
  }

  // Account B's objects, one per route parameter name.
  const agentB = await signInAgent(t, chatwoot, 2, 'agent', 'Agent B');
  objectsOfB.userId = agentB.userId;
  objectsOfB.tokenId = (await createServiceToken(t, adminB, ['deals:read'])).id;
  const clientB = await createClientPortalSession(t, agentB, 9001);
  objectsOfB.portalUserId = clientB.portalUserId;
  const asB = (method: 'get' | 'post' | 'put', path: string, body?: object) =>
    request(t.app)[method](`/api/v1${path}`).set('Authorization', `Bearer ${adminB.token}`).send(body);
  const [pipelineB] = (await asB('get', '/pipelines')).body.data;
  objectsOfB.pipelineId = pipelineB.id;
  objectsOfB.stageId = pipelineB.stages[0].id;
  const dealB = (await asB('post', '/deals', { title: 'Deal of account B', pipeline_id: pipelineB.id, chatwoot_contact_id: 9001 })).body.data;
  objectsOfB.dealId = dealB.id;
  objectsOfB.quoteId = (await asB('post', `/deals/${dealB.id}/quotes`, { title: 'Quote of account B', amount: '120.00', currency: 'EUR' })).body.data.id;
  // The client's general conversation (created on first look).
  objectsOfB.threadId = (await request(t.app).get('/api/v1/portal/client/threads').set('Authorization', `Bearer ${clientB.token}`)).body.data[0].id;
  objectsOfB.taskId = (await asB('post', '/tasks', { title: 'Task of account B', deal_id: dealB.id, chatwoot_contact_id: 9001 })).body.data.id;
  await asB('post', `/deals/${dealB.id}/notes`, { body: 'Note of account B' });
  objectsOfB.contactId = '9001';
  objectsOfB.conversationId = '77';
  const templateB = (await asB('post', '/checklist-templates', { name: 'Template of B', items: [{ label: 'Photo of the meter' }] })).body.data;
  objectsOfB.templateId = templateB.id;
  const vendorB = (await asB('post', '/vendors', { name: 'Vendor of B', categories: ['plumbing'] })).body.data;
  objectsOfB.vendorId = vendorB.id;
  const vendorUserB = await inviteVendorUser(t, { accountId: adminB.accountId, vendorId: vendorB.id, staffToken: adminB.token });
  objectsOfB.sessionId = (
    await withAccount(t.db.knex, adminB.accountId, { readOnly: true }, (trx) => trx('sessions').where({ account_id: adminB.accountId, subject_id: vendorUserB.portalUserId }).first('id'))
  ).id;
  objectsOfB.timeOffId = (await asB('post', `/vendors/${vendorB.id}/time-off`, { starts_at: '2030-01-01T00:00:00Z', ends_at: '2030-01-02T00:00:00Z' })).body.data.id;
  objectsOfB.documentId = (await asB('post', `/vendors/${vendorB.id}/documents`, { kind: 'insurance', expires_on: '2030-01-01' })).body.data.id;
  const jobB = (await asB('post', '/jobs', { summary: 'Job of account B', chatwoot_contact_id: 9001, checklist_template_id: templateB.id, deal_ids: [dealB.id] })).body.data;
  objectsOfB.jobId = jobB.id;
  objectsOfB.itemId = (await asB('get', `/jobs/${jobB.id}`)).body.data.checklist[0].id;
  objectsOfB.offerId = (await asB('post', `/jobs/${jobB.id}/offers`, { vendor_id: vendorB.id, compliance_override_reason: 'Fixture of account B' })).body.data.id;
  const pdf = Buffer.from('%PDF-1.4\n%%EOF\n');
  objectsOfB.artifactId = (
    await request(t.app).post(`/api/v1/jobs/${jobB.id}/artifacts`).set('Authorization', `Bearer ${adminB.token}`).attach('file', pdf, 'b.pdf')
  ).body.data.id;
  objectsOfB.ruleId = (
    await asB('post', '/automation-rules', { name: 'Rule of B', pipeline_id: pipelineB.id, trigger: 'deal_entered_stage', stage_id: pipelineB.stages[1].id, action: 'create_job', config: { summary: 'Job for {deal_title}' } })
  ).body.data.id;
  objectsOfB.viewId = (await asB('post', '/saved-views', { board: 'pipeline', name: 'View of B', filters: {}, shared: true })).body.data.id;
  objectsOfB.fieldId = (await asB('post', '/admin/fields', { entity: 'deal', key: 'b_only', label: 'Field of B', type: 'text' })).body.data.id;
  objectsOfB.numberId = (await asB('post', '/twilio/numbers', { e164: '+14155550188', location: 'B town' })).body.data.id;
  const [callB] = await withAccount(t.db.knex, adminB.accountId, { readOnly: false }, (trx) =>
    trx('calls').insert({ account_id: adminB.accountId, call_sid: `CA${'b'.repeat(32)}`, from_e164: '+14155550177', status: 'missed', started_at: new Date() }).returning('id'),
  );
  objectsOfB.callId = callB.id;
  const [notificationB] = await withAccount(t.db.knex, adminB.accountId, { readOnly: false }, (trx) =>
    trx('notifications').insert({ account_id: adminB.accountId, event_id: 1, event: 'staff.job_created', recipient_kind: 'user', recipient_id: adminB.userId, title: 'For B', body: 'Only B' }).returning('id'),
  );
  objectsOfB.notificationId = notificationB.id;
  // Template routes take an event name, not an object id: B's own text must stay B's (checked in the probe).
  await asB('put', '/admin/notifications/templates/client.job_completed', { body: 'Text of account B' });
  objectsOfB.event = 'client.job_completed';
  for (const [name, id] of Object.entries(objectsOfB)) expect(id, `account-B fixture ${name}`).toBeTruthy();
  const installation = await t.db.knex('installations').first('id');
  const [delivery] = await t.db
    .knex('webhook_deliveries')
    .insert({ installation_id: installation.id, dedupe_key: 'b-fixture', account_id: adminB.accountId, event: 'contact_created', headers: {}, body: '{}', status: 'failed' })
    .returning('id');
  objectsOfB.deliveryId = delivery.id;

  // Signing out everywhere ends every principal's sessions mid-matrix: test/api/client-access.test.ts and
  // vendor-users.test.ts cover it (it takes no id, so the cross-tenant probe has nothing to ask of it).
  routes = (t.app.locals.routes as AnyRoute[]).filter((r) => !isPublic(r.access) && !(r.method === 'delete' && r.path === '/portal/sessions'));
  // Signing out revokes the caller's session: probe it last.
  routes.sort((a, b) => Number(a.path === '/auth/session') - Number(b.path === '/auth/session'));
});

/** Valid bodies for id-taking routes, so the probe reaches the lookup instead of stopping at 422. */
const sampleBodies: Record<string, object> = {
  'put /admin/users/:userId/dispatcher': { granted: true },
  'put /portal/clients/:portalUserId/active': { active: false },
  'patch /pipelines/:pipelineId': { name: 'Renamed' },
  'post /pipelines/:pipelineId/stages': { name: 'Extra' },
  'put /pipelines/:pipelineId/stage-order': { stage_ids: [randomUUID()] },
  'patch /stages/:stageId': { name: 'Renamed' },
  'patch /deals/:dealId': { title: 'Renamed', version: 1 },
  'post /deals/:dealId/move': { stage_id: randomUUID(), version: 1 },
  'post /deals/:dealId/status': { status: 'won', version: 1 },
  'post /deals/:dealId/notes': { body: 'Planted note' },
  'patch /tasks/:taskId': { title: 'Renamed', version: 1 },
  'post /tasks/:taskId/status': { status: 'done' },
  'patch /jobs/:jobId': { summary: 'Renamed', version: 1 },
  'post /jobs/:jobId/status': { status: 'triaged' },
  'post /jobs/:jobId/notes': { body: 'Planted note' },
  'post /jobs/:jobId/checklist': { label: 'Planted item' },
  'put /jobs/:jobId/checklist/:itemId': { done: true },
  'post /jobs/:jobId/assignment': { vendor_id: randomUUID() },
  'post /jobs/:jobId/unassign': { reason: 'Planted' },
  'patch /checklist-templates/:templateId': { name: 'Renamed' },
  'patch /vendors/:vendorId': { name: 'Renamed', version: 1 },
  'put /vendors/:vendorId/availability': { slots: [{ weekday: 1, starts: '08:00', ends: '17:00' }] },
  'post /vendors/:vendorId/time-off': { starts_at: '2031-01-01T00:00:00Z', ends_at: '2031-01-02T00:00:00Z' },
  'post /vendors/:vendorId/documents': { kind: 'licence' },
  'put /vendors/:vendorId/clients/:contactId': { relation: 'blocked' },
  'patch /automation-rules/:ruleId': { name: 'Renamed' },
  'patch /saved-views/:viewId': { name: 'Renamed' },
  'patch /admin/fields/:fieldId': { label: 'Renamed' },
  'patch /jobs/:jobId/artifacts/:artifactId': { visibility: 'client_visible' },
  'post /calls/:callId/link': { conversation_id: 77 },
  'post /calls/:callId/disposition': { disposition: 'spam' },
  'post /jobs/:jobId/en-route': { eta: '2031-01-01T10:00:00Z' },
  'post /jobs/:jobId/offers': { vendor_id: randomUUID() },
  'put /jobs/:jobId/technician': { technician_id: null },
  'put /portal/vendor/jobs/:jobId/technician': { technician_id: null },
  'post /offers/:offerId/decline': { reason: 'Planted' },
  'post /offers/:offerId/withdraw': { reason: 'Planted' },
  'post /vendors/:vendorId/users': { name: 'Planted', email: 'planted@example.com', role: 'owner' },
  'put /vendors/:vendorId/users/:portalUserId/active': { active: false },
  'put /portal/vendor/users/:portalUserId/active': { active: false },
  'put /admin/notifications/templates/:event': { body: 'Planted text' },
  'post /admin/notifications/templates/:event/preview': { body: 'Planted {job_reference}' },
  'post /portal/vendor/jobs/:jobId/messages': { id: randomUUID(), content: 'Planted message' },
  'put /vendors/:vendorId/locks': { categories: true },
  'post /vendors/:vendorId/documents/:documentId/review': { decision: 'approve' },
  'post /deals/:dealId/quotes': { title: 'Planted quote', amount: '1.00', currency: 'EUR' },
  'post /portal/client/quotes/:quoteId/decision': { decision: 'approve' },
  'post /portal/client/jobs/:jobId/cancel': { reason: 'Planted' },
  'post /portal/client/threads/:threadId/messages': { id: randomUUID(), content: 'Planted message' },
  'post /portal/client/threads/:threadId/typing': { on: true },
  'post /contacts/:contactId/erase': { confirm: 9001 },
};
/** GET routes without ids that are not lists of the caller's account (staff have no vendor of their own there: 404). */
const notLists = new Set(['/portal/vendor/business']);
/** Query strings list routes need to answer at all. */
const sampleQueries: Record<string, Record<string, string>> = {
  '/search': { q: 'account B' },
  '/saved-views': { board: 'pipeline' },
  '/pipelines/:pipelineId/board/changes': { since: '2020-01-01T00:00:00Z' },
};
const queryFor = (path: string) => sampleQueries[path] ?? reportQueries()[path] ?? {};

/**
 * The reports, over dates that hold today (when account B's fixtures were made), with a table id
 * for the CSV routes and a drill token for the record routes; the vendor drill names B's vendor,
 * which account A must not see.
 */
function reportQueries(): Record<string, Record<string, string>> {
  const day = (delta: number) => new Date(Date.now() + delta * 86_400_000).toISOString().slice(0, 10);
  const range = { from: day(-7), to: day(1), tz: 'UTC' };
  const samples: Record<string, { table: string; drill?: string }> = {
    overview: { table: 'headlines' },
    funnel: { table: 'stages', drill: 'outcome:won:all' },
    'response-time': { table: 'summary', drill: 'summary:conversations' },
    dispatch: { table: 'sources', drill: 'created:all' },
    vendors: { table: 'scorecard', drill: `completed:${objectsOfB.vendorId}` },
  };
  return Object.fromEntries(
    Object.entries(samples).flatMap(([name, { table, drill }]) => [
      [`/reports/${name}`, range],
      [`/reports/${name}.csv`, { ...range, table }],
      ...(drill ? [[`/reports/${name}/rows`, { ...range, drill }], [`/reports/${name}/rows.csv`, { ...range, drill }]] : []),
    ]),
  );
}

function call(route: AnyRoute, token: string, params: Record<string, string> = {}, body: object = {}) {
  const path = route.path.replace(/:([A-Za-z]+)/g, (_m, name: string) => params[name] ?? randomUUID());
  const req = request(t.app)[route.method](`${route.prefix ?? '/api/v1'}${path}`).set('Authorization', `Bearer ${token}`);
  return route.method === 'get' || route.method === 'delete' ? req : req.send(body);
}

describe('RBAC matrix: every route × every role', () => {
  it('covers a meaningful number of guarded routes', () => {
    expect(routes.length).toBeGreaterThanOrEqual(12);
  });

  it('allows exactly the roles whose permissions include the route’s permission', async () => {
    const mismatches: string[] = [];
    for (const route of routes) {
      const access = route.access as { permission: Permission };
      for (const role of roles) {
        const { token, permissions } = principals[role];
        const res = await call(route, token);
        const allowed = permissions.has(access.permission);
        const denied = res.status === 403 && res.body.error.code === 'forbidden';
        if (res.status === 401) mismatches.push(`${role} ${route.method} ${route.path}: 401 (session lost?)`);
        else if (allowed === denied) mismatches.push(`${role} ${route.method} ${route.path}: expected ${allowed ? 'allowed' : '403'}, got ${res.status}`);
      }
    }
    expect(mismatches).toEqual([]);
  });

  it('keeps administration away from agents, dispatchers, portal users and services (table sanity)', () => {
    for (const role of ['agent', 'dispatcher', 'vendor', 'client', 'service'] as const) {
      expect([...principals[role].permissions].filter((p) => p.startsWith('admin:') || p === 'audit:read')).toEqual([]);
    }
    expect(principals.client.permissions).toEqual(new Set(['me:read', 'jobs:read', 'notifications:read', 'client_portal:use']));
  });
});

describe('cross-tenant probe: account A asking for account B’s objects', () => {
  let prober: SignedIn; // the matrix above signed its principals out
  beforeAll(async () => {
    prober = await signInAgent(t, chatwoot, 1, 'administrator', 'Prober A');
  });

  it('answers 404 — never 403, never the object — for every route that takes an id', async () => {
    const withIds = routes.filter((r) => r.path.includes(':'));
    expect(withIds.length).toBeGreaterThanOrEqual(4);
    const problems: string[] = [];
    for (const route of withIds) {
      const names = [...route.path.matchAll(/:([A-Za-z]+)/g)].map((m) => m[1]!);
      const missing = names.filter((n) => !objectsOfB[n]);
      if (missing.length) {
        problems.push(`${route.method} ${route.path}: no account-B fixture for ${missing.join(', ')} (add one above)`);
        continue;
      }
      const key = `${route.method} ${route.path}`;
      if (route.body && !sampleBodies[key]) {
        problems.push(`${key}: no sample body (add one above)`);
        continue;
      }
      const res = await call(route, prober.token, objectsOfB, sampleBodies[key]).query(queryFor(route.path));
      if (names.length === 1 && names[0] === 'event') {
        // An event name is the same in every account: A changes its own text, never B's.
        const textOfB = await withAccount(t.db.knex, adminB.accountId, { readOnly: true }, (trx) => trx('notification_templates').where({ account_id: adminB.accountId }).pluck('body'));
        if (res.status >= 400 || JSON.stringify(textOfB) !== JSON.stringify(['Text of account B'])) problems.push(`${key}: ${res.status} B's text now ${JSON.stringify(textOfB)}`);
        continue;
      }
      // Erasing and exporting a person answer 404 for a contact unknown in the caller's account (the generic check below).
      if (names.length === 1 && names[0] === 'contactId' && !['post /contacts/:contactId/erase', 'get /contacts/:contactId/export'].includes(key)) {
        // Contact ids are Chatwoot's: another account's contact is simply one with no history here.
        if (res.status !== 200 || res.body.data.length !== 0) problems.push(`${key}: ${res.status} ${JSON.stringify(res.body)}`);
        continue;
      }
      if (res.status !== 404 || res.body.error?.code !== 'not_found') problems.push(`${key}: ${res.status} ${JSON.stringify(res.body)}`);
    }
    expect(problems).toEqual([]);
  });

  it('lists in account A never include account B’s objects', async () => {
    // A client's own lists answer staff 404; test/api/client-isolation.test.ts probes them across clients and accounts.
    const lists = routes.filter((r) => r.method === 'get' && !r.path.includes(':') && !notLists.has(r.path) && !r.path.startsWith('/portal/client/'));
    for (const route of lists) {
      const res = await call(route, prober.token).query(queryFor(route.path));
      expect(res.status, `${route.path}`).toBe(200);
      const body = JSON.stringify(res.body);
      // Chatwoot contact ids are short numbers that can appear by chance: check our uuids.
      for (const id of [...Object.values(objectsOfB), adminB.userId].filter((v) => v.includes('-'))) expect(body, `${route.path} leaks ${id}`).not.toContain(id);
    }
  });
});

describe('row-level security alone (the application filter bypassed)', () => {
  const tenantTables = async () => {
    const { rows } = await t.db.knex.raw<{ rows: Array<{ table_name: string; rls: boolean; forced: boolean }> }>(`
      select c.relname as table_name, c.relrowsecurity as rls, c.relforcerowsecurity as forced
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where n.nspname = current_schema() and c.relkind = 'r'
         and exists (select 1 from information_schema.columns col
                      where col.table_schema = n.nspname and col.table_name = c.relname and col.column_name = 'account_id')
       order by 1`);
    return rows;
  };

  it('is enabled and forced on every table that has account_id', async () => {
    const tables = await tenantTables();
    expect(tables.length).toBeGreaterThanOrEqual(7);
    // The webhook inbox stores a delivery before its account is known (see its migration).
    const installationScoped = ['webhook_deliveries'];
    expect(tables.filter((r) => (!r.rls || !r.forced) && !installationScoped.includes(r.table_name)).map((r) => r.table_name)).toEqual([]);
  });

  it('shows account A nothing of account B, even when a query asks for B by id', async () => {
    for (const { table_name } of await tenantTables()) {
      if (table_name === 'accounts') continue; // the registry is readable; writes are checked below
      if (table_name === 'webhook_deliveries') continue; // installation-scoped inbox, always queried by account or installation
      const ofB = await withAccount(t.db.knex, adminB.accountId, { readOnly: true }, (trx) => trx(table_name).where({ account_id: adminB.accountId }).count<{ count: number }[]>('* as count'));
      const fromA = await withAccount(t.db.knex, adminA.accountId, { readOnly: true }, (trx) => trx(table_name).where({ account_id: adminB.accountId }).count<{ count: number }[]>('* as count'));
      const unscoped = await t.db.knex(table_name).count<{ count: number }[]>('* as count');
      expect({ table_name, fromA: fromA[0]!.count, unscoped: unscoped[0]!.count }).toEqual({ table_name, fromA: 0, unscoped: 0 });
      if (['users', 'sessions', 'audit_events', 'service_tokens', 'portal_users', 'magic_links'].includes(table_name)) {
        expect(ofB[0]!.count, `${table_name} has rows in B`).toBeGreaterThan(0);
      }
    }
  });

  it('refuses to change or create account B’s rows from account A', async () => {
    const updated = await withAccount(t.db.knex, adminA.accountId, { readOnly: false }, (trx) =>
      trx('users').where({ account_id: adminB.accountId }).update({ name: 'hijacked' }),
    );
    expect(updated).toBe(0);
    const renamed = await withAccount(t.db.knex, adminA.accountId, { readOnly: false }, (trx) =>
      trx('accounts').where({ account_id: adminB.accountId }).update({ name: 'hijacked' }),
    );
    expect(renamed).toBe(0);
    await expect(
      withAccount(t.db.knex, adminA.accountId, { readOnly: false }, (trx) =>
        trx('users').insert({ account_id: adminB.accountId, chatwoot_user_id: 4242, name: 'Planted', chatwoot_role: 'administrator' }),
      ),
    ).rejects.toThrow(/row-level security/);
  });
});
