import type PgBoss from 'pg-boss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountsToSync, rateLimiter, syncAccounts, type SyncProgress } from '../../extension/chatwoot/sync.ts';
import { withAccountForTests as withAccount } from '../../extension/db/tenant.ts';
import { createLogger } from '../../extension/logger.ts';
import { chatwootQueueWork } from '../../extension/chatwoot/queue.ts';
import { queues, startQueue } from '../../extension/queue/index.ts';
import type { FakeContact } from '../fakes/chatwoot.ts';
import { apiAs } from '../helpers/api.ts';
import type { TestApp } from '../helpers/app.ts';
import { signInAgent, type SignedIn } from '../helpers/identity.ts';
import { spawnIn } from '../helpers/processes.ts';
import { useWorld } from '../helpers/world.ts';

const world = useWorld([1]);
let t: TestApp;
let admin: SignedIn;
let hedy: FakeContact;
let visitor: FakeContact;
const now = () => Math.floor(Date.now() / 1000);

beforeAll(async () => {
  t = world.t;
  admin = await signInAgent(t, world.chatwoot, 1, 'administrator');
  // An existing Chatwoot: 2,000 contacts and some open conversations, none ever sent to us.
  const seeded = world.chatwoot.seedContacts(1, 2000, (i) => (i === 1234 ? { name: 'Hedy Lamarr', email: 'hedy@example.com', phone_number: '+14155550142' } : {}));
  hedy = seeded[1234]!;
  // A web visitor with no e-mail or phone: not in Chatwoot's contact list, only in their conversation.
  visitor = world.chatwoot.addContact({ accountId: 1, name: 'Visitor 7', phone_number: null });
  for (let i = 0; i < 40; i++) {
    const conversation = world.chatwoot.addConversation(1, 300 + i);
    Object.assign(conversation, { contactId: i === 0 ? visitor.id : seeded[i]!.id, status: 'open', lastActivityAt: now() - i * 60, updatedAt: now() - i * 60 });
  }
});

const cached = (table: 'chatwoot_contacts' | 'chatwoot_conversations') =>
  withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) => trx(table).where({ account_id: admin.accountId }).count<Array<{ count: string }>>('* as count')).then((r) => Number(r[0]!.count));
const snapshot = () =>
  withAccount(t.db.knex, admin.accountId, { readOnly: true }, async (trx) => ({
    contacts: await trx.raw(`select xmin::text, * from chatwoot_contacts where account_id = ? order by chatwoot_contact_id`, [admin.accountId]).then((r) => r.rows),
    conversations: await trx.raw(`select xmin::text, * from chatwoot_conversations where account_id = ? order by chatwoot_conversation_id`, [admin.accountId]).then((r) => r.rows),
  }));
const syncState = () => withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) => trx('chatwoot_sync_state').where({ account_id: admin.accountId }).orderBy('phase'));
const contactListCalls = () => world.chatwoot.requests.filter((r) => r.method === 'GET' && r.path === '/api/v1/accounts/1/contacts').length;

