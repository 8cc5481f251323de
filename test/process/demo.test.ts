// `npm run demo` as a newcomer runs it: the service and a Chatwoot stand-in, seeded, on loopback only.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/ports.ts';
import { processesMentioning, spawnIn, waitUntil } from '../helpers/processes.ts';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'onelink-demo-'));
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

/** An address of this machine other than loopback, if it has one. */
function outsideAddress() {
  return Object.values(os.networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
}

function connects(host: string, port: number) {
  return new Promise<boolean>((resolve) => {
    const socket = net.connect({ host, port });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

describe('npm run demo', () => {
  it('starts the service and a seeded Chatwoot stand-in, prints how to sign in, listens on loopback only and stops cleanly', { timeout: 240_000 }, async () => {
    const port = await freePort();
    const demo = spawnIn('npm', ['run', 'demo', '--', '--port', String(port)], {
      NODE_ENV: '',
      ONELINK_DEMO_DATA_DIR: dataDir,
      ONELINK_DEMO_PG_PORT: String(await freePort()),
    });
    const ready = await waitUntil(() => demo.output().includes('Onelink demo is running') || demo.child.exitCode !== null, 200_000);
    expect(ready && demo.child.exitCode === null, demo.output()).toBe(true);
    const output = demo.output();
    expect(output).toContain('STAND-IN');
    const adminToken = /(\S+)\s+\(.*administrator\)/.exec(output)?.[1];
    expect(adminToken).toBeTruthy();

    // The printed conversation view is the stand-in's, framing the service's sidebar, which signs
    // in against the stand-in named in its address (as it would against Chatwoot).
    const base = `http://127.0.0.1:${port}`;
    const view = new URL(/(http:\/\/\S+\/dev\/chatwoot-host\/\S+)/.exec(output)![1]!);
    expect((await fetch(view)).status).toBe(200);
    const sidebar = new URL(view.searchParams.get('app')!);
    expect(sidebar.origin).toBe(base);
    expect((await fetch(sidebar)).status).toBe(200);
    const chatwootUrl = sidebar.searchParams.get('chatwoot')!;
    expect(new URL(chatwootUrl).origin).toBe(view.origin);
    const signIn = await fetch(`${base}/api/v1/auth/chatwoot`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ access_token: adminToken, chatwoot_url: chatwootUrl, account_id: Number(sidebar.searchParams.get('account')) }),
    });
    expect(signIn.status).toBe(201);
    const { token } = ((await signIn.json()) as { data: { token: string } }).data;
    const get = async (route: string) => ((await (await fetch(`${base}/api/v1${route}`, { headers: { Authorization: `Bearer ${token}` } })).json()) as { data: Array<Record<string, unknown>> }).data;
    expect((await get('/deals')).length).toBe(4);
    const jobs = await get('/jobs');
    expect(jobs.map((j) => j.status).sort()).toEqual(['assigned', 'new']);
    expect((await get('/vendors')).length).toBe(3);
    // The sidebar's first conversation in the stand-in has its records.
    expect((await get('/jobs?conversation_id=101')).length).toBe(1);

    const outside = outsideAddress();
    if (outside) expect(await connects(outside, port)).toBe(false);

    demo.child.kill('SIGTERM');
    const { code } = await demo.exited;
    expect(code, demo.output()).toBe(0);
    expect(await waitUntil(() => processesMentioning(dataDir).length === 0, 15_000)).toBe(true);
  });

  it('refuses to run in production mode', { timeout: 60_000 }, async () => {
    const demo = spawnIn('npm', ['run', '--silent', 'demo'], { NODE_ENV: 'production', ONELINK_DEMO_DATA_DIR: dataDir });
    const { code } = await demo.exited;
    expect(code).toBe(1);
    expect(demo.output()).toContain('refused with NODE_ENV=production');
  });
});
