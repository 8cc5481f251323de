// npm run bench:webhooks — Chatwoot deliveries against the real server (its own process, on
// the embedded Postgres), next to a bare Express route doing one INSERT into the same database,
// measured in the same run. Figures:
//   closed loop, 50 concurrent senders: throughput of each, and ours as a share of the baseline's;
//   open loop at a fixed 1,000 deliveries/s: acknowledgement latency p50/p95/p99;
//   at a sustained 500 deliveries/s: time from receipt to processed (p50/p95/p99);
//   then signed Twilio call status callbacks: closed-loop throughput and open-loop ack latency.
// BENCH_SECONDS shortens or lengthens each phase (default 8).
import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import twilio from 'twilio';
import webpush from 'web-push';
import { withAccountForTests as withAccount } from '../../extension/db/tenant.ts';
import { createSealer } from '../../extension/security/crypto.ts';
import { chatwootDelivery, contactEvent } from '../fakes/chatwoot-webhooks.ts';
import { freePort } from '../helpers/ports.ts';
import { spawnIn, spawnServer, waitForReady } from '../helpers/processes.ts';
import { benchDatabase, percentile } from './harness.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 8);
const secret = 'bench-webhook-secret';
let contactId = 1;

interface Delivery { body: string; headers: Record<string, string> }
type Source = () => Delivery;

const chatwootDeliveries: Source = () =>
  chatwootDelivery(contactEvent('contact_created', { id: contactId++, name: `Contact ${contactId}`, email: `c${contactId}@example.com` }), { secret, deliveryId: randomUUID() });