describe('the backfill of an existing Chatwoot', () => {
  it('pages through 2,000 contacts and the open conversations, interrupted and resumed, through a 429, and a second run changes nothing', async () => {
    const accounts = await accountsToSync(t.db.knex, { chatwootAccountId: 1 });
    expect(accounts.map((a) => a.account_id)).toEqual([admin.accountId]);
    const options = { mode: 'auto' as const, timeoutMs: 2000, requestsPerMinute: 100_000 };

    // First run: Chatwoot says "slow down" after 30 pages (Retry-After in seconds); stopped at ~900 contacts.
    world.chatwoot.throttle({ afterRequests: 30, retryAfter: '1' });
    const controller = new AbortController();
    const progress: SyncProgress[] = [];
    const started = Date.now();
    const first = await syncAccounts(t.db.knex, t.services.sealer, accounts, {
      ...options,
      signal: controller.signal,
      onProgress: (p) => {
        progress.push(p);
        if (p.done >= 900) controller.abort();
      },
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000); // the Retry-After was honoured
    expect(world.chatwoot.throttled).toHaveLength(1);
    expect(first.failures).toEqual([]);
    expect(first.reports[0]!.interrupted).toBe(true);
    expect(progress.at(-1)).toMatchObject({ phase: 'contacts', mode: 'full', total: 2000 });
    const afterFirst = await cached('chatwoot_contacts');
    expect(afterFirst).toBeGreaterThanOrEqual(900);
    expect(afterFirst).toBeLessThan(2000);
    const [contactsState] = await syncState();
    expect(contactsState).toMatchObject({ phase: 'contacts', done: afterFirst, total: 2000 });
    expect(contactsState.next_page).toBe(afterFirst / 15 + 1);

    // Resumed where it stopped (page 1 is not read again), through another 429 with an HTTP date.
    const firstPageCalls = contactListCalls();
    world.chatwoot.throttle({ afterRequests: 20, retryAfter: new Date(Date.now() + 1500).toUTCString() });
    const second = await syncAccounts(t.db.knex, t.services.sealer, accounts, options);
    expect(second.failures).toEqual([]);
    expect(world.chatwoot.throttled).toHaveLength(2);
    const [contactsPhase, conversationsPhase] = second.reports[0]!.phases;
    expect(contactsPhase).toMatchObject({ mode: 'full', complete: true, resumedAtPage: contactsState.next_page });
    expect(contactListCalls() - firstPageCalls).toBeLessThanOrEqual(Math.ceil(2000 / 15) - contactsState.next_page + 1 + 2);
    expect(conversationsPhase).toMatchObject({ mode: 'full', complete: true, items: 40 });
    expect(await cached('chatwoot_contacts')).toBe(2001); // and the visitor, from their conversation
    expect(await cached('chatwoot_conversations')).toBe(40);
    const conversation = await withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) => trx('chatwoot_conversations').where({ chatwoot_conversation_id: 300 }).first());
    expect(conversation).toMatchObject({ status: 'open', chatwoot_contact_id: visitor.id });
    expect((await syncState()).map((s) => [s.phase, s.next_page, s.synced_through !== null])).toEqual([['contacts', null, true], ['conversations', null, true]]);

    // Idempotent: a second full pass reads everything again and writes nothing.
    const before = await snapshot();
    const again = await syncAccounts(t.db.knex, t.services.sealer, accounts, { ...options, mode: 'full' });
    expect(again.reports[0]!.phases.map((p) => [p.phase, p.complete, p.written])).toEqual([['contacts', true, 0], ['conversations', true, 0]]);
    expect(await snapshot()).toEqual(before);
  });

  it('makes backfilled contacts findable by search, phones in E.164', async () => {
    const hits = (await apiAs(t, admin.token).get('/search', { q: 'Hedy' })).body.data;
    expect(hits).toContainEqual(expect.objectContaining({ type: 'contact', id: String(hedy.id), label: 'Hedy Lamarr' }));
    const contact = await withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) => trx('chatwoot_contacts').where({ chatwoot_contact_id: hedy.id }).first());
    expect(contact).toMatchObject({ email: 'hedy@example.com', phone_e164: '+14155550142' });
  });

  it('runs one sync of an account at a time: a second one started meanwhile does nothing', async () => {
    const accounts = await accountsToSync(t.db.knex, { chatwootAccountId: 1 });
    const options = { mode: 'full' as const, timeoutMs: 2000, requestsPerMinute: 100_000 };
    const [a, b] = await Promise.all([syncAccounts(t.db.knex, t.services.sealer, accounts, options), syncAccounts(t.db.knex, t.services.sealer, accounts, options)]);
    expect([a.reports[0]!.alreadyRunning ?? false, b.reports[0]!.alreadyRunning ?? false].sort()).toEqual([false, true]);
    expect([a, b].find((r) => !r.reports[0]!.alreadyRunning)!.reports[0]!.phases.every((p) => p.complete)).toBe(true);
  });

  it('spaces its requests to the configured rate', async () => {
    const limiter = rateLimiter(600); // one every 100 ms
    const started = Date.now();
    for (let i = 0; i < 6; i++) await limiter.take();
    expect(Date.now() - started).toBeGreaterThanOrEqual(480);
    expect(limiter.requests).toBe(6);
  });
});

