// The container image (Dockerfile). What can be checked without Docker always is: the files it
// copies exist, nothing of the host's (node_modules, .data, secrets) enters the build, and the
// server's whole import graph lies in the copied folders with every package in "dependencies"
// (the image installs with --omit=dev). With Docker, the image is built and run for real against
// a Postgres: web, worker and embedded-Postgres variants come up ready, as a non-root user, with
// node as PID 1, and stop cleanly on SIGTERM. Without Docker that part says so and is skipped.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { isBuiltin } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import webpush from 'web-push';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../extension/db/embedded-postgres.ts';
import { freePort } from '../helpers/ports.ts';
import { repoRoot } from '../helpers/processes.ts';

const dockerfile = fs.readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8');
const packageJson = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; engines: { node: string } };

/** The instructions of the image's last stage (what runs), continuation lines joined. */
function runtimeStage(): string[] {
  const lines = dockerfile.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const lastFrom = lines.map((l) => /^FROM\s/i.test(l)).lastIndexOf(true);
  return lines.slice(lastFrom);
}

/** Sources of the runtime stage's COPY lines from the build context (not from another stage). */
function copiedFromContext(): string[] {
  return runtimeStage()
    .filter((l) => /^COPY\s/i.test(l) && !/--from=/.test(l))
    .flatMap((l) => l.split(/\s+/).slice(1, -1).filter((part) => !part.startsWith('--')));
}

/** Files and packages the server loads at run time, from the entry points, type-only imports left out. */
function runtimeImports(entries: string[]): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const queue = [...entries];
  while (queue.length) {
    const file = queue.pop()!;
    if (files.has(file)) continue;
    files.add(file);
    if (!file.endsWith('.ts')) continue;
    const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, false);
    const specifiers: string[] = [];
    const visit = (node: ts.Node) => {
      if (ts.isImportDeclaration(node) && !node.importClause?.isTypeOnly && ts.isStringLiteral(node.moduleSpecifier)) specifiers.push(node.moduleSpecifier.text);
      if (ts.isExportDeclaration(node) && !node.isTypeOnly && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) specifiers.push(node.moduleSpecifier.text);
      if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteral(node.arguments[0])) specifiers.push(node.arguments[0].text);
      ts.forEachChild(node, visit);
    };
    visit(source);
    for (const spec of specifiers) {
      if (spec.startsWith('.')) queue.push(path.resolve(path.dirname(file), spec));
      else if (!isBuiltin(spec)) packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
    }
  }
  return { files, packages };
}

