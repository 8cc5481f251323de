// Cross-client probe, generated from the route registry like access.test.ts: two clients A and B of
// one account (and C of another account) — B and C ask for A's jobs, files, conversations,
// messages, quotes, notifications and sessions on EVERY route a client may call: by id, by list,
// by search, by an id A's phone made (the resend keys), and by guessing A's Chatwoot conversation
// id. Each must answer 404 (never 403, never A's object), and A's things stay as they were. A new
// client route without a fixture, a sample body or a probe fails the test until it gets one.
import { createECDH, randomBytes, randomUUID } from 'node:crypto';
import request from 'supertest';
import { beforeAll, describe, expect, it } from 'vitest';
import { rolePermissions, type Permission } from '../../extension/auth/permissions.ts';
import { capabilities } from '../../extension/capabilities/profiles.ts';
import { withAccountForTests as withAccount } from '../../extension/db/tenant.ts';
import { isPublic, type AnyRoute } from '../../extension/http/registry.ts';
import type { TestApp } from '../helpers/app.ts';
import { createClientPortalSession, signInAgent, type SignedIn } from '../helpers/identity.ts';
import { useWorld } from '../helpers/world.ts';

const world = useWorld([1, 2]);
let t: TestApp;

interface Client {
  name: string;
  /** A word in every text of theirs (summaries, messages, titles, file names): found anywhere = a leak. */
  tag: string;
  token: string;
  portalUserId: string;
  contactId: number;
  accountId: number;
  /** Their objects by route parameter name (first: the one probed on every route; others: more of that kind). */
  ids: Record<string, string[]>;
  /** The ids their phone made (a request's id, a message's id): the resend keys. */
  deviceIds: { request: string; message: string };
  /** Their phone's web push endpoint. */
  pushEndpoint: string;
}

/** A browser's push subscription as a push service hands it out (a real P-256 key). */
function pushSubscription(endpoint: string) {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return { endpoint, keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: randomBytes(16).toString('base64url') } };
}

let staffA: SignedIn;
let staffOther: SignedIn;
let a: Client;
let b: Client;
let c: Client;
/** What a client may call: every guarded route whose permission a client holds. */
let clientRoutes: AnyRoute[];

const clientPermissions = new Set<Permission>(rolePermissions.client);
/** Public client routes, and why they need no probe here. */
const publicClientRoutes: Record<string, string> = {
  'post /portal/client/sign-in': 'answers the same for everyone and never says whether a person exists (client-sign-in tests)',
  'post /portal/client/sessions': 'a single-use link or a code sent to the person (client-sign-in tests)',
  'get /portal/client/message-attachments/content': 'a signed, short-lived link naming one file (client-messages tests)',
};
/** Signing out ends the caller's own session(s): probed last, and A must still be signed in. */
const signsOut = (r: AnyRoute) => (r.method === 'delete' && r.path === '/portal/sessions') || (r.method === 'delete' && r.path === '/auth/session');
const keyOf = (r: { method: string; path: string }) => `${r.method} ${r.path}`;

function as(client: Client | SignedIn, method: 'get' | 'post' | 'put' | 'patch' | 'delete', path: string, body?: object, query?: Record<string, string>) {
  const req = request(t.app)[method](`/api/v1${path}`).set('Authorization', `Bearer ${client.token}`);
  if (query) req.query(query);
  return body === undefined ? req : req.send(body);
}

