// The service as an operator runs it: `npm start` on the embedded Postgres, signals, restarts, crashes.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/ports.ts';
import { isAlive, postmasterPid, processesMentioning, spawnIn, spawnServer, waitForReady, waitUntil } from '../helpers/processes.ts';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'onelink-lifecycle-'));
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

async function envFor(dir = dataDir) {
  return { ONELINK_DATA_DIR: dir, PORT: String(await freePort()), ONELINK_EMBEDDED_PG_PORT: String(await freePort()) };
}

async function embeddedClient(env: { ONELINK_EMBEDDED_PG_PORT: string }) {
  const password = encodeURIComponent(fs.readFileSync(path.join(dataDir, 'postgres.password'), 'utf8').trim());
  const client = new pg.Client({ connectionString: `postgres://postgres:${password}@127.0.0.1:${env.ONELINK_EMBEDDED_PG_PORT}/onelink` });
  await client.connect();
  return client;
}

describe('npm start on the embedded Postgres', () => {
  it('boots with no configuration, and SIGTERM to the npm process leaves no postgres behind', { timeout: 180_000 }, async () => {
    const env = await envFor();
    const npm = spawnIn('npm', ['start'], env);
    await waitForReady(`http://127.0.0.1:${env.PORT}`, npm, 150_000);

    const pgPid = postmasterPid(dataDir);
    expect(isAlive(pgPid)).toBe(true);
    const client = await embeddedClient(env);
    await client.query('create table public.survives_restart (note text)');
    await client.query(`insert into public.survives_restart values ('written before restart')`);
    await client.end();

    npm.child.kill('SIGTERM'); // as a process manager does: only the npm process gets it
    const { code } = await npm.exited;
    expect(code).toBe(0);
    expect(await waitUntil(() => !isAlive(pgPid))).toBe(true);
    expect(processesMentioning(path.join(dataDir, 'postgres'))).toEqual([]);
  });

  it('reuses the data on the next start', { timeout: 60_000 }, async () => {
    const env = await envFor();
    const server = spawnServer(env);
    await waitForReady(`http://127.0.0.1:${env.PORT}`, server);
    const client = await embeddedClient(env);
    const { rows } = await client.query('select note from public.survives_restart');
    await client.end();
    expect(rows).toEqual([{ note: 'written before restart' }]);

    const pgPid = postmasterPid(dataDir);
    server.child.kill('SIGINT'); // Ctrl-C
    expect((await server.exited).code).toBe(0);
    expect(await waitUntil(() => !isAlive(pgPid))).toBe(true);
  });

  it('recovers after being killed outright (SIGKILL leaves an orphaned postgres)', { timeout: 90_000 }, async () => {
    const env = await envFor();
    const first = spawnServer(env);
    await waitForReady(`http://127.0.0.1:${env.PORT}`, first);
    const orphan = postmasterPid(dataDir);
    first.child.kill('SIGKILL');
    await first.exited;
    expect(isAlive(orphan)).toBe(true); // still running with nobody to stop it

    const second = spawnServer(env);
    await waitForReady(`http://127.0.0.1:${env.PORT}`, second);
    expect(isAlive(orphan)).toBe(false);
    const fresh = postmasterPid(dataDir);
    expect(fresh).not.toBe(orphan);
    second.child.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);
    expect(await waitUntil(() => !isAlive(fresh))).toBe(true);
  });

  it('refuses to share its data folder with another running instance', { timeout: 60_000 }, async () => {
    const env = await envFor();
    const first = spawnServer(env);
    await waitForReady(`http://127.0.0.1:${env.PORT}`, first);
    const second = spawnServer({ ...(await envFor()) });
    const { code } = await second.exited;
    expect(code).toBe(1);
    expect(second.output()).toMatch(/in use by another running process/);
    first.child.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);
  });
});

describe('start-up errors are one clear line and exit 1', () => {
  it('names a bad configuration variable', async () => {
    const server = spawnServer({ PORT: 'eighty', ONELINK_DATA_DIR: dataDir });
    const { code } = await server.exited;
    expect(code).toBe(1);
    const lines = server.output().trim().split('\n');
    expect(lines).toEqual(['onelink: Invalid configuration: PORT must be a port number between 1 and 65535 (got "eighty").']);
  });

  it('says when the HTTP port is taken', { timeout: 60_000 }, async () => {
    const blocker = net.createServer();
    const port = await freePort();
    await new Promise<void>((resolve) => blocker.listen(port, '0.0.0.0', resolve));
    try {
      const env = { ...(await envFor()), PORT: String(port) };
      const server = spawnServer({ ...env, LOG_LEVEL: 'warn' });
      const { code } = await server.exited;
      expect(code).toBe(1);
      expect(server.output().trim().split('\n').at(-1)).toBe(
        `onelink: port ${port} is already in use on 0.0.0.0; set PORT to a free port.`,
      );
      expect(processesMentioning(path.join(dataDir, 'postgres'))).toEqual([]);
    } finally {
      blocker.close();
    }
  });
});
