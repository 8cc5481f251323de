// npm run bench:notify — the notifications outbox. Figures, all in one run on the embedded Postgres:
//   enqueue cost: a one-field job edit through the jobs service (updateJob: one write, one audit
//     entry), N times handing the job to another person (raises staff.job_assigned_to_me in the
//     transaction) and N times rewording its summary (raises nothing), interleaved: p50/p95 of both
//     and the p95 difference;
//   10,000 events fanned out (fanOutEvents) and their deliveries drained (drainDeliveries) to
//     channel senders that accept at once (the loop's own cost): events/s, deliveries/s, and the
//     delivery rows by status next to what the seed should give (every due delivery sent once);
//   then e-mail through the real e-mail channel to a local SMTP server (smtp-server, in this process).
// BENCH_EVENTS, BENCH_ITERATIONS and BENCH_EMAILS change the sizes (default 10,000, 400, 1,500);
// BENCH_PROFILE=1 also lists the statements of the fan-out and the drain by total time.
import type { AddressInfo } from 'node:net';
import type { Knex } from 'knex';
import { SMTPServer } from 'smtp-server';
import type { AuditEntry } from '../../extension/audit/writer.ts';
import { withAccountForTests as withAccount } from '../../extension/db/tenant.ts';
import { updateJob } from '../../extension/modules/jobs/service.ts';
import { drainDeliveries } from '../../extension/notifications/deliver.ts';
import { emailChannel } from '../../extension/notifications/channels/email.ts';
import type { ChannelSender, ChannelSenders, OutgoingDelivery } from '../../extension/notifications/channels/types.ts';
import type { DeliveryChannel } from '../../extension/notifications/catalogue.ts';
import { fanOutEvents } from '../../extension/notifications/fanout.ts';
import { raiseNotificationEvents } from '../../extension/notifications/raise.ts';
import { benchDatabase, contextFor, percentile, seedAccounts } from './harness.ts';

const eventCount = Number(process.env.BENCH_EVENTS ?? 10_000);
const iterations = Number(process.env.BENCH_ITERATIONS ?? 400);
const emailCount = Number(process.env.BENCH_EMAILS ?? 1_500);
const vendors = 200;
const clients = 200;
const jobs = 1_000;
const dispatchers = 3;
const publicUrl = 'https://onelink.bench.example';
const system = { type: 'system', id: 'bench' } as const;

const fmt = (n: number, digits = 1) => n.toFixed(digits);

/** Counts the statements `db` runs while `work` runs and, with BENCH_PROFILE=1, times them by shape. */
async function counted<T>(db: Knex, work: () => Promise<T>): Promise<{ value: T; statements: number; shapes: Map<string, { count: number; ms: number }> }> {
  let statements = 0;
  const started = new Map<string, bigint>();
  const shapes = new Map<string, { count: number; ms: number }>();
  const shapeOf = (sql: string) => sql.replace(/\s+/g, ' ').slice(0, 110);
  const onQuery = (q: { __knexQueryUid: string }) => {
    statements++;
    if (process.env.BENCH_PROFILE) started.set(q.__knexQueryUid, process.hrtime.bigint());
  };
  const onResponse = (_r: unknown, q: { __knexQueryUid: string; sql: string }) => {
    const at = started.get(q.__knexQueryUid);
    if (at === undefined) return;
    started.delete(q.__knexQueryUid);
    const shape = shapes.get(shapeOf(q.sql)) ?? { count: 0, ms: 0 };
    shape.count++;
    shape.ms += Number(process.hrtime.bigint() - at) / 1e6;
    shapes.set(shapeOf(q.sql), shape);
  };
  db.on('query', onQuery).on('query-response', onResponse);
  try {
    return { value: await work(), statements, shapes };
  } finally {
    db.off('query', onQuery).off('query-response', onResponse);
  }
}

function printShapes(title: string, shapes: Map<string, { count: number; ms: number }>) {
  if (!process.env.BENCH_PROFILE) return;
  console.log(`\n${title}: statements by total time (client-side, from send to answer)`);
  console.table(
    [...shapes.entries()]
      .sort((a, b) => b[1].ms - a[1].ms)
      .slice(0, 15)
      .map(([sql, s]) => ({ sql, count: s.count, 'total ms': fmt(s.ms, 0), 'avg ms': fmt(s.ms / s.count, 3) })),
  );
}
const seconds = (startedNs: bigint) => Number(process.hrtime.bigint() - startedNs) / 1e9;

