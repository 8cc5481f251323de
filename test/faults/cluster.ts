// The fault suite's cluster, started the way an operator would run it: one Postgres, two web
// replicas and one worker on it, nginx in front of the web replicas, and a fake Chatwoot
// connected with the real installer. Every child runs in its own process group so that a
// stop (or Ctrl-C, or a failure) takes down everything it started.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import webpush from 'web-push';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../extension/db/embedded-postgres.ts';
import { startFakeChatwoot } from '../fakes/chatwoot.ts';
import { buildServer } from '../../extension/cli/build-server.ts';
import { freePort } from '../helpers/ports.ts';
import { repoRoot } from '../helpers/processes.ts';
import type { Cluster, ProcessHandle } from './types.ts';

export const nginxPath = process.env.NGINX_PATH ?? '/usr/sbin/nginx';

/** What the load needs besides the shared Cluster shape: how to sign what it sends. */
export interface FaultCluster extends Cluster {
  /** The Chatwoot webhook path (its unguessable token) and the secret deliveries are signed with. */
  chatwootWebhook: { path: string; secret: string; chatwootAccountId: number };
  /** Twilio's status callback path and the auth token callbacks are signed with; `publicUrl` is what Twilio signs over. */
  twilio: { statusPath: string; authToken: string; accountSid: string; number: string; publicUrl: string };
  nginx: ProcessHandle;
  /** Requests nginx passed to each upstream address (from its access log) since the start. */
  upstreamCounts(): Map<string, number>;
  /** False when the operator's DATABASE_URL is used: the suite cannot restart a server it does not own. */
  databaseRestartable: boolean;
  /** The two halves of database.restart, for scenarios that time what happens in between. */
  postgres: { stop(): Promise<void>; start(): Promise<void> };
  /** A replica's own address (not through nginx). */
  directUrl(handle: ProcessHandle): string;
}

/** Every process group we started, so even an abrupt exit can kill them all. */
const groups = new Set<number>();
process.on('exit', () => {
  for (const pid of groups) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function rssOf(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

async function httpStatus(url: string, timeoutMs = 2000): Promise<number | null> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return null;
  }
}

interface ManagedOptions {
  name: string;
  port: number;
  command: string;
  args: string[];
  env: Record<string, string>;
  /** Resolves once the freshly started process is usable. */
  ready: (handle: ProcessHandle, child: ChildProcess) => Promise<void>;
}

/** A long-running child we can kill -9 and start again; keeps the last part of its output. */
function managedProcess(options: ManagedOptions): ProcessHandle {
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let output = '';
  const handle: ProcessHandle = {
    name: options.name,
    port: options.port,
    pid: () => (child && child.exitCode === null && child.signalCode === null ? child.pid : undefined),
    async kill(signal = 'SIGKILL') {
      const pid = handle.pid();
      if (!pid) return;
      try {
        process.kill(-pid, signal);
      } catch {
        // gone in between
      }
      await exited;
    },
    async start() {
      if (handle.pid()) throw new Error(`${options.name} is already running`);
      output += `\n--- ${options.name} started ${new Date().toISOString()} ---\n`;
      const started = spawn(options.command, options.args, {
        cwd: repoRoot,
        env: { ...process.env, ...options.env },
        stdio: ['ignore', 'pipe', 'pipe'],
        // Its own process group: killing the group also takes anything it spawned.
        detached: true,
      });
      child = started;
      groups.add(started.pid!);
      const collect = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-30_000));
      started.stdout!.on('data', collect);
      started.stderr!.on('data', collect);
      exited = new Promise((resolve) =>
        started.once('exit', (code, signal) => {
          groups.delete(started.pid!);
          output += `\n--- ${options.name} exited (${signal ?? code}) ${new Date().toISOString()} ---\n`;
          resolve();
        }),
      );
      await options.ready(handle, started);
    },
    rss: () => rssOf(handle.pid()),
    output: () => output,
  };
  return handle;
}

/** Waits for /health/ready to answer 200 on the process's own port. */
function readyOnPort(port: number, timeoutMs = 90_000) {
  return async (handle: ProcessHandle, child: ChildProcess) => {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${handle.name} exited during start-up:\n${handle.output().slice(-3000)}`);
      if ((await httpStatus(`http://127.0.0.1:${port}/health/ready`)) === 200) return;
      await sleep(250);
    }
    throw new Error(`${handle.name} not ready within ${timeoutMs} ms:\n${handle.output().slice(-3000)}`);
  };
}

