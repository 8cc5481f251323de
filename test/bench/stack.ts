// The real server for the portals' benches, as an installer runs it: its own process, a fake
// Chatwoot connected through the CLI, a loopback SMTP server for sign-in mail, and an
// administrator signed in through Chatwoot whose API calls seed what is measured.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startFakeChatwoot, type FakeChatwoot } from '../fakes/chatwoot.ts';
import { freePort } from '../helpers/ports.ts';
import { spawnIn, spawnServer, waitForReady, type Spawned } from '../helpers/processes.ts';
import { startTestSmtp, type TestSmtp } from '../helpers/smtp.ts';

export interface BenchStack {
  baseUrl: string;
  server: Spawned;
  chatwoot: FakeChatwoot;
  smtp: TestSmtp;
  staff: { token: string; account_id: number };
  /** Runs the onelink CLI with the server's settings; throws with its output when it fails. */
  cli(args: string[]): Promise<void>;
  /** Stops the server process and starts a fresh one on the same database (a clean heap to measure), `env` added. */
  restart(env?: Record<string, string>): Promise<void>;
  /** An API call as the administrator; the answer's data, or a thrown error naming the status. */
  api<T>(urlPath: string, json?: unknown, method?: string): Promise<T>;
  close(): Promise<void>;
}

/**
 * Starts the stack. `env` adds to the server's environment (DATABASE_URL with its keys to use a
 * database the bench also reaches; without it the server starts its own embedded Postgres).
 */
export async function startStack(env: Record<string, string> = {}): Promise<BenchStack> {
  const smtp = await startTestSmtp();
  const chatwoot = await startFakeChatwoot();
  chatwoot.addAgent({ id: 1, name: 'Bench Admin', email: 'bench@acme.test', token: 'bench-admin', accounts: [{ id: 1, name: 'Bench', role: 'administrator' }] });
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'onelink-bench-portal-'));
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const serverEnv = {
    PORT: String(port),
    HOST: '127.0.0.1',
    PUBLIC_URL: baseUrl,
    ONELINK_DATA_DIR: dataDir,
    ONELINK_EMBEDDED_PG_PORT: String(await freePort()),
    SMTP_URL: smtp.url,
    LOG_LEVEL: 'warn',
    ...env,
  };
  let server = spawnServer(serverEnv);
  const close = async () => {
    server.child.kill('SIGTERM');
    await server.exited;
    await chatwoot.close();
    await smtp.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    await waitForReady(baseUrl, server);
    const cli = async (args: string[]) => {
      const run = spawnIn('npm', ['run', '--silent', 'onelink', '--', ...args], { ONELINK_DATA_DIR: dataDir, ...env });
      if ((await run.exited).code !== 0) throw new Error(run.output());
    };
    await cli(['installation', 'add', '--chatwoot-url', chatwoot.url, '--token', 'bench-admin']);
    const signIn = await fetch(`${baseUrl}/api/v1/auth/chatwoot`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ access_token: 'bench-admin', chatwoot_url: chatwoot.url, account_id: 1 }),
    });
    if (signIn.status !== 201) throw new Error(`staff sign-in: ${signIn.status} ${await signIn.text()}`);
    const staff = ((await signIn.json()) as { data: { token: string; account_id: number } }).data;
    const api = async <T>(urlPath: string, json?: unknown, method = json === undefined ? 'GET' : 'POST') => {
      const response = await fetch(`${baseUrl}/api/v1${urlPath}`, {
        method,
        headers: { Authorization: `Bearer ${staff.token}`, 'Content-Type': 'application/json' },
        body: json === undefined ? undefined : JSON.stringify(json),
      });
      if (!response.ok) throw new Error(`${urlPath}: ${response.status} ${await response.text()}`);
      return ((await response.json()) as { data: T }).data;
    };
    const stack: BenchStack = {
      baseUrl,
      server,
      chatwoot,
      smtp,
      staff,
      api,
      cli,
      close,
      async restart(extra = {}) {
        server.child.kill('SIGTERM');
        await server.exited;
        server = spawnServer({ ...serverEnv, ...extra });
        stack.server = server;
        await waitForReady(baseUrl, server);
      },
    };
    return stack;
  } catch (err) {
    const output = server.output();
    await close();
    throw new Error(`the bench stack did not start: ${(err as Error).message}\n${output.slice(-3000)}`, { cause: err });
  }
}

/** The sign-in link of the latest mail after `seen` (waits for it to arrive). */
export async function signInLinkFrom(smtp: TestSmtp, seen: number) {
  while (smtp.mails.length === seen) await new Promise((r) => setTimeout(r, 100));
  return /(http:\/\/\S+#token=[A-Za-z0-9_-]+)/.exec(smtp.mails.at(-1)!.raw.replace(/=\r?\n/g, '').replace(/=3D/g, '='))![1]!;
}
