// Memory under the mixed load: every web replica's resident set size, sampled from the start of the
// run to its end (the other scenarios run meanwhile), printed once a minute. Passes when every
// sample stayed under 200 MB. A replica killed and started again by a crash scenario is a new
// process: its samples continue from a fresh start, and the restart is noted.
import { figures } from '../load.ts';
import type { Cluster, Load, ScenarioRow } from '../types.ts';

const limitMb = 200;
const mb = (bytes: number) => bytes / (1024 * 1024);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface ReplicaSamples { max: number; count: number; pids: Set<number> }

export function startMemorySampler(cluster: Cluster, everyMs: number): { finish(load: Load, minMinutes: number): Promise<ScenarioRow> } {
  const startedAt = Date.now();
  const replicas = new Map<string, ReplicaSamples>(cluster.web.map((w) => [w.name, { max: 0, count: 0, pids: new Set<number>() }]));
  let printedMinute = 0;

  const sample = () => {
    const line: string[] = [];
    for (const web of cluster.web) {
      const rss = web.rss();
      const pid = web.pid();
      // Down (killed by a crash scenario, not yet back): nothing to sample.
      if (rss === undefined || pid === undefined) {
        line.push(`${web.name} down`);
        continue;
      }
      const seen = replicas.get(web.name)!;
      seen.max = Math.max(seen.max, rss);
      seen.count++;
      seen.pids.add(pid);
      line.push(`${web.name} ${mb(rss).toFixed(0)} MB`);
    }
    const minute = Math.floor((Date.now() - startedAt) / 60_000);
    if (minute > printedMinute) {
      printedMinute = minute;
      console.log(`memory t=${minute}m ${line.join(' ')}`);
    }
  };
  sample();
  const timer = setInterval(sample, everyMs);
  timer.unref();

  return {
    async finish(load, minMinutes) {
      const left = startedAt + minMinutes * 60_000 - Date.now();
      if (left > 0) await sleep(left);
      sample();
      clearInterval(timer);
      const tally = load.tally();
      const effects = await load.settle(90_000);
      const all = [...replicas.entries()];
      const samples = all.reduce((sum, [, s]) => sum + s.count, 0);
      const overLimit = all.filter(([, s]) => mb(s.max) >= limitMb).map(([name]) => name);
      const restarts = all.filter(([, s]) => s.pids.size > 1).map(([name, s]) => `${name} restarted ${s.pids.size - 1}×`);
      const minutes = (Date.now() - startedAt) / 60_000;
      return {
        scenario: 'memory',
        load: `mixed load for ${minutes.toFixed(1)} min`,
        ...figures(tally, effects),
        recoverySeconds: null,
        notes: [
          `max RSS ${all.map(([name, s]) => `${name} ${mb(s.max).toFixed(0)} MB`).join(', ')} (${samples} samples every ${(everyMs / 1000).toFixed(0)} s, limit ${limitMb} MB)`,
          ...restarts,
          overLimit.length ? `over the limit: ${overLimit.join(', ')}` : '',
          samples === 0 ? 'no sample taken' : '',
        ]
          .filter(Boolean)
          .join('; '),
        passed: samples > 0 && overLimit.length === 0 && effects.lost === 0 && effects.duplicated === 0,
      };
    },
  };
}
