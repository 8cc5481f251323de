import { beforeAll, describe, expect, it } from 'vitest';
import { drainOutbox } from '../../extension/chatwoot/outbox.ts';
import { startOutboxWorker } from '../../extension/chatwoot/outbox-worker.ts';
import { withAccountForTests as withAccount } from '../../extension/db/tenant.ts';
import { createLogger } from '../../extension/logger.ts';
import type { FakeChatwoot } from '../fakes/chatwoot.ts';
import { apiAs } from '../helpers/api.ts';
import type { TestApp } from '../helpers/app.ts';
import { signInAgent, type SignedIn } from '../helpers/identity.ts';
import { useWorld } from '../helpers/world.ts';

const world = useWorld([1]);
let t: TestApp;
let chatwoot: FakeChatwoot;
let agent: SignedIn;
let api: ReturnType<typeof apiAs>;
let pipeline: { id: string; stages: Array<{ id: string; name: string }> };
let conversationSeq = 100;

beforeAll(async () => {
  ({ t, chatwoot } = world);
  agent = await signInAgent(t, chatwoot, 1, 'agent');
  api = apiAs(t, agent.token);
  pipeline = (await api.get('/pipelines')).body.data[0];
});

const drain = (timeoutMs = 1000) => drainOutbox(t.db.knex, t.services.sealer, agent.accountId, timeoutMs);
const outbox = () => withAccount(t.db.knex, agent.accountId, { readOnly: true }, (trx) => trx('chatwoot_outbox').orderBy('created_at').select('id', 'kind', 'status', 'attempts', 'last_error'));
const makeDue = () => withAccount(t.db.knex, agent.accountId, { readOnly: false }, (trx) => trx('chatwoot_outbox').where({ status: 'pending' }).update({ next_attempt_at: trx.fn.now() }));

async function dealInConversation() {
  const conversation = chatwoot.addConversation(1, conversationSeq++, { priority: 'high' });
  const deal = (await api.post('/deals', { title: 'Boiler swap', pipeline_id: pipeline.id, chatwoot_conversation_id: conversation.id })).body.data;
  return { conversation, deal };
}

describe('write-back to the Chatwoot conversation', () => {
  it('posts a private note and merges the deal attributes into the conversation’s own', async () => {
    const { conversation, deal } = await dealInConversation();
    expect(await drain()).toBe(2);
    expect(conversation.messages).toHaveLength(1);
    expect(conversation.messages[0]).toMatchObject({ private: true, message_type: 'outgoing', content: `Onelink · ${deal.reference} “Boiler swap”: deal created in Lead` });
    expect(conversation.customAttributes).toEqual({ priority: 'high', onelink_deal: deal.reference, onelink_deal_stage: 'Lead', onelink_deal_status: 'open' });

    await api.post(`/deals/${deal.id}/move`, { stage_id: pipeline.stages[2]!.id, version: deal.version });
    await drain();
    expect(conversation.messages.at(-1)!.content).toContain(`moved from Lead to ${pipeline.stages[2]!.name}`);
    expect(conversation.customAttributes.onelink_deal_stage).toBe(pipeline.stages[2]!.name);
    expect(chatwoot.takeViolations()).toEqual([]);
  });

  it('loses nothing and duplicates nothing while Chatwoot is down for a while', async () => {
    const { conversation, deal } = await dealInConversation();
    chatwoot.outage = 500;
    expect(await drain()).toBe(0);
    await api.post(`/deals/${deal.id}/status`, { status: 'won', version: deal.version });
    expect(await drain()).toBe(0);
    expect((await outbox()).filter((o: { status: string }) => o.status === 'pending').length).toBeGreaterThanOrEqual(4);
    chatwoot.outage = null;
    await makeDue();
    await drain();
    expect(conversation.messages.map((m) => m.content.split(': ')[1])).toEqual(['deal created in Lead', 'won']);
    expect(conversation.customAttributes).toMatchObject({ priority: 'high', onelink_deal_status: 'won' });
    expect((await outbox()).filter((o: { status: string }) => o.status !== 'sent')).toEqual([]);
  });

  it('does not post a note twice when Chatwoot stored it but the answer never came', async () => {
    const { conversation } = await dealInConversation();
    chatwoot.swallowWrites = 1; // the note is stored, its answer is lost
    await drain(300);
    expect(conversation.messages).toHaveLength(1);
    await makeDue();
    await drain(300);
    expect(conversation.messages).toHaveLength(1); // adopted, not re-posted
    expect((await outbox()).filter((o: { status: string }) => o.status !== 'sent')).toEqual([]);
  });

  it('tells the conversation about tasks created from it and completed', async () => {
    const conversation = chatwoot.addConversation(1, conversationSeq++);
    const task = (await api.post('/tasks', { title: 'Call back about the quote', chatwoot_conversation_id: conversation.id })).body.data;
    await api.post(`/tasks/${task.id}/status`, { status: 'done' });
    await drain();
    expect(conversation.messages.map((m) => m.content)).toEqual(['Onelink · task “Call back about the quote” created', 'Onelink · task “Call back about the quote” completed']);
  });

  it('starts a write-back as soon as the change commits (LISTEN/NOTIFY worker)', async () => {
    const worker = await startOutboxWorker({ url: t.db.url, db: t.db.knex, sealer: t.services.sealer, logger: createLogger({ LOG_LEVEL: 'silent', NODE_ENV: 'test' }), timeoutMs: 1000, sweepMs: 60_000 });
    try {
      const { conversation } = await dealInConversation();
      await expect.poll(() => conversation.messages.length, { timeout: 5000, interval: 50 }).toBe(1);
    } finally {
      await worker.stop();
    }
  });

  it('acts with the token the installer was given for the account', async () => {
    const { install } = await import('../../extension/chatwoot/installer.ts');
    chatwoot.addAgent({ id: 950, name: 'Account Owner', email: 'owner@acme.example', token: 'account-owner-token', accounts: [{ id: 1, name: 'Account 1', role: 'administrator' }] });
    await install(t.db.knex, t.services.sealer, { chatwootUrl: chatwoot.url, accountId: 1, token: 'account-owner-token', publicUrl: 'https://onelink.example.com', timeoutMs: 2000 });
    // The installation-wide token no longer works: only the account's own token can succeed.
    await t.db.knex('installations').update({ api_token_sealed: t.services.sealer.seal('a-token-chatwoot-rejects') });
    const { conversation } = await dealInConversation();
    await drain();
    expect(conversation.messages).toHaveLength(1);
  });
});
