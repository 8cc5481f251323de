// Postgres stopped mid-load for a few seconds: every process's readiness goes 503 and back to 200,
// senders get 5xx (never a 2xx) while it is down, nothing acknowledged is lost, no process exits.
import type { FaultCluster } from '../cluster.ts';
import { countEffects, type FaultLoad, figures, loadInWords, rejectedInWords, sleep } from '../load.ts';
import type { ProcessHandle, ScenarioRow } from '../types.ts';

async function readiness(url: string): Promise<number | null> {
  try {
    const res = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(2_000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return null;
  }
}

/** Polls each process's readiness until stopped; remembers what each one answered, in order. */
function watchReadiness(cluster: FaultCluster, processes: ProcessHandle[]) {
  const seen = new Map<string, Array<{ at: number; status: number | null }>>(processes.map((p) => [p.name, []]));
  let running = true;
  const loops = processes.map(async (p) => {
    while (running) {
      const status = await readiness(cluster.directUrl(p));
      const list = seen.get(p.name)!;
      if (list.at(-1)?.status !== status) list.push({ at: Date.now(), status });
      await sleep(250);
    }
  });
  return {
    seen,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

export async function restartPostgresScenario(cluster: FaultCluster, load: FaultLoad, options: { downMs?: number } = {}): Promise<ScenarioRow> {
  const downMs = options.downMs ?? 5_000;
  if (!cluster.databaseRestartable) {
    return {
      scenario: 'restart-postgres',
      load: '–',
      acknowledged: 0,
      processed: 0,
      lost: 0,
      duplicated: 0,
      serverErrors: 0,
      recoverySeconds: null,
      notes: 'skipped: DATABASE_URL is the operator\'s Postgres, which the suite does not restart',
      passed: true,
    };
  }
  load.reset();
  const since = Date.now();
  // Every process that serves HTTP (a worker-only process may not); each must be ready before the fault.
  const watched: ProcessHandle[] = [...cluster.web];
  if ((await readiness(cluster.directUrl(cluster.worker))) !== null) watched.push(cluster.worker);
  const notReadyBefore: string[] = [];
  for (const p of watched) if ((await readiness(cluster.directUrl(p))) !== 200) notReadyBefore.push(p.name);
  const pids = new Map([...cluster.web, cluster.worker].map((p) => [p.name, p.pid()]));
  const watch = watchReadiness(cluster, watched);
  await sleep(5_000);
  await cluster.postgres.stop();
  const downAt = Date.now();
  await sleep(downMs);
  const startingAt = Date.now();
  await cluster.postgres.start();
  const upAt = Date.now();
  // Recovered: every process ready again and the load acknowledged again through nginx.
  let recoveredAt: number | null = null;
  for (const until = Date.now() + 60_000; Date.now() < until; await sleep(250)) {
    const allReady = watched.every((p) => watch.seen.get(p.name)!.at(-1)?.status === 200 && watch.seen.get(p.name)!.at(-1)!.at >= upAt);
    const acknowledged = load.requests().some((r) => r.sentAt >= upAt && typeof r.status === 'number' && r.status < 300);
    if (allReady && acknowledged) {
      recoveredAt = Date.now();
      break;
    }
  }
  // End to end: a webhook acknowledged after Postgres returned reaches the caches (the worker
  // works again, not only answers). Falling back to the minute sweeps shows here as a long wait.
  let processedAgainAt: number | null = null;
  for (const until = Date.now() + 150_000; Date.now() < until; await sleep(500)) {
    const fresh = load.requests().filter((r) => r.kind === 'contact' && r.sentAt >= upAt && typeof r.status === 'number' && r.status < 300).slice(0, 5);
    const effects = fresh.length ? await countEffects(cluster, fresh).catch(() => new Map<string, number>()) : new Map<string, number>();
    if (fresh.some((r) => (effects.get(r.key) ?? 0) > 0)) {
      processedAgainAt = Date.now();
      break;
    }
  }
  await watch.stop();
  const words = loadInWords(load, since);
  const tally = load.tally();
  const effects = await load.settle(120_000);
  // Sent after Postgres had stopped and answered before it started again: nothing can have been stored.
  const whileDown = load.requests().filter((r) => r.sentAt >= downAt && r.answeredAt !== undefined && r.answeredAt < startingAt);
  const acknowledgedWhileDown = whileDown.filter((r) => typeof r.status === 'number' && r.status < 300).length;
  const refusedWhileDown = whileDown.filter((r) => typeof r.status === 'number' && r.status >= 500).length;
  const readinessStory = watched.map((p) => `${p.name} ${watch.seen.get(p.name)!.map((s) => s.status ?? 'none').join('→')}`);
  const notReadyDuringOutage = watched.filter((p) => !watch.seen.get(p.name)!.some((s) => s.status === 503 && s.at >= downAt - 1_000 && s.at <= upAt));
  const notBack = watched.filter((p) => watch.seen.get(p.name)!.at(-1)?.status !== 200);
  const exited = [...cluster.web, cluster.worker].filter((p) => !p.pid() || p.pid() !== pids.get(p.name));
  const failures = [
    notReadyBefore.length > 0 && `not ready before the fault: ${notReadyBefore.join(', ')}`,
    notReadyDuringOutage.length > 0 && `readiness never 503 on ${notReadyDuringOutage.map((p) => p.name).join(', ')}`,
    notBack.length > 0 && `readiness not back to 200 on ${notBack.map((p) => p.name).join(', ')}`,
    acknowledgedWhileDown > 0 && `${acknowledgedWhileDown} requests acknowledged while Postgres was down`,
    exited.length > 0 && `exited: ${exited.map((p) => p.name).join(', ')}`,
    recoveredAt === null && 'not recovered within 60 s',
    processedAgainAt === null && 'no webhook sent after the restart was processed within 150 s',
    processedAgainAt !== null && processedAgainAt - upAt > 20_000 && `webhooks processed again only ${((processedAgainAt - upAt) / 1000).toFixed(0)} s after the restart (the worker's LISTEN connections are gone; only the sweeps run)`,
    rejectedInWords(load),
  ].filter(Boolean);
  return {
    scenario: 'restart-postgres',
    load: words,
    ...figures(tally, effects),
    // From Postgres accepting connections again to every process ready, requests acknowledged and processed.
    recoverySeconds: recoveredAt === null || processedAgainAt === null ? null : (Math.max(recoveredAt, processedAgainAt) - upAt) / 1000,
    notes: [
      `down ${((startingAt - downAt) / 1000).toFixed(1)} s`,
      `${refusedWhileDown} answered 5xx, ${acknowledgedWhileDown} 2xx while down`,
      `readiness ${readinessStory.join(', ')}`,
      recoveredAt === null ? 'not ready again' : `ready and acknowledging ${((recoveredAt - upAt) / 1000).toFixed(1)} s after`,
      processedAgainAt === null ? 'nothing processed again' : `processing again ${((processedAgainAt - upAt) / 1000).toFixed(1)} s after`,
      exited.length ? 'a process exited' : 'all pids unchanged',
      ...failures,
      load.lastSettleInWords(),
    ].filter(Boolean).join('; '),
    passed: effects.lost === 0 && effects.duplicated === 0 && failures.length === 0,
  };
}
