import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { announceToPortalUser, portalChannel, type PortalEvent } from '../../extension/events/portal-feed.ts';
import { apiAs } from '../helpers/api.ts';
import type { TestApp } from '../helpers/app.ts';
import { createClientPortalSession, signInAgent, type SignedIn } from '../helpers/identity.ts';
import { useWorld } from '../helpers/world.ts';

const world = useWorld([1, 2]);
let t: TestApp;
let server: http.Server;
let base: string;
let agentA: SignedIn;
let agentB: SignedIn;
let clientA: { token: string; portalUserId: string };
let clientB: { token: string; portalUserId: string };
let otherAccountClient: { token: string; portalUserId: string };

beforeAll(async () => {
  t = world.t;
  agentA = await signInAgent(t, world.chatwoot, 1, 'agent');
  agentB = await signInAgent(t, world.chatwoot, 2, 'agent');
  clientA = await createClientPortalSession(t, agentA, 7101);
  clientB = await createClientPortalSession(t, agentA, 7102);
  otherAccountClient = await createClientPortalSession(t, agentB, 7103);
  server = http.createServer(t.app).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  const { endAllStreams } = await import('../../extension/events/routes.ts');
  endAllStreams();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

interface Heard { event: string; data: string }

/** Opens a stream and collects what it sends, event by event. */
async function openStream(token: string) {
  const response = await fetch(`${base}/api/v1/events/stream?token=${encodeURIComponent(token)}`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe('text/event-stream');
  const heard: Heard[] = [];
  const state = { ended: false };
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  void (async () => {
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      buffer += decoder.decode(chunk.value, { stream: true });
      let end = buffer.indexOf('\n\n');
      while (end >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.+)$/m.exec(block)?.[1];
        if (event) heard.push({ event, data: /^data: (.*)$/m.exec(block)?.[1] ?? '' });
        end = buffer.indexOf('\n\n');
      }
    }
    state.ended = true;
  })().catch(() => (state.ended = true));
  const names = () => heard.map((item) => item.event);
  const portal = () => heard.filter((item) => item.event === 'portal').map((item) => JSON.parse(item.data) as PortalEvent);
  return { heard, names, portal, ended: () => state.ended, close: () => reader.cancel() };
}

const tokenFor = async (token: string) => {
  const res = await apiAs(t, token).post('/events/token', {});
  expect(res.status).toBe(201);
  return res.body.data.token as string;
};

describe('portal users’ live stream', () => {
  it('gives a client their own events and the account’s changes, and nobody else their events', async () => {
    await new Promise((resolve) => setTimeout(resolve, 500)); // let the set-up's own announcements pass
    const streamA = await openStream(await tokenFor(clientA.token));
    const streamB = await openStream(await tokenFor(clientB.token));
    const streamOther = await openStream(await tokenFor(otherAccountClient.token));
    const streamStaff = await openStream(await tokenFor(agentA.token));
    for (const stream of [streamA, streamB, streamOther, streamStaff]) await expect.poll(() => stream.names()).toEqual(['ready']);

    const reply: PortalEvent = { type: 'message', thread_id: '0b6c3c52-4a0e-4d8f-9d55-8d5b1c0f3a11' };
    announceToPortalUser(t.db.knex, agentA.accountId, clientA.portalUserId, reply);
    await expect.poll(() => streamA.portal(), { timeout: 5_000 }).toEqual([reply]);

    // The same person's id announced under another account reaches nobody (events are keyed by both).
    announceToPortalUser(t.db.knex, agentB.accountId, clientA.portalUserId, { type: 'job', job_id: 'b3f0e8f6-3f55-4a71-9d1e-0a3f1f3f2c10' });
    // A staff write through the unit of work: every stream of account 1 hears `change`.
    expect((await apiAs(t, agentA.token).post('/tasks', { title: 'Call back the client' })).status).toBe(201);
    await expect.poll(() => streamA.names(), { timeout: 5_000 }).toEqual(['ready', 'portal', 'change']);
    await expect.poll(() => streamB.names(), { timeout: 5_000 }).toEqual(['ready', 'change']);
    await expect.poll(() => streamStaff.names(), { timeout: 5_000 }).toEqual(['ready', 'change']);

    // Another client's event, sent last: once B has it, A, staff and the other account had their chance.
    const typing: PortalEvent = { type: 'typing', thread_id: '5d1b7f8e-2c0a-4f7e-8b9e-3c2d1e0f9a88', on: true };
    announceToPortalUser(t.db.knex, agentA.accountId, clientB.portalUserId, typing);
    await expect.poll(() => streamB.portal(), { timeout: 5_000 }).toEqual([typing]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(streamA.portal()).toEqual([reply]);
    expect(streamStaff.names()).toEqual(['ready', 'change']);
    expect(streamOther.names()).toEqual(['ready']);
    for (const stream of [streamA, streamB, streamOther, streamStaff]) await stream.close();
  });

  it('names the person only in a portal user’s token', async () => {
    const claimsOf = (token: string) => t.services.urlSigner.verify(token)!;
    expect(claimsOf(await tokenFor(clientA.token))).toMatchObject({ k: 'events', a: agentA.accountId, p: clientA.portalUserId, s: expect.any(String) });
    expect(claimsOf(await tokenFor(agentA.token)).p).toBeUndefined();
  });

  it('ends the streams when the process loses its LISTEN connection, and hears again once they reconnect', async () => {
    const before = await openStream(await tokenFor(clientA.token));
    await expect.poll(() => before.names()).toEqual(['ready']);
    await t.db.knex.raw(`select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'onelink-changes' and datname = current_database() and pid <> pg_backend_pid()`);
    await expect.poll(() => before.ended(), { timeout: 5_000 }).toBe(true);
    // The page's reconnect starts the feed again.
    const after = await openStream(await tokenFor(clientA.token));
    await expect.poll(() => after.names()).toEqual(['ready']);
    const event: PortalEvent = { type: 'job', job_id: 'a1b2c3d4-0000-4000-8000-000000000001' };
    await expect
      .poll(
        () => {
          announceToPortalUser(t.db.knex, agentA.accountId, clientA.portalUserId, event);
          return after.portal().length > 0;
        },
        { timeout: 5_000, interval: 250 },
      )
      .toBe(true);
    expect(after.portal()[0]).toEqual(event);
    await after.close();
  });

  it('stops letting a person in once their session is signed out or they are switched off', async () => {
    const signedOut = await createClientPortalSession(t, agentA, 7104);
    const token = await tokenFor(signedOut.token);
    const stream = await openStream(token);
    await expect.poll(() => stream.names()).toEqual(['ready']);
    await stream.close();
    expect((await apiAs(t, signedOut.token).delete('/portal/sessions')).status).toBe(200); // sign out everywhere
    const refused = await fetch(`${base}/api/v1/events/stream?token=${encodeURIComponent(token)}`);
    expect(refused.status).toBe(401);
    expect((await refused.json()).error.code).toBe('unauthorized');

    const switchedOff = await createClientPortalSession(t, agentA, 7105);
    const second = await tokenFor(switchedOff.token);
    expect((await apiAs(t, agentA.token).put(`/portal/clients/${switchedOff.portalUserId}/active`, { active: false })).status).toBe(200);
    expect((await fetch(`${base}/api/v1/events/stream?token=${encodeURIComponent(second)}`)).status).toBe(401);
  });

  it('drops malformed announcements and refuses expired or foreign tokens', async () => {
    const stream = await openStream(await tokenFor(clientA.token));
    await expect.poll(() => stream.names()[0]).toBe('ready');
    // Neither a bad shape from a caller nor a stray NOTIFY on the channel reaches the page.
    announceToPortalUser(t.db.knex, agentA.accountId, clientA.portalUserId, { type: 'message' } as unknown as PortalEvent);
    await t.db.knex.raw('select pg_notify(?, ?)', [portalChannel, 'not json']);
    await t.db.knex.raw('select pg_notify(?, ?)', [portalChannel, JSON.stringify({ a: agentA.accountId, p: clientA.portalUserId, e: { type: 'secret', text: 'x' } })]);
    const quote: PortalEvent = { type: 'quote', quote_id: 'c8a1d2e3-0f4b-4c5d-8e6f-7a8b9c0d1e2f' };
    announceToPortalUser(t.db.knex, agentA.accountId, clientA.portalUserId, quote);
    await expect.poll(() => stream.portal(), { timeout: 5_000 }).toEqual([quote]);
    expect(stream.names().filter((name) => name !== 'change')).toEqual(['ready', 'portal']); // the set-up's writes may still announce
    await stream.close();

    const expired = t.services.urlSigner.sign({ k: 'events', a: agentA.accountId, p: clientA.portalUserId }, new Date(Date.now() - 1_000));
    expect((await fetch(`${base}/api/v1/events/stream?token=${encodeURIComponent(expired)}`)).status).toBe(401);
    const download = t.services.urlSigner.sign({ k: 'download', a: agentA.accountId, p: clientA.portalUserId }, new Date(Date.now() + 60_000));
    expect((await fetch(`${base}/api/v1/events/stream?token=${encodeURIComponent(download)}`)).status).toBe(401);
  });
});
