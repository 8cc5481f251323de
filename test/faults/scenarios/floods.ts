// Slow clients and floods: 200 slowloris connections to nginx (a request header sent one byte every
// few seconds, never finished) and one client bursting over the sign-in rate limit, while another
// client's requests and health probes go on; their latency is compared with a quiet period before.
// Slow connections straight at one replica (no nginx in between) must be dropped by Node's own
// header timeout (headersTimeout, 60 s by default, checked every 30 s).
import net from 'node:net';
import { inErrorEnvelope } from '../../helpers/fuzz-cases.ts';
import { figures } from '../load.ts';
import type { Scenario, ScenarioRow } from '../types.ts';

const slowToNginx = Number(process.env.FAULTS_SLOWLORIS_CONNECTIONS ?? 200);
const slowToReplica = 20;
const floodSeconds = Number(process.env.FAULTS_FLOOD_SECONDS ?? 30);
const baselineSeconds = 10;
/** Node's default headersTimeout (60 s) plus one connectionsCheckingInterval (30 s), and some slack. */
const replicaDropDeadlineMs = 100_000;
const signInLimit = Number(process.env.ONELINK_SIGN_IN_ATTEMPTS_PER_MINUTE ?? 20);
// Client addresses from documentation ranges: nginx appends the real one and the service trusts it,
// so each of these counts as a client of its own for the rate limits.
const burstClient = '203.0.113.66';
const otherClient = '198.51.100.23';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface SlowClient { connectedAt: number | null; closedAt: number | null; firstLine: string; stop(): void }

/** A client that starts a request and then sends its header one byte every `everyMs`, forever. */
function slowClient(port: number, everyMs: number): SlowClient {
  const client: SlowClient = { connectedAt: null, closedAt: null, firstLine: '', stop: () => socket.destroy() };
  const socket = net.connect(port, '127.0.0.1');
  let timer: NodeJS.Timeout | undefined;
  socket.on('connect', () => {
    client.connectedAt = Date.now();
    socket.write(`GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: `);
    timer = setInterval(() => socket.write('a'), everyMs);
  });
  socket.on('data', (chunk: Buffer) => {
    if (!client.firstLine) client.firstLine = chunk.toString('latin1').split('\r\n')[0]!;
  });
  socket.on('error', () => {});
  socket.on('close', () => {
    client.closedAt = Date.now();
    clearInterval(timer);
  });
  return client;
}

interface Probe { at: number; ms: number; status: number | null }

async function timed(url: string, init: RequestInit = {}): Promise<Probe> {
  const at = Date.now();
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
    await res.arrayBuffer();
    return { at, ms: Date.now() - at, status: res.status };
  } catch {
    return { at, ms: Date.now() - at, status: null };
  }
}

const p95 = (probes: Probe[]) => {
  const sorted = probes.map((p) => p.ms).sort((a, b) => a - b);
  return sorted.length ? sorted[Math.max(0, Math.ceil(sorted.length * 0.95) - 1)]! : NaN;
};