/** Signed Twilio call status callbacks (form-encoded), each for a new call, as Twilio sends them. */
function twilioDeliveries(publicUrl: string, path: string, authToken: string, accountSid: string): Source {
  let n = 0;
  return () => {
    n++;
    const fields = {
      AccountSid: accountSid,
      CallSid: `CA${randomBytes(16).toString('hex')}`,
      From: `+1415555${String(1000 + (n % 9000)).padStart(4, '0')}`,
      To: '+14155550199',
      Direction: 'inbound',
      CallStatus: 'completed',
      CallDuration: String(n % 300),
      ApiVersion: '2010-04-01',
    };
    const body = new URLSearchParams(fields).toString();
    const signature = twilio.getExpectedTwilioSignature(authToken, `${publicUrl}${path}`, fields);
    return { body, headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Twilio-Signature': signature } };
  };
}

// node:http with keep-alive: a much lighter load generator than fetch, sharing this machine's two cores.
// Idle sockets are dropped before the server's keep-alive timeout (5 s) closes them under us.
const agent = new http.Agent({ keepAlive: true, maxSockets: 64, timeout: 4000 });

/** Sends one delivery; a socket the server closed while idle is retried once on a fresh one. */
async function post(url: string, next: Source = chatwootDeliveries): Promise<number> {
  const delivery = next();
  try {
    return await send(url, delivery);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ECONNRESET') throw err;
    return send(url, delivery);
  }
}

function send(url: string, delivery: Delivery): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent, headers: { ...delivery.headers, 'Content-Length': Buffer.byteLength(delivery.body) } }, (res) => {
      res.resume();
      const accepted = res.statusCode === 202 || res.statusCode === 204;
      res.on('end', () => (accepted ? resolve(performance.now() - started) : reject(new Error(`unexpected ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(delivery.body);
  });
}

async function closedLoop(url: string, senders: number, durationMs: number, next?: Source) {
  const until = performance.now() + durationMs;
  const latencies: number[] = [];
  await Promise.all(
    Array.from({ length: senders }, async () => {
      while (performance.now() < until) latencies.push(await post(url, next));
    }),
  );
  latencies.sort((a, b) => a - b);
  return { perSecond: latencies.length / (durationMs / 1000), p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

async function openLoop(url: string, perSecond: number, durationMs: number, next?: Source) {
  const latencies: number[] = [];
  const inFlight: Array<Promise<void>> = [];
  const failures: unknown[] = [];
  const started = performance.now();
  let sent = 0;
  while (performance.now() - started < durationMs) {
    const due = Math.floor(((performance.now() - started) / 1000) * perSecond);
    while (sent < due) {
      sent++;
      // Failures are collected, not left unhandled: the bench must always reach its clean-up.
      inFlight.push(post(url, next).then((ms) => void latencies.push(ms), (err: unknown) => void failures.push(err)));
    }
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  await Promise.all(inFlight);
  if (failures.length) throw new Error(`${failures.length} deliveries failed, the first: ${(failures[0] as Error).message}`);
  latencies.sort((a, b) => a - b);
  return { sent, achievedPerSecond: sent / (durationMs / 1000), p50: percentile(latencies, 50), p95: percentile(latencies, 95), p99: percentile(latencies, 99) };
}

const fmt = (n: number) => n.toFixed(1);

async function main() {
  const bench = await benchDatabase();
  const { db, url } = bench;
  const key = randomBytes(32);
  // An external database needs the web push keys configured, like the encryption key.
  const vapidPair = webpush.generateVAPIDKeys();
  const benchVapid = { ONELINK_VAPID_PUBLIC_KEY: vapidPair.publicKey, ONELINK_VAPID_PRIVATE_KEY: vapidPair.privateKey, ONELINK_VAPID_SUBJECT: 'mailto:bench@onelink.test' };
  const sealer = createSealer(key);
  const [installation] = await db('installations')
    .insert({ base_url: 'https://chat.bench.example', api_token_sealed: sealer.seal('token'), webhook_path_token: 'bench-path-token-0123456789', webhook_secret_sealed: sealer.seal(secret) })
    .returning('id');
  // A Twilio-connected account: its signed call callbacks go through the same inbox.
  const twilioAccount = { sid: `AC${randomBytes(16).toString('hex')}`, token: randomBytes(16).toString('hex'), path: '' };
  const { rows: accountRows } = await db.raw(`select nextval(pg_get_serial_sequence('onelink.accounts', 'account_id')) as id`);
  const twilioAccountId = Number(accountRows[0].id);
  await withAccount(db, twilioAccountId, { readOnly: false }, async (trx) => {
    await trx('accounts').insert({ account_id: twilioAccountId, installation_id: installation.id, chatwoot_account_id: 1, name: 'Bench', profile: 'construction' });
    await trx('twilio_settings').insert({
      account_id: twilioAccountId,
      account_sid: twilioAccount.sid,
      auth_token_sealed: sealer.seal(twilioAccount.token),
      webhook_token: 'bench-twilio-token-0123456789',
      forward_to: ['+14155550100'],
    });
  });
  twilioAccount.path = `/webhooks/twilio/${twilioAccountId}/bench-twilio-token-0123456789/status`;
  await db.raw('create table onelink.bench_baseline (id bigserial primary key, body text not null, received_at timestamptz not null default now())');

  const baselinePort = await freePort();
  const baseline = spawnIn(process.execPath, ['--import', 'tsx', 'test/bench/baseline-server.ts'], { DATABASE_URL: url, PORT: String(baselinePort), POOL_MAX: '10' });
  const port = await freePort();
  // BENCH_WORKER=false measures ingestion alone (deliveries then stay unprocessed).
  const server = spawnServer({ DATABASE_URL: url, PORT: String(port), HOST: '127.0.0.1', PUBLIC_URL: `http://127.0.0.1:${port}`, ONELINK_ENCRYPTION_KEY: key.toString('base64'), ...benchVapid, LOG_LEVEL: 'error', ONELINK_DB_POOL_MAX: '10', ONELINK_WORKER: process.env.BENCH_WORKER ?? 'true' });
  try {
    await waitForReady(`http://127.0.0.1:${port}`, server);
    while (!baseline.output().includes('ready')) await new Promise((r) => setTimeout(r, 100));
    const pending = async (source = 'chatwoot') =>
      Number(
        (await db('webhook_deliveries').where({ installation_id: installation.id, source }).whereIn('status', ['received', 'processing', 'retrying']).count<{ count: string }[]>('* as count'))[0]!.count,
      );
    /** Waits (up to two minutes) until the worker has caught up; reports how long that took. */
    const drainBacklog = async () => {
      const backlog = await pending();
      if (backlog === 0) return null;
      const started = performance.now();
      while ((await pending()) > 0 && performance.now() - started < 120_000) await new Promise((r) => setTimeout(r, 100));
      return { backlog, seconds: (performance.now() - started) / 1000 };
    };
    const ours = `http://127.0.0.1:${port}/webhooks/chatwoot/bench-path-token-0123456789`;
    const yardstick = `http://127.0.0.1:${baselinePort}/hook`;

    for (const target of [yardstick, ours]) for (let i = 0; i < 300; i++) await post(target); // warm-up
    const baseClosed = await closedLoop(yardstick, 50, seconds * 1000);
    const ourClosed = await closedLoop(ours, 50, seconds * 1000);
    const drainClosed = await drainBacklog();
    const baseOpen = await openLoop(yardstick, 1000, seconds * 1000);
    const ourOpen = await openLoop(ours, 1000, seconds * 1000);
    await drainBacklog();

    // Measured from an empty queue: latency at a sustained rate, not the tail of earlier phases.
    const sustainedFrom = new Date();
    await openLoop(ours, 500, seconds * 1000);
    await new Promise((r) => setTimeout(r, 3000));
    const { rows } = await db.raw<{ rows: Array<{ ms: number }> }>(
      `select extract(epoch from (processed_at - received_at)) * 1000 as ms from webhook_deliveries
        where installation_id = ? and received_at >= ? and status = 'processed' order by 1`,
      [installation.id, sustainedFrom],
    );
    const processed = rows.map((r) => Number(r.ms));
    const unprocessed = await db('webhook_deliveries').where({ installation_id: installation.id, source: 'chatwoot' }).whereNot({ status: 'processed' }).count<{ count: number }[]>('* as count');

    // Twilio call status callbacks: signed by the twilio library, stored in the same inbox, queued for processing.
    const twilioUrl = `http://127.0.0.1:${port}${twilioAccount.path}`;
    const twilioSource = twilioDeliveries(`http://127.0.0.1:${port}`, twilioAccount.path, twilioAccount.token, twilioAccount.sid);
    for (let i = 0; i < 300; i++) await post(twilioUrl, twilioSource);
    // Open loop first, on an empty queue (as the Chatwoot open loop runs); then saturation.
    const twilioOpen = await openLoop(twilioUrl, 1000, seconds * 1000, twilioSource);
    const twilioClosed = await closedLoop(twilioUrl, 50, seconds * 1000, twilioSource);
    const backlogBefore = await pending('twilio');
    await new Promise((r) => setTimeout(r, 10_000));
    const twilioProcessedPerSecond = (backlogBefore - (await pending('twilio'))) / 10;

    console.log(`\nWebhook benchmark (${seconds} s per phase, real server process, embedded Postgres, this machine)`);
    console.table([
      { phase: 'closed loop, 50 senders', 'baseline req/s': fmt(baseClosed.perSecond), 'ours req/s': fmt(ourClosed.perSecond), 'ours / baseline': `${fmt((ourClosed.perSecond / baseClosed.perSecond) * 100)} %`, target: '≥ 60 %' },
      { phase: 'closed loop p99 ms', 'baseline req/s': fmt(baseClosed.p99), 'ours req/s': fmt(ourClosed.p99), 'ours / baseline': fmt(ourClosed.p99 / baseClosed.p99), target: '' },
    ]);
    console.table([
      { 'open loop 1,000/s': 'baseline', sent: baseOpen.sent, 'achieved /s': fmt(baseOpen.achievedPerSecond), 'p50 ms': fmt(baseOpen.p50), 'p95 ms': fmt(baseOpen.p95), 'p99 ms': fmt(baseOpen.p99), target: '' },
      { 'open loop 1,000/s': 'ours (ack)', sent: ourOpen.sent, 'achieved /s': fmt(ourOpen.achievedPerSecond), 'p50 ms': fmt(ourOpen.p50), 'p95 ms': fmt(ourOpen.p95), 'p99 ms': fmt(ourOpen.p99), target: 'p99 < 25' },
    ]);
    console.table([
      {
        'sustained 500/s': 'received → processed',
        processed: processed.length,
        'p50 ms': fmt(percentile(processed, 50)),
        'p95 ms': fmt(percentile(processed, 95)),
        'p99 ms': fmt(percentile(processed, 99)),
        target: 'p95 < 300',
      },
    ]);
    console.log(
      drainClosed
        ? `Backlog left by the closed-loop phase: ${drainClosed.backlog} deliveries, processed in ${fmt(drainClosed.seconds)} s (${fmt(drainClosed.backlog / drainClosed.seconds)} /s while idle of new work)`
        : 'The closed-loop phase left no backlog',
    );
    console.log(`Chatwoot deliveries not processed at the end: ${unprocessed[0]!.count}`);
    console.table([
      { 'Twilio status callbacks': 'closed loop, 50 senders', 'req/s': fmt(twilioClosed.perSecond), 'ours / baseline': `${fmt((twilioClosed.perSecond / baseClosed.perSecond) * 100)} %`, 'p50 ms': fmt(twilioClosed.p50), 'p99 ms': fmt(twilioClosed.p99), target: '≥ 60 %' },
      { 'Twilio status callbacks': 'open loop 1,000/s (ack)', 'req/s': fmt(twilioOpen.achievedPerSecond), 'ours / baseline': '', 'p50 ms': fmt(twilioOpen.p50), 'p99 ms': fmt(twilioOpen.p99), target: 'p99 < 25' },
    ]);
    console.log(
      `Twilio callbacks processed (each: the call row, its audit record, and a delayed settle check queued) at ${fmt(twilioProcessedPerSecond)} /s from a backlog of ${backlogBefore}.`,
    );
  } finally {
    server.child.kill('SIGTERM');
    baseline.child.kill('SIGTERM');
    await Promise.all([server.exited, baseline.exited]);
    await bench.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
