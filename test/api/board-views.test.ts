// Saved views of the boards, and the pipeline board's change feed (how an open board follows
// moves made elsewhere without reloading the columns it has paged in).
import { beforeAll, describe, expect, it } from 'vitest';
import { withAccountForTests as withAccount } from '../../extension/db/tenant.ts';
import type { FakeChatwoot } from '../fakes/chatwoot.ts';
import { apiAs } from '../helpers/api.ts';
import type { TestApp } from '../helpers/app.ts';
import { useWorld } from '../helpers/world.ts';
import { createServiceToken, signInAgent, type SignedIn } from '../helpers/identity.ts';

const world = useWorld([1]);
let t: TestApp;
let chatwoot: FakeChatwoot;
let admin: SignedIn;
let olivia: SignedIn;
let sam: SignedIn;
let pipeline: { id: string; stages: Array<{ id: string; name: string }> };

beforeAll(async () => {
  ({ t, chatwoot } = world);
  admin = await signInAgent(t, chatwoot, 1, 'administrator');
  olivia = await signInAgent(t, chatwoot, 1, 'agent', 'Olivia Owner');
  sam = await signInAgent(t, chatwoot, 1, 'agent', 'Sam Second');
  await apiAs(t, admin.token).patch('/admin/capabilities', { overrides: { 'dispatch.jobs': true } });
  pipeline = (await apiAs(t, olivia.token).get('/pipelines')).body.data[0];
});