/** Whether the server knows ONELINK_WORKER=only (a worker that serves no HTTP API). */
function workerOnlySupported() {
  const config = fs.readFileSync(path.join(repoRoot, 'extension', 'config.ts'), 'utf8');
  return /ONELINK_WORKER:\s*z\.enum\(\[[^\]]*'only'/.test(config);
}

function nginxConfig(dir: string, port: number, upstreams: number[]) {
  const servers = upstreams.map((p) => `    server 127.0.0.1:${p} max_fails=1 fail_timeout=2s;`).join('\n');
  return `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  log_format upstreams '$upstream_addr $status $request_method $request_time';
  access_log ${dir}/access.log upstreams;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  client_max_body_size 30m;
  upstream onelink {
${servers}
    keepalive 16;
    # Below Node's own keep-alive timeout (5 s): nginx must never reuse a connection the replica is closing.
    keepalive_timeout 4s;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://onelink;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      # Another replica is tried only when this one could not be reached or timed out; nginx
      # never replays a POST it already sent (no non_idempotent here), so nothing is doubled.
      proxy_next_upstream error timeout;
      proxy_next_upstream_tries 2;
      proxy_connect_timeout 2s;
      proxy_read_timeout 60s;
      # Event streams must reach the browser as they are written.
      proxy_buffering off;
      add_header X-Upstream $upstream_addr always;
    }
  }
}
`;
}

/** Runs a CLI of ours to completion; asynchronously, since the fake Chatwoot it talks to lives in this process. */
function runCli(args: string[], env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const child = spawn('npm', ['run', '--silent', 'onelink', '--', ...args], {
    cwd: repoRoot,
    env: { ...process.env, NODE_ENV: 'production', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    }),
  );
}

async function api(baseUrl: string, method: string, apiPath: string, token: string | null, body?: unknown) {
  const res = await fetch(`${baseUrl}/api/v1${apiPath}`, {
    method,
    headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${apiPath} answered ${res.status}: ${text.slice(0, 500)}`);
  return JSON.parse(text) as { data: Record<string, unknown> };
}

export async function startCluster(options: { log?: (line: string) => void } = {}): Promise<FaultCluster> {
  const log = options.log ?? (() => {});
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onelink-faults-'));
  // nginx's workers (and Postgres, when run by root) are other users: they must reach the folder.
  fs.chmodSync(dir, 0o755);
  // Run in reverse at stop: nginx, the worker and replicas, the fake, the pool, Postgres last.
  const stops: Array<() => Promise<void>> = [];
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      for (const step of stops.reverse()) await step().catch((err: unknown) => log(`stop: ${(err as Error).message}`));
      fs.rmSync(dir, { recursive: true, force: true });
    })());

  try {
    // Postgres: ours (so it can be restarted on the same port and data), unless the operator gave one.
    const operatorUrl = process.env.DATABASE_URL || undefined;
    let embedded: EmbeddedPostgres | undefined;
    const pgPort = await freePort();
    const pgDir = path.join(dir, 'pg', 'postgres');
    const startPostgres = async () => {
      embedded = await startEmbeddedPostgres({ dir: pgDir, port: pgPort, database: 'onelink' });
      // Postgres runs in its own process group too: an abrupt exit of the suite kills it as well.
      groups.add(embedded.pid);
    };
    if (!operatorUrl) {
      log('starting Postgres');
      await startPostgres();
      stops.push(async () => {
        await embedded?.stop();
        if (embedded) groups.delete(embedded.pid);
      });
    }
    const databaseUrl = operatorUrl ?? embedded!.url;
    // The harness counts effects across the account: as the superuser (row-level security would
    // hide rows without an account set), or as the operator's role with the account set per query.
    const inspectUrl = operatorUrl ?? (() => {
      const url = new URL(embedded!.adminUrl);
      url.pathname = '/onelink';
      return url.toString();
    })();
    const schema = process.env.ONELINK_DB_SCHEMA || 'onelink';
    const pool = new pg.Pool({ connectionString: inspectUrl, max: 3, connectionTimeoutMillis: 3000 });
    // A pooled connection dies with Postgres during the restart scenario: that must not end the run.
    pool.on('error', () => {});
    stops.push(() => pool.end());
    let accountForQueries = 0;
    const query = async <T = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> => {
      const client = await pool.connect();
      try {
        await client.query(`set search_path to ${client.escapeIdentifier(schema)}, public`);
        if (operatorUrl && accountForQueries) await client.query(`select set_config('onelink.account_id', $1, false)`, [String(accountForQueries)]);
        const rows = (await client.query(sql, params)).rows as T[];
        client.release();
        return rows;
      } catch (err) {
        // A connection that failed (say, Postgres restarted under it) is discarded, not reused.
        client.release(err as Error);
        throw err;
      }
    };

    const chatwoot = await startFakeChatwoot();
    stops.push(() => chatwoot.close());
    const chatwootAccountId = 1;
    // A second account the load never writes to: the fuzzer's, so its rows can be checked unchanged.
    const fuzzChatwootAccountId = 2;
    const adminToken = `cw-admin-${randomBytes(8).toString('hex')}`;
    chatwoot.addAgent({
      id: 1,
      name: 'Admin',
      email: 'admin@example.com',
      token: adminToken,
      accounts: [
        { id: chatwootAccountId, name: 'Acme', role: 'administrator' },
        { id: fuzzChatwootAccountId, name: 'Fuzzed', role: 'administrator' },
      ],
    });

    const nginxPort = await freePort();
    const publicUrl = `http://127.0.0.1:${nginxPort}`;
    const vapid = webpush.generateVAPIDKeys();
    const common: Record<string, string> = {
      DATABASE_URL: databaseUrl,
      ONELINK_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      ONELINK_VAPID_PUBLIC_KEY: vapid.publicKey,
      ONELINK_VAPID_PRIVATE_KEY: vapid.privateKey,
      ONELINK_VAPID_SUBJECT: 'mailto:ops@example.com',
      PUBLIC_URL: publicUrl,
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      NODE_ENV: 'production',
      // Three processes share one Postgres (100 connections): keep each pool modest.
      ONELINK_DB_POOL_MAX: '5',
      ONELINK_CHATWOOT_SYNC_MINUTES: '0',
      ONELINK_CHATWOOT_TIMEOUT_MS: '5000',
      ONELINK_FILES_DIR: path.join(dir, 'files'),
    };
    // The production shape: the built server (npm run build:server), no TypeScript loader.
    const server = [await buildServer()];
    const web: ProcessHandle[] = [];
    for (const name of ['web-1', 'web-2']) {
      const port = await freePort();
      web.push(managedProcess({
        name,
        port,
        command: process.execPath,
        args: server,
        env: { ...common, PORT: String(port), ONELINK_WORKER: 'false', ONELINK_DATA_DIR: path.join(dir, name) },
        ready: readyOnPort(port),
      }));
    }
    const workerPort = await freePort();
    const workerOnly = workerOnlySupported();
    const worker = managedProcess({
      name: 'worker',
      port: workerPort,
      command: process.execPath,
      args: server,
      // Until ONELINK_WORKER=only exists, the worker is a full process on its own port, outside nginx.
      env: { ...common, PORT: String(workerPort), ONELINK_WORKER: workerOnly ? 'only' : 'true', ONELINK_DATA_DIR: path.join(dir, 'worker') },
      ready: workerOnly
        ? async (handle, child) => {
            // A worker-only process may serve no HTTP: running for a few seconds without exiting is ready.
            for (let i = 0; i < 40; i++) {
              if (child.exitCode !== null || child.signalCode !== null) throw new Error(`worker exited during start-up:\n${handle.output().slice(-3000)}`);
              if ((await httpStatus(`http://127.0.0.1:${workerPort}/health/ready`)) === 200) return;
              if (i >= 20) return;
              await sleep(250);
            }
          }
        : readyOnPort(workerPort),
    });
    // Migrations take turns on an advisory lock: start one first so the others find them done.
    log('starting web-1 (migrations)');
    await web[0]!.start();
    stops.push(() => web[0]!.kill('SIGTERM'));
    log('starting web-2 and the worker');
    await Promise.all([web[1]!.start(), worker.start()]);
    stops.push(() => web[1]!.kill('SIGTERM'), () => worker.kill('SIGTERM'));

    const nginxDir = path.join(dir, 'nginx');
    fs.mkdirSync(nginxDir, { mode: 0o755 });
    const confFile = path.join(nginxDir, 'nginx.conf');
    fs.writeFileSync(confFile, nginxConfig(nginxDir, nginxPort, web.map((w) => w.port)));
    const nginx = managedProcess({
      name: 'nginx',
      port: nginxPort,
      command: nginxPath,
      args: ['-c', confFile, '-p', nginxDir, '-g', 'daemon off;'],
      env: {},
      ready: readyOnPort(nginxPort, 15_000),
    });
    log('starting nginx');
    await nginx.start();
    stops.push(async () => {
      // nginx's master takes its workers down with it on SIGQUIT (graceful) or SIGTERM (fast).
      await nginx.kill('SIGTERM');
    });

    // Connect Chatwoot with the real installer, through nginx, round-trip check included.
    log('installing into the fake Chatwoot');
    const cliEnv = { ...common, ONELINK_DATA_DIR: path.join(dir, 'cli') };
    for (const account of [chatwootAccountId, fuzzChatwootAccountId]) {
      const install = await runCli(
        ['install', '--chatwoot-url', chatwoot.url, '--account-id', String(account), '--token', adminToken, '--public-url', publicUrl, '--skip-backfill'],
        cliEnv,
      );
      if (install.code !== 0) throw new Error(`the installer failed for account ${account} (${install.code}):\n${install.output}`);
    }
    const hook = chatwoot.webhooks.find((h) => h.accountId === chatwootAccountId);
    if (!hook) throw new Error('the installer registered no webhook');

    // A staff session (the administrator) over HTTP through nginx, as the sidebar would get one.
    const session = await api(publicUrl, 'POST', '/auth/chatwoot', null, { access_token: adminToken, account_id: chatwootAccountId });
    const token = String(session.data.token);
    const accountId = Number(session.data.account_id);
    accountForQueries = accountId;
    await api(publicUrl, 'PATCH', '/admin/capabilities', token, { profile: 'construction' });
    const fuzzSession = await api(publicUrl, 'POST', '/auth/chatwoot', null, { access_token: adminToken, account_id: fuzzChatwootAccountId });
    const fuzzAccount = { accountId: Number(fuzzSession.data.account_id), adminHeaders: { Authorization: `Bearer ${String(fuzzSession.data.token)}` } };
    const twilioAccountSid = `AC${randomBytes(16).toString('hex')}`;
    const twilioAuthToken = randomBytes(16).toString('hex');
    // No Chatwoot inbox for calls: a missed call opens its call-back task without asking Chatwoot.
    const settings = await api(publicUrl, 'PUT', '/twilio/settings', token, {
      account_sid: twilioAccountSid,
      auth_token: twilioAuthToken,
      forward_to: ['+14155550100'],
      create_job_on: 'never',
      callback_due_minutes: 30,
    });
    const twilioNumber = '+14155550199';
    await api(publicUrl, 'POST', '/twilio/numbers', token, { e164: twilioNumber, label: 'Main line', location: 'Downtown' });
    const statusUrl = (settings.data.webhook_urls as Record<string, string>).status_callback;
    if (!statusUrl) throw new Error(`no Twilio status callback URL among ${Object.keys(settings.data.webhook_urls ?? {}).join(', ')}`);

    const postgres = {
      async stop() {
        if (!embedded) throw new Error('Postgres is the operator\'s (DATABASE_URL): the suite cannot restart it');
        await embedded.stop();
        groups.delete(embedded.pid);
      },
      async start() {
        if (operatorUrl) throw new Error('Postgres is the operator\'s (DATABASE_URL): the suite cannot restart it');
        await startPostgres();
      },
    };
    const cluster: FaultCluster = {
      baseUrl: publicUrl,
      web,
      worker,
      nginx,
      database: {
        url: databaseUrl,
        query,
        async restart(downMs: number) {
          await postgres.stop();
          await sleep(downMs);
          await postgres.start();
        },
      },
      postgres,
      databaseRestartable: !operatorUrl,
      chatwoot,
      accountId,
      adminHeaders: { Authorization: `Bearer ${token}` },
      fuzzAccount,
      chatwootWebhook: { path: new URL(hook.url).pathname, secret: hook.secret, chatwootAccountId },
      twilio: { statusPath: new URL(statusUrl).pathname, authToken: twilioAuthToken, accountSid: twilioAccountSid, number: twilioNumber, publicUrl },
      upstreamCounts() {
        const counts = new Map<string, number>();
        let text = '';
        try {
          text = fs.readFileSync(path.join(nginxDir, 'access.log'), 'utf8');
        } catch {
          return counts;
        }
        for (const line of text.split('\n')) {
          // "$upstream_addr": one address, or several (comma-separated) when nginx tried the next one.
          const addresses = line.split(' ')[0];
          if (!addresses || addresses === '-') continue;
          for (const address of addresses.split(',').map((a) => a.trim())) counts.set(address, (counts.get(address) ?? 0) + 1);
        }
        return counts;
      },
      directUrl: (handle) => `http://127.0.0.1:${handle.port}`,
      stop,
    };
    return cluster;
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Whether nginx is installed where the suite looks for it. */
export function nginxAvailable() {
  return fs.existsSync(nginxPath);
}