/** One account: staff with e-mail, vendors and clients with e-mail and phone, clients with an open conversation, jobs linking them. */
async function seedFanOutAccount(trx: Knex.Transaction, accountId: number) {
  const p = { account: accountId, vendors, clients, jobs, dispatchers };
  await trx.raw(
    `insert into users (account_id, chatwoot_user_id, name, email, chatwoot_role, granted_roles)
     select :account, g, 'Dispatcher ' || g, 'dispatcher' || g || '@bench.example', case when g = 1 then 'administrator' else 'agent' end,
            case when g = 1 then '{}'::text[] else '{dispatcher}'::text[] end
       from generate_series(1, :dispatchers) g`,
    p,
  );
  // Vendors reach people through their own Chatwoot contact (ids 1..vendors); clients are 10001….
  await trx.raw(
    `insert into chatwoot_contacts (account_id, chatwoot_contact_id, name, email, phone_e164)
     select :account::bigint, g, 'Vendor contact ' || g, 'vendor' || g || '@bench.example', '+1415555' || lpad(g::text, 4, '0') from generate_series(1, :vendors) g
     union all
     select :account::bigint, 10000 + g, 'Client ' || g, 'client' || g || '@bench.example', '+1628555' || lpad(g::text, 4, '0') from generate_series(1, :clients) g`,
    p,
  );
  await trx.raw(
    `insert into vendors (account_id, name, chatwoot_contact_id, time_zone)
     select :account, 'Vendor ' || g, g, 'Europe/London' from generate_series(1, :vendors) g`,
    p,
  );
  await trx.raw(
    `insert into chatwoot_conversations (account_id, chatwoot_conversation_id, inbox_id, status, chatwoot_contact_id, last_activity_at)
     select :account, 20000 + g, 1, 'open', 10000 + g, now() from generate_series(1, :clients) g`,
    p,
  );
  await trx.raw(
    `with v as (select array_agg(id order by name) ids from vendors where account_id = :account)
     insert into jobs (account_id, number, status, priority, source, summary, address, window_starts_at, window_ends_at, sla_due_at,
                       chatwoot_contact_id, vendor_id, created_by_type, created_by_id)
     select :account, g, 'assigned', 'normal', 'call', 'Boiler service ' || g, g || ' High Street',
            date_trunc('day', now()) + interval '2 days 10 hours', date_trunc('day', now()) + interval '2 days 12 hours', now() - interval '1 hour',
            10000 + 1 + g % :clients, v.ids[1 + g % :vendors], 'system', 'bench'
       from generate_series(1, :jobs) g cross join v`,
    p,
  );
  await trx.raw(`insert into account_counters (account_id, name, value) values (?, 'job', ?)`, [accountId, jobs]);
  // Customer updates are opt-in per account; vendors also get job offers by e-mail here.
  await trx('notification_settings').insert({
    account_id: accountId,
    customer_events: ['client.visit_scheduled'],
    defaults: JSON.stringify({ 'vendor.job_assigned': { email: true } }),
    urgent_events: ['vendor.job_assigned', 'staff.sla_breached'],
  });
}

type Kind = 'vendor' | 'client' | 'staff';
const kinds: Kind[] = ['vendor', 'client', 'staff'];

/** The audit entry a real change would record, raising one event of `kind` about job number `n`. */
function entryFor(kind: Kind, job: { id: string; vendor_id: string; chatwoot_contact_id: number }, n: number): AuditEntry {
  switch (kind) {
    case 'vendor': // a job offered to its vendor → vendor.job_assigned
      return { action: 'job.assigned', resourceType: 'job', resourceId: job.id, before: { vendor_id: null, status: 'triaged' }, after: { vendor_id: job.vendor_id, status: 'assigned' } };
    case 'client': // its visit moved → client.visit_scheduled (to the client only: the entry names no vendor)
      return {
        action: 'job.updated',
        resourceType: 'job',
        resourceId: job.id,
        before: { window_starts_at: new Date(Date.UTC(2027, 0, 1, 9)).toISOString(), chatwoot_contact_id: job.chatwoot_contact_id },
        after: { window_starts_at: new Date(Date.UTC(2027, 0, 2, 9, n % 60)).toISOString(), chatwoot_contact_id: job.chatwoot_contact_id },
      };
    case 'staff': // its SLA breached → staff.sla_breached (no owner: every dispatcher)
      return { action: 'job.sla_breached', resourceType: 'job', resourceId: job.id, before: null, after: { sla_due_at: new Date().toISOString() } };
  }
}

