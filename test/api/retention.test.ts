// Data retention: each kind of personal data goes once it is older than its retention, and not a
// moment before; what still waits (pending notifications, failed and dead deliveries) stays; a
// second run finds nothing; one account's pruning never touches another's rows; expired
// recordings are deleted at Twilio once each, and one Twilio would not delete waits for the next run.
import { randomBytes, randomUUID } from 'node:crypto';
import pino from 'pino';
import { beforeAll, afterAll, describe, expect, it } from 'vitest';
import { withAccountForTests as withAccount } from '../../extension/db/tenant.ts';
import { trackSweep } from '../../extension/modules/system/sweeps.ts';
import {
  pruneDeliveries,
  pruneExpiredData,
  pruneNotifications,
  pruneRecordings,
  pruneSessions,
  type RetentionDeps,
} from '../../extension/modules/system/retention.ts';
import { newCallSid, newRecordingSid, recordingUrl, startFakeTwilio, type FakeTwilio } from '../fakes/twilio.ts';
import { apiAs } from '../helpers/api.ts';
import type { TestApp } from '../helpers/app.ts';
import { signInAgent, type SignedIn } from '../helpers/identity.ts';
import { useWorld } from '../helpers/world.ts';

const world = useWorld([1, 2]);
let t: TestApp;
let twilioFake: FakeTwilio;
let adminA: SignedIn;
let adminB: SignedIn;
let deps: RetentionDeps;

const hour = 3_600_000;
const day = 24 * hour;
// The run's clock, fixed: every age below is measured from it.
const now = new Date('2026-12-01T12:00:00Z');
const ago = (ms: number) => new Date(now.getTime() - ms);
// Just inside and just outside a retention of `days`.
const kept = (days: number) => ago(days * day - hour);
const expired = (days: number) => ago(days * day + hour);

beforeAll(async () => {
  t = world.t;
  twilioFake = await startFakeTwilio();
  adminA = await signInAgent(t, world.chatwoot, 1, 'administrator', 'Admin A');
  adminB = await signInAgent(t, world.chatwoot, 2, 'administrator', 'Admin B');
  // Account A has its Twilio credentials stored; account B never connected Twilio.
  await withAccount(t.db.knex, adminA.accountId, { readOnly: false }, (trx) =>
    trx('twilio_settings').insert({
      account_id: adminA.accountId,
      account_sid: twilioFake.accountSid,
      auth_token_sealed: t.services.sealer.seal(twilioFake.authToken),
      webhook_token: randomBytes(12).toString('hex'),
    }),
  );
  // Small batches, so the batching loop is exercised by a handful of rows.
  deps = {
    db: t.db.knex,
    sealer: t.services.sealer,
    twilioApiUrl: twilioFake.url,
    timeoutMs: 2000,
    days: { deliveries: 30, recordings: 365, notifications: 90, sessions: 7 },
    limits: { batchSize: 2, statementsPerTransaction: 3, maxRowsPerRun: 1000 },
  };
});
afterAll(() => twilioFake.close());

const inAccount = <T>(accountId: number, work: Parameters<typeof withAccount<T>>[3]) => withAccount(t.db.knex, accountId, { readOnly: false }, work);
const prunings = (accountId: number, kind: string) =>
  inAccount(accountId, (trx) => trx('audit_events').where({ account_id: accountId, action: 'retention.pruned', resource_id: kind }).orderBy('id').select('actor_type', 'actor_id', 'resource_type', 'after'));
const remaining = async (accountId: number, table: string, ids: string[]) =>
  (await inAccount(accountId, (trx) => trx(table).where({ account_id: accountId }).whereIn('id', ids).pluck('id'))).map(String).sort();

