// Our Chatwoot SDK against the fake Chatwoot (which checks every request and answer against
// Chatwoot's OpenAPI document): typed calls, timeouts, Retry-After, retries of what may be
// repeated, no blind repeat of a POST whose answer was lost, and the public client API.
import { once } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ChatwootError,
  chatwootApi,
  contactConversations,
  contactsWithPhone,
  createContact,
  createContactInbox,
  createConversation,
  createPrivateNote,
  deleteContact,
  fetchProfile,
  getConversationAttributes,
  listContacts,
  listConversations,
  listMessages,
  setConversationAttributes,
  type ChatwootTarget,
} from '../../extension/chatwoot/client.ts';
import { repeatable } from '../../extension/chatwoot/http.ts';
import { createPublicContact, createPublicConversation, createPublicMessage, getPublicContact, listPublicConversations, listPublicMessages } from '../../extension/chatwoot/public-api.ts';
import { answer, done } from '../../extension/chatwoot/sdk.ts';
import { startFakeChatwoot, type FakeChatwoot } from '../fakes/chatwoot.ts';

let chatwoot: FakeChatwoot;
let target: ChatwootTarget;
const accountId = 1;

beforeAll(async () => {
  chatwoot = await startFakeChatwoot();
  chatwoot.addAgent({ id: 1, name: 'Ada Admin', email: 'ada@example.test', token: 'admin-token', accounts: [{ id: accountId, name: 'Plumbing', role: 'administrator' }] });
  target = { baseUrl: chatwoot.url, token: 'admin-token', timeoutMs: 2000 };
});
afterAll(() => chatwoot.close());
afterEach(() => {
  chatwoot.outage = null;
  chatwoot.swallowWrites = 0;
  chatwoot.failNext(0);
  expect(chatwoot.takeViolations()).toEqual([]);
});

/** The requests the fake received while `run` ran, as "METHOD path". */
async function requestsDuring(run: () => Promise<unknown>): Promise<{ result: PromiseSettledResult<unknown>; seen: string[] }> {
  const before = chatwoot.requests.length;
  const [result] = await Promise.allSettled([run()]);
  return { result: result!, seen: chatwoot.requests.slice(before).map((r) => `${r.method} ${r.path}`) };
}
const failure = (result: PromiseSettledResult<unknown>) => {
  expect(result.status).toBe('rejected');
  const reason = (result as PromiseRejectedResult).reason;
  expect(reason).toBeInstanceOf(ChatwootError);
  return reason as ChatwootError;
};