async function ok<T = Record<string, unknown>>(res: request.Test, status = 200): Promise<T> {
  const answer = await res;
  if (answer.status !== status) throw new Error(`expected ${status}, got ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body.data as T;
}

/** A client of `staff`'s account with one of everything a client can have. */
async function clientWithEverything(staff: SignedIn, name: string, tag: string, contactId: number): Promise<Client> {
  const session = await createClientPortalSession(t, staff, contactId);
  const client: Client = { name, tag, token: session.token, portalUserId: session.portalUserId, contactId, accountId: staff.accountId, ids: {}, deviceIds: { request: randomUUID(), message: randomUUID() }, pushEndpoint: `https://push.example.com/send/${tag}-${randomUUID()}` };
  const add = (param: string, id: unknown) => {
    expect(id, `${name}'s ${param}`).toBeTruthy();
    (client.ids[param] ??= []).push(String(id));
  };

  // A job staff opened for them, with a report they may see.
  const job = await ok<{ id: string }>(as(staff, 'post', '/jobs', { summary: `Leak under the sink at ${tag}`, chatwoot_contact_id: contactId, address: `1 ${tag} Street` }), 201);
  add('jobId', job.id);
  const pdf = Buffer.from('%PDF-1.4\n%%EOF\n');
  const artifact = await ok<{ id: string }>(
    request(t.app).post(`/api/v1/jobs/${job.id}/artifacts`).set('Authorization', `Bearer ${staff.token}`).attach('file', pdf, `${tag}-report.pdf`),
    201,
  );
  await ok(as(staff, 'patch', `/jobs/${job.id}/artifacts/${artifact.id}`, { visibility: 'client_visible' }));
  add('artifactId', artifact.id);
  // A job they asked for themselves.
  const requested = await ok<{ id: string }>(
    as(client, 'post', '/portal/client/requests', { id: client.deviceIds.request, description: `${tag} needs the boiler looked at`, address: `1 ${tag} Street` }),
    201,
  );
  add('jobId', requested.id);

  // Their conversations: the general one and the job's, with a message of theirs.
  const threads = await ok<Array<{ id: string; job: { id: string } | null }>>(as(client, 'get', '/portal/client/threads'));
  const general = threads.find((thread) => !thread.job)!;
  add('threadId', general.id);
  const jobThread = await ok<Array<{ id: string }>>(as(client, 'get', '/portal/client/threads', undefined, { job_id: job.id }));
  add('threadId', jobThread[0]!.id);
  const message = await ok<{ id: string }>(as(client, 'post', `/portal/client/threads/${general.id}/messages`, { id: client.deviceIds.message, content: `Hello from ${tag}` }), 201);
  add('messageId', message.id);
  // The conversations as Chatwoot numbers them once delivered (set here: delivery is another test's).
  const conversationBase = contactId * 10;
  await withAccount(t.db.knex, staff.accountId, { readOnly: false }, async (trx) => {
    await trx('client_threads').where({ account_id: staff.accountId, id: general.id }).whereNull('chatwoot_conversation_id').update({ chatwoot_conversation_id: conversationBase + 1 });
    await trx('client_threads').where({ account_id: staff.accountId, id: jobThread[0]!.id }).whereNull('chatwoot_conversation_id').update({ chatwoot_conversation_id: conversationBase + 2 });
  });
  add('conversationId', conversationBase + 1);
  add('conversationId', conversationBase + 2);

  // A quote staff shared with them.
  const [pipeline] = await ok<Array<{ id: string }>>(as(staff, 'get', '/pipelines'));
  const deal = await ok<{ id: string }>(as(staff, 'post', '/deals', { title: `Bathroom for ${tag}`, pipeline_id: pipeline!.id, chatwoot_contact_id: contactId }), 201);
  add('dealId', deal.id);
  const quote = await ok<{ id: string }>(as(staff, 'post', `/deals/${deal.id}/quotes`, { title: `${tag} bathroom quote`, amount: '1250.50', currency: 'EUR' }), 201);
  await ok(as(staff, 'post', `/deals/${deal.id}/quotes/${quote.id}/share`, {}));
  add('quoteId', quote.id);

  // Their phone takes web push.
  await ok(as(client, 'post', '/push/subscriptions', pushSubscription(client.pushEndpoint)), 201);
  // A notification for them, and their session.
  const [notification] = await withAccount(t.db.knex, staff.accountId, { readOnly: false }, (trx) =>
    trx('notifications')
      .insert({ account_id: staff.accountId, event_id: contactId, event: 'client.job_completed', recipient_kind: 'contact', recipient_id: String(contactId), title: `For ${tag}`, body: `Only ${tag}` })
      .returning('id'),
  );
  add('notificationId', notification.id);
  const sessionRow = await withAccount(t.db.knex, staff.accountId, { readOnly: true }, (trx) => trx('sessions').where({ account_id: staff.accountId, subject_id: client.portalUserId }).first('id'));
  add('sessionId', sessionRow.id);
  add('contactId', contactId);
  add('portalUserId', client.portalUserId);
  return client;
}

/** Everything of `client`'s that must never appear in another's answer: their uuids and their tag. */
const markersOf = (client: Client) => [client.tag, `client${client.contactId}@example.com`, ...Object.values(client.ids).flat().filter((id) => id.includes('-'))];

function leaks(body: unknown, of: Client) {
  const text = JSON.stringify(body);
  return markersOf(of).filter((marker) => text.includes(marker));
}

/** Valid bodies, so a probe reaches the lookup instead of stopping at 422. */
const sampleBodies: Record<string, (target: Client) => object> = {
  'post /portal/client/jobs/:jobId/cancel': () => ({ reason: 'Planted by another client' }),
  'post /portal/client/threads/:threadId/messages': () => ({ id: randomUUID(), content: 'Planted by another client' }),
  'post /portal/client/threads/:threadId/typing': () => ({ on: true }),
  'post /portal/client/quotes/:quoteId/decision': () => ({ decision: 'decline', comment: 'Planted by another client' }),
};

/**
 * Routes without ids that change something: each probe tries to reach the target's things through
 * the body (the target's resend keys, ids or addresses) and answers what to check afterwards.
 */
const createProbes: Record<string, (prober: Client, target: Client) => { body?: object; query?: Record<string, string> }> = {
  // The id A's phone made for A's request: B sending it must get B's own new job, never A's.
  'post /portal/client/requests': (_prober, target) => ({ body: { id: target.deviceIds.request, description: 'Planted by another client', address: '9 Other Street' } }),
  'put /portal/client/profile': () => ({ body: { name: 'Renamed by the prober' } }),
  'post /events/token': () => ({ body: {} }),
  'post /notifications/read-all': () => ({ body: {} }),
  'put /notifications/preferences': () => ({ body: { preferences: [] } }),
  // A's phone's endpoint: removing it as someone else removes nothing (checked on A's side below).
  'delete /push/subscriptions': (_prober, target) => ({ body: { endpoint: target.pushEndpoint } }),
  'post /push/subscriptions': (prober) => ({ body: pushSubscription(`https://push.example.com/send/${prober.tag}-${randomUUID()}`) }),
};

/** Values for a list's query parameters that name the target's things (by id, by Chatwoot id, by words). */
function targetQuery(name: string, target: Client): string | null {
  if (/^(q|query|search|term)$/.test(name)) return target.tag;
  const byName: Record<string, string> = {
    job_id: 'jobId',
    thread_id: 'threadId',
    quote_id: 'quoteId',
    deal_id: 'dealId',
    conversation_id: 'conversationId',
    chatwoot_conversation_id: 'conversationId',
    contact_id: 'contactId',
    chatwoot_contact_id: 'contactId',
    portal_user_id: 'portalUserId',
  };
  return byName[name] ? (target.ids[byName[name]!]?.[0] ?? null) : null;
}

const queryNames = (route: AnyRoute) => {
  const shape = (route.query as { shape?: Record<string, unknown> } | undefined)?.shape;
  return shape ? Object.keys(shape) : [];
};

beforeAll(async () => {
  t = world.t;
  staffA = await signInAgent(t, world.chatwoot, 1, 'administrator', 'Staff A');
  staffOther = await signInAgent(t, world.chatwoot, 2, 'administrator', 'Staff other');
  const allOn = Object.fromEntries(capabilities.map((capability) => [capability, true]));
  for (const admin of [staffA, staffOther]) await ok(as(admin, 'patch', '/admin/capabilities', { overrides: allOn }));
  a = await clientWithEverything(staffA, 'A', 'Ada7Q', 8101);
  b = await clientWithEverything(staffA, 'B', 'Bob3K', 8102);
  c = await clientWithEverything(staffOther, 'C (another account)', 'Cyd9M', 8201);
  clientRoutes = (t.app.locals.routes as AnyRoute[]).filter((route) => !isPublic(route.access) && clientPermissions.has(route.access.permission));
  clientRoutes.sort((x, y) => Number(signsOut(x)) - Number(signsOut(y)));
});

describe('the client routes in the registry', () => {
  it('are all probed here: every /portal/client/ route is a client route or a public one named above', () => {
    const all = t.app.locals.routes as AnyRoute[];
    const portalClient = all.filter((route) => route.path.startsWith('/portal/client/') || route.path === '/portal/client');
    expect(portalClient.length).toBeGreaterThanOrEqual(10);
    const unprobed = portalClient.filter((route) => (isPublic(route.access) ? !publicClientRoutes[keyOf(route)] : !clientPermissions.has(route.access.permission))).map(keyOf);
    expect(unprobed, 'a /portal/client/ route neither a client route nor a public one with a reason above').toEqual([]);
    for (const key of Object.keys(publicClientRoutes)) expect(all.some((route) => keyOf(route) === key), `${key} is gone: drop it above`).toBe(true);
  });

  it('each have what their probe needs (a fixture for every id, a body, a create probe)', () => {
    const missing: string[] = [];
    for (const route of clientRoutes) {
      const names = [...route.path.matchAll(/:([A-Za-z]+)/g)].map((match) => match[1]!);
      for (const name of names) if (!a.ids[name]) missing.push(`${keyOf(route)}: no fixture of A for :${name} (add one in clientWithEverything)`);
      if (names.length && route.body && !sampleBodies[keyOf(route)]) missing.push(`${keyOf(route)}: no sample body (add one to sampleBodies)`);
      if (!names.length && route.method !== 'get' && !signsOut(route) && !createProbes[keyOf(route)]) missing.push(`${keyOf(route)}: no create probe (add one to createProbes)`);
    }
    expect(missing).toEqual([]);
  });
});

describe('cross-client probe: B (same account) and C (another account) ask for A’s things', () => {
  for (const proberName of ['B', 'C'] as const) {
    it(`${proberName}: 404 by id on every client route — never 403, never A’s object`, async () => {
      const prober = proberName === 'B' ? b : c;
      const problems: string[] = [];
      let tried = 0;
      for (const route of clientRoutes.filter((r) => r.path.includes(':'))) {
        const names = [...route.path.matchAll(/:([A-Za-z]+)/g)].map((match) => match[1]!);
        if (names.some((name) => !a.ids[name])) continue; // reported above
        const key = keyOf(route);
        const body = sampleBodies[key]?.(a);
        // Every id of A's of each kind (a job staff opened and one A asked for; both of A's conversations).
        const variants = Math.max(...names.map((name) => a.ids[name]!.length));
        const attempts: Array<Record<string, string>> = Array.from({ length: variants }, (_, v) => Object.fromEntries(names.map((name) => [name, a.ids[name]![Math.min(v, a.ids[name]!.length - 1)]!])));
        // Guessing: A's Chatwoot conversation ids where a conversation of ours is asked for.
        if (names.includes('threadId')) for (const conversation of a.ids.conversationId!) attempts.push(Object.fromEntries(names.map((name) => [name, name === 'threadId' ? conversation : a.ids[name]![0]!])));
        for (const params of attempts) {
          const path = route.path.replace(/:([A-Za-z]+)/g, (_m, name: string) => params[name]!);
          const res = await as(prober, route.method as 'get', path, route.method === 'get' || route.method === 'delete' ? undefined : (body ?? {}));
          tried++;
          const leaked = leaks(res.body, a);
          const chatwootNumbered = names.every((name) => name === 'contactId' || name === 'conversationId');
          const guessed = names.includes('threadId') && !params.threadId!.includes('-');
          if (leaked.length) problems.push(`${key} ${path}: ${res.status} leaks ${leaked.join(', ')}`);
          // Chatwoot's numbers are not ours: another person's is one with no history here (200, empty), or unknown (404).
          else if (chatwootNumbered ? res.status !== 404 && res.status !== 200 : guessed ? res.status < 400 : res.status !== 404 || res.body.error?.code !== 'not_found') {
            problems.push(`${key} ${path}: ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
          }
        }
      }
      expect(problems).toEqual([]);
      expect(tried).toBeGreaterThanOrEqual(15);
    });

    it(`${proberName}: lists, searches and filters naming A’s things show none of them`, async () => {
      const prober = proberName === 'B' ? b : c;
      const problems: string[] = [];
      for (const route of clientRoutes.filter((r) => r.method === 'get' && !r.path.includes(':'))) {
        const queries: Array<Record<string, string>> = [{}];
        for (const name of queryNames(route)) {
          const value = targetQuery(name, a);
          if (value) queries.push({ [name]: value });
        }
        if (route.path === '/portal/client/jobs') queries.push({ scope: 'open' }, { scope: 'past' });
        for (const query of queries) {
          const res = await as(prober, 'get', route.path, undefined, query);
          const leaked = leaks(res.body, a);
          if (leaked.length) problems.push(`${keyOf(route)} ${JSON.stringify(query)}: ${res.status} leaks ${leaked.join(', ')}`);
          else if (res.status >= 500 || res.status === 403) problems.push(`${keyOf(route)} ${JSON.stringify(query)}: ${res.status}`);
          // A client route's filter naming A's object by our id is refused as unknown (staff lists filter to nothing).
          const namesOurId = route.path.startsWith('/portal/client/') && Object.entries(query).some(([name, value]) => name !== 'q' && value.includes('-'));
          if (namesOurId && res.status !== 404) problems.push(`${keyOf(route)} ${JSON.stringify(query)}: ${res.status}, expected 404 for A's id`);
        }
      }
      expect(problems).toEqual([]);
    });

    it(`${proberName}: changes made with A’s ids in the body (resend keys) never reach A’s things`, async () => {
      const prober = proberName === 'B' ? b : c;
      const problems: string[] = [];
      for (const route of clientRoutes.filter((r) => r.method !== 'get' && !r.path.includes(':') && !signsOut(r))) {
        const probe = createProbes[keyOf(route)];
        if (!probe) continue; // reported above
        const { body, query } = probe(prober, a);
        const res = await as(prober, route.method as 'post', route.path, body, query);
        const leaked = leaks(res.body, a);
        if (leaked.length) problems.push(`${keyOf(route)}: ${res.status} leaks ${leaked.join(', ')}`);
        else if (res.status >= 500 || res.status === 403) problems.push(`${keyOf(route)}: ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
      }
      // A's message id sent in the prober's own conversation is the prober's new message, not A's.
      const own = prober.ids.threadId![0]!;
      const resent = await as(prober, 'post', `/portal/client/threads/${own}/messages`, { id: a.deviceIds.message, content: `Resent by ${prober.tag}` });
      if (leaks(resent.body, a).length || resent.status >= 500) problems.push(`message resend key: ${resent.status} ${JSON.stringify(resent.body).slice(0, 200)}`);
      expect(problems).toEqual([]);
    });
  }

  it('B and C still see their own things on the same routes (the probes above were not vacuous)', async () => {
    for (const prober of [b, c]) {
      const jobs = await ok(as(prober, 'get', '/portal/client/jobs'));
      expect(JSON.stringify(jobs)).toContain(prober.ids.jobId![0]!);
      expect(await ok(as(prober, 'get', `/portal/client/jobs/${prober.ids.jobId![0]}`))).toMatchObject({ id: prober.ids.jobId![0] });
      const threads = JSON.stringify(await ok(as(prober, 'get', '/portal/client/threads')));
      expect(threads).toContain(prober.ids.threadId![0]!);
      const messages = JSON.stringify(await ok(as(prober, 'get', `/portal/client/threads/${prober.ids.threadId![0]}/messages`)));
      expect(messages).toContain(`Hello from ${prober.tag}`);
      expect(JSON.stringify(await ok(as(prober, 'get', '/portal/client/quotes')))).toContain(prober.ids.quoteId![0]!);
    }
  });

  it('leaves A’s things as they were: job, quote, conversations, profile and session', async () => {
    const job = await ok<{ stage: string; summary: string; files: Array<{ id: string }> }>(as(a, 'get', `/portal/client/jobs/${a.ids.jobId![0]}`));
    expect(job.stage).not.toBe('canceled');
    expect(job.summary).toContain(a.tag);
    expect(job.files.map((file) => file.id)).toEqual([a.ids.artifactId![0]]);
    const requested = await ok<{ stage: string }>(as(a, 'get', `/portal/client/jobs/${a.ids.jobId![1]}`));
    expect(requested.stage).toBe('received');
    const quote = await ok<{ status: string }>(as(a, 'get', `/portal/client/quotes/${a.ids.quoteId![0]}`));
    expect(quote.status).toBe('shared');
    for (const threadId of a.ids.threadId!) {
      const shown = JSON.stringify(await ok(as(a, 'get', `/portal/client/threads/${threadId}/messages`)));
      expect(shown).not.toContain('Planted');
      expect(shown).not.toContain(b.tag);
      expect(shown).not.toContain(c.tag);
    }
    const profile = await ok<{ name: string }>(as(a, 'get', '/portal/client/profile'));
    expect(profile.name).not.toContain('prober');
    const pushes = await withAccount(t.db.knex, a.accountId, { readOnly: true }, (trx) => trx('push_subscriptions').where({ account_id: a.accountId, portal_user_id: a.portalUserId }).pluck('endpoint'));
    expect(pushes).toEqual([a.pushEndpoint]);
    // No one else's conversation was opened on A's jobs, and no one else's job took A's request id.
    const strays = await withAccount(t.db.knex, a.accountId, { readOnly: true }, (trx) =>
      trx('client_threads').where({ account_id: a.accountId }).whereIn('job_id', a.ids.jobId!).whereNot({ portal_user_id: a.portalUserId }).count<{ count: number }[]>('* as count'),
    );
    expect(Number(strays[0]!.count)).toBe(0);
  });

  it('signing out everywhere as B and C ends their sessions, never A’s', async () => {
    for (const prober of [b, c]) {
      for (const route of clientRoutes.filter(signsOut)) await as(prober, route.method as 'delete', route.path);
      expect((await as(prober, 'get', '/me')).status).toBe(401);
    }
    const me = await ok<{ caller: { id: string } }>(as(a, 'get', '/me'));
    expect(me.caller.id).toBe(a.portalUserId);
  });
});