describe('webhook deliveries', () => {
  async function delivery(accountId: number | null, status: string, receivedAt: Date, source = 'chatwoot') {
    const installation = (await t.db.knex('accounts').first('installation_id')).installation_id as string;
    const [row] = await t.db
      .knex('webhook_deliveries')
      .insert({ installation_id: installation, source, dedupe_key: randomUUID(), account_id: accountId, event: 'contact_updated', headers: '{}', body: '{"name":"Ada Lovelace"}', status, received_at: receivedAt })
      .returning('id');
    return row.id as string;
  }
  const left = async (ids: string[]) => ((await t.db.knex('webhook_deliveries').whereIn('id', ids).pluck('id')) as string[]).sort();

  it('removes processed, ignored and dismissed ones (Chatwoot and Twilio) past 30 days, keeps failed, dead, waiting and recent ones; once', async () => {
    const a = adminA.accountId;
    const b = adminB.accountId;
    const gone = [
      await delivery(a, 'processed', expired(30)),
      await delivery(a, 'ignored', expired(30)),
      await delivery(a, 'processed', ago(400 * day), 'twilio'),
      await delivery(b, 'processed', expired(30)),
      await delivery(null, 'ignored', expired(30)), // never learned its account
      await delivery(a, 'dismissed', expired(30)), // an admin chose not to replay it
    ];
    const stay = [
      await delivery(a, 'processed', kept(30)),
      await delivery(a, 'processed', kept(30), 'twilio'),
      await delivery(a, 'dead', ago(400 * day)),
      await delivery(a, 'failed', ago(400 * day)),
      await delivery(a, 'retrying', expired(30)),
      await delivery(b, 'dead', expired(30), 'twilio'),
      await delivery(b, 'ignored', kept(30)),
    ];

    const removed = await pruneDeliveries(deps, now);
    expect(removed).toEqual({ webhook_deliveries: 6, without_account: 1 });
    expect(await left([...gone, ...stay])).toEqual([...stay].sort());

    // One audit event per account with its count, by the retention process.
    expect(await prunings(a, 'webhook_deliveries')).toEqual([
      { actor_type: 'system', actor_id: 'data-retention', resource_type: 'retention', after: { webhook_deliveries: 4, retention_days: 30, older_than: '2026-11-01T12:00:00.000Z' } },
    ]);
    expect((await prunings(b, 'webhook_deliveries')).map((e) => e.after.webhook_deliveries)).toEqual([1]);

    // A second run finds nothing, and records nothing.
    expect(await pruneDeliveries(deps, now)).toEqual({ webhook_deliveries: 0, without_account: 0 });
    expect(await left(stay)).toEqual([...stay].sort());
    expect(await prunings(a, 'webhook_deliveries')).toHaveLength(1);
  });
});

describe('sessions and sign-in links', () => {
  async function session(accountId: number, subjectId: string, values: { expires_at: Date; revoked_at?: Date }) {
    const [row] = await inAccount(accountId, (trx) =>
      trx('sessions').insert({ account_id: accountId, subject_type: 'user', subject_id: subjectId, token_hash: randomBytes(32), created_at: ago(60 * day), ...values }).returning('id'),
    );
    return row.id as string;
  }
  async function magicLink(accountId: number, values: { expires_at: Date; used_at?: Date }) {
    return inAccount(accountId, async (trx) => {
      const [person] = await trx('portal_users').insert({ account_id: accountId, kind: 'client', chatwoot_contact_id: Math.floor(Math.random() * 1e9), name: 'Grace Hopper' }).returning('id');
      const [row] = await trx('magic_links').insert({ account_id: accountId, portal_user_id: person.id, token_hash: randomBytes(32), created_at: ago(60 * day), ...values }).returning('id');
      return row.id as string;
    });
  }
  /** The same set of sessions and links in an account: which go after 7 days, which stay. */
  async function seed(admin: SignedIn) {
    const a = admin.accountId;
    return {
      goneSessions: [await session(a, admin.userId, { expires_at: expired(7) }), await session(a, admin.userId, { expires_at: ago(-20 * day), revoked_at: expired(7) })],
      keptSessions: [
        await session(a, admin.userId, { expires_at: kept(7) }),
        await session(a, admin.userId, { expires_at: ago(-20 * day), revoked_at: kept(7) }),
        await session(a, admin.userId, { expires_at: ago(-20 * day) }), // still signed in
      ],
      goneLinks: [await magicLink(a, { expires_at: expired(7) }), await magicLink(a, { expires_at: ago(-1 * day), used_at: expired(7) })],
      keptLinks: [await magicLink(a, { expires_at: kept(7) }), await magicLink(a, { expires_at: ago(-1 * day), used_at: kept(7) }), await magicLink(a, { expires_at: ago(-1 * day) })],
    };
  }

  it('removes sessions and links that ended more than 7 days ago, in one account only', async () => {
    const ofA = await seed(adminA);
    const ofB = await seed(adminB);
    const allSessions = (s: typeof ofA) => [...s.goneSessions, ...s.keptSessions];
    const allLinks = (s: typeof ofA) => [...s.goneLinks, ...s.keptLinks];

    expect(await pruneSessions(deps, adminA.accountId, now)).toEqual({ sessions: 2, magic_links: 2 });
    expect(await remaining(adminA.accountId, 'sessions', allSessions(ofA))).toEqual([...ofA.keptSessions].sort());
    expect(await remaining(adminA.accountId, 'magic_links', allLinks(ofA))).toEqual([...ofA.keptLinks].sort());
    // Account B's rows of the very same ages are untouched by account A's pruning.
    expect(await remaining(adminB.accountId, 'sessions', allSessions(ofB))).toEqual([...allSessions(ofB)].sort());
    expect(await remaining(adminB.accountId, 'magic_links', allLinks(ofB))).toEqual([...allLinks(ofB)].sort());
    expect((await prunings(adminA.accountId, 'sessions')).map((e) => e.after)).toEqual([{ sessions: 2, magic_links: 2, retention_days: 7, older_than: '2026-11-24T12:00:00.000Z' }]);
    expect(await prunings(adminB.accountId, 'sessions')).toEqual([]);
    // The signed-in admin still works.
    expect((await apiAs(t, adminA.token).get('/admin/system')).status).toBe(200);

    // Idempotent: nothing more goes, nothing more is recorded.
    expect(await pruneSessions(deps, adminA.accountId, now)).toEqual({ sessions: 0, magic_links: 0 });
    expect(await prunings(adminA.accountId, 'sessions')).toHaveLength(1);

    expect(await pruneSessions(deps, adminB.accountId, now)).toEqual({ sessions: 2, magic_links: 2 });
    expect(await remaining(adminB.accountId, 'sessions', allSessions(ofB))).toEqual([...ofB.keptSessions].sort());
  });

  it('drains a backlog larger than one transaction, with one audit event per transaction', async () => {
    const ids = [];
    for (let i = 0; i < 9; i++) ids.push(await session(adminA.accountId, adminA.userId, { expires_at: expired(7) }));
    const before = (await prunings(adminA.accountId, 'sessions')).length;
    // Batches of 2, three statements a transaction: 6 + 3 rows.
    expect(await pruneSessions(deps, adminA.accountId, now)).toEqual({ sessions: 9, magic_links: 0 });
    expect(await remaining(adminA.accountId, 'sessions', ids)).toEqual([]);
    expect((await prunings(adminA.accountId, 'sessions')).slice(before).map((e) => e.after.sessions)).toEqual([6, 3]);
  });
});