describe('the Dockerfile (checked without Docker)', () => {
  it('copies only files that exist, and keeps the host’s dependencies, data and secrets out of the build', () => {
    const ignored = fs.readFileSync(path.join(repoRoot, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
    for (const source of copiedFromContext()) {
      expect(fs.existsSync(path.join(repoRoot, source)), source).toBe(true);
      expect(ignored, `${source} is copied, so it must not be left out of the build context`).not.toContain(source);
    }
    for (const entry of ['.git', '**/node_modules', '.data', 'dist', 'test-results', '.env', '.env.*']) expect(ignored, entry).toContain(entry);
  });

  it('builds on the Node line package.json supports, installs with npm ci, and runs node directly as a non-root user', () => {
    const base = /^ARG NODE_IMAGE=node:(\d+)-bookworm-slim$/m.exec(dockerfile);
    expect(base, 'ARG NODE_IMAGE=node:<major>-bookworm-slim').not.toBeNull();
    expect(packageJson.engines.node).toMatch(new RegExp(`\\^${base![1]}\\.`));
    expect(dockerfile).toMatch(/^RUN npm ci --no-audit --no-fund$/m);
    expect(dockerfile).toMatch(/^RUN npm ci --omit=dev\b/m);
    const stage = runtimeStage();
    expect(stage).toContain('ENV NODE_ENV=production');
    expect(stage).toContain('EXPOSE 4000');
    const user = stage.filter((l) => /^USER\s/.test(l)).at(-1)?.split(/\s+/)[1] ?? 'root';
    expect(user.split(':')[0]).not.toMatch(/^(root|0)$/);
    expect(stage.find((l) => l.startsWith('HEALTHCHECK'))).toContain('/health/ready');
    // Exec form, node first: no shell or npm between the container's stop signal and the server,
    // which runs built (npm run build:server in the build stage), without a TypeScript loader.
    const cmd = stage.filter((l) => l.startsWith('CMD')).at(-1)!;
    expect(JSON.parse(cmd.slice(3).trim())).toEqual(['node', 'dist/server/server.mjs']);
    expect(stage).toContain('COPY --from=build /app/dist/server ./dist/server');
  });

  it('copies every file the server and its command-line tools load, and every package they load is in "dependencies"', () => {
    const copied = copiedFromContext().map((source) => path.join(repoRoot, source));
    const migrations = fs.readdirSync(path.join(repoRoot, 'migrations')).filter((f) => f.endsWith('.ts')).map((f) => path.join(repoRoot, 'migrations', f));
    const entries = ['extension/server.ts', 'extension/cli/onelink.ts', 'extension/cli/migrate.ts'].map((f) => path.join(repoRoot, f));
    const { files, packages } = runtimeImports([...entries, ...migrations]);
    expect(files.size).toBeGreaterThan(100);
    const outside = [...files].filter((file) => !copied.some((dir) => file === dir || file.startsWith(`${dir}${path.sep}`)));
    expect(outside.map((file) => path.relative(repoRoot, file))).toEqual([]);
    // tsx runs the command-line tools' TypeScript, so it is needed at run time as well.
    const missing = [...packages, 'tsx'].filter((name) => !packageJson.dependencies[name]).sort();
    expect(missing, 'packages the server loads must be in "dependencies" (the image installs with --omit=dev)').toEqual([]);
  });
});

// ---- With Docker: build the image and run it.

function docker(args: string[], timeoutMs = 60_000) {
  const result = spawnSync('docker', args, { cwd: repoRoot, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  const stdout = (result.stdout ?? '').trim();
  const stderr = `${result.stderr ?? ''}${result.error ? String(result.error) : ''}`.trim();
  return { ok: result.status === 0, stdout, stderr, out: `${stdout}\n${stderr}`.trim() };
}

const probe = docker(['info', '--format', '{{.ServerVersion}}'], 15_000);
const dockerMissing = probe.ok ? '' : `Docker is not available: image not built (docker info: ${probe.stderr.split('\n')[0] || 'no answer'})`;
if (dockerMissing) console.log(dockerMissing);

const tag = `onelink-image-test:${process.pid}`;
const containers: string[] = [];
let dataDir: string | undefined;
let postgres: EmbeddedPostgres | undefined;
let env: Record<string, string> = {};

async function waitForReady(port: number, container: string, timeoutMs = 120_000) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health/ready`)).status === 200) return;
    } catch {
      // not listening yet
    }
    if (docker(['inspect', '--format', '{{.State.Running}}', container]).stdout !== 'true') break;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`container not ready:\n${docker(['logs', container]).out}`);
}

async function run(name: string, vars: Record<string, string>): Promise<{ id: string; port: number }> {
  const port = await freePort();
  const all = { ...vars, PORT: String(port), HOST: '127.0.0.1', PUBLIC_URL: `http://127.0.0.1:${port}` };
  // Host networking: the container reaches the test's Postgres on 127.0.0.1, and we reach it there.
  // A short health interval so the image's own HEALTHCHECK is seen to pass within the test.
  const started = docker(['run', '-d', '--network', 'host', '--health-interval', '2s', '--name', `${name}-${process.pid}`, ...Object.entries(all).flatMap(([k, v]) => ['-e', `${k}=${v}`]), tag]);
  expect(started.ok, started.out).toBe(true);
  const id = started.stdout.split('\n').at(-1)!;
  containers.push(id);
  await waitForReady(port, id);
  return { id, port };
}

async function expectHealthy(id: string) {
  const until = Date.now() + 60_000;
  let status = '';
  while (Date.now() < until && status !== 'healthy') {
    status = docker(['inspect', '--format', '{{.State.Health.Status}}', id]).stdout;
    await new Promise((r) => setTimeout(r, 1000));
  }
  expect(status).toBe('healthy');
}

/** PID 1 in the container is node, run by a user other than root. */
function expectNodeAsNonRoot(id: string) {
  const status = docker(['exec', id, 'cat', '/proc/1/status']);
  expect(status.ok, status.out).toBe(true);
  const uid = /^Uid:\s+(\d+)/m.exec(status.stdout)?.[1];
  expect(uid).toBeDefined();
  expect(uid).not.toBe('0');
  expect(docker(['exec', id, 'cat', '/proc/1/cmdline']).stdout.split('\0')[0]).toBe('node');
}

/** `docker stop` sends SIGTERM: the server finishes and exits 0 well within the grace period. */
function expectCleanStop(id: string) {
  expect(docker(['stop', '-t', '30', id], 60_000).ok).toBe(true);
  expect(docker(['inspect', '--format', '{{.State.ExitCode}}', id]).stdout).toBe('0');
}

describe('the image, built and run', () => {
  beforeAll(async () => {
    if (dockerMissing) return;
    const built = docker(['build', '--tag', tag, '.'], 20 * 60_000);
    expect(built.ok, built.out.slice(-4000)).toBe(true);
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'onelink-image-'));
    postgres = await startEmbeddedPostgres({ dir: path.join(dataDir, 'postgres'), port: await freePort(), database: 'onelink' });
    const vapid = webpush.generateVAPIDKeys();
    env = {
      DATABASE_URL: postgres.url,
      ONELINK_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      ONELINK_VAPID_PUBLIC_KEY: vapid.publicKey,
      ONELINK_VAPID_PRIVATE_KEY: vapid.privateKey,
      ONELINK_VAPID_SUBJECT: 'mailto:ops@onelink.test',
      LOG_LEVEL: 'warn',
    };
  }, 25 * 60_000);

  afterAll(async () => {
    for (const id of containers) docker(['rm', '--force', id]);
    if (!dockerMissing) docker(['image', 'rm', tag]);
    await postgres?.stop();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('runs a web process on DATABASE_URL: ready, healthy, node as PID 1 and not root, stops cleanly', { timeout: 180_000 }, async (ctx) => {
    ctx.skip(Boolean(dockerMissing), dockerMissing);
    const web = await run('onelink-web', { ...env, ONELINK_WORKER: 'false' });
    const landing = await fetch(`http://127.0.0.1:${web.port}/`);
    expect(landing.status).toBe(200);
    expect(landing.headers.get('content-type')).toMatch(/text\/html/);
    await expectHealthy(web.id);
    expectNodeAsNonRoot(web.id);
    expectCleanStop(web.id);
  });

  it('runs the worker from the same image (ONELINK_WORKER=only)', { timeout: 180_000 }, async (ctx) => {
    ctx.skip(Boolean(dockerMissing), dockerMissing);
    const worker = await run('onelink-worker', { ...env, ONELINK_WORKER: 'only' });
    await expectHealthy(worker.id);
    expectNodeAsNonRoot(worker.id);
    expectCleanStop(worker.id);
  });

  it('runs with the embedded Postgres when DATABASE_URL is unset (its data in the writable .data)', { timeout: 180_000 }, async (ctx) => {
    ctx.skip(Boolean(dockerMissing), dockerMissing);
    const embedded = await run('onelink-embedded', { ONELINK_EMBEDDED_PG_PORT: String(await freePort()), LOG_LEVEL: 'warn' });
    expect(docker(['exec', embedded.id, 'test', '-s', '.data/postgres/PG_VERSION']).ok).toBe(true);
    expectCleanStop(embedded.id);
  });
});
