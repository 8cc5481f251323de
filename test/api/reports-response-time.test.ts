// Speed to first response: the first customer message and first agent reply kept from signed
// message webhooks (notes, bots, templates and Onelink's own posts are not replies; duplicates and
// out-of-order deliveries converge), and the report over hand-made conversations with figures
// computed by hand: buckets joined to deal and job outcomes, medians and 90th percentiles,
// business hours across a weekend and a clock change, drill-downs, CSV, scope and tenancy.
import request from 'supertest';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RequestContext } from '../../extension/context.ts';
import { withAccountForTests as withAccount } from '../../extension/db/tenant.ts';
import { resolveRange } from '../../extension/modules/reports/range.ts';
import { responseHeadlines } from '../../extension/modules/reports/response-time.ts';
import { processDelivery } from '../../webhooks/chatwoot/process.ts';
import { chatwootDelivery, messageEvent } from '../fakes/chatwoot-webhooks.ts';
import { apiAs } from '../helpers/api.ts';
import type { TestApp } from '../helpers/app.ts';
import { signInAgent, type SignedIn } from '../helpers/identity.ts';
import { useWorld } from '../helpers/world.ts';

const world = useWorld([1, 2]);
let t: TestApp;
let admin: SignedIn;
let agent: SignedIn;
let adminB: SignedIn;
let webhookPath: string;
const secret = 'whsec-report-secret-1234567890';

beforeAll(async () => {
  t = world.t;
  const installation = await t.db.knex('installations').first('id', 'webhook_path_token');
  await t.db.knex('installations').where({ id: installation.id }).update({ webhook_secret_sealed: t.services.sealer.seal(secret) });
  webhookPath = `/webhooks/chatwoot/${installation.webhook_path_token}`;
  admin = await signInAgent(t, world.chatwoot, 1, 'administrator', 'Avery Admin');
  agent = await signInAgent(t, world.chatwoot, 1, 'agent', 'Sam Agent');
  adminB = await signInAgent(t, world.chatwoot, 2, 'administrator', 'Admin of B');
  for (const a of [admin, adminB]) {
    expect((await apiAs(t, a.token).patch('/admin/capabilities', { profile: 'construction' })).status).toBe(200);
    expect((await apiAs(t, a.token).get('/pipelines')).body.data.length).toBeGreaterThan(0); // the default pipeline, for seeded deals
  }
});

// --- Ingestion through signed webhooks ---

type Sender = { id: number; name: string; type: 'contact' | 'user' | 'agent_bot' } | null;
const contactSender: Sender = { id: 44, name: 'Casey Customer', type: 'contact' };
const userSender = (id: number): Sender => ({ id, name: 'Agent', type: 'user' });

let nextMessageId = 70_000;
function message(conversationId: number, at: string, type: 'incoming' | 'outgoing' | 'template', sender: Sender, extra: { private?: boolean; content_attributes?: Record<string, unknown>; id?: number } = {}) {
  return {
    ...messageEvent({ id: extra.id ?? nextMessageId++, conversationId, content: 'text' }),
    message_type: type,
    private: extra.private ?? false,
    created_at: at,
    sender,
    content_attributes: extra.content_attributes ?? {},
  };
}

async function deliverAndProcess(payload: object) {
  const res = await request(t.app).post(webhookPath).set(chatwootDelivery(payload, { secret }).headers).send(JSON.stringify(payload));
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  expect(await processDelivery(t.db.knex, res.body.data.delivery_id)).toBe('processed');
}

const firstResponseRow = (conversationId: number) =>
  withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) =>
    trx('chatwoot_conversations').where({ account_id: admin.accountId, chatwoot_conversation_id: conversationId }).first('first_customer_message_at', 'first_reply_at', 'first_reply_agent_id', 'inbox_id'),
  );
const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);