describe('typed calls', () => {
  it('reads and writes through the application API', async () => {
    const profile = await fetchProfile(target);
    expect(profile).toMatchObject({ id: 1, name: 'Ada Admin', accounts: [{ id: accountId, role: 'administrator' }] });

    const conversation = chatwoot.addConversation(accountId, 501, { priority: 'high' });
    const note = await createPrivateNote(target, accountId, 501, 'Onelink · hello', { onelink_outbox_id: 'x1' });
    expect(note.id).toEqual(expect.any(Number));
    expect((await listMessages(target, accountId, 501)).map((m) => m.content)).toEqual(['Onelink · hello']);
    await setConversationAttributes(target, accountId, 501, { ...(await getConversationAttributes(target, accountId, 501)), onelink_job: 'J-1' });
    expect(conversation.customAttributes).toEqual({ priority: 'high', onelink_job: 'J-1' });

    const contact = await createContact(target, accountId, { name: 'Bea', phone_number: '+14155550101' });
    expect((await contactsWithPhone(target, accountId, '+14155550101')).map((c) => c.id)).toEqual([contact.id]);
    const sourceId = await createContactInbox(target, accountId, contact.id, 3);
    const opened = await createConversation(target, accountId, { source_id: sourceId, inbox_id: '3', contact_id: String(contact.id), status: 'open' });
    expect((await contactConversations(target, accountId, contact.id)).map((c) => c.id)).toEqual([opened]);

    const contacts = await listContacts(target, accountId, { page: 1 });
    expect(contacts.items.map((c) => c.id)).toContain(contact.id);
    expect(contacts.total).toBeGreaterThanOrEqual(1);
    expect((await listConversations(target, accountId, { status: 'open', page: 1 })).items.map((c) => c.id)).toContain(opened);

    await deleteContact(target, accountId, contact.id);
    expect(chatwoot.contacts.some((c) => c.id === contact.id)).toBe(false);
  });

  it('types paths, parameters and bodies from Chatwoot’s document', async () => {
    const api = chatwootApi(target);
    const hooks = await answer(api.GET('/api/v1/accounts/{account_id}/webhooks', { params: { path: { account_id: accountId } } }), 'GET webhooks');
    expect(Array.isArray(hooks)).toBe(true);
    // Compile-time checks (npm run typecheck): an unknown path, a missing parameter, a wrong body.
    const wrong = () => [
      // @ts-expect-error not an endpoint of Chatwoot's API
      api.GET('/api/v1/accounts/{account_id}/no_such_thing', { params: { path: { account_id: 1 } } }),
      // @ts-expect-error the account id is required
      api.GET('/api/v1/accounts/{account_id}/webhooks', { params: { path: {} } }),
      // @ts-expect-error a note's content is a string
      api.POST('/api/v1/accounts/{account_id}/conversations/{conversation_id}/messages', { params: { path: { account_id: 1, conversation_id: 1 } }, body: { content: 42 } }),
    ];
    expect(wrong).toBeTypeOf('function');
  });

  it('knows which requests may be sent twice', () => {
    expect(repeatable('GET', '/api/v1/profile')).toBe(true);
    expect(repeatable('PUT', '/api/v1/accounts/1/contacts/2')).toBe(true);
    expect(repeatable('PATCH', '/api/v1/accounts/1/webhooks/2')).toBe(true);
    expect(repeatable('DELETE', '/api/v1/accounts/1/contacts/2')).toBe(true);
    expect(repeatable('POST', '/api/v1/accounts/1/contacts/filter')).toBe(true);
    expect(repeatable('POST', '/api/v1/accounts/1/conversations/7/custom_attributes')).toBe(true);
    expect(repeatable('POST', '/api/v1/accounts/1/contacts')).toBe(false);
  });
});