describe('the scheduled sync', () => {
  let boss: PgBoss;
  beforeAll(async () => {
    boss = await startQueue({
      url: t.db.url,
      schema: 'onelink',
      logger: createLogger({ LOG_LEVEL: 'silent', NODE_ENV: 'test' }),
      modules: chatwootQueueWork({ db: t.db.knex, sealer: t.services.sealer, timeoutMs: 2000, everyMinutes: 15, requestsPerMinute: 100_000 }),
      pollingIntervalSeconds: 0.5,
    });
  });
  afterAll(async () => {
    await boss.stop({ graceful: false, wait: true });
  });

  it('runs every 15 minutes and heals what a lost delivery never brought, asking only for what changed', async () => {
    expect(await boss.getSchedules()).toContainEqual(expect.objectContaining({ name: queues.chatwootSync, cron: '*/15 * * * *' }));
    // In Chatwoot, with no webhook reaching us: Hedy wrote in under a new name, and a conversation was resolved.
    world.chatwoot.touchContact(hedy, { name: 'Hedy Kiesler', last_activity_at: now() });
    const conversation = world.chatwoot.conversations.get('1:301')!;
    Object.assign(conversation, { status: 'resolved', lastActivityAt: now(), updatedAt: now() + 1 });
    const calls = contactListCalls();

    await boss.send(queues.chatwootSync, {});
    const name = () => withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) => trx('chatwoot_contacts').where({ chatwoot_contact_id: hedy.id }).first('name'));
    await expect.poll(async () => (await name())?.name, { timeout: 15_000, interval: 200 }).toBe('Hedy Kiesler');
    await expect
      .poll(async () => (await withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) => trx('chatwoot_conversations').where({ chatwoot_conversation_id: 301 }).first('status')))?.status, { timeout: 15_000, interval: 200 })
      .toBe('resolved');
    // Incremental: the first page of contacts (latest activity first) reached older ones; no full pass.
    expect(contactListCalls() - calls).toBe(1);
  });

  it("heals customer activity from a conversation's last message: the contact's message moves linked deals, a reply only the last reply", async () => {
    const api = apiAs(t, admin.token);
    const pipeline = (await api.get('/pipelines')).body.data[0];
    const deal = (await api.post('/deals', { title: 'Healed activity', pipeline_id: pipeline.id, chatwoot_conversation_id: 302 })).body.data;
    const conversation = world.chatwoot.conversations.get('1:302')!;
    const message = (id: number, type: 'incoming' | 'outgoing', at: number) => ({ id, content: 'hi', private: false, message_type: type, content_attributes: {}, created_at: at });
    const accounts = await accountsToSync(t.db.knex, { chatwootAccountId: 1 });
    const options = { mode: 'auto' as const, timeoutMs: 2000, requestsPerMinute: 100_000 };
    const cachedConversation = () => withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) => trx('chatwoot_conversations').where({ chatwoot_conversation_id: 302 }).first());

    const customerAt = now() - 10;
    conversation.messages.push(message(9901, 'incoming', customerAt));
    Object.assign(conversation, { lastActivityAt: customerAt, updatedAt: now() });
    await syncAccounts(t.db.knex, t.services.sealer, accounts, options);
    expect(new Date((await api.get(`/deals/${deal.id}`)).body.data.last_activity_at).getTime()).toBe(customerAt * 1000);

    const replyAt = now();
    conversation.messages.push(message(9902, 'outgoing', replyAt));
    Object.assign(conversation, { lastActivityAt: replyAt, updatedAt: now() + 1 });
    await syncAccounts(t.db.knex, t.services.sealer, accounts, options);
    expect(new Date((await api.get(`/deals/${deal.id}`)).body.data.last_activity_at).getTime()).toBe(customerAt * 1000);
    const cached = await cachedConversation();
    expect([cached.last_activity_at.getTime(), cached.last_reply_at.getTime()]).toEqual([customerAt * 1000, replyAt * 1000]);
  });

  it('records a failing account and says which', async () => {
    world.chatwoot.outage = 401; // the installer's token was revoked
    const accounts = await accountsToSync(t.db.knex);
    const result = await syncAccounts(t.db.knex, t.services.sealer, accounts, { mode: 'auto', timeoutMs: 2000, requestsPerMinute: 100_000 });
    world.chatwoot.outage = null;
    expect(result.failures.map((f) => [f.account.chatwoot_account_id, f.error.message])).toEqual([[1, expect.stringContaining('Chatwoot refused GET /api/v1/accounts/1/contacts')]]);
    expect((await syncState())[0].last_error).toContain('Chatwoot refused');
  });
});

describe('npm run onelink -- sync', () => {
  it('prints its progress and what it did', async () => {
    const cli = spawnIn('npm', ['run', '--silent', 'onelink', '--', 'sync', '--account-id', '1', '--full'], { DATABASE_URL: t.db.url, ONELINK_ENCRYPTION_KEY: t.config.ONELINK_ENCRYPTION_KEY!, LOG_LEVEL: 'silent' });
    expect((await cli.exited).code, cli.output()).toBe(0);
    expect(cli.output()).toMatch(/account 1 contacts 2,000 \/ 2,000 \(full, done\)/);
    // Conversation 301 was resolved above: 39 open ones.
    expect(cli.output()).toMatch(/account 1: synced — contacts: 2,000 read, 0 changed; conversations: 39 read, 0 changed/);
  }, 120_000);

  it('runs after the installer (incremental here, a full backfill on a fresh install), unless --skip-backfill', async () => {
    world.chatwoot.addAgent({ id: 77, name: 'Owner', email: 'owner@example.com', token: 'owner-token-sync', accounts: [{ id: 1, name: 'Account 1', role: 'administrator' }] });
    const env = { DATABASE_URL: t.db.url, ONELINK_ENCRYPTION_KEY: t.config.ONELINK_ENCRYPTION_KEY!, LOG_LEVEL: 'silent' };
    const install = ['run', '--silent', 'onelink', '--', 'install', '--chatwoot-url', world.chatwoot.url, '--account-id', '1', '--token', 'owner-token-sync', '--public-url', 'https://onelink.example.com', '--skip-check'];
    const cli = spawnIn('npm', install, env);
    expect((await cli.exited).code, cli.output()).toBe(0);
    expect(cli.output()).toMatch(/account 1 contacts \d+ \(incremental, done\)/);
    expect(cli.output()).toMatch(/account 1: synced/);
    const skipped = spawnIn('npm', [...install, '--skip-backfill'], env);
    expect((await skipped.exited).code, skipped.output()).toBe(0);
    expect(skipped.output()).not.toMatch(/Syncing contacts/);
  }, 120_000);
});
