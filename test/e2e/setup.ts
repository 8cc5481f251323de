// Builds the web pages, checks Chromium is there, and runs ONE real server on a throw-away
// embedded Postgres for the whole browser suite.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { ensureBuild } from '../../extension/cli/ensure-build.ts';
import { freePort } from '../helpers/ports.ts';
import { spawnServer, waitForReady } from '../helpers/processes.ts';
import { chromiumPath } from './browser.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    baseUrl: string;
    /** The same server under another host name, so a page on baseUrl's host can frame it cross-site. */
    appOrigin: string;
    dataDir: string;
    /** The server's embedded database, as the service's own (non-superuser) role, for seeding. */
    databaseUrl: string;
  }
}

export default async function setup(project: TestProject) {
  chromiumPath(); // fail first, with instructions, when the browser is missing
  await ensureBuild();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'onelink-e2e-'));
  const port = await freePort();
  const pgPort = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const server = spawnServer({
    PORT: String(port),
    HOST: '0.0.0.0',
    PUBLIC_URL: baseUrl,
    ONELINK_DATA_DIR: dataDir,
    ONELINK_EMBEDDED_PG_PORT: String(pgPort),
    // Every browser test signs people in from this one address, file after file, within the same
    // minutes: the per-address sign-in limit (tested in test/api) must not decide which test passes.
    ONELINK_SIGN_IN_ATTEMPTS_PER_MINUTE: '1000',
    ONELINK_VENDOR_MESSAGES_PER_MINUTE: '1000',
    LOG_LEVEL: 'warn',
  });
  await waitForReady(baseUrl, server);
  project.provide('baseUrl', baseUrl);
  project.provide('appOrigin', `http://localhost:${port}`);
  project.provide('dataDir', dataDir);
  const password = encodeURIComponent(fs.readFileSync(path.join(dataDir, 'postgres.password'), 'utf8').trim());
  project.provide('databaseUrl', `postgres://onelink:${password}@127.0.0.1:${pgPort}/onelink`);

  return async () => {
    server.child.kill('SIGTERM');
    const { code } = await server.exited;
    fs.rmSync(dataDir, { recursive: true, force: true });
    if (code !== 0) throw new Error(`the server did not stop cleanly (exit ${code}):\n${server.output()}`);
  };
}
