// The sidebar's combined first answer: the boot payload and the conversation's records in one
// request, scoped to the caller's account and rights.
import { beforeAll, describe, expect, it } from 'vitest';
import { apiAs } from '../helpers/api.ts';
import { createClientPortalSession, signInAgent, type SignedIn } from '../helpers/identity.ts';
import { useWorld } from '../helpers/world.ts';

const world = useWorld([1, 2]);
let admin: SignedIn;
let agent: SignedIn;
let adminB: SignedIn;

beforeAll(async () => {
  admin = await signInAgent(world.t, world.chatwoot, 1, 'administrator');
  agent = await signInAgent(world.t, world.chatwoot, 1, 'agent');
  adminB = await signInAgent(world.t, world.chatwoot, 2, 'administrator');
  for (const who of [admin, adminB]) expect((await apiAs(world.t, who.token).patch('/admin/capabilities', { profile: 'construction' })).status).toBe(200);
});

describe('GET /sidebar', () => {
  it('answers the boot payload and the contact’s open records, conversation-linked ones first', async () => {
    const api = apiAs(world.t, admin.token);
    const [pipeline] = (await api.get('/pipelines')).body.data;
    const own = (await api.post('/deals', { title: 'Boiler service', pipeline_id: pipeline.id, chatwoot_contact_id: 701 })).body.data;
    const linked = (await api.post('/deals', { title: 'Linked from another contact', pipeline_id: pipeline.id, chatwoot_contact_id: 799, chatwoot_conversation_id: 7001 })).body.data;
    const won = (await api.post('/deals', { title: 'Already won', pipeline_id: pipeline.id, chatwoot_contact_id: 701 })).body.data;
    expect((await api.post(`/deals/${won.id}/status`, { status: 'won', version: won.version })).status).toBe(200);
    const job = (await api.post('/jobs', { summary: 'Leak under the sink', chatwoot_contact_id: 701 })).body.data;
    const task = (await api.post('/tasks', { title: 'Call back', chatwoot_contact_id: 701 })).body.data;
    const done = (await api.post('/tasks', { title: 'Done already', chatwoot_contact_id: 701 })).body.data;
    await api.post(`/tasks/${done.id}/status`, { status: 'done' });
    await api.post('/deals', { title: 'Someone else’s', pipeline_id: pipeline.id, chatwoot_contact_id: 702 });

    const res = await apiAs(world.t, agent.token).get('/sidebar', { conversation_id: '7001', contact_id: '701' });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const data = res.body.data;
    expect(data.me).toEqual((await apiAs(world.t, agent.token).get('/me')).body.data);
    expect(data).toMatchObject({ conversation_id: 7001, contact_id: 701 });
    expect(data.deals.map((d: { id: string }) => d.id)).toEqual([linked.id, own.id]);
    expect(data.jobs.map((j: { id: string }) => j.id)).toEqual([job.id]);
    expect(data.tasks.map((t: { id: string }) => t.id)).toEqual([task.id]);
    expect(data.pipelines.map((p: { id: string }) => p.id)).toEqual([pipeline.id]);
    // The same shapes as the list routes.
    expect(data.deals[1]).toEqual((await api.get('/deals', { contact_id: '701', status: 'open' })).body.data[0]);
  });

  it('answers empty lists for a contact with nothing, and only the boot payload when no conversation is named', async () => {
    const empty = (await apiAs(world.t, agent.token).get('/sidebar', { conversation_id: '7999', contact_id: '7999' })).body.data;
    expect(empty).toMatchObject({ deals: [], jobs: [], tasks: [] });
    const bare = await apiAs(world.t, agent.token).get('/sidebar');
    expect(bare.status).toBe(200);
    expect(bare.body.data).toMatchObject({ conversation_id: null, contact_id: null, deals: [], jobs: [], tasks: [] });
    expect(bare.body.data.me.caller.id).toBe(agent.userId);
  });

  it('leaves out (null) what the account has switched off', async () => {
    await apiAs(world.t, admin.token).patch('/admin/capabilities', { overrides: { 'dispatch.jobs': false } });
    const data = (await apiAs(world.t, agent.token).get('/sidebar', { conversation_id: '7001', contact_id: '701' })).body.data;
    expect(data.jobs).toBeNull();
    expect(data.deals.length).toBe(2);
    expect(data.me.capabilities).not.toContain('dispatch.jobs');
    await apiAs(world.t, admin.token).patch('/admin/capabilities', { overrides: { 'dispatch.jobs': null } });
  });

  it('never shows another account’s records for the same Chatwoot ids', async () => {
    const apiB = apiAs(world.t, adminB.token);
    const [pipelineB] = (await apiB.get('/pipelines')).body.data;
    await apiB.post('/deals', { title: 'Deal of B', pipeline_id: pipelineB.id, chatwoot_contact_id: 701, chatwoot_conversation_id: 7001 });
    await apiB.post('/jobs', { summary: 'Job of B', chatwoot_contact_id: 701 });
    const data = (await apiAs(world.t, agent.token).get('/sidebar', { conversation_id: '7001', contact_id: '701' })).body.data;
    expect(JSON.stringify(data)).not.toContain('of B');
    const ofB = (await apiB.get('/sidebar', { conversation_id: '7001', contact_id: '701' })).body.data;
    expect(ofB.deals.map((d: { title: string }) => d.title)).toEqual(['Deal of B']);
  });

  it('is for staff, and refuses bad ids with a 422 naming them', async () => {
    const client = await createClientPortalSession(world.t, agent, 701);
    const refused = await apiAs(world.t, client.token).get('/sidebar', { contact_id: '701' });
    expect([refused.status, refused.body.error.code]).toEqual([403, 'forbidden']);
    const bad = await apiAs(world.t, agent.token).get('/sidebar', { conversation_id: 'abc', contact_id: '99999999999999999999' });
    expect(bad.status).toBe(422);
    expect(bad.body.error.details.fields.map((f: { path: string }) => f.path).sort()).toEqual(['query.contact_id', 'query.conversation_id']);
  });
});