describe('saved views', () => {
  it('keeps a person’s views to themselves until shared; only the owner or an admin changes a shared one', async () => {
    const mine = apiAs(t, olivia.token);
    const created = await mine.post('/saved-views', { board: 'pipeline', name: 'My open deals', filters: { owner_id: olivia.userId, status: 'open' } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.data).toMatchObject({ board: 'pipeline', name: 'My open deals', shared: false, mine: true, filters: { owner_id: olivia.userId, status: 'open' } });
    const viewId = created.body.data.id;

    expect((await apiAs(t, sam.token).get('/saved-views?board=pipeline')).body.data).toEqual([]);
    expect((await apiAs(t, sam.token).patch(`/saved-views/${viewId}`, { name: 'Taken over' })).status).toBe(404);

    expect((await mine.patch(`/saved-views/${viewId}`, { shared: true })).body.data.shared).toBe(true);
    const seen = (await apiAs(t, sam.token).get('/saved-views?board=pipeline')).body.data;
    expect(seen).toEqual([expect.objectContaining({ id: viewId, mine: false })]);
    const refused = await apiAs(t, sam.token).delete(`/saved-views/${viewId}`);
    expect(refused.status).toBe(403);
    expect((await apiAs(t, admin.token).patch(`/saved-views/${viewId}`, { name: 'Open deals (Olivia)' })).status).toBe(200);

    const audit = await apiAs(t, admin.token).get(`/admin/audit-events?resource_type=saved_view&resource_id=${viewId}`);
    expect(audit.body.data.map((e: { action: string }) => e.action).sort()).toEqual(['saved_view.created', 'saved_view.updated', 'saved_view.updated']);

    expect((await mine.delete(`/saved-views/${viewId}`)).status).toBe(200);
    expect((await mine.get('/saved-views?board=pipeline')).body.data).toEqual([]);
  });

  it('refuses filters the board does not take, a duplicate name, and people-less tokens, changing nothing', async () => {
    const mine = apiAs(t, olivia.token);
    const unknown = await mine.post('/saved-views', { board: 'pipeline', name: 'Odd', filters: { colour: 'red' } });
    expect(unknown.status).toBe(422);
    expect(unknown.body.error.details.fields[0].path).toBe('body.filters');
    const wrongType = await mine.post('/saved-views', { board: 'dispatch', name: 'Odd', filters: { priority: 'whenever' } });
    expect(wrongType.status).toBe(422);
    expect(wrongType.body.error.details.fields[0].path).toBe('body.filters.priority');

    expect((await mine.post('/saved-views', { board: 'dispatch', name: 'Breached', filters: { sla_state: 'breached' } })).status).toBe(201);
    const twice = await mine.post('/saved-views', { board: 'dispatch', name: 'breached', filters: {} });
    expect(twice.status).toBe(409);
    expect(twice.body.error.code).toBe('view_name_taken');
    // Someone else may use the same name.
    expect((await apiAs(t, sam.token).post('/saved-views', { board: 'dispatch', name: 'Breached', filters: {} })).status).toBe(201);

    const service = await createServiceToken(t, admin, ['deals:read']);
    expect((await apiAs(t, service.token).get('/saved-views?board=pipeline')).status).toBe(403);
    const count = await withAccount(t.db.knex, olivia.accountId, { readOnly: true }, (trx) => trx('saved_views').count({ n: '*' }).first());
    expect(Number(count?.n)).toBe(2);
  });

  it('refuses a view of a board whose capability is off', async () => {
    await apiAs(t, admin.token).patch('/admin/capabilities', { overrides: { 'dispatch.jobs': false } });
    try {
      const res = await apiAs(t, olivia.token).get('/saved-views?board=dispatch');
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('capability_disabled');
    } finally {
      await apiAs(t, admin.token).patch('/admin/capabilities', { overrides: { 'dispatch.jobs': true } });
    }
  });
});

describe('teammates', () => {
  it('lists the account’s active agents by name for owner and assignee pickers', async () => {
    const people = (await apiAs(t, sam.token).get('/teammates')).body.data;
    expect(people.map((p: { id: string }) => p.id).sort()).toEqual([admin.userId, olivia.userId, sam.userId].sort());
    expect(Object.keys(people[0]).sort()).toEqual(['chatwoot_user_id', 'id', 'name']);
  });
});

describe('pipeline board changes', () => {
  it('reports moved, new, deleted and filtered-out cards with their rank, and fresh totals', async () => {
    const api = apiAs(t, olivia.token);
    const [first, second] = pipeline.stages;
    const board = (await api.get(`/pipelines/${pipeline.id}/board?per_stage=5`)).body.data;
    const deal = (await api.post('/deals', { title: 'Roof survey', pipeline_id: pipeline.id, amount_minor: 5000, currency: 'USD' })).body.data;
    const other = (await api.post('/deals', { title: 'Gutter clean', pipeline_id: pipeline.id })).body.data;
    await api.post(`/deals/${deal.id}/move`, { stage_id: second!.id, version: deal.version });
    await api.delete(`/deals/${other.id}`);

    const since = board.as_of;
    const changes = (await api.get(`/pipelines/${pipeline.id}/board/changes?since=${encodeURIComponent(since)}`)).body.data;
    expect(changes.complete).toBe(true);
    expect(changes.changed).toEqual([expect.objectContaining({ id: deal.id, stage_id: second!.id, rank: expect.any(String) })]);
    expect(changes.removed).toEqual([other.id]);
    const column = changes.columns.find((c: { stage: { id: string } }) => c.stage.id === second!.id);
    expect(column.count).toBe(board.columns[1].count + 1);
    expect(column.amount_sums).toEqual([{ currency: 'USD', amount_minor: 5000 }]);
    expect(changes.columns.find((c: { stage: { id: string } }) => c.stage.id === first!.id).count).toBe(board.columns[0].count);

    // A filter the moved card no longer matches: it leaves this view of the board.
    const filtered = (await api.get(`/pipelines/${pipeline.id}/board/changes?since=${encodeURIComponent(since)}&q=gutter`)).body.data;
    expect(filtered.changed).toEqual([]);
    expect(filtered.removed.sort()).toEqual([deal.id, other.id].sort());

    // Nothing since the latest answer.
    expect((await api.get(`/pipelines/${pipeline.id}/board/changes?since=${encodeURIComponent(changes.as_of)}`)).body.data).toMatchObject({ changed: [], removed: [] });
    expect((await api.get(`/pipelines/${pipeline.id}/board/changes?since=yesterday`)).status).toBe(422);
  });

  it('does not miss a write that was in flight when the board was read', async () => {
    const api = apiAs(t, olivia.token);
    const deal = (await api.post('/deals', { title: 'Slow write', pipeline_id: pipeline.id })).body.data;
    let release!: () => void;
    let started!: () => void;
    const begun = new Promise<void>((resolve) => (started = resolve));
    // A write that began before the board was read and commits after it.
    const slowWrite = withAccount(t.db.knex, olivia.accountId, { readOnly: false }, async (trx) => {
      await trx('deals').where({ account_id: olivia.accountId, id: deal.id }).update({ title: 'Slow write, committed late', updated_at: trx.fn.now(), version: deal.version + 1 });
      started();
      await new Promise<void>((resolve) => (release = resolve));
    });
    await begun;
    await new Promise((resolve) => setTimeout(resolve, 50));
    const board = (await api.get(`/pipelines/${pipeline.id}/board?per_stage=5`)).body.data;
    release();
    await slowWrite;
    const changes = (await api.get(`/pipelines/${pipeline.id}/board/changes?since=${encodeURIComponent(board.as_of)}`)).body.data;
    expect(changes.changed.map((d: { title: string }) => d.title)).toContain('Slow write, committed late');
  });

  it('orders cards by rank byte by byte, as fractional indexing expects', async () => {
    const api = apiAs(t, olivia.token);
    const stage = pipeline.stages[2]!;
    const [{ collation_name }] = (await t.db.knex.raw(`select collation_name from information_schema.columns where table_name = 'deals' and column_name = 'rank'`)).rows;
    expect(collation_name).toBe('C');
    // "Zz" comes right before "a0" in fractional indexing (and in byte order); a linguistic collation would put it after.
    const upper = (await api.post('/deals', { title: 'Upper rank', pipeline_id: pipeline.id, stage_id: stage.id })).body.data;
    const lower = (await api.post('/deals', { title: 'Lower rank', pipeline_id: pipeline.id, stage_id: stage.id })).body.data;
    await withAccount(t.db.knex, olivia.accountId, { readOnly: false }, async (trx) => {
      await trx('deals').where({ account_id: olivia.accountId, id: upper.id }).update({ rank: 'Zz' });
      await trx('deals').where({ account_id: olivia.accountId, id: lower.id }).update({ rank: 'a0' });
    });
    const cards = (await api.get(`/pipelines/${pipeline.id}/stages/${stage.id}/deals?limit=10`)).body.data;
    expect(cards.map((c: { id: string }) => c.id)).toEqual([upper.id, lower.id]);
    expect(cards[0].rank < cards[1].rank).toBe(true);
  });
});
