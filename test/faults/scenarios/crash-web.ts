// kill -9 one web replica mid-load: nginx routes around it, every request acknowledged (before or
// after the kill) is processed exactly once, and the replica, started again, gets requests again.
import type { FaultCluster } from '../cluster.ts';
import { type FaultLoad, figures, lastFailureAfter, loadInWords, rejectedInWords, sleep } from '../load.ts';
import type { ScenarioRow } from '../types.ts';

export async function crashWebScenario(cluster: FaultCluster, load: FaultLoad, options: { downMs?: number } = {}): Promise<ScenarioRow> {
  const downMs = options.downMs ?? 10_000;
  load.reset();
  const since = Date.now();
  await sleep(5_000);
  const victim = cluster.web[0]!;
  const victimAddress = `127.0.0.1:${victim.port}`;
  const killedAt = Date.now();
  await victim.kill('SIGKILL');
  await sleep(downMs);
  // Acknowledged while it was down: nginx passed them to the other replica.
  const acknowledgedWhileDown = load.requests().filter((r) => r.sentAt >= killedAt + 3_000 && typeof r.status === 'number' && r.status < 300).length;
  const restartedAt = Date.now();
  await victim.start();
  const backAt = Date.now();
  // Rejoined: nginx passes requests to it again (fail_timeout is 2 s), answered by it.
  let rejoinedAt: number | null = null;
  for (const until = Date.now() + 20_000; Date.now() < until && rejoinedAt === null; await sleep(250)) {
    const reached = load.requests().find((r) => r.sentAt >= backAt && r.upstream?.split(',').pop()?.trim() === victimAddress && typeof r.status === 'number' && r.status < 300);
    if (reached) rejoinedAt = reached.answeredAt ?? null;
  }
  await sleep(3_000);
  const words = loadInWords(load, since);
  const tally = load.tally();
  const effects = await load.settle(90_000);
  const lastFailure = lastFailureAfter(load, killedAt - 2_000);
  const failures = [
    acknowledgedWhileDown === 0 && 'nothing acknowledged while the replica was down',
    rejoinedAt === null && 'the restarted replica got no request within 20 s',
    rejectedInWords(load),
  ].filter(Boolean);
  return {
    scenario: 'crash-web',
    load: words,
    ...figures(tally, effects),
    // From the kill until clients saw no more failures (the replica's own return is in the notes).
    recoverySeconds: lastFailure === null ? 0 : Math.max(0, (lastFailure - killedAt) / 1000),
    notes: [
      `web-1 killed; ${acknowledgedWhileDown} acknowledged via web-2 while down`,
      `${tally.failedToConnect + tally.serverErrors} unanswered/5xx in flight`,
      `restarted in ${((backAt - restartedAt) / 1000).toFixed(1)} s`,
      rejoinedAt === null ? 'did NOT rejoin' : `rejoined ${((rejoinedAt - backAt) / 1000).toFixed(1)} s after`,
      ...failures,
      load.lastSettleInWords(),
    ].filter(Boolean).join('; '),
    passed: effects.lost === 0 && effects.duplicated === 0 && failures.length === 0,
  };
}
