// Chatwoot down (every API call answers 503) while write-backs keep being queued: once it is back,
// every write-back reaches it exactly once, none given up.
//
// Time compression: the outbox's backoff is fixed in code (15 s × 2^attempts: 30 s, 1, 2, 4, 8 min,
// then every 10 min; 20 attempts before an item is dead) and its sweep runs every 30 s. A real
// 10-minute outage takes an item through about five failed attempts, each a pending → retry
// (backoff) → pending state change, far from the 20 that kill it. A shorter outage takes items
// through the same states with fewer attempts; the row says how many attempts were seen.
import type { FaultCluster } from '../cluster.ts';
import { type FaultLoad, figures, loadInWords, rejectedInWords, sleep } from '../load.ts';
import type { ScenarioRow } from '../types.ts';

export async function chatwootDownScenario(cluster: FaultCluster, load: FaultLoad, options: { outageMs?: number; settleMs?: number } = {}): Promise<ScenarioRow> {
  const outageMs = options.outageMs ?? 60_000;
  load.reset();
  const since = Date.now();
  const windowStart = new Date(since - 1_000);
  await sleep(3_000);
  cluster.chatwoot.outage = 503;
  const downAt = Date.now();
  const failedCallsBefore = cluster.chatwoot.requests.length;
  await sleep(outageMs);
  cluster.chatwoot.outage = null;
  const upAt = Date.now();
  const refusedCalls = cluster.chatwoot.requests.length - failedCallsBefore;
  await sleep(3_000);
  const words = loadInWords(load, since);
  const tally = load.tally();
  // Items that failed during the outage wait out their backoff (up to 2 min after a 60 s outage) and the sweep.
  const effects = await load.settle(options.settleMs ?? 360_000);
  const settledAt = Date.now();
  const [outbox] = await cluster.database.query<{ items: number; retried: number; max_attempts: number; dead: number; pending: number }>(
    `select count(*)::int as items, count(*) filter (where attempts > 1)::int as retried, coalesce(max(attempts), 0)::int as max_attempts,
            count(*) filter (where status = 'dead')::int as dead, count(*) filter (where status = 'pending')::int as pending
       from chatwoot_outbox where account_id = $1 and created_at >= $2 and created_at < $3`,
    [cluster.accountId, windowStart, new Date(upAt)],
  );
  const failures = [
    outbox!.retried === 0 && 'no write-back was retried (the outage was not felt)',
    outbox!.dead > 0 && `${outbox!.dead} write-backs given up (dead)`,
    outbox!.pending > 0 && `${outbox!.pending} write-backs from the outage still pending`,
    rejectedInWords(load),
  ].filter(Boolean);
  return {
    scenario: 'chatwoot-down',
    load: words,
    ...figures(tally, effects),
    // From Chatwoot's return until every acknowledged write-back had reached it.
    recoverySeconds: (settledAt - upAt) / 1000,
    notes: [
      `Chatwoot 503 for ${Math.round((upAt - downAt) / 1000)} s (${refusedCalls} calls refused)`,
      `${outbox!.items} write-backs queued until its return, ${outbox!.retried} retried, up to ${outbox!.max_attempts} attempts (a 10-minute outage: about 5 of 20), ${outbox!.dead} dead`,
      ...failures,
      load.lastSettleInWords(),
    ].filter(Boolean).join('; '),
    passed: effects.lost === 0 && effects.duplicated === 0 && failures.length === 0,
  };
}