describe('first response from message webhooks', () => {
  it('takes the first public customer message and the first person’s public reply; notes, bots, templates and Onelink’s own posts are not replies; duplicates have one effect', async () => {
    const c = 3101;
    await deliverAndProcess(message(c, '2026-11-10T10:00:00.000Z', 'incoming', contactSender));
    await deliverAndProcess(message(c, '2026-11-10T10:00:10.000Z', 'outgoing', userSender(agent.agentId), { private: true })); // a private note
    await deliverAndProcess(message(c, '2026-11-10T10:00:20.000Z', 'outgoing', { id: 5, name: 'Bot', type: 'agent_bot' })); // an agent bot
    await deliverAndProcess(message(c, '2026-11-10T10:00:30.000Z', 'outgoing', userSender(admin.agentId), { content_attributes: { onelink_delivery_id: '0b5c2f4e-2a7c-4a43-9a57-1b2c3d4e5f60' } })); // our customer update
    await deliverAndProcess(message(c, '2026-11-10T10:00:40.000Z', 'outgoing', userSender(admin.agentId), { private: true, content_attributes: { onelink_outbox_id: 'x' } })); // our note
    await deliverAndProcess(message(c, '2026-11-10T10:00:50.000Z', 'template', null)); // greeting / CSAT
    await deliverAndProcess(message(c, '2026-11-10T10:00:55.000Z', 'outgoing', null, { content_attributes: { automation_rule_id: 3 } })); // automation
    expect(await firstResponseRow(c)).toMatchObject({ first_reply_at: null, first_reply_agent_id: null, inbox_id: 3 });

    const reply = message(c, '2026-11-10T10:01:00.000Z', 'outgoing', userSender(agent.agentId));
    await deliverAndProcess(reply);
    await deliverAndProcess(message(c, '2026-11-10T10:05:00.000Z', 'outgoing', userSender(admin.agentId))); // a later reply changes nothing
    await deliverAndProcess(message(c, '2026-11-10T10:03:00.000Z', 'incoming', contactSender)); // a later customer message neither
    await deliverAndProcess(reply); // the same message delivered again (a new delivery id)
    const row = await firstResponseRow(c);
    expect([iso(row.first_customer_message_at), iso(row.first_reply_at), Number(row.first_reply_agent_id)]).toEqual(['2026-11-10T10:00:00.000Z', '2026-11-10T10:01:00.000Z', agent.agentId]);
  });

  it('a reply recorded as one of our customer notifications is ours even without its marker', async () => {
    const c = 3102;
    await deliverAndProcess(message(c, '2026-11-10T11:00:00.000Z', 'incoming', contactSender));
    await withAccount(t.db.knex, admin.accountId, { readOnly: false }, async (trx) => {
      const [event] = await trx('notification_events').insert({ account_id: admin.accountId, event: 'job.completed', resource_type: 'job', resource_id: 'x', dedupe_key: 'report-test' }).returning('id');
      await trx('notification_deliveries').insert({
        account_id: admin.accountId, event_id: event.id, event: 'job.completed', recipient_kind: 'contact', recipient_id: '44', channel: 'chatwoot', address: String(c),
        message: JSON.stringify({ title: 't', body: 'b' }), status: 'sent', provider_id: '88001',
      });
    });
    await deliverAndProcess(message(c, '2026-11-10T11:00:30.000Z', 'outgoing', userSender(admin.agentId), { id: 88_001 }));
    expect((await firstResponseRow(c)).first_reply_at).toBeNull();
  });

  it('gets the answer right whatever order the messages arrive in', async () => {
    const c = 3103;
    // As it happened: the agent wrote first (09:00), the customer at 10:00, the agent answered at
    // 10:05 (agent), the customer again at 10:10, the admin at 10:15. Delivered: 09:00, 10:10, 10:15, 10:05, 10:00.
    await deliverAndProcess(message(c, '2026-11-10T09:00:00.000Z', 'outgoing', userSender(admin.agentId)));
    expect((await firstResponseRow(c)).first_reply_at).toBeNull(); // no customer message yet: not a response
    await deliverAndProcess(message(c, '2026-11-10T10:10:00.000Z', 'incoming', contactSender));
    await deliverAndProcess(message(c, '2026-11-10T10:15:00.000Z', 'outgoing', userSender(admin.agentId)));
    let row = await firstResponseRow(c);
    expect([iso(row.first_customer_message_at), iso(row.first_reply_at)]).toEqual(['2026-11-10T10:10:00.000Z', '2026-11-10T10:15:00.000Z']);
    await deliverAndProcess(message(c, '2026-11-10T10:05:00.000Z', 'outgoing', userSender(agent.agentId))); // before the first customer message known so far: kept aside
    row = await firstResponseRow(c);
    expect(iso(row.first_reply_at)).toBe('2026-11-10T10:15:00.000Z');
    await deliverAndProcess(message(c, '2026-11-10T10:00:00.000Z', 'incoming', contactSender)); // the real first message, late
    row = await firstResponseRow(c);
    expect([iso(row.first_customer_message_at), iso(row.first_reply_at), Number(row.first_reply_agent_id)]).toEqual(['2026-11-10T10:00:00.000Z', '2026-11-10T10:05:00.000Z', agent.agentId]);
    // A reply that arrives before any customer message at all is placed once the customer's arrives.
    const d = 3104;
    await deliverAndProcess(message(d, '2026-11-10T12:00:30.000Z', 'outgoing', userSender(agent.agentId)));
    await deliverAndProcess(message(d, '2026-11-10T12:00:00.000Z', 'incoming', contactSender));
    row = await firstResponseRow(d);
    expect([iso(row.first_customer_message_at), iso(row.first_reply_at)]).toEqual(['2026-11-10T12:00:00.000Z', '2026-11-10T12:00:30.000Z']);
  });
});