describe('timeouts', () => {
  it('gives up on a read that gets no answer, after retrying it', async () => {
    chatwoot.outage = 'timeout';
    const started = Date.now();
    const { result, seen } = await requestsDuring(() => listContacts({ ...target, timeoutMs: 150 }, accountId, { page: 1 }, { retries: 1 }));
    const err = failure(result);
    expect(err.kind).toBe('unreachable');
    expect((err.cause as Error).name).toBe('TimeoutError');
    expect(seen).toEqual(['GET /api/v1/accounts/1/contacts', 'GET /api/v1/accounts/1/contacts']);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('says the outcome is unknown when a note’s answer never comes, and does not post it again', async () => {
    const conversation = chatwoot.addConversation(accountId, 502);
    chatwoot.swallowWrites = 1;
    const { result, seen } = await requestsDuring(() => createPrivateNote({ ...target, timeoutMs: 300 }, accountId, 502, 'Onelink · once', { onelink_outbox_id: 'x2' }));
    const err = failure(result);
    expect(err.kind).toBe('outcome_unknown');
    expect(err.message).toMatch(/look before repeating/);
    expect(seen).toEqual(['POST /api/v1/accounts/1/conversations/502/messages']);
    expect(conversation.messages).toHaveLength(1);
    // What the caller does next: look it up.
    expect((await listMessages(target, accountId, 502)).find((m) => m.content_attributes && (m.content_attributes as Record<string, unknown>).onelink_outbox_id === 'x2')).toBeTruthy();
  });
});

describe('429 and Retry-After', () => {
  it('waits the seconds Chatwoot asks for', async () => {
    chatwoot.throttle({ afterRequests: 0, retryAfter: '1' });
    const started = Date.now();
    const { items } = await listContacts(target, accountId, { page: 1 });
    expect(Array.isArray(items)).toBe(true);
    expect(chatwoot.throttled.at(-1)!.at).toBeGreaterThanOrEqual(started);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });

  it('waits until the HTTP date Chatwoot gives', async () => {
    const until = new Date(Date.now() + 2000).toUTCString(); // whole seconds: between 1 and 2 s from now
    chatwoot.throttle({ afterRequests: 0, retryAfter: until });
    const started = Date.now();
    await listConversations(target, accountId, { status: 'open', page: 1 });
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(until));
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });

  it('repeats a POST turned away with 429 (Chatwoot did nothing with it)', async () => {
    const conversation = chatwoot.addConversation(accountId, 503);
    chatwoot.throttle({ afterRequests: 0, retryAfter: '0' });
    await createPrivateNote(target, accountId, 503, 'Onelink · after a 429', {});
    expect(conversation.messages).toHaveLength(1);
  });
});

describe('5xx', () => {
  it('retries a read', async () => {
    chatwoot.failNext(2, 503);
    const { result, seen } = await requestsDuring(() => listContacts(target, accountId, { page: 1 }));
    expect(result.status).toBe('fulfilled');
    expect(seen).toHaveLength(3);
  });

  it('retries a POST that only reads (the contact filter)', async () => {
    chatwoot.failNext(1, 500);
    const { result, seen } = await requestsDuring(() => contactsWithPhone(target, accountId, '+14155550199'));
    expect(result.status).toBe('fulfilled');
    expect(seen).toEqual(['POST /api/v1/accounts/1/contacts/filter', 'POST /api/v1/accounts/1/contacts/filter']);
  });

  it('retries idempotent writes: PUT, PATCH and DELETE', async () => {
    const api = chatwootApi(target);
    const contact = chatwoot.addContact({ accountId, name: 'Cy', phone_number: '+14155550102' });
    chatwoot.failNext(1, 502);
    await done(api.PUT('/api/v1/accounts/{account_id}/contacts/{id}', { params: { path: { account_id: accountId, id: contact.id } }, body: { name: 'Cy Renamed' } }), 'PUT contact');
    expect(contact.name).toBe('Cy Renamed');

    const hook = await answer(api.POST('/api/v1/accounts/{account_id}/webhooks', { params: { path: { account_id: accountId } }, body: { url: 'https://onelink.test/hook', subscriptions: ['contact_created'] } }), 'POST webhooks');
    chatwoot.failNext(1, 503);
    const patched = await answer(
      api.PATCH('/api/v1/accounts/{account_id}/webhooks/{webhook_id}', { params: { path: { account_id: accountId, webhook_id: hook.id! } }, body: { url: 'https://onelink.test/hook2' } }),
      'PATCH webhook',
    );
    expect(patched.url).toBe('https://onelink.test/hook2');

    chatwoot.failNext(2, 500);
    const { result, seen } = await requestsDuring(() => deleteContact(target, accountId, contact.id));
    expect(result.status).toBe('fulfilled');
    expect(seen).toHaveLength(3);
    expect(chatwoot.contacts.some((c) => c.id === contact.id)).toBe(false);
  });

  it('does not repeat a POST that creates something', async () => {
    chatwoot.failNext(1, 500);
    const { result, seen } = await requestsDuring(() => createContact(target, accountId, { name: 'Dee', phone_number: '+14155550103' }));
    expect(failure(result)).toMatchObject({ kind: 'unreachable', status: 500 });
    expect(seen).toEqual(['POST /api/v1/accounts/1/contacts']);

    // A gateway error: the answer was lost on the way, the contact may exist.
    chatwoot.failNext(1, 504);
    const lost = await requestsDuring(() => createContact(target, accountId, { name: 'Dee', phone_number: '+14155550103' }));
    expect(failure(lost.result)).toMatchObject({ kind: 'outcome_unknown', status: 504 });
    expect(lost.seen).toHaveLength(1);
  });

  it('calls a POST that never left this machine (connection refused) unreachable, not of unknown outcome', async () => {
    // A port nothing listens on: open one, then close it.
    const server = net.createServer().listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    const nowhere = { ...target, baseUrl: `http://127.0.0.1:${port}` };
    const err = failure((await Promise.allSettled([createContact(nowhere, accountId, { name: 'Eve' })]))[0]!);
    expect(err.kind).toBe('unreachable');
    expect((err.cause as { cause?: { code?: string } }).cause?.code).toBe('ECONNREFUSED');
  });

  it('maps refusals: 401 unauthorized, 4xx bad response with its status', async () => {
    const stranger = { ...target, token: 'nobody' };
    expect(failure((await Promise.allSettled([listContacts(stranger, accountId, { page: 1 })]))[0]!).kind).toBe('unauthorized');
    const missing = failure((await Promise.allSettled([deleteContact(target, accountId, 999_999)]))[0]!);
    expect(missing).toMatchObject({ kind: 'bad_response', status: 404 });
  });
});

describe('the public client API of an API-channel inbox', () => {
  it('creates a contact, opens a conversation and posts a message, which the account sees', async () => {
    const inbox = chatwoot.addApiInbox(accountId);
    const where = { baseUrl: chatwoot.url, timeoutMs: 2000, inboxIdentifier: inbox.identifier };

    const contact = await createPublicContact(where, { name: 'Fay Customer', email: 'fay@example.test', identifier: 'portal-fay' });
    expect(contact).toMatchObject({ name: 'Fay Customer', source_id: expect.any(String) });
    expect(await getPublicContact(where, contact.source_id)).toMatchObject({ id: contact.id, source_id: contact.source_id });

    const conversation = await createPublicConversation(where, contact.source_id, { custom_attributes: { onelink_job: 'J-7' } });
    expect(conversation).toMatchObject({ id: expect.any(Number), inbox_id: inbox.inboxId });
    const message = await createPublicMessage(where, contact.source_id, conversation.id, { content: 'When will the plumber come?' });
    expect(message).toMatchObject({ id: expect.any(Number), content: 'When will the plumber come?', message_type: 0, conversation_id: conversation.id });

    expect((await listPublicConversations(where, contact.source_id)).map((c) => c.id)).toEqual([conversation.id]);
    expect((await listPublicMessages(where, contact.source_id, conversation.id)).map((m) => m.content)).toEqual(['When will the plumber come?']);

    // The agents' side: the same contact and an incoming message in their conversation.
    expect(chatwoot.contacts.find((c) => c.id === contact.id)).toMatchObject({ name: 'Fay Customer', identifier: 'portal-fay' });
    const seen = await listMessages(target, accountId, conversation.id);
    expect(seen.map((m) => [m.content, m.message_type])).toEqual([['When will the plumber come?', 'incoming']]);
    expect(await getConversationAttributes(target, accountId, conversation.id)).toEqual({ onelink_job: 'J-7' });
  });

  it('does not repeat a message whose answer was lost', async () => {
    const inbox = chatwoot.addApiInbox(accountId);
    const where = { baseUrl: chatwoot.url, timeoutMs: 300, inboxIdentifier: inbox.identifier };
    const contact = await createPublicContact(where, { name: 'Gus' });
    const conversation = await createPublicConversation(where, contact.source_id);
    chatwoot.swallowWrites = 1;
    const { result, seen } = await requestsDuring(() => createPublicMessage(where, contact.source_id, conversation.id, { content: 'Only once' }));
    expect(failure(result).kind).toBe('outcome_unknown');
    expect(seen).toHaveLength(1);
    expect((await listPublicMessages(where, contact.source_id, conversation.id)).map((m) => m.content)).toEqual(['Only once']);
  });
});