describe('notifications', () => {
  let nextEvent = 1_000_000;
  async function event(accountId: number, values: { occurred_at: Date; fanned_out_at: Date | null }) {
    const [row] = await inAccount(accountId, (trx) =>
      trx('notification_events')
        .insert({ account_id: accountId, event: 'job.assigned', resource_type: 'job', resource_id: randomUUID(), data: '{"customer":"Ada"}', dedupe_key: `test-${nextEvent++}`, ...values })
        .returning('id'),
    );
    return String(row.id);
  }
  async function deliveryOf(accountId: number, eventId: string, status: string, createdAt: Date, channel = 'email') {
    const [row] = await inAccount(accountId, (trx) =>
      trx('notification_deliveries')
        .insert({ account_id: accountId, event_id: eventId, event: 'job.assigned', recipient_kind: 'user', recipient_id: randomUUID(), channel, address: 'ada@example.com', message: '{"title":"Job"}', status, created_at: createdAt, updated_at: createdAt })
        .returning('id'),
    );
    return row.id as string;
  }
  async function bell(accountId: number, eventId: string, createdAt: Date) {
    const [row] = await inAccount(accountId, (trx) =>
      trx('notifications').insert({ account_id: accountId, event_id: eventId, event: 'job.assigned', recipient_kind: 'user', recipient_id: randomUUID(), title: 'Job for Ada', body: 'At 12 Elm St', created_at: createdAt }).returning('id'),
    );
    return row.id as string;
  }
  async function seed(accountId: number) {
    const old = expired(90);
    const settled = await event(accountId, { occurred_at: old, fanned_out_at: old });
    const waiting = await event(accountId, { occurred_at: old, fanned_out_at: old }); // an escalation still pending
    const notFannedOut = await event(accountId, { occurred_at: old, fanned_out_at: null });
    const recent = await event(accountId, { occurred_at: kept(90), fanned_out_at: kept(90) });
    return {
      goneEvents: [settled],
      keptEvents: [waiting, notFannedOut, recent],
      goneDeliveries: [
        await deliveryOf(accountId, settled, 'sent', old),
        await deliveryOf(accountId, settled, 'delivered', old, 'sms'),
        await deliveryOf(accountId, settled, 'failed', old, 'push'),
        await deliveryOf(accountId, settled, 'skipped', old, 'chatwoot'),
        await deliveryOf(accountId, waiting, 'opted_out', old, 'sms'),
      ],
      keptDeliveries: [await deliveryOf(accountId, waiting, 'pending', old), await deliveryOf(accountId, waiting, 'held', old, 'push'), await deliveryOf(accountId, recent, 'sent', kept(90))],
      goneBells: [await bell(accountId, settled, old)],
      keptBells: [await bell(accountId, waiting, old), await bell(accountId, recent, kept(90))],
    };
  }

  it('removes settled deliveries, bell notifications and events past 90 days; never what still waits', async () => {
    const a = adminA.accountId;
    const ofA = await seed(a);
    const ofB = await seed(adminB.accountId);

    // The usual batch sizes here: one transaction, one audit event.
    const usual = { ...deps, limits: undefined };
    expect(await pruneNotifications(usual, a, now)).toEqual({ notification_deliveries: 5, notifications: 1, notification_events: 1 });
    expect(await remaining(a, 'notification_deliveries', [...ofA.goneDeliveries, ...ofA.keptDeliveries])).toEqual([...ofA.keptDeliveries].sort());
    expect(await remaining(a, 'notifications', [...ofA.goneBells, ...ofA.keptBells])).toEqual([...ofA.keptBells].sort());
    expect(await remaining(a, 'notification_events', [...ofA.goneEvents, ...ofA.keptEvents])).toEqual([...ofA.keptEvents].sort());
    expect((await prunings(a, 'notifications')).map((e) => e.after)).toEqual([
      { notification_deliveries: 5, notifications: 1, notification_events: 1, retention_days: 90, older_than: '2026-09-02T12:00:00.000Z' },
    ]);
    // Account B's identical rows are all still there.
    const allOfB = [...ofB.goneDeliveries, ...ofB.keptDeliveries];
    expect(await remaining(adminB.accountId, 'notification_deliveries', allOfB)).toEqual([...allOfB].sort());
    expect(await remaining(adminB.accountId, 'notification_events', [...ofB.goneEvents, ...ofB.keptEvents])).toHaveLength(4);

    expect(await pruneNotifications(usual, a, now)).toEqual({ notification_deliveries: 0, notifications: 0, notification_events: 0 });
    expect(await prunings(a, 'notifications')).toHaveLength(1);
  });
});

