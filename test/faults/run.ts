// The fault suite (npm run test:faults): a cluster behind nginx under a steady mixed load, the
// fault scenarios one after another, then one figures table. Exits 1 when any scenario failed,
// 2 when nginx is missing. FAULTS_MINUTES (default 10) is how long the load runs at least (the
// memory figure covers it); FAULTS_MINUTES=1 is a quick run with shorter faults. FAULTS_RATE
// (default 20) is the load in requests a second; FAULTS_ONLY a comma-separated list of scenarios.
import fs from 'node:fs';
import path from 'node:path';
import { nginxAvailable, nginxPath, startCluster, type FaultCluster } from './cluster.ts';
import { createLoad, type FaultLoad } from './load.ts';
import { chatwootDownScenario } from './scenarios/chatwoot-down.ts';
import { crashWebScenario } from './scenarios/crash-web.ts';
import { crashWorkerScenario } from './scenarios/crash-worker.ts';
import { restartPostgresScenario } from './scenarios/restart-postgres.ts';
import { markdownTable, plainTable } from './table.ts';
import type { Cluster, Load, Scenario, ScenarioRow } from './types.ts';
import { repoRoot } from '../helpers/processes.ts';

const minutes = Number(process.env.FAULTS_MINUTES ?? 10);
const perSecond = Number(process.env.FAULTS_RATE ?? 20);
if (!Number.isFinite(minutes) || minutes <= 0) {
  console.error('FAULTS_MINUTES must be a positive number of minutes');
  process.exit(2);
}
// A quick run (a few minutes) shortens each fault; the checks stay the same.
const quick = minutes <= 2;

const log = (line: string) => console.log(`[faults ${new Date().toISOString().slice(11, 19)}] ${line}`);

interface MemorySampler { finish(load: Load, minMinutes: number): Promise<ScenarioRow> }
type OptionalModule = Record<string, unknown> | null;

/** A module another part of the suite provides, or null while it is not there yet. */
async function optionalModule(relative: string): Promise<OptionalModule> {
  const file = path.join(repoRoot, 'test', 'faults', relative);
  if (!fs.existsSync(file)) return null;
  return (await import(file)) as Record<string, unknown>;
}

function failedRow(scenario: string, err: unknown, load?: FaultLoad): ScenarioRow {
  const tally = load?.tally();
  return {
    scenario,
    load: '–',
    acknowledged: tally?.acknowledged ?? 0,
    processed: 0,
    lost: 0,
    duplicated: 0,
    serverErrors: tally?.serverErrors ?? 0,
    recoverySeconds: null,
    notes: `error: ${(err as Error).message.split('\n')[0]!.slice(0, 200)}`,
    passed: false,
  };
}

async function main() {
  if (!nginxAvailable()) {
    console.error(`nginx not found at ${nginxPath}: install it (Debian/Ubuntu: apt-get install -y nginx) or set NGINX_PATH.`);
    process.exit(2);
  }
  const startedAt = Date.now();
  let cluster: FaultCluster | undefined;
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    log(`${signal}: stopping everything`);
    void (cluster?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const rows: ScenarioRow[] = [];
  const notes: string[] = [];
  try {
    log('starting the cluster: Postgres, 2 web replicas, 1 worker, nginx, fake Chatwoot');
    cluster = await startCluster({ log });
    log(`cluster up in ${((Date.now() - startedAt) / 1000).toFixed(0)} s at ${cluster.baseUrl}`);
    const memory = await optionalModule('scenarios/memory.ts');
    const startSampler = memory?.startMemorySampler as ((cluster: Cluster, everyMs: number) => MemorySampler) | undefined;
    const sampler = startSampler?.(cluster, 5_000);
    if (!sampler) notes.push('memory: scenarios/memory.ts not present, RSS not sampled');
    const load = createLoad(cluster);
    load.start(perSecond);
    log(`load started: ${perSecond} requests/s (webhooks, Twilio callbacks, API writes)`);

    const own: Array<[string, () => Promise<ScenarioRow>]> = [
      ['crash-web', () => crashWebScenario(cluster!, load, { downMs: quick ? 6_000 : 10_000 })],
      ['crash-worker', () => crashWorkerScenario(cluster!, load, { pileUpMs: quick ? 8_000 : 15_000 })],
      ['restart-postgres', () => restartPostgresScenario(cluster!, load, { downMs: 5_000 })],
      ['chatwoot-down', () => chatwootDownScenario(cluster!, load, { outageMs: quick ? 35_000 : 60_000 })],
    ];
    const others: Array<[string, string, string]> = [
      ['fuzz', 'scenarios/fuzz.ts', 'fuzzScenario'],
      ['floods', 'scenarios/floods.ts', 'floodScenario'],
    ];
    for (const [name, file, exported] of others) {
      const found = (await optionalModule(file))?.[exported] as Scenario | undefined;
      if (found) own.push([name, () => found(cluster!, load)]);
      else notes.push(`${name}: ${file} not present, not run`);
    }
    // FAULTS_ONLY=crash-web,chatwoot-down runs just those (while working on one scenario).
    const only = process.env.FAULTS_ONLY?.split(',').map((name) => name.trim()).filter(Boolean);
    for (const [name, run] of own) {
      if (interrupted) break;
      if (only?.length && !only.includes(name)) continue;
      log(`scenario ${name}`);
      const began = Date.now();
      const row = await run().catch((err: unknown) => failedRow(name, err, load));
      rows.push(row);
      log(`  ${row.passed ? 'pass' : 'FAIL'} in ${((Date.now() - began) / 1000).toFixed(0)} s: ${row.notes}`);
    }
    if (sampler && !interrupted) {
      log(`memory: keeping the load running until ${minutes} min since the start`);
      rows.push(await sampler.finish(load, minutes).catch((err: unknown) => failedRow('memory', err, load)));
    } else if (!interrupted) {
      // Without the sampler the load still runs its minutes, so the run is as long as it will be.
      const left = startedAt + minutes * 60_000 - Date.now();
      if (left > 0) await new Promise((r) => setTimeout(r, left));
    }
    await load.stop();
    log('load stopped');
  } catch (err) {
    rows.push(failedRow('cluster', err));
    console.error((err as Error).stack ?? String(err));
  } finally {
    if (cluster && !interrupted) {
      log('stopping the cluster');
      await cluster.stop();
    }
  }
  if (interrupted) return;

  const table = plainTable(rows);
  console.log(`\nFault suite: 2 web replicas + 1 worker behind nginx, ${perSecond} requests/s, ${((Date.now() - startedAt) / 60_000).toFixed(1)} min\n`);
  console.log(table);
  for (const note of notes) console.log(`note: ${note}`);
  const outDir = path.join(repoRoot, 'test-results');
  fs.mkdirSync(outDir, { recursive: true });
  const markdown = [
    `Fault suite, ${new Date().toISOString().slice(0, 10)}: 2 web replicas and 1 worker behind nginx on one Postgres, ${perSecond} requests/s mixed load, ${minutes} min.`,
    '',
    markdownTable(rows),
    '',
    ...notes.map((note) => `- ${note}`),
    '',
  ].join('\n');
  fs.writeFileSync(path.join(outDir, 'faults.md'), markdown);
  console.log(`\n(also written to test-results/faults.md)`);
  const passed = rows.length > 0 && rows.every((row) => row.passed);
  process.exit(passed ? 0 : 1);
}

void main();