/** Raises `count` events through raise.ts, 500 audit entries per transaction; answers how many of each kind. */
async function raiseEvents(db: Knex, accountId: number, count: number, pick: (i: number) => Kind) {
  const jobRows = (await withAccount(db, accountId, { readOnly: true }, (trx) =>
    trx('jobs').where({ account_id: accountId }).orderBy('number').select('id', 'vendor_id', 'chatwoot_contact_id'),
  )) as Array<{ id: string; vendor_id: string; chatwoot_contact_id: number }>;
  const raised: Record<Kind, number> = { vendor: 0, client: 0, staff: 0 };
  for (let start = 0; start < count; start += 500) {
    const entries: AuditEntry[] = [];
    for (let i = start; i < Math.min(count, start + 500); i++) {
      const kind = pick(i);
      raised[kind]++;
      entries.push(entryFor(kind, jobRows[i % jobRows.length]!, i));
    }
    await withAccount(db, accountId, { readOnly: false }, (trx) => raiseNotificationEvents(trx, accountId, system, entries));
  }
  return raised;
}

/** Senders that accept at once and count what they were given; the Chatwoot one refuses every tenth conversation (the chain then falls over to SMS). */
function instantSenders() {
  const given = new Map<string, number>();
  let n = 0;
  const sender = (channel: DeliveryChannel): ChannelSender => ({
    unavailable: async () => null,
    send: async (d: OutgoingDelivery) => {
      given.set(d.id, (given.get(d.id) ?? 0) + 1);
      if (channel === 'chatwoot' && Number(d.address) % 10 === 0) return { outcome: 'failed', reason: 'conversation refused (bench)' };
      return { outcome: 'sent', providerId: `${channel}-${++n}` };
    },
  });
  const senders: ChannelSenders = { email: sender('email'), sms: sender('sms'), push: sender('push'), chatwoot: sender('chatwoot') };
  return { senders, given };
}

/** Drains until nothing is due (a batch that releases the next channel of a chain leaves it for the next pass). */
async function drainAll(db: Knex, accountId: number, senders: ChannelSenders) {
  let sent = 0;
  let passes = 0;
  for (;;) {
    passes++;
    sent += await drainDeliveries(db, accountId, senders);
    const due = await withAccount(db, accountId, { readOnly: true }, (trx) =>
      trx('notification_deliveries').where({ account_id: accountId, status: 'pending' }).andWhere('next_attempt_at', '<=', trx.fn.now()).first('id'),
    );
    if (!due) return { sent, passes };
  }
}

async function deliveryCounts(db: Knex, accountId: number) {
  return (await withAccount(db, accountId, { readOnly: true }, (trx) =>
    trx('notification_deliveries')
      .where({ account_id: accountId })
      .groupBy('event', 'channel', 'status')
      .orderBy(['event', 'channel', 'status'])
      .select('event', 'channel', 'status', trx.raw('count(*)::int as count')),
  )) as Array<{ event: string; channel: string; status: string; count: number }>;
}