export const floodScenario: Scenario = async (cluster, load) => {
  load.reset();
  const nginxPort = Number(new URL(cluster.baseUrl).port);
  const health: Probe[] = [];
  const others: Probe[] = [];
  let probing = true;
  // Health checks and another client's reads, four a second each, all through the scenario.
  const prober = (async () => {
    while (probing) {
      const [h, o] = await Promise.all([
        timed(`${cluster.baseUrl}/health/ready`),
        timed(`${cluster.baseUrl}/api/v1/pipelines`, { headers: { ...cluster.adminHeaders, 'X-Forwarded-For': otherClient } }),
      ]);
      health.push(h);
      others.push(o);
      await sleep(250);
    }
  })();
  await sleep(baselineSeconds * 1000);
  const floodStart = Date.now();

  // Slow connections: to nginx, and straight at one replica.
  const replica = cluster.web[0]!;
  const viaNginx = Array.from({ length: slowToNginx }, (_, i) => slowClient(nginxPort, 3_000 + (i % 10) * 200));
  const direct = Array.from({ length: slowToReplica }, () => slowClient(replica.port, 3_000));

  // The burst: one client, well over the sign-in limit (whatever the number of replicas), ten at a time.
  const burst: Array<{ status: number | null; enveloped: boolean }> = [];
  const attempts = signInLimit * cluster.web.length + 20;
  for (let sent = 0; sent < attempts; sent += 10) {
    burst.push(
      ...(await Promise.all(
        Array.from({ length: Math.min(10, attempts - sent) }, async () => {
          try {
            const res = await fetch(`${cluster.baseUrl}/api/v1/auth/chatwoot`, {
              method: 'POST',
              headers: { 'Content-Type': 'application/json', 'X-Forwarded-For': burstClient },
              body: JSON.stringify({ access_token: 'short' }),
              signal: AbortSignal.timeout(10_000),
            });
            const text = await res.text();
            let body: unknown;
            try {
              body = JSON.parse(text);
            } catch {
              body = undefined;
            }
            return { status: res.status, enveloped: inErrorEnvelope(body) };
          } catch {
            return { status: null, enveloped: false };
          }
        }),
      )),
    );
  }
  // The other client still gets its own sign-in budget: refused for its bad token, not rate-limited.
  const otherSignIn = await timed(`${cluster.baseUrl}/api/v1/auth/chatwoot`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Forwarded-For': otherClient },
    body: JSON.stringify({ access_token: 'short' }),
  });

  await sleep(Math.max(0, floodStart + floodSeconds * 1000 - Date.now()));
  const floodEnd = Date.now();
  const heldByNginx = viaNginx.filter((c) => c.connectedAt !== null && c.closedAt === null).length;
  const connectedToNginx = viaNginx.filter((c) => c.connectedAt !== null).length;
  for (const c of viaNginx) c.stop();
  probing = false;
  await prober;

  // The replica's own defence: wait for Node to drop every slow connection (or the deadline).
  while (Date.now() < floodStart + replicaDropDeadlineMs && direct.some((c) => c.closedAt === null)) await sleep(1_000);
  const stillOpen = direct.filter((c) => c.closedAt === null).length;
  const droppedAfter = direct.filter((c) => c.closedAt !== null && c.connectedAt !== null).map((c) => (c.closedAt! - c.connectedAt!) / 1000);
  const answers = [...new Set(direct.map((c) => c.firstLine).filter(Boolean))];
  for (const c of direct) c.stop();

  const before = { health: health.filter((p) => p.at < floodStart), others: others.filter((p) => p.at < floodStart) };
  const during = { health: health.filter((p) => p.at >= floodStart && p.at < floodEnd), others: others.filter((p) => p.at >= floodStart && p.at < floodEnd) };
  const healthFailures = health.filter((p) => p.status !== 200).length;
  const otherFailures = others.filter((p) => p.status === null || p.status >= 300).length;
  const limited = burst.filter((b) => b.status === 429);
  const burstServerErrors = burst.filter((b) => b.status === null || b.status >= 500).length;
  const tally = load.tally();
  const effects = await load.settle(90_000);
  const ms = (n: number) => `${n.toFixed(0)} ms`;
  /** "3× 503 during, 1× no answer before": what the failed probes got, and when. */
  const failedProbes = (probes: Probe[], ok: (p: Probe) => boolean) => {
    const counts = new Map<string, number>();
    for (const p of probes.filter((x) => !ok(x))) {
      const key = `${p.status ?? 'no answer'} ${p.at < floodStart ? 'before' : 'during'}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    return [...counts].map(([key, n]) => `${n}× ${key}`).join(', ');
  };
  const failures = [
    healthFailures && `${healthFailures} of ${health.length} health probes not 200 (${failedProbes(health, (p) => p.status === 200)})`,
    otherFailures && `${otherFailures} of ${others.length} of the other client's requests failed (${failedProbes(others, (p) => p.status !== null && p.status < 300)})`,
    limited.length === 0 && `no 429 in a burst of ${burst.length} sign-in attempts`,
    limited.some((b) => !b.enveloped) && '429 outside the error envelope',
    burstServerErrors && `${burstServerErrors} burst attempts unanswered or 5xx`,
    otherSignIn.status === 429 && "the other client's sign-in was rate-limited too",
    stillOpen && `${stillOpen} of ${slowToReplica} slow connections to ${replica.name} still open after ${replicaDropDeadlineMs / 1000} s`,
    droppedAfter.length === 0 && `no slow connection to ${replica.name} connected`,
    tally.serverErrors && `${tally.serverErrors} 5xx answers to the load`,
  ].filter(Boolean) as string[];
  const row: ScenarioRow = {
    scenario: 'floods',
    load: `${slowToNginx} slow connections + ${burst.length} sign-ins over ${floodSeconds} s`,
    ...figures(tally, effects, burstServerErrors),
    recoverySeconds: null,
    notes: [
      `health p95 ${ms(p95(before.health))} before, ${ms(p95(during.health))} during (${health.length} probes)`,
      `other client p95 ${ms(p95(before.others))} → ${ms(p95(during.others))}`,
      `burst ${limited.length}/${burst.length} got 429`,
      `nginx held ${heldByNginx}/${connectedToNginx} slow connections`,
      stillOpen
        ? `${replica.name} kept ${stillOpen}/${slowToReplica} slow connections`
        : droppedAfter.length
          ? `${replica.name} dropped all ${droppedAfter.length} after ${Math.min(...droppedAfter).toFixed(0)}–${Math.max(...droppedAfter).toFixed(0)} s${answers.length ? ` (${answers.join(', ')})` : ''}`
          : `no slow connection to ${replica.name} got through`,
      ...failures,
    ].join('; '),
    passed: failures.length === 0 && effects.lost === 0 && effects.duplicated === 0,
  };
  return row;
};