// --- The report over hand-made conversations ---

let dealNumber = 9000;
let jobNumber = 9000;

interface Fixture {
  id: number;
  inbox: number;
  first: string;
  reply?: string;
  agent?: number;
  contact?: string;
  deals?: Array<'open' | 'won' | 'lost' | 'deleted'>;
  jobs?: Array<'triaged' | 'completed' | 'canceled'>;
}

async function seed(accountId: number, fixtures: Fixture[]) {
  await withAccount(t.db.knex, accountId, { readOnly: false }, async (trx) => {
    const pipeline = await trx('pipelines').where({ account_id: accountId }).first('id');
    const stage = await trx('stages').where({ account_id: accountId, pipeline_id: pipeline.id }).first('id');
    for (const f of fixtures) {
      if (f.contact) await trx('chatwoot_contacts').insert({ account_id: accountId, chatwoot_contact_id: f.id, name: f.contact });
      await trx('chatwoot_conversations').insert({
        account_id: accountId, chatwoot_conversation_id: f.id, inbox_id: f.inbox, status: 'open', chatwoot_contact_id: f.contact ? f.id : null,
        first_customer_message_at: f.first, first_reply_at: f.reply ?? null, first_reply_agent_id: f.agent ?? null,
      });
      for (const status of f.deals ?? []) {
        await trx('deals').insert({
          account_id: accountId, number: dealNumber++, title: `Deal of ${f.id}`, status: status === 'deleted' ? 'open' : status, pipeline_id: pipeline.id, stage_id: stage.id,
          rank: 'a', chatwoot_conversation_id: f.id, created_by_type: 'user', created_by_id: 'seed', deleted_at: status === 'deleted' ? new Date() : null,
        });
      }
      for (const status of f.jobs ?? []) {
        const [job] = await trx('jobs').insert({ account_id: accountId, number: jobNumber++, summary: `Job of ${f.id}`, status, created_by_type: 'user', created_by_id: 'seed' }).returning('id');
        await trx('job_conversations').insert({ account_id: accountId, job_id: job.id, chatwoot_conversation_id: f.id });
      }
    }
  });
}

const at = (iso: string, seconds: number) => new Date(Date.parse(iso) + seconds * 1000).toISOString();
const june = { from: '2026-06-01', to: '2026-06-07', tz: 'UTC' };
const report = (who: SignedIn, query: Record<string, unknown>) => apiAs(t, who.token).get('/reports/response-time', query);
const table = (body: { data: { tables: Array<{ id: string; rows: Array<{ key: string; cells: Record<string, unknown>; drill?: Record<string, string> }> }> } }, id: string) =>
  body.data.tables.find((x) => x.id === id)!;
const cellsByKey = (rows: Array<{ key: string; cells: Record<string, unknown> }>) => Object.fromEntries(rows.map((r) => [r.key, r.cells]));