async function enqueueCost(db: Knex, accountId: number) {
  const ctx = await contextFor(db, accountId);
  const { job, owners } = await withAccount(db, accountId, { readOnly: false }, async (trx) => ({
    // A new job with no vendor and no client: only the owner change may raise an event.
    job: (
      await trx('jobs')
        .insert({ account_id: accountId, number: jobs + 1, status: 'new', priority: 'normal', source: 'call', summary: 'Boiler service', created_by_type: 'system', created_by_id: 'bench' })
        .returning(['id', 'version'])
    )[0],
    owners: (await trx('users').where({ account_id: accountId }).whereNot({ id: ctx.actor.id }).orderBy('name').limit(2).pluck('id')) as string[],
  }));
  let version = job.version as number;
  let turn = 0;
  let handOvers = 0;
  // The same one-field edit of the same job: handing it from one person to the other raises
  // staff.job_assigned_to_me; rewording its summary raises nothing (no vendor, no client window).
  const edit = async (raises: boolean) => {
    turn++;
    const patch = raises ? { owner_id: owners[++handOvers % 2]! } : { summary: `Boiler service, revision ${turn}` };
    const started = process.hrtime.bigint();
    const after = await updateJob(ctx, job.id, { ...patch, version });
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    version = after.version;
    return ms;
  };
  for (let i = 0; i < 40; i++) await edit(i % 2 === 0); // warm-up
  const eventsBefore = await countEvents(db, accountId);
  const raising: number[] = [];
  const plain: number[] = [];
  // Pairs in a shuffled order (fixed seed), so neither kind always runs first.
  let seed = 42;
  const coin = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) & 1024) === 0;
  for (let i = 0; i < iterations; i++) {
    const raiseFirst = coin();
    for (const raises of raiseFirst ? [true, false] : [false, true]) (raises ? raising : plain).push(await edit(raises));
  }
  const raisedEvents = (await countEvents(db, accountId)) - eventsBefore;
  raising.sort((a, b) => a - b);
  plain.sort((a, b) => a - b);
  return { raising, plain, raisedEvents };
}

async function countEvents(db: Knex, accountId: number) {
  const row = await withAccount(db, accountId, { readOnly: true }, (trx) => trx('notification_events').where({ account_id: accountId }).count<{ count: string }[]>('* as count'));
  return Number(row[0]!.count);
}

