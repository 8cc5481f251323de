// kill -9 the worker mid-batch: with the worker stopped, deliveries and write-backs pile up; it is
// started, and killed as soon as it has made progress on them; started again, it (and the stalled-
// delivery sweep) must process every delivery and write-back exactly once.
import type { FaultCluster } from '../cluster.ts';
import { type FaultLoad, figures, loadInWords, rejectedInWords, sleep } from '../load.ts';
import type { ScenarioRow } from '../types.ts';

interface Backlog { deliveries: number; processing: number; writeBacks: number; done: number }

async function backlog(cluster: FaultCluster, since: Date): Promise<Backlog> {
  const [row] = await cluster.database.query<Backlog>(
    `select (select count(*) from webhook_deliveries where received_at >= $1 and status in ('received', 'retrying'))::int as deliveries,
            (select count(*) from webhook_deliveries where received_at >= $1 and status = 'processing')::int as processing,
            (select count(*) from chatwoot_outbox where account_id = $2 and created_at >= $1 and status = 'pending')::int as "writeBacks",
            ((select count(*) from webhook_deliveries where received_at >= $1 and status in ('processed', 'ignored'))
              + (select count(*) from chatwoot_outbox where account_id = $2 and created_at >= $1 and status = 'sent'))::int as done`,
    [since, cluster.accountId],
  );
  return row!;
}

export async function crashWorkerScenario(cluster: FaultCluster, load: FaultLoad, options: { pileUpMs?: number; settleMs?: number } = {}): Promise<ScenarioRow> {
  const pileUpMs = options.pileUpMs ?? 15_000;
  load.reset();
  const since = Date.now();
  const windowStart = new Date(since - 1_000);
  const { worker } = cluster;
  await worker.kill('SIGTERM');
  await sleep(pileUpMs);
  const piled = await backlog(cluster, windowStart);
  // Start it without waiting for readiness, and kill it the moment it has done part of the work.
  const restartedAt = Date.now();
  const starting = worker.start().catch(() => undefined);
  let atKill: Backlog | undefined;
  let killedAt = 0;
  for (const until = Date.now() + 60_000; Date.now() < until; await sleep(20)) {
    const now = await backlog(cluster, windowStart);
    if (now.done > piled.done) {
      await worker.kill('SIGKILL');
      killedAt = Date.now();
      atKill = await backlog(cluster, windowStart);
      break;
    }
  }
  await starting;
  const killedMidBatch = Boolean(atKill && atKill.deliveries + atKill.processing + atKill.writeBacks > 0);
  await sleep(2_000);
  const startedAgainAt = Date.now();
  await worker.start();
  await sleep(3_000);
  // Deliveries the killed worker had claimed stay 'processing' until the stalled-delivery sweep (every
  // minute) sees that the session which claimed them is gone and hands them out again; a claim whose
  // effects had committed is then processed again, which must change nothing. So: wait until every
  // delivery from before the restart is finished, then count the effects.
  const settleMs = options.settleMs ?? 420_000;
  const outcomeNow = async () =>
    (
      await cluster.database.query<{ dead: number; open: number }>(
        `select ((select count(*) from webhook_deliveries where received_at >= $1 and status in ('dead', 'failed'))
                  + (select count(*) from chatwoot_outbox where account_id = $2 and created_at >= $1 and status = 'dead'))::int as dead,
                (select count(*) from webhook_deliveries where received_at >= $1 and received_at < $3 and status not in ('processed', 'ignored'))::int as open`,
        [windowStart, cluster.accountId, new Date(startedAgainAt)],
      )
    )[0]!;
  let outcome = await outcomeNow();
  for (const until = Date.now() + settleMs; outcome.open > 0 && Date.now() < until; await sleep(1_000)) outcome = await outcomeNow();
  // The load ran on meanwhile: what it sent until now is what the effects are counted against.
  const words = loadInWords(load, since);
  const tally = load.tally();
  const effects = await load.settle(settleMs);
  const settledAt = Date.now();
  const failures = [
    !atKill && 'the restarted worker made no progress within 60 s',
    atKill && !killedMidBatch && 'the worker had finished the backlog before the kill',
    outcome.dead > 0 && `${outcome.dead} deliveries or write-backs dead/failed`,
    outcome.open > 0 && `${outcome.open} deliveries from before the restart still open`,
    rejectedInWords(load),
  ].filter(Boolean);
  return {
    scenario: 'crash-worker',
    load: words,
    ...figures(tally, effects),
    // From the second start until every delivery was finished and everything acknowledged had its effect.
    recoverySeconds: (settledAt - startedAgainAt) / 1000,
    notes: [
      `piled up ${piled.deliveries} deliveries + ${piled.writeBacks} write-backs in ${pileUpMs / 1000} s`,
      atKill ? `killed ${((killedAt - restartedAt) / 1000).toFixed(1)} s after its start, with ${atKill.deliveries} waiting, ${atKill.processing} claimed, ${atKill.writeBacks} write-backs open` : 'no kill',
      ...failures,
      load.lastSettleInWords(),
    ].filter(Boolean).join('; '),
    passed: effects.lost === 0 && effects.duplicated === 0 && failures.length === 0,
  };
}
