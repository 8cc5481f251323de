import { beforeAll, describe, expect, it } from 'vitest';
import { withAccountForTests as withAccount } from '../../extension/db/tenant.ts';
import { emitTaskReminders } from '../../extension/modules/tasks/service.ts';
import type { FakeChatwoot } from '../fakes/chatwoot.ts';
import { apiAs } from '../helpers/api.ts';
import type { TestApp } from '../helpers/app.ts';
import { useWorld } from '../helpers/world.ts';
import { signInAgent, type SignedIn } from '../helpers/identity.ts';

const world = useWorld([1]);
let t: TestApp;
let chatwoot: FakeChatwoot;
let admin: SignedIn;
let agent: SignedIn;
let api: ReturnType<typeof apiAs>;
let pipeline: { id: string; name: string; stages: Array<{ id: string; name: string; kind: string }> };
const stage = (name: string) => pipeline.stages.find((s) => s.name === name)!;

beforeAll(async () => {
  ({ t, chatwoot } = world);
  admin = await signInAgent(t, chatwoot, 1, 'administrator');
  agent = await signInAgent(t, chatwoot, 1, 'agent', 'Olivia Owner');
  await apiAs(t, admin.token).patch('/admin/capabilities', { profile: 'construction' });
  api = apiAs(t, agent.token);
  pipeline = (await api.get('/pipelines')).body.data[0];
});

