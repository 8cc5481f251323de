// `npm run build:server`: the server as one plain JavaScript file (dist/server/server.mjs) and the
// migrations compiled beside it (dist/server/migrations/*.mjs, the same names), for production
// processes. Running it needs no TypeScript loader: tsx's module hooks run in a thread of their own
// and keep every compiled module's source in memory, about 40 MB per process that a fleet of
// replicas pays for nothing. Packages stay in node_modules (not bundled), as in development.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('../..', import.meta.url));
const outDir = path.join(root, 'dist', 'server');

export async function buildServer(): Promise<string> {
  fs.rmSync(outDir, { recursive: true, force: true });
  const common = { bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', sourcemap: true, logLevel: 'warning' } as const;
  await build({ ...common, entryPoints: [path.join(root, 'extension', 'server.ts')], outfile: path.join(outDir, 'server.mjs') });
  const migrations = fs.readdirSync(path.join(root, 'migrations')).filter((file) => /^\d{12}_[a-z0-9_]+\.ts$/.test(file));
  await build({ ...common, entryPoints: migrations.map((file) => path.join(root, 'migrations', file)), outdir: path.join(outDir, 'migrations'), outExtension: { '.js': '.mjs' } });
  return path.join(outDir, 'server.mjs');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const file = await buildServer();
  console.log(`built ${path.relative(root, file)} and ${fs.readdirSync(path.join(outDir, 'migrations')).filter((f) => f.endsWith('.mjs')).length} migrations`);
}