describe('call recordings', () => {
  interface CallSeed { id: string; recordingSid: string | null }
  async function call(accountId: number, startedAt: Date, recording: 'recording' | 'transcript only' | 'none') {
    const recordingSid = recording === 'recording' ? newRecordingSid() : null;
    if (recordingSid) twilioFake.recordings.set(recordingSid, Buffer.from('ID3 voicemail'));
    const [row] = await inAccount(accountId, (trx) =>
      trx('calls')
        .insert({
          account_id: accountId,
          call_sid: newCallSid(),
          from_e164: '+14155550111',
          to_e164: '+14155550199',
          status: 'voicemail',
          twilio_final_status: 'completed',
          started_at: startedAt,
          ended_at: new Date(startedAt.getTime() + 95_000),
          duration_seconds: 95,
          recording_sid: recordingSid,
          recording_source: recordingSid ? 'RecordVerb' : null,
          recording_url: recordingSid ? recordingUrl(twilioFake, recordingSid) : null,
          recording_duration_seconds: recordingSid ? 41 : null,
          transcript: recording === 'none' ? null : 'Hi, this is Ada, my boiler is leaking at 12 Elm Street',
          transcript_status: recording === 'none' ? null : 'completed',
        })
        .returning('id'),
    );
    return { id: row.id as string, recordingSid } satisfies CallSeed;
  }
  const callRow = (accountId: number, id: string) => inAccount(accountId, (trx) => trx('calls').where({ account_id: accountId, id }).first());
  const deletesOf = (seeds: CallSeed[]) => twilioFake.recordingDeletes.filter((d) => seeds.some((s) => s.recordingSid === d.recordingSid));

  it('deletes each expired recording at Twilio once and clears it and its transcript, keeping the call’s facts', async () => {
    const a = adminA.accountId;
    const gone = [await call(a, expired(365), 'recording'), await call(a, ago(800 * day), 'recording'), await call(a, expired(365), 'recording')];
    const transcriptOnly = await call(a, expired(365), 'transcript only');
    const recent = await call(a, kept(365), 'recording');
    const before = twilioFake.recordingDeletes.length;

    expect(await pruneRecordings(deps, a, now)).toEqual({ cleared: 4, deletedAtTwilio: 3, failure: null });
    const deletes = twilioFake.recordingDeletes.slice(before);
    expect(deletes.map((d) => d.recordingSid).sort()).toEqual(gone.map((g) => g.recordingSid).sort());
    expect(deletes.every((d) => d.authorized && d.status === 204 && d.accountSid === twilioFake.accountSid)).toBe(true);
    for (const g of gone) expect(twilioFake.recordings.has(g.recordingSid!)).toBe(false);

    const cleared = await callRow(a, gone[0]!.id);
    expect(cleared).toMatchObject({
      recording_sid: null,
      recording_url: null,
      recording_duration_seconds: null,
      transcript: null,
      // The call's facts stay.
      status: 'voicemail',
      from_e164: '+14155550111',
      duration_seconds: 95,
      transcript_status: 'completed',
      started_at: expired(365),
      ended_at: new Date(expired(365).getTime() + 95_000),
    });
    expect(await callRow(a, transcriptOnly.id)).toMatchObject({ transcript: null, status: 'voicemail' });
    expect(await callRow(a, recent.id)).toMatchObject({ recording_sid: recent.recordingSid, transcript: expect.stringContaining('boiler') });
    expect(twilioFake.recordings.has(recent.recordingSid!)).toBe(true);
    // Batches of two calls: two transactions, one audit event each (which calls share a batch depends on their ids).
    const events = (await prunings(a, 'recordings')).map((e) => e.after);
    expect(events).toHaveLength(2);
    expect(events.every((e) => e.retention_days === 365 && e.older_than === '2025-12-01T12:00:00.000Z' && e.recordings === 2)).toBe(true);
    expect(events.reduce((n, e) => n + e.deleted_at_twilio, 0)).toBe(3);

    // A second run asks Twilio nothing and changes nothing.
    const afterFirst = twilioFake.recordingDeletes.length;
    expect(await pruneRecordings(deps, a, now)).toEqual({ cleared: 0, deletedAtTwilio: 0, failure: null });
    expect(twilioFake.recordingDeletes.length).toBe(afterFirst);
    expect(await prunings(a, 'recordings')).toHaveLength(2);
  });

  it('keeps a recording Twilio would not delete for the next run, and shows the failure to the account’s admins', async () => {
    const a = adminA.accountId;
    const stuck = await call(a, expired(365), 'recording');
    const b = adminB.accountId;
    // Account B stored no Twilio credentials: its expired recording is cleared here, nothing is asked of Twilio.
    const ofB = await call(b, expired(365), 'recording');
    const keptOfB = await call(b, kept(365), 'recording');
    twilioFake.recordingDeleteAnswers.push({ status: 500, code: 20500, message: 'Internal Server Error' });
    const logger = pino({ level: 'silent' });

    const first = await trackSweep({ db: t.db.knex, logger }, 'data-retention', (run) => pruneExpiredData(deps, now, run));
    expect(first).toEqual({ ok: true, failedAccounts: [a] });
    expect(deletesOf([stuck]).map((d) => d.status)).toEqual([500]);
    expect(await callRow(a, stuck.id)).toMatchObject({ recording_sid: stuck.recordingSid, recording_url: recordingUrl(twilioFake, stuck.recordingSid!), transcript: expect.any(String) });
    expect(deletesOf([ofB, keptOfB])).toEqual([]);
    expect(await callRow(b, ofB.id)).toMatchObject({ recording_sid: null, recording_url: null, transcript: null, status: 'voicemail' });
    expect(await callRow(b, keptOfB.id)).toMatchObject({ recording_sid: keptOfB.recordingSid });

    const sweepOf = async (admin: SignedIn) => ((await apiAs(t, admin.token).get('/admin/system')).body.data.sweeps as Array<Record<string, unknown>>).find((s) => s.sweep === 'data-retention');
    expect(await sweepOf(adminA)).toMatchObject({ failing: true, last_error: expect.stringContaining('Twilio 500') });
    expect(await sweepOf(adminB)).toMatchObject({ failing: false, last_error: null });

    // The next run deletes it.
    const second = await trackSweep({ db: t.db.knex, logger }, 'data-retention', (run) => pruneExpiredData(deps, now, run));
    expect(second).toEqual({ ok: true, failedAccounts: [] });
    expect(deletesOf([stuck]).map((d) => d.status)).toEqual([500, 204]);
    expect(await callRow(a, stuck.id)).toMatchObject({ recording_sid: null, recording_url: null, transcript: null, duration_seconds: 95 });
    expect(await sweepOf(adminA)).toMatchObject({ failing: false });
  });
});