describe('the speed to first response report', () => {
  beforeAll(async () => {
    const A = agent.agentId;
    const M = admin.agentId;
    await seed(admin.accountId, [
      { id: 101, inbox: 1, first: '2026-06-02T09:00:00Z', reply: at('2026-06-02T09:00:00Z', 120), agent: A, deals: ['won'], contact: '=HYPERLINK("http://x")' },
      { id: 102, inbox: 1, first: '2026-06-02T10:00:00Z', reply: at('2026-06-02T10:00:00Z', 600), agent: M, deals: ['lost'] },
      { id: 103, inbox: 2, first: '2026-06-03T08:00:00Z', reply: at('2026-06-03T08:00:00Z', 1800), agent: A, deals: ['won'], jobs: ['completed'] },
      { id: 104, inbox: 2, first: '2026-06-03T12:00:00Z', reply: at('2026-06-03T12:00:00Z', 7200), agent: M, jobs: ['canceled'] },
      { id: 105, inbox: 1, first: '2026-06-04T09:00:00Z', reply: at('2026-06-04T09:00:00Z', 172_800), agent: A, deals: ['open'] },
      { id: 106, inbox: 2, first: '2026-06-05T09:00:00Z', deals: ['lost'] },
      { id: 107, inbox: 1, first: '2026-06-05T10:00:00Z', reply: at('2026-06-05T10:00:00Z', 60), agent: M }, // linked to nothing
      { id: 108, inbox: 1, first: '2026-05-31T23:00:00Z', reply: at('2026-05-31T23:00:00Z', 60), agent: M, deals: ['won'] }, // before the range
      { id: 110, inbox: 1, first: '2026-06-05T11:00:00Z', reply: at('2026-06-05T11:00:00Z', 60), agent: M, deals: ['deleted'] }, // its deal was deleted
      { id: 111, inbox: 3, first: '2026-06-06T09:00:00Z', reply: at('2026-06-06T09:00:00Z', 240), agent: A, jobs: ['triaged'] },
    ]);
    await seed(adminB.accountId, [{ id: 101, inbox: 9, first: '2026-06-02T09:00:00Z', reply: at('2026-06-02T09:00:00Z', 30), agent: 1, deals: ['won'] }]);
  });

  it('computes the buckets with win and completion rates, medians and 90th percentiles by hand', async () => {
    const res = await report(admin, june);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.data.scope).toBe('account');
    // Measured: 101 102 103 104 105 106 111 (107 unlinked, 108 before the range, 110's deal deleted).
    // Answered seconds sorted: 120 240 600 1800 7200 172800 → median (600+1800)/2 = 1200;
    // p90 at position 0.9×5 = 4.5: 7200 + 0.5×(172800−7200) = 90000.
    expect(table(res.body, 'summary').rows[0]!.cells).toEqual({ conversations: 7, answered: 6, unanswered: 1, median: 1200, p90: 90000 });
    // < 5 min: 101 (won), 111 (job triaged); < 1 h: 102 (lost), 103 (won, job completed);
    // < 1 day: 104 (job canceled); later: 105 (deal open); unanswered: 106 (lost).
    expect(cellsByKey(table(res.body, 'buckets').rows)).toEqual({
      under_5m: { conversations: 2, deals_closed: 1, deals_won: 1, win_rate: 1, jobs_finished: 0, jobs_completed: 0, completion_rate: null },
      under_1h: { conversations: 2, deals_closed: 2, deals_won: 1, win_rate: 0.5, jobs_finished: 1, jobs_completed: 1, completion_rate: 1 },
      under_1d: { conversations: 1, deals_closed: 0, deals_won: 0, win_rate: null, jobs_finished: 1, jobs_completed: 0, completion_rate: 0 },
      later: { conversations: 1, deals_closed: 0, deals_won: 0, win_rate: null, jobs_finished: 0, jobs_completed: 0, completion_rate: null },
      unanswered: { conversations: 1, deals_closed: 1, deals_won: 0, win_rate: 0, jobs_finished: 0, jobs_completed: 0, completion_rate: null },
    });
    // Inbox 1: 120 600 172800 → median 600, p90 at 1.8: 600 + 0.8×172200 = 138360.
    // Inbox 2: 1800 7200 (106 unanswered) → median 4500, p90 at 0.9: 1800 + 0.9×5400 = 6660. Inbox 3: 240.
    expect(cellsByKey(table(res.body, 'by_inbox').rows)).toEqual({
      1: { conversations: 3, answered: 3, median: 600, p90: 138360 },
      2: { conversations: 3, answered: 2, median: 4500, p90: 6660 },
      3: { conversations: 1, answered: 1, median: 240, p90: 240 },
    });
    // Sam (agent): 120 240 1800 172800 → median 1020, p90 at 2.7: 1800 + 0.7×171000 = 121500.
    // Avery (admin): 600 7200 → median 3900, p90 at 0.9: 600 + 0.9×6600 = 6540.
    const agents = table(res.body, 'by_agent').rows;
    expect(agents.map((r) => [r.key, (r as unknown as { label: string }).label, r.cells])).toEqual([
      [String(Math.min(agent.agentId, admin.agentId)), ...(admin.agentId < agent.agentId ? ['Avery Admin', { answered: 2, median: 3900, p90: 6540 }] : ['Sam Agent', { answered: 4, median: 1020, p90: 121500 }])],
      [String(Math.max(agent.agentId, admin.agentId)), ...(admin.agentId < agent.agentId ? ['Sam Agent', { answered: 4, median: 1020, p90: 121500 }] : ['Avery Admin', { answered: 2, median: 3900, p90: 6540 }])],
    ]);
    expect(res.body.data.definitions.map((d: { key: string }) => d.key)).toEqual(['first_response', 'response_bucket', 'outcome_win_rate', 'outcome_completed']);
  });

  it('gives the overview its headline: the wall-clock median and how many were answered', async () => {
    const headlines = await withAccount(t.db.knex, admin.accountId, { readOnly: true }, async (trx) => {
      const ctx = { accountId: admin.accountId, capabilities: new Set(['dispatch.jobs']) } as unknown as RequestContext;
      return responseHeadlines({ trx, ctx, range: await resolveRange(trx, june), filters: {}, scope: { all: true } });
    });
    expect(headlines).toEqual({ medianFirstResponse: 1200, answered: 6 }); // as in the summary above
  });

  it('filters by inbox and agent; leaves jobs out when dispatch is off', async () => {
    expect(table((await report(admin, { ...june, inbox_id: 2 })).body, 'summary').rows[0]!.cells).toMatchObject({ conversations: 3, answered: 2, median: 4500 });
    expect(table((await report(admin, { ...june, agent_id: admin.agentId })).body, 'summary').rows[0]!.cells).toMatchObject({ conversations: 2, answered: 2, median: 3900 });
    expect((await apiAs(t, admin.token).patch('/admin/capabilities', { overrides: { 'dispatch.jobs': false } })).status).toBe(200);
    try {
      const res = await report(admin, june);
      // 111 was linked to a job only: gone. 104 likewise. Left: 101 102 103 105 106 → 120 600 1800 172800.
      expect(table(res.body, 'summary').rows[0]!.cells).toEqual({ conversations: 5, answered: 4, unanswered: 1, median: 1200, p90: 121500 });
      expect(Object.keys(table(res.body, 'buckets').rows[0]!.cells)).toEqual(['conversations', 'deals_closed', 'deals_won', 'win_rate']);
    } finally {
      expect((await apiAs(t, admin.token).patch('/admin/capabilities', { overrides: { 'dispatch.jobs': null } })).status).toBe(200);
    }
  });

  it('drills down to exactly the conversations behind a count, with their outcome; CSV is formula-safe', async () => {
    const res = await report(admin, june);
    const buckets = table(res.body, 'buckets').rows;
    const drill = async (token: string) => (await apiAs(t, admin.token).get('/reports/response-time/rows', { ...june, drill: token })).body.data;
    const wonFast = await drill(buckets.find((r) => r.key === 'under_1h')!.drill!.deals_won!);
    expect(wonFast.rows.map((r: { link: string }) => r.link)).toEqual(['103']);
    expect(wonFast.rows[0].cells).toMatchObject({ conversation: '#103', inbox: 'Inbox 2', first_message_at: '2026-06-03T08:00:00.000Z', first_reply_at: '2026-06-03T08:30:00.000Z', response: 1800, agent: 'Sam Agent', deals: 'D-9002 won', jobs: expect.stringMatching(/^J-\d+ completed$/) });
    const unanswered = await drill(table(res.body, 'summary').rows[0]!.drill!.unanswered!);
    expect([unanswered.total, unanswered.rows.map((r: { id: string }) => r.id)]).toEqual([1, ['106']]);
    const sam = await drill(table(res.body, 'by_agent').rows.find((r) => r.key === String(agent.agentId))!.drill!.answered!);
    expect(sam.rows.map((r: { id: string }) => r.id)).toEqual(['101', '103', '105', '111']);
    const all = await drill(table(res.body, 'summary').rows[0]!.drill!.conversations!);
    expect(all.rows.map((r: { id: string }) => r.id)).toEqual(['101', '102', '103', '104', '105', '106', '111']);

    const csv = await apiAs(t, admin.token).get('/reports/response-time/rows.csv', { ...june, drill: buckets.find((r) => r.key === 'under_5m')!.drill!.conversations! });
    expect(csv.status).toBe(200);
    expect(csv.text).toContain(`"'=HYPERLINK(""http://x"")"`);
    expect(csv.text).not.toMatch(/(^|,)"?=HYPERLINK/m);
    const figuresCsv = await apiAs(t, admin.token).get('/reports/response-time.csv', { ...june, table: 'buckets' });
    expect(figuresCsv.text.split('\n')[1]).toBe('< 5 min,2,1,1,1,0,0,');
  });

  it('an agent sees only the conversations they answered first; another account never shows', async () => {
    const own = await report(agent, june);
    expect(own.status).toBe(200);
    expect(own.body.data.scope).toBe('own');
    expect(table(own.body, 'summary').rows[0]!.cells).toEqual({ conversations: 4, answered: 4, unanswered: 0, median: 1020, p90: 121500 });
    expect(table(own.body, 'by_agent').rows.map((r) => r.key)).toEqual([String(agent.agentId)]);
    const ownAll = await apiAs(t, agent.token).get('/reports/response-time/rows', { ...june, drill: 'summary:conversations' });
    expect(ownAll.body.data.rows.map((r: { id: string }) => r.id)).toEqual(['101', '103', '105', '111']);
    // Account 2 has its own conversation 101 only.
    const other = await report(adminB, june);
    expect(table(other.body, 'summary').rows[0]!.cells).toEqual({ conversations: 1, answered: 1, unanswered: 0, median: 30, p90: 30 });
    const otherRows = await apiAs(t, adminB.token).get('/reports/response-time/rows', { ...june, drill: 'summary:conversations' });
    expect(otherRows.body.data.rows.map((r: { cells: { inbox: string } }) => r.cells.inbox)).toEqual(['Inbox 9']);
  });

  it('counts only business hours, across a weekend and a clock change', async () => {
    // Europe/Berlin, Monday to Friday 09:00–17:00. Clocks went forward on Sunday 2026-03-29.
    await seed(admin.accountId, [
      // Friday 16:00 CET → Monday 10:00 CEST: 1 h on Friday + 1 h on Monday = 7200 s (wall clock 65 h = 234000 s).
      { id: 201, inbox: 1, first: '2026-03-27T15:00:00Z', reply: '2026-03-30T08:00:00Z', agent: agent.agentId, deals: ['won'] },
      // Saturday 10:00 → 11:00 CET: closed, 0 s (wall clock 3600 s).
      { id: 202, inbox: 1, first: '2026-03-28T09:00:00Z', reply: '2026-03-28T10:00:00Z', agent: agent.agentId, deals: ['lost'] },
      // Monday 08:30 → 09:30 CEST (06:30Z → 07:30Z): 1800 s; with the winter offset it would be 0.
      { id: 203, inbox: 1, first: '2026-03-30T06:30:00Z', reply: '2026-03-30T07:30:00Z', agent: admin.agentId, deals: ['won'] },
    ]);
    const march = { from: '2026-03-27', to: '2026-03-30', tz: 'Europe/Berlin' };
    const refused = await report(admin, { ...march, business_hours: 'true' });
    expect([refused.status, refused.body.error.details.fields[0].code]).toEqual([422, 'no_business_hours']);
    const hours = [1, 2, 3, 4, 5].map((day) => ({ day, opens: '09:00', closes: '17:00' }));
    const put = await apiAs(t, admin.token).put('/reports/settings', { time_zone: 'Europe/Berlin', business_hours: hours });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    expect((await apiAs(t, agent.token).get('/reports/settings')).body.data).toEqual({ time_zone: 'Europe/Berlin', business_hours: hours });

    const inHours = await report(admin, { ...march, business_hours: 'true' });
    expect(inHours.status, JSON.stringify(inHours.body)).toBe(200);
    // 0, 1800, 7200 → median 1800, p90 at 1.8: 1800 + 0.8×5400 = 6120.
    expect(table(inHours.body, 'summary').rows[0]!.cells).toEqual({ conversations: 3, answered: 3, unanswered: 0, median: 1800, p90: 6120 });
    expect(Object.fromEntries(table(inHours.body, 'buckets').rows.map((r) => [r.key, r.cells.conversations]))).toEqual({ under_5m: 1, under_1h: 1, under_1d: 1, later: 0, unanswered: 0 });
    const rows = (await apiAs(t, admin.token).get('/reports/response-time/rows', { ...march, business_hours: 'true', drill: 'summary:answered' })).body.data.rows;
    expect(rows.map((r: { id: string; cells: { response: number } }) => [r.id, r.cells.response])).toEqual([['201', 7200], ['202', 0], ['203', 1800]]);
    // Wall clock: 3600, 3600, 234000.
    const wall = await report(admin, march);
    expect(Object.fromEntries(table(wall.body, 'buckets').rows.map((r) => [r.key, r.cells.conversations]))).toEqual({ under_5m: 0, under_1h: 0, under_1d: 2, later: 1, unanswered: 0 });
    expect(table(wall.body, 'summary').rows[0]!.cells).toMatchObject({ median: 3600 });
  });

  it('follows the business hours as they are now, to the second within an opening minute', async () => {
    await seed(admin.accountId, [
      // Monday 2026-03-30 in Berlin (CEST, UTC+2): 09:10:30 → 09:11:15, inside the hours below: 45 s.
      { id: 204, inbox: 1, first: '2026-03-30T07:10:30Z', reply: '2026-03-30T07:11:15Z', agent: agent.agentId, deals: ['won'] },
      // 09:29:40 → 09:31:10: open only for the 20 s before 09:30.
      { id: 205, inbox: 1, first: '2026-03-30T07:29:40Z', reply: '2026-03-30T07:31:10Z', agent: agent.agentId, deals: ['won'] },
    ]);
    // Changed after the fact: now only Monday 09:00–09:30 is open (the zone stays Europe/Berlin).
    const put = await apiAs(t, admin.token).put('/reports/settings', { business_hours: [{ day: 1, opens: '09:00', closes: '09:30' }] });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    const march = { from: '2026-03-27', to: '2026-03-30', tz: 'Europe/Berlin', business_hours: 'true' };
    const rows = (await apiAs(t, admin.token).get('/reports/response-time/rows', { ...march, drill: 'summary:answered' })).body.data.rows;
    // 201 (Friday 16:00 → Monday 10:00) holds all of Monday's half hour: 1800; 202 (Saturday): 0;
    // 203 (Monday 08:30 → 09:30): 09:00–09:30 = 1800.
    expect(rows.map((r: { id: string; cells: { response: number } }) => [r.id, r.cells.response])).toEqual([['201', 1800], ['202', 0], ['203', 1800], ['204', 45], ['205', 20]]);
  });

  it('refuses bad input with a clear 4xx', async () => {
    const api = apiAs(t, admin.token);
    for (const query of [{ ...june, business_hours: 'maybe' }, { ...june, inbox_id: 'abc' }, { ...june, agent_id: '0' }, { ...june, tz: 'Mars/Olympus' }]) {
      expect((await api.get('/reports/response-time', query)).status, JSON.stringify(query)).toBe(422);
    }
    for (const drill of ['nonsense', 'bucket:soon:conversations', 'bucket:under_5m:amount', 'inbox:1e3:answered', 'summary:conversations:extra']) {
      const res = await api.get('/reports/response-time/rows', { ...june, drill });
      expect([res.status, res.body.error.details?.fields?.[0]?.code], drill).toEqual([422, 'unknown_drill']);
    }
    const bad = [
      { business_hours: [{ day: 1, opens: '17:00', closes: '09:00' }] },
      { business_hours: [{ day: 1, opens: '09:00', closes: '13:00' }, { day: 1, opens: '12:00', closes: '18:00' }] },
      { business_hours: [{ day: 8, opens: '09:00', closes: '17:00' }] },
      { business_hours: [{ day: 1, opens: '9am', closes: '17:00' }] },
      { time_zone: 'Nowhere/Land' },
      {},
    ];
    for (const body of bad) expect((await api.put('/reports/settings', body)).status, JSON.stringify(body)).toBe(422);
    expect((await apiAs(t, agent.token).put('/reports/settings', { time_zone: 'UTC' })).status).toBe(403);
    // Account 2 set no hours: asking for business hours says so.
    const none = await report(adminB, { ...june, business_hours: 'true' });
    expect(none.status).toBe(422);
    expect(JSON.stringify(none.body)).toContain('no_business_hours');
  });
});
