import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiAs } from '../helpers/api.ts';
import type { TestApp } from '../helpers/app.ts';
import { signInAgent, type SignedIn } from '../helpers/identity.ts';
import { useWorld } from '../helpers/world.ts';

const world = useWorld([1, 2]);
let t: TestApp;
let server: http.Server;
let base: string;
let agentA: SignedIn;
let agentB: SignedIn;

beforeAll(async () => {
  t = world.t;
  agentA = await signInAgent(t, world.chatwoot, 1, 'agent');
  agentB = await signInAgent(t, world.chatwoot, 2, 'agent');
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

/** Opens the account's stream and collects the event names it sends. */
async function openStream(token: string) {
  const response = await fetch(`${base}/api/v1/events/stream?token=${encodeURIComponent(token)}`);
  expect(response.headers.get('content-type')).toBe('text/event-stream');
  const events: string[] = [];
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  void (async () => {
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      for (const match of decoder.decode(chunk.value).matchAll(/^event: (\w+)$/gm)) events.push(match[1]!);
    }
  })().catch(() => undefined);
  return { events, close: () => reader.cancel() };
}

describe('the change stream', () => {
  it('tells an account’s open pages when something in it changed, and nobody else', async () => {
    await new Promise((resolve) => setTimeout(resolve, 500)); // let the sign-ins' own announcements pass
    const tokenA = (await apiAs(t, agentA.token).post('/events/token', {})).body.data.token as string;
    const tokenB = (await apiAs(t, agentB.token).post('/events/token', {})).body.data.token as string;
    const streamA = await openStream(tokenA);
    const streamB = await openStream(tokenB);
    await expect.poll(() => streamA.events).toEqual(['ready']);
    await expect.poll(() => streamB.events).toEqual(['ready']);

    expect((await apiAs(t, agentA.token).post('/tasks', { title: 'Call back Ada' })).status).toBe(201);
    await expect.poll(() => streamA.events, { timeout: 5_000 }).toEqual(['ready', 'change']);
    expect((await apiAs(t, agentA.token).get('/tasks')).status).toBe(200); // reads announce nothing
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(streamA.events).toEqual(['ready', 'change']);
    expect(streamB.events).toEqual(['ready']);
    await streamA.close();
    await streamB.close();
  });

  it('refuses a forged or foreign token', async () => {
    for (const token of ['not-a-token-at-all', t.services.urlSigner.sign({ k: 'download', a: agentA.accountId }, new Date(Date.now() + 60_000))]) {
      const response = await fetch(`${base}/api/v1/events/stream?token=${encodeURIComponent(token)}`);
      expect(response.status).toBe(401);
    }
    expect((await fetch(`${base}/api/v1/events/token`, { method: 'POST' })).status).toBe(401);
  });
});
