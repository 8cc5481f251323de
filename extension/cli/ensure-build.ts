// Builds the web pages when dist/web is missing or older than its sources (`npm start` runs this).
// A hash of every source file decides, so a fresh clone or a `git pull` rebuilds and a restart does not.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const outDir = path.join(root, 'dist', 'web');
const stampFile = path.join(outDir, '.source-hash');

function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return filesUnder(full);
    return /\.story\.vue$|\.test\.ts$/.test(entry.name) ? [] : [full];
  });
}

export function sourceHash(): string {
  const hash = createHash('sha256');
  const files = [...filesUnder(path.join(root, 'dashboard-apps')), path.join(root, 'package-lock.json')];
  for (const file of files.sort()) {
    hash.update(path.relative(root, file));
    if (fs.existsSync(file)) hash.update(fs.readFileSync(file));
  }
  return hash.digest('hex');
}

export async function ensureBuild(): Promise<'built' | 'up-to-date'> {
  const hash = sourceHash();
  if (fs.existsSync(stampFile) && fs.readFileSync(stampFile, 'utf8') === hash) return 'up-to-date';
  const { build } = await import('vite');
  // Build beside the live folder and swap, so a running server never serves half a build.
  const staging = `${outDir}.staging-${process.pid}`;
  // Always the production build of Vue and friends, whatever NODE_ENV the caller runs under
  // (under the test runner it is "test", which would ship Vue's larger, slower development build).
  const nodeEnv = process.env.NODE_ENV;
  process.env.NODE_ENV = 'production';
  try {
    await build({ configFile: path.join(root, 'dashboard-apps', 'vite.config.ts'), mode: 'production', logLevel: 'warn', build: { outDir: staging, emptyOutDir: true } });
  } finally {
    if (nodeEnv === undefined) delete process.env.NODE_ENV;
    else process.env.NODE_ENV = nodeEnv;
  }
  fs.writeFileSync(path.join(staging, '.source-hash'), hash);
  const old = `${outDir}.old-${process.pid}`;
  if (fs.existsSync(outDir)) fs.renameSync(outDir, old);
  fs.renameSync(staging, outDir);
  fs.rmSync(old, { recursive: true, force: true });
  return 'built';
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const started = Date.now();
  ensureBuild()
    .then((result) => {
      if (result === 'built') console.log(`onelink: web pages built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    })
    .catch((err: unknown) => {
      process.stderr.write(`onelink: building the web pages failed: ${(err as Error).message}\n`);
      process.exit(1);
    });
}
