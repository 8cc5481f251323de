// Fields an account defines for itself: added by an admin, offered to agents (/me), validated on
// deals like a pack's fields; archived, they take no new values.
import { beforeAll, describe, expect, it } from 'vitest';
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

beforeAll(async () => {
  ({ t, chatwoot } = world);
  admin = await signInAgent(t, chatwoot, 1, 'administrator');
  agent = await signInAgent(t, chatwoot, 1, 'agent');
  await apiAs(t, admin.token).patch('/admin/capabilities', { profile: 'construction' });
});

describe('account fields', () => {
  it('adds a field agents see and fill in, validated like a pack’s, and archives it', async () => {
    const adminApi = apiAs(t, admin.token);
    const created = await adminApi.post('/admin/fields', { entity: 'deal', key: 'budget_band', label: 'Budget band', type: 'choice', options: ['under_5k', '5k_20k', 'over_20k'] });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.data).toMatchObject({ entity: 'deal', key: 'budget_band', type: 'choice', required: false, sensitive: false, archived: false });
    const fieldId = created.body.data.id;

    const me = (await apiAs(t, agent.token).get('/me')).body.data;
    expect(me.fields.deal.map((f: { key: string }) => f.key)).toEqual(['site_address', 'trade', 'estimated_start', 'budget_band']);
    expect(me.fields.job.map((f: { key: string }) => f.key)).not.toContain('budget_band');

    const [pipeline] = (await apiAs(t, agent.token).get('/pipelines')).body.data;
    const deal = await apiAs(t, agent.token).post('/deals', { title: 'Extension', pipeline_id: pipeline.id, custom_fields: { budget_band: '5k_20k', trade: 'carpentry' } });
    expect(deal.status, JSON.stringify(deal.body)).toBe(201);
    expect(deal.body.data.custom_fields).toEqual({ budget_band: '5k_20k', trade: 'carpentry' });
    const wrong = await apiAs(t, agent.token).post('/deals', { title: 'Extension', pipeline_id: pipeline.id, custom_fields: { budget_band: 'priceless' } });
    expect(wrong.status).toBe(422);
    expect(wrong.body.error.details.fields[0].path).toBe('custom_fields.budget_band');

    const archived = await adminApi.patch(`/admin/fields/${fieldId}`, { archived: true, label: 'Budget band (old)' });
    expect(archived.body.data).toMatchObject({ archived: true, label: 'Budget band (old)', key: 'budget_band' });
    const refused = await apiAs(t, agent.token).post('/deals', { title: 'Porch', pipeline_id: pipeline.id, custom_fields: { budget_band: 'under_5k' } });
    expect(refused.status).toBe(422);
    expect(refused.body.error.details.fields[0].code).toBe('unknown_field');
    expect((await apiAs(t, agent.token).get(`/deals/${deal.body.data.id}`)).body.data.custom_fields.budget_band).toBe('5k_20k'); // stored values stay

    const audit = (await adminApi.get(`/admin/audit-events?resource_type=account_field&resource_id=${fieldId}`)).body.data;
    expect(audit.map((e: { action: string }) => e.action).sort()).toEqual(['account_field.created', 'account_field.updated']);
  });

  it('makes a required field required on new records', async () => {
    const adminApi = apiAs(t, admin.token);
    await adminApi.post('/admin/fields', { entity: 'job', key: 'access_notes', label: 'Access notes', type: 'text', required: true, sensitive: true });
    await adminApi.patch('/admin/capabilities', { overrides: { 'dispatch.jobs': true } });
    const missing = await apiAs(t, agent.token).post('/jobs', { summary: 'Gutter repair' });
    expect(missing.status).toBe(422);
    expect(missing.body.error.details.fields.map((f: { path: string }) => f.path)).toContain('custom_fields.access_notes');
    const ok = await apiAs(t, agent.token).post('/jobs', { summary: 'Gutter repair', custom_fields: { access_notes: 'Side gate, dog friendly' } });
    expect(ok.status, JSON.stringify(ok.body)).toBe(201);
  });

  it('refuses a key a pack or the account already uses, choices that do not fit, and non-admins, changing nothing', async () => {
    const adminApi = apiAs(t, admin.token);
    const before = (await adminApi.get('/admin/fields')).body.data.custom.length;
    const packKey = await adminApi.post('/admin/fields', { entity: 'job', key: 'gate_code', label: 'Gate', type: 'text' });
    expect(packKey.status).toBe(409);
    expect(packKey.body.error.code).toBe('field_key_taken');
    expect((await adminApi.post('/admin/fields', { entity: 'deal', key: 'budget_band', label: 'Again', type: 'text' })).status).toBe(409);
    expect((await adminApi.post('/admin/fields', { entity: 'deal', key: 'tier', label: 'Tier', type: 'choice' })).status).toBe(422);
    expect((await adminApi.post('/admin/fields', { entity: 'deal', key: 'tier', label: 'Tier', type: 'text', options: ['a'] })).status).toBe(422);
    expect((await adminApi.post('/admin/fields', { entity: 'deal', key: 'Tier Level', label: 'Tier', type: 'text' })).status).toBe(422);
    expect((await adminApi.post('/admin/fields', { entity: 'deal', key: 'tier', label: 'Tier', type: 'choice', options: ['a', 'a'] })).status).toBe(422);
    expect((await apiAs(t, agent.token).post('/admin/fields', { entity: 'deal', key: 'tier', label: 'Tier', type: 'text' })).status).toBe(403);
    const setup = (await adminApi.get('/admin/fields')).body.data;
    expect(setup.custom).toHaveLength(before);
    expect(setup.packs.find((p: { flag: string }) => p.flag === 'fields.construction')).toMatchObject({ enabled: true });
    expect(setup.packs.find((p: { flag: string }) => p.flag === 'fields.healthcare')).toMatchObject({ enabled: false });
  });
});