async function newDeal(body: Record<string, unknown> = {}) {
  const res = await api.post('/deals', { title: 'Boiler replacement', pipeline_id: pipeline.id, ...body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.data;
}

describe('pipelines', () => {
  it('seeds the default pipeline of the account’s field pack on first use, once', async () => {
    expect(pipeline.name).toBe('Projects');
    expect(pipeline.stages.map((s) => s.name)).toEqual(['Lead', 'Site visit', 'Quote sent', 'Scheduled', 'In progress', 'Completed', 'Lost']);
    expect((await api.get('/pipelines')).body.data).toHaveLength(1);
  });

  it('lets admins add, rename, reorder and archive stages, but not archive one holding deals', async () => {
    const adminApi = apiAs(t, admin.token);
    const created = (await adminApi.post('/pipelines', { name: 'Maintenance', stages: [{ name: 'Booked' }, { name: 'Done', kind: 'won', win_probability: 100 }] })).body.data;
    const added = await adminApi.post(`/pipelines/${created.id}/stages`, { name: 'Visited', position: 1, win_probability: 50 });
    expect(added.status).toBe(201);
    const ids = (await adminApi.get('/pipelines')).body.data.find((p: { id: string }) => p.id === created.id).stages.map((s: { id: string }) => s.id);
    expect(ids).toHaveLength(3);
    const reordered = await adminApi.put(`/pipelines/${created.id}/stage-order`, { stage_ids: [...ids].reverse() });
    expect(reordered.body.data.map((s: { id: string }) => s.id)).toEqual([...ids].reverse());
    expect((await adminApi.put(`/pipelines/${created.id}/stage-order`, { stage_ids: ids.slice(1) })).status).toBe(422);

    const deal = (await api.post('/deals', { title: 'Annual service', pipeline_id: created.id, stage_id: ids[0] })).body.data;
    const refused = await adminApi.patch(`/stages/${ids[0]}`, { archived: true });
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('stage_not_empty');
    await api.delete(`/deals/${deal.id}`);
    expect((await adminApi.patch(`/stages/${ids[0]}`, { archived: true })).status).toBe(200);
    expect((await api.patch(`/stages/${ids[1]}`, { name: 'Agents may not' })).status).toBe(403);
  });
});

describe('deals', () => {
  it('numbers deals per account and validates amount, currency, stage and owner', async () => {
    const first = await newDeal({ amount_minor: 125_000, currency: 'EUR', owner_id: agent.userId, chatwoot_contact_id: 501, custom_fields: { trade: 'plumbing' } });
    const second = await newDeal();
    expect(second.number).toBe(first.number + 1);
    expect(first.reference).toBe(`D-${first.number}`);
    expect(first).toMatchObject({ status: 'open', stage_id: stage('Lead').id, amount_minor: 125_000, currency: 'EUR', version: 1 });

    const cases: Array<[Record<string, unknown>, number, string]> = [
      [{ amount_minor: -1, currency: 'EUR' }, 422, 'validation_failed'],
      [{ amount_minor: 100, currency: 'XYZ' }, 422, 'validation_failed'],
      [{ amount_minor: 100 }, 422, 'validation_failed'],
      [{ stage_id: '00000000-0000-4000-8000-000000000000' }, 422, 'unknown_stage'],
      [{ owner_id: '00000000-0000-4000-8000-000000000000' }, 422, 'validation_failed'],
      [{ custom_fields: { trade: 'astrology' } }, 422, 'validation_failed'],
    ];
    for (const [body, status, code] of cases) {
      const res = await api.post('/deals', { title: 'Bad', pipeline_id: pipeline.id, ...body });
      expect([res.status, res.body.error?.code], JSON.stringify(body)).toEqual([status, code]);
    }
  });

  it('moves a card between neighbours, keeps order, and records the stage history', async () => {
    const [a, b, c] = [await newDeal({ title: 'A' }), await newDeal({ title: 'B' }), await newDeal({ title: 'C' })];
    const target = stage('Site visit').id;
    let moved = (await api.post(`/deals/${a.id}/move`, { stage_id: target, version: a.version })).body.data;
    moved = (await api.post(`/deals/${b.id}/move`, { stage_id: target, after_id: a.id, version: b.version })).body.data;
    moved = (await api.post(`/deals/${c.id}/move`, { stage_id: target, after_id: a.id, before_id: b.id, version: c.version })).body.data;
    expect(moved.version).toBe(2);
    const column = await api.get(`/pipelines/${pipeline.id}/stages/${target}/deals`, { q: undefined });
    const titles = column.body.data.map((d: { title: string }) => d.title).filter((x: string) => ['A', 'B', 'C'].includes(x));
    expect(titles).toEqual(['A', 'C', 'B']);
    const history = (await api.get(`/deals/${c.id}/stage-history`)).body.data;
    expect(history.map((h: { to_stage_id: string }) => h.to_stage_id)).toEqual([stage('Lead').id, target]);
    expect(history[0].seconds_in_stage).toBeGreaterThanOrEqual(0);
    expect(history[1].current).toBe(true);
  });

  it('refuses a stale move with 409 and the current state, changing nothing', async () => {
    const deal = await newDeal();
    await api.patch(`/deals/${deal.id}`, { title: 'Edited elsewhere', version: 1 });
    const stale = await api.post(`/deals/${deal.id}/move`, { stage_id: stage('Quote sent').id, version: 1 });
    expect(stale.status).toBe(409);
    expect(stale.body.error.code).toBe('stale_version');
    expect(stale.body.error.details.current).toMatchObject({ title: 'Edited elsewhere', version: 2, stage_id: stage('Lead').id });
  });

  it('wins, loses with a reason, reopens into an open stage, and refuses invalid transitions', async () => {
    const deal = await newDeal();
    const won = (await api.post(`/deals/${deal.id}/status`, { status: 'won', version: 1 })).body.data;
    expect(won).toMatchObject({ status: 'won', stage_id: stage('Completed').id });
    const toLost = await api.post(`/deals/${deal.id}/status`, { status: 'lost', lost_reason: 'x', version: won.version });
    expect(toLost.status).toBe(409);
    expect(toLost.body.error.details.allowed).toEqual(['open']);
    const noStage = await api.post(`/deals/${deal.id}/status`, { status: 'open', version: won.version });
    expect([noStage.status, noStage.body.error.details.fields[0].path]).toEqual([422, 'body.stage_id']);
    const intoWon = await api.post(`/deals/${deal.id}/status`, { status: 'open', stage_id: stage('Completed').id, version: won.version });
    expect(intoWon.status).toBe(422);
    const reopened = (await api.post(`/deals/${deal.id}/status`, { status: 'open', stage_id: stage('Scheduled').id, version: won.version })).body.data;
    expect(reopened).toMatchObject({ status: 'open', stage_id: stage('Scheduled').id });
    const noReason = await api.post(`/deals/${deal.id}/status`, { status: 'lost', version: reopened.version });
    expect(noReason.status).toBe(422);
    const lost = (await api.post(`/deals/${deal.id}/status`, { status: 'lost', lost_reason: 'Went with a competitor', version: reopened.version })).body.data;
    expect(lost).toMatchObject({ status: 'lost', lost_reason: 'Went with a competitor', stage_id: stage('Lost').id });
    const history = (await api.get(`/deals/${deal.id}/stage-history`)).body.data;
    expect(history.map((h: { to_status: string }) => h.to_status)).toEqual(['open', 'won', 'open', 'lost']);
  });

  it('moving into a won stage wins the deal', async () => {
    const deal = await newDeal();
    const moved = (await api.post(`/deals/${deal.id}/move`, { stage_id: stage('Completed').id, version: 1 })).body.data;
    expect(moved.status).toBe('won');
  });

  it('moving into a lost stage asks for the reason: 422 and nothing changes without it, lost with it', async () => {
    const deal = await newDeal();
    const won = (await api.post(`/deals/${deal.id}/move`, { stage_id: stage('Completed').id, version: 1 })).body.data;
    const refused = await api.post(`/deals/${deal.id}/move`, { stage_id: stage('Lost').id, version: won.version });
    expect([refused.status, refused.body.error.code, refused.body.error.details.fields]).toEqual([
      422,
      'validation_failed',
      [{ path: 'body.lost_reason', message: 'Required when marking a deal lost', code: 'required' }],
    ]);
    expect((await api.get(`/deals/${deal.id}`)).body.data).toMatchObject({ status: 'won', stage_id: stage('Completed').id, version: won.version, lost_reason: null });
    expect((await api.get(`/deals/${deal.id}/stage-history`)).body.data).toHaveLength(2); // created, won: the refused move left no trace

    const lost = await api.post(`/deals/${deal.id}/move`, { stage_id: stage('Lost').id, lost_reason: 'Client cancelled the order', version: won.version });
    expect(lost.status).toBe(200);
    expect(lost.body.data).toMatchObject({ status: 'lost', stage_id: stage('Lost').id, lost_reason: 'Client cancelled the order' });
    // Back to an open stage: the reason goes with the lost status.
    const reopened = (await api.post(`/deals/${deal.id}/move`, { stage_id: stage('Lead').id, version: lost.body.data.version })).body.data;
    expect(reopened).toMatchObject({ status: 'open', lost_reason: null });
  });

  it('soft-deletes and restores', async () => {
    const deal = await newDeal({ title: 'To delete' });
    expect((await api.delete(`/deals/${deal.id}`)).status).toBe(200);
    expect((await api.get(`/deals/${deal.id}`)).status).toBe(404);
    expect((await api.post(`/deals/${deal.id}/restore`)).status).toBe(200);
    expect((await api.get(`/deals/${deal.id}`)).body.data.title).toBe('To delete');
  });

  it('bulk-moves and reassigns all or nothing', async () => {
    const [a, b] = [await newDeal(), await newDeal()];
    const bad = await api.post('/deals/bulk', { deal_ids: [a.id, '00000000-0000-4000-8000-000000000000'], stage_id: stage('Scheduled').id });
    expect(bad.status).toBe(404);
    expect((await api.get(`/deals/${a.id}`)).body.data.stage_id).toBe(stage('Lead').id);
    const ok = await api.post('/deals/bulk', { deal_ids: [a.id, b.id], stage_id: stage('Scheduled').id, owner_id: agent.userId });
    expect(ok.status).toBe(200);
    const again = await api.post('/deals/bulk', { deal_ids: [a.id, b.id], stage_id: stage('Scheduled').id, owner_id: agent.userId });
    expect(again.status).toBe(200); // already there: nothing to change, not an error
    expect(ok.body.data.map((d: { stage_id: string; owner_id: string }) => [d.stage_id, d.owner_id])).toEqual([
      [stage('Scheduled').id, agent.userId],
      [stage('Scheduled').id, agent.userId],
    ]);
  });
});

describe('the board', () => {
  it('returns every stage with count, sums per currency and the first page, with filters', async () => {
    const mine = await newDeal({ title: 'Roof for Ms Patel', amount_minor: 50_000, currency: 'USD', owner_id: agent.userId, custom_fields: { trade: 'roofing' } });
    await newDeal({ title: 'Roof gutters', amount_minor: 20_000, currency: 'USD' });
    await newDeal({ title: 'Shed', amount_minor: 10_000, currency: 'EUR' });
    const board = (await api.get(`/pipelines/${pipeline.id}/board`, { per_stage: 2 })).body.data;
    expect(board.columns.map((c: { stage: { name: string } }) => c.stage.name)).toEqual(pipeline.stages.map((s) => s.name));
    const lead = board.columns[0];
    expect(lead.count).toBeGreaterThanOrEqual(3);
    expect(lead.deals).toHaveLength(2);
    expect(lead.next_cursor).toEqual(expect.any(String));
    expect(lead.amount_sums).toEqual(expect.arrayContaining([expect.objectContaining({ currency: 'EUR' }), expect.objectContaining({ currency: 'USD' })]));
    const next = await api.get(`/pipelines/${pipeline.id}/stages/${lead.stage.id}/deals`, { limit: 2, cursor: lead.next_cursor });
    expect(next.body.data[0].id).not.toBe(lead.deals[0].id);

    const filtered = (await api.get(`/pipelines/${pipeline.id}/board`, { q: 'roof', 'cf[trade]': 'roofing', owner_id: agent.userId })).body.data;
    expect(filtered.columns[0]).toMatchObject({ count: 1, amount_sums: [{ currency: 'USD', amount_minor: 50_000 }] });
    expect(filtered.columns[0].deals[0].id).toBe(mine.id);
    const byReference = (await api.get('/deals', { q: mine.reference })).body.data;
    expect(byReference.map((d: { id: string }) => d.id)).toEqual([mine.id]);
  });
});

describe('notes and timelines', () => {
  it('merge stage moves, notes and tasks newest first, by cursor', async () => {
    const deal = await newDeal({ chatwoot_contact_id: 777 });
    await api.post(`/deals/${deal.id}/notes`, { body: 'Customer prefers mornings' });
    await api.post(`/deals/${deal.id}/move`, { stage_id: stage('Site visit').id, version: 1 });
    const task = (await api.post('/tasks', { title: 'Call back about the quote', deal_id: deal.id })).body.data;
    await api.post(`/tasks/${task.id}/status`, { status: 'done' });
    await api.post('/tasks', { title: 'Send brochure', chatwoot_contact_id: 777 });

    const timeline = (await api.get(`/deals/${deal.id}/timeline`)).body.data;
    expect(timeline.map((e: { kind: string }) => e.kind)).toEqual(['task_completed', 'task_created', 'stage_change', 'note', 'stage_change']);
    expect(timeline[2].data).toMatchObject({ from_stage: 'Lead', to_stage: 'Site visit' });
    const first = await api.get(`/deals/${deal.id}/timeline`, { limit: 2 });
    const rest = await api.get(`/deals/${deal.id}/timeline`, { limit: 10, cursor: first.body.meta.next_cursor });
    expect([...first.body.data, ...rest.body.data].map((e: { id: string }) => e.id)).toEqual(timeline.map((e: { id: string }) => e.id));

    const contact = (await api.get('/contacts/777/timeline')).body.data;
    expect(contact.map((e: { kind: string }) => e.kind)).toContain('note');
    expect(contact.filter((e: { kind: string }) => e.kind === 'task_created')).toHaveLength(2);
  });
});

describe('tasks', () => {
  it('walk their own state machine, refuse stale edits and invalid transitions', async () => {
    const task = (await api.post('/tasks', { title: 'Order parts', assignee_id: agent.userId, priority: 'high' })).body.data;
    expect(task).toMatchObject({ status: 'open', version: 1 });
    expect((await api.post(`/tasks/${task.id}/status`, { status: 'in_progress' })).body.data.status).toBe('in_progress');
    const done = (await api.post(`/tasks/${task.id}/status`, { status: 'done' })).body.data;
    expect(done.completed_at).not.toBeNull();
    const bad = await api.post(`/tasks/${task.id}/status`, { status: 'canceled' });
    expect([bad.status, bad.body.error.details.allowed]).toEqual([409, ['open']]);
    expect((await api.patch(`/tasks/${task.id}`, { title: 'x', version: 1 })).status).toBe(409);
    expect((await api.post('/tasks', { title: 'x', assignee_id: '00000000-0000-4000-8000-000000000000' })).body.error.details.fields[0].path).toBe('body.assignee_id');
  });

  it('offers mine, overdue and due-today views', async () => {
    const hour = 3600_000;
    const overdue = (await api.post('/tasks', { title: 'Overdue', assignee_id: agent.userId, due_at: new Date(Date.now() - hour) })).body.data;
    const later = (await api.post('/tasks', { title: 'Later', assignee_id: agent.userId, due_at: new Date(Date.now() + 48 * hour) })).body.data;
    const someoneElse = (await api.post('/tasks', { title: 'Not mine', assignee_id: admin.userId, due_at: new Date(Date.now() - hour) })).body.data;
    const ids = async (query: Record<string, string>) => (await api.get('/tasks', { limit: 200, ...query })).body.data.map((x: { id: string }) => x.id);
    const mine = await ids({ view: 'mine' });
    expect(mine).toEqual(expect.arrayContaining([overdue.id, later.id]));
    expect(mine).not.toContain(someoneElse.id);
    expect(mine.indexOf(overdue.id)).toBeLessThan(mine.indexOf(later.id));
    expect(await ids({ view: 'overdue' })).toEqual(expect.arrayContaining([overdue.id, someoneElse.id]));
    expect(await ids({ view: 'overdue' })).not.toContain(later.id);
    expect(await ids({ view: 'due_today', tz: 'Pacific/Kiritimati' })).not.toContain(later.id);
    expect((await api.get('/tasks', { view: 'due_today', tz: 'Mars/Olympus' })).status).toBe(422);
  });

  it('pages through every task exactly once, including those without a due date', async () => {
    const all = (await api.get('/tasks', { limit: 200 })).body.data.map((x: { id: string }) => x.id);
    const paged: string[] = [];
    let cursor: string | undefined;
    do {
      const res = await api.get('/tasks', { limit: 3, ...(cursor ? { cursor } : {}) });
      expect(res.status).toBe(200);
      paged.push(...res.body.data.map((x: { id: string }) => x.id));
      cursor = res.body.meta.next_cursor ?? undefined;
    } while (cursor);
    expect(paged).toEqual(all);
  });

  it('emits each reminder once per task and threshold', async () => {
    const soon = (await api.post('/tasks', { title: 'Due in 30 minutes', due_at: new Date(Date.now() + 30 * 60_000) })).body.data;
    const first = await emitTaskReminders(t.db.knex);
    expect(first).toBeGreaterThanOrEqual(1);
    expect(await emitTaskReminders(t.db.knex)).toBe(0);
    const later = await emitTaskReminders(t.db.knex, new Date(Date.now() + 31 * 60_000));
    expect(later).toBeGreaterThanOrEqual(1);
    const reminders = await withAccount(t.db.knex, agent.accountId, { readOnly: true }, (trx) => trx('task_reminders').where({ task_id: soon.id }).orderBy('emitted_at'));
    expect(reminders.map((r: { threshold: string }) => r.threshold)).toEqual(['due_soon', 'overdue']);
    const trail = await apiAs(t, admin.token).get('/admin/audit-events', { resource_id: soon.id, actor_type: 'system' });
    expect(trail.body.data.map((e: { action: string }) => e.action).sort()).toEqual(['task.due_soon', 'task.overdue']);
    expect(new Set(trail.body.data.map((e: { actor_id: string }) => e.actor_id))).toEqual(new Set(['task-reminders']));
  });

  it('a broken reminder sweep throws instead of reporting nothing to do', async () => {
    await expect(emitTaskReminders(t.db.knex, new Date(Number.NaN))).rejects.toThrow(/The task reminder sweep failed for \d+ account\(s\): account \d+/);
  });
});

describe('search', () => {
  it('ranks deals, tasks and contacts together, and respects capabilities', async () => {
    const deal = await newDeal({ title: 'Kitchen renovation for Harrington' });
    await api.post('/tasks', { title: 'Measure Harrington kitchen' });
    await withAccount(t.db.knex, agent.accountId, { readOnly: false }, (trx) =>
      trx('chatwoot_contacts').insert({ account_id: agent.accountId, chatwoot_contact_id: 4242, name: 'Eleanor Harrington', email: 'eleanor@example.com', phone_e164: '+14155550199' }),
    );
    const response = await api.get('/search', { q: 'harrington' });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    const hits = response.body.data;
    expect(hits.map((h: { type: string }) => h.type).sort()).toEqual(['contact', 'deal', 'task']);
    expect((await api.get('/search', { q: deal.reference })).body.data[0]).toMatchObject({ type: 'deal', id: deal.id, score: 1 });
    expect((await api.get('/search', { q: '5550199' })).body.data[0]).toMatchObject({ type: 'contact', id: '4242' });
    expect((await api.get('/search', { q: 'harington' })).body.data.length).toBeGreaterThan(0); // a typo still finds them

    await apiAs(t, admin.token).patch('/admin/capabilities', { overrides: { 'crm.deals': false } });
    const withoutDeals = (await api.get('/search', { q: 'harrington' })).body.data;
    expect(withoutDeals.map((h: { type: string }) => h.type)).not.toContain('deal');
    await apiAs(t, admin.token).patch('/admin/capabilities', { overrides: { 'crm.deals': null } });
  });
});

describe('audit', () => {
  it('records every change made to a deal', async () => {
    const deal = await newDeal();
    await api.patch(`/deals/${deal.id}`, { title: 'Renamed', version: 1 });
    await api.post(`/deals/${deal.id}/move`, { stage_id: stage('Site visit').id, version: 2 });
    await api.post(`/deals/${deal.id}/notes`, { body: 'n' });
    await api.delete(`/deals/${deal.id}`);
    const trail = await apiAs(t, admin.token).get('/admin/audit-events', { resource_type: 'deal', resource_id: deal.id });
    expect(trail.body.data.map((e: { action: string }) => e.action).reverse()).toEqual(['deal.created', 'deal.updated', 'deal.moved', 'deal.note_added', 'deal.deleted']);
    expect(trail.body.data[3].before).toMatchObject({ title: 'Boiler replacement', version: 1 });
    expect(Object.keys(trail.body.data[3].before)).not.toContain('amount_minor'); // only what changed
  });
});

describe('board totals kept by the database', () => {
  it('match a fresh aggregation after creates, moves, amount edits, deletes and restores', async () => {
    const a = await newDeal({ amount_minor: 1_000, currency: 'GBP' });
    const b = await newDeal({ amount_minor: 2_500, currency: 'GBP' });
    await api.post(`/deals/${a.id}/move`, { stage_id: stage('Quote sent').id, version: 1 });
    await api.patch(`/deals/${b.id}`, { amount_minor: 4_000, currency: 'GBP', version: 1 });
    await api.delete(`/deals/${a.id}`);
    await api.post(`/deals/${a.id}/restore`);
    const board = (await api.get(`/pipelines/${pipeline.id}/board`)).body.data;
    const fresh = await withAccount(t.db.knex, agent.accountId, { readOnly: true }, (trx) =>
      trx('deals').where({ account_id: agent.accountId, pipeline_id: pipeline.id }).whereNull('deleted_at').groupBy('stage_id').select('stage_id', trx.raw('count(*)::int as count')),
    );
    for (const column of board.columns) {
      const expected = fresh.find((row: { stage_id: string }) => row.stage_id === column.stage.id)?.count ?? 0;
      expect(column.count, column.stage.name).toBe(expected);
    }
    const quote = board.columns.find((c: { stage: { name: string } }) => c.stage.name === 'Quote sent');
    expect(quote.amount_sums).toContainEqual({ currency: 'GBP', amount_minor: 1_000 });
  });
});

describe('CSV export', () => {
  it('exports the filtered deals with readable columns, and defuses spreadsheet formulas', async () => {
    const column = pipeline.stages[1]!;
    await api.post('/deals', { title: '=HYPERLINK("http://evil.example","click")', pipeline_id: pipeline.id, stage_id: column.id, amount_minor: 123_456, currency: 'EUR', chatwoot_conversation_id: 88 });
    await api.post('/deals', { title: 'Plain, with a comma', pipeline_id: pipeline.id, stage_id: column.id });
    const res = await api.get('/deals/export.csv', { stage_id: column.id });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/csv/);
    expect(res.headers['content-disposition']).toMatch(/^attachment; filename="deals-\d{4}-\d\d-\d\d\.csv"$/);
    const lines = (res.text as string).trim().split('\n');
    expect(lines[0]).toBe('reference,title,status,pipeline,stage,amount,currency,owner,chatwoot_contact_id,chatwoot_conversation_id,expected_close_date,created_at');
    expect(lines.some((l) => l.includes(`"'=HYPERLINK(""http://evil.example"",""click"")"`) && l.includes(`,${column.name},1234.56,EUR,`) && l.includes(',88,'))).toBe(true);
    expect(lines.some((l) => l.includes('"Plain, with a comma"'))).toBe(true);
    expect(lines.every((l, i) => i === 0 || l.includes(`,${column.name},`))).toBe(true);
    expect((await api.get('/deals/export.csv', { stage_id: 'nope' })).status).toBe(422);
  });
});