async function emailPhase(db: Knex, accountId: number, base: ChannelSenders) {
  const received = new Map<string, number>();
  const smtp = new SMTPServer({
    disabledCommands: ['STARTTLS'],
    authOptional: true,
    disableReverseLookup: true,
    logger: false,
    onData(stream, _session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const id = /^X-Onelink-Delivery:\s*(\S+)/im.exec(Buffer.concat(chunks).toString('utf8'))?.[1] ?? 'none';
        received.set(id, (received.get(id) ?? 0) + 1);
        callback(null, 'Queued');
      });
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  const email = emailChannel({ smtpUrl: `smtp://127.0.0.1:${(smtp.server.address() as AddressInfo).port}?ignoreTLS=true`, from: 'Onelink <alerts@bench.example>', db });
  try {
    const events = Math.ceil(emailCount / dispatchers);
    await raiseEvents(db, accountId, events, () => 'staff');
    await fanOutEvents(db, accountId, { publicUrl });
    const started = process.hrtime.bigint();
    const { sent } = await drainAll(db, accountId, { ...base, email });
    const elapsed = seconds(started);
    return { events, sent, elapsed, received };
  } finally {
    email.close();
    await new Promise<void>((resolve) => smtp.close(resolve));
  }
}

async function main() {
  const bench = await benchDatabase();
  const { db } = bench;
  try {
    const [accountId, enqueueAccountId] = await seedAccounts(db, 2, seedFanOutAccount);
    await db.raw('vacuum analyze');

    // 1. Enqueue cost, in the second account (its events stay out of the fan-out's count).
    const enqueue = await enqueueCost(db, enqueueAccountId!);

    // 2. Fan-out of the events, raised as the unit of work raises them.
    const raised = await raiseEvents(db, accountId!, eventCount, (i) => kinds[i % 3]!);
    let started = process.hrtime.bigint();
    const fanOut = await counted(db, () => fanOutEvents(db, accountId!, { publicUrl }));
    const fanOutSeconds = seconds(started);
    const handled = fanOut.value;
    const { notificationCount, rowsAfterFanOut } = await withAccount(db, accountId!, { readOnly: true }, async (trx) => ({
      notificationCount: Number((await trx('notifications').where({ account_id: accountId }).count<{ count: string }[]>('* as count'))[0]!.count),
      rowsAfterFanOut: (await trx('notification_deliveries')
        .where({ account_id: accountId })
        .groupBy('status')
        .select('status', trx.raw('count(*)::int as count'))) as Array<{ status: string; count: number }>,
    }));
    // A tenth of the vendors read their job offer in the app: their SMS escalation must be skipped.
    const readOffers = await withAccount(db, accountId!, { readOnly: false }, (trx) =>
      trx('notifications')
        .where({ account_id: accountId, event: 'vendor.job_assigned' })
        .whereRaw(`event_id % 10 = 0`)
        .update({ read_at: trx.fn.now() }),
    );

    // 3. Drain what is due now; then, as if the ten minutes had passed, the vendors' SMS escalations.
    const { senders, given } = instantSenders();
    started = process.hrtime.bigint();
    const now = await counted(db, () => drainAll(db, accountId!, senders));
    let drainSeconds = seconds(started);
    const escalations = await withAccount(db, accountId!, { readOnly: false }, (trx) =>
      trx('notification_deliveries').where({ account_id: accountId, status: 'pending', unless_read: true }).update({ next_attempt_at: trx.raw(`now() - interval '1 second'`) }),
    );
    started = process.hrtime.bigint();
    const later = await counted(db, () => drainAll(db, accountId!, senders));
    drainSeconds += seconds(started);
    const drained = { sent: now.value.sent + later.value.sent, passes: now.value.passes + later.value.passes };
    const drain = { statements: now.statements + later.statements, shapes: now.shapes };
    for (const [sql, shape] of later.shapes) {
      const sum = drain.shapes.get(sql) ?? { count: 0, ms: 0 };
      drain.shapes.set(sql, { count: sum.count + shape.count, ms: sum.ms + shape.ms });
    }
    const counts = await deliveryCounts(db, accountId!);
    const handedOver = [...given.values()].reduce((a, b) => a + b, 0);
    const twice = [...given.values()].filter((n) => n > 1).length;

    // What the seed must give, per event, channel and status (refused conversations: every tenth).
    const refused = await withAccount(db, accountId!, { readOnly: true }, async (trx) =>
      Number(
        (
          await trx('notification_deliveries')
            .where({ account_id: accountId, event: 'client.visit_scheduled', channel: 'chatwoot' })
            .whereRaw('address::int % 10 = 0')
            .count<{ count: string }[]>('* as count')
        )[0]!.count,
      ),
    );
    const expected: Record<string, number> = {
      'vendor.job_assigned email sent': raised.vendor,
      'vendor.job_assigned push sent': raised.vendor,
      'vendor.job_assigned sms sent': raised.vendor - readOffers,
      'vendor.job_assigned sms skipped': readOffers,
      'client.visit_scheduled chatwoot sent': raised.client - refused,
      'client.visit_scheduled chatwoot failed': refused,
      'client.visit_scheduled sms sent': refused,
      'client.visit_scheduled sms held': raised.client - refused,
      'client.visit_scheduled email held': raised.client,
      'client.visit_scheduled push sent': raised.client,
      'staff.sla_breached email sent': raised.staff * dispatchers,
    };
    const actual = new Map(counts.map((c) => [`${c.event} ${c.channel} ${c.status}`, c.count]));
    const keys = [...new Set([...Object.keys(expected), ...actual.keys()])].filter((k) => (expected[k] ?? 0) > 0 || actual.has(k));
    const sentRows = counts.filter((c) => c.status === 'sent').reduce((a, c) => a + c.count, 0);
    const allMatch = keys.every((k) => (expected[k] ?? 0) === (actual.get(k) ?? 0)) && twice === 0 && sentRows === drained.sent;

    // 4. E-mail over SMTP (real channel, real SMTP protocol, loopback).
    const mail = emailCount > 0 ? await emailPhase(db, accountId!, senders) : null;

    // Report.
    const p95Difference = percentile(enqueue.raising, 95) - percentile(enqueue.plain, 95);
    console.log(`\nNotifications benchmark (embedded Postgres, this machine; one process, pool of 4 connections)`);
    console.log(`\n1. Enqueue cost: updateJob (one write with one audit entry), ${iterations} times each, interleaved in shuffled pairs`);
    console.table([
      { transaction: 'owner changed (raises staff.job_assigned_to_me)', samples: enqueue.raising.length, 'p50 ms': fmt(percentile(enqueue.raising, 50), 2), 'p95 ms': fmt(percentile(enqueue.raising, 95), 2), 'p99 ms': fmt(percentile(enqueue.raising, 99), 2) },
      { transaction: 'summary changed (raises nothing) — baseline', samples: enqueue.plain.length, 'p50 ms': fmt(percentile(enqueue.plain, 50), 2), 'p95 ms': fmt(percentile(enqueue.plain, 95), 2), 'p99 ms': fmt(percentile(enqueue.plain, 99), 2) },
    ]);
    console.log(
      `p50 difference ${fmt(percentile(enqueue.raising, 50) - percentile(enqueue.plain, 50), 2)} ms, p95 difference ${fmt(p95Difference, 2)} ms (target ≤ 1 ms: ${p95Difference <= 1 ? 'met' : 'NOT met'}); ` +
        `events raised during the measurement: ${enqueue.raisedEvents} (expected ${iterations}).`,
    );

    console.log(`\n2. Fan-out of ${eventCount} events (${raised.vendor} vendor.job_assigned, ${raised.client} client.visit_scheduled, ${raised.staff} staff.sla_breached)`);
    console.log(
      [
        'Channels per recipient:',
        `  vendor (${vendors} vendors): 3 — e-mail (switched on in the account's defaults), push, and SMS as the escalation 10 min after the push unless the offer was read;`,
        `  client (${clients} clients, each with an open conversation; customer updates switched on): the chain Chatwoot → SMS → e-mail (SMS and e-mail held, released only if the one before fails) plus push;`,
        `  staff (${dispatchers} dispatchers per event): e-mail (the catalogue gives staff no other delivery channel). Every recipient also gets the in-app notification (a notifications row, not a delivery).`,
      ].join('\n'),
    );
    console.table([
      {
        phase: 'fan-out',
        events: handled,
        seconds: fmt(fanOutSeconds, 2),
        'events/s': fmt(handled / fanOutSeconds, 0),
        statements: `${fanOut.statements} (${fmt(fanOut.statements / handled)} per event)`,
        'in-app notifications': notificationCount,
        'delivery rows': rowsAfterFanOut.map((r) => `${r.status} ${r.count}`).join(', '),
      },
      {
        phase: 'drain (instant senders)',
        events: '',
        seconds: fmt(drainSeconds, 2),
        'events/s': '',
        statements: `${drain.statements} (${fmt(drain.statements / handedOver, 2)} per delivery)`,
        'in-app notifications': '',
        'delivery rows': `${drained.sent} sent, ${handedOver} handed to senders, ${fmt(handedOver / drainSeconds, 0)} deliveries/s (${fmt(drained.sent / drainSeconds, 0)} sent/s), ${drained.passes} drain passes — target ≥ 500 /s: ${handedOver / drainSeconds >= 500 ? 'met' : 'NOT met'}`,
      },
    ]);
    printShapes('Fan-out', fanOut.shapes);
    printShapes('Drain', drain.shapes);
    console.log(`Delivery rows after the drain, next to what the seed must give (${readOffers} vendors read their offer; ${refused} client conversations refuse; ${escalations} SMS escalations came due in the second drain):`);
    console.table(keys.map((k) => ({ 'event channel status': k, rows: actual.get(k) ?? 0, expected: expected[k] ?? 0, ok: (expected[k] ?? 0) === (actual.get(k) ?? 0) ? 'yes' : 'NO' })));
    console.log(`Deliveries handed to a sender more than once: ${twice}; rows 'sent' ${sentRows} = sent reported by the drain ${drained.sent}: ${sentRows === drained.sent ? 'yes' : 'NO'}. Check: ${allMatch ? 'every due delivery sent once' : 'MISMATCH'}.`);

    if (mail) {
      const mails = [...mail.received.values()].reduce((a, b) => a + b, 0);
      const repeated = [...mail.received.values()].filter((n) => n > 1).length;
      console.log(`\n3. E-mail through the real e-mail channel (nodemailer, pooled) to smtp-server on loopback, in this same process`);
      console.table([
        {
          'staff.sla_breached events': mail.events,
          'e-mails sent': mail.sent,
          'received by the SMTP server': mails,
          'delivery ids received twice': repeated,
          seconds: fmt(mail.elapsed, 2),
          'deliveries/s': fmt(mail.sent / mail.elapsed, 0),
        },
      ]);
    }
  } finally {
    await bench.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
