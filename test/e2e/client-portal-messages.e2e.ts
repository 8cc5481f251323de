// "Message us" on a phone (390×844, touch): the client writes from home and the message lands in the
// fake Chatwoot as an incoming message of the "Client portal" inbox on the client's EXISTING
// contact (no second contact for agents); an agent's reply (webhook) shows on the open page within
// 2 s; a private note never does; a reply whose webhook was lost shows when the client next opens
// that conversation (reconciled from Chatwoot's message list); a message written with no signal
// waits on the phone and leaves once when the signal returns. Screens checked with axe and
// photographed in light and dark.
import fs from 'node:fs';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startFakeChatwoot, type FakeChatwoot, type FakeContact, type FakeConversation } from '../fakes/chatwoot.ts';
import { spawnIn } from '../helpers/processes.ts';
import { accessibilityViolations, screenshotDir } from './browser.ts';
import { clientPerson, launchPhone, openClientPortal } from './phone.ts';
import { callApi, connectChatwoot, signInToken } from './world.ts';

const baseUrl = inject('baseUrl');
const chatwootAccount = 61;
let chatwoot: FakeChatwoot;
let staffToken: string;
let accountId: number;
let contact: FakeContact;
let client: { token: string; id: string };

async function asStaff<T>(urlPath: string, init: { method?: string; json?: unknown } = {}) {
  const res = await callApi<T>(staffToken, urlPath, init);
  expect(res.status, `${init.method ?? 'GET'} ${urlPath}: ${JSON.stringify(res.error)}`).toBeLessThan(300);
  return res.data;
}

/** The client's own API calls (what the job page does when it opens the job's conversation). */
async function asClient<T>(urlPath: string, init: { method?: string; json?: unknown } = {}) {
  const res = await callApi<T>(client.token, urlPath, init);
  expect(res.status, `${init.method ?? 'GET'} ${urlPath}: ${JSON.stringify(res.error)}`).toBeLessThan(300);
  return res.data;
}

const clientInbox = () => chatwoot.apiInboxes.find((i) => i.accountId === chatwootAccount && i.name === 'Client portal');
const conversationsOnContact = (): FakeConversation[] =>
  [...chatwoot.conversations.values()].filter((c) => c.accountId === chatwootAccount && c.contactId === contact.id && c.inboxId === clientInbox()?.inboxId);

async function shot(page: Page, name: string) {
  fs.mkdirSync(screenshotDir, { recursive: true });
  await page.screenshot({ path: path.join(screenshotDir, `${name}.png`) });
}

beforeAll(async () => {
  chatwoot = await startFakeChatwoot();
  chatwoot.addAgent({ id: 6101, name: 'Dana Dispatch', email: 'dana@homefix.test', token: 'messages-admin-token', accounts: [{ id: chatwootAccount, name: 'HomeFix', role: 'administrator' }] });
  await connectChatwoot(chatwoot, 'messages-admin-token');
  // The installer registers the webhook (agents' replies reach the service) and sets up the Client portal inbox.
  const installer = spawnIn(
    'npm',
    ['run', '--silent', 'onelink', '--', 'install', '--chatwoot-url', chatwoot.url, '--account-id', String(chatwootAccount), '--token', 'messages-admin-token', '--public-url', baseUrl, '--check-timeout', '15'],
    { ONELINK_DATA_DIR: inject('dataDir') },
  );
  expect((await installer.exited).code, installer.output()).toBe(0);
  expect(installer.output()).toMatch(/Client portal inbox/);
  chatwoot.messageEvents = true;
  staffToken = await signInToken(chatwoot, 'messages-admin-token', chatwootAccount);
  await asStaff('/admin/capabilities', { method: 'PATCH', json: { profile: 'construction' } });
  accountId = (await asStaff<{ account: { id: number } }>('/me')).account.id;
  // The client's contact exists in Chatwoot already (they wrote on WhatsApp once); the portal user is bound to it.
  contact = chatwoot.addContact({ accountId: chatwootAccount, name: 'Priya Patel', phone_number: '+447700900123', email: 'priya.p@mail.test' });
  client = await clientPerson(accountId, contact.id, { name: 'Priya Patel', email: 'priya@example.test' });
});
afterAll(() => chatwoot?.close());

describe('Message us, on a phone', () => {
  let phone: BrowserContext;
  let page: Page;

  afterAll(() => phone?.close());

  it('a message lands in Chatwoot as incoming on the client’s existing contact; an agent’s reply shows within 2 s; a private note never', async () => {
    phone = await launchPhone(client.token);
    page = await openClientPortal(phone, '/');
    const general = page.getByTestId('thread-card').first();
    await general.waitFor({ timeout: 15_000 });
    expect(await accessibilityViolations(page)).toEqual([]);
    await shot(page, 'client-messages-home-light');
    await general.click();
    const composer = page.getByLabel('Your message');
    await composer.waitFor({ timeout: 15_000 });
    expect(await accessibilityViolations(page)).toEqual([]);
    await shot(page, 'client-messages-thread-empty-light');

    const contactsBefore = chatwoot.contacts.length;
    await composer.fill('Hi, the kitchen tap is dripping again. Can someone come this week?');
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    const mine = page.getByTestId('message').filter({ hasText: 'kitchen tap is dripping' });
    await expect.poll(() => mine.getAttribute('data-status'), { timeout: 20_000 }).toBe('sent');
    const [conversation, ...more] = conversationsOnContact();
    expect(more).toEqual([]);
    expect(conversation!.messages).toMatchObject([{ message_type: 'incoming', private: false, content: 'Hi, the kitchen tap is dripping again. Can someone come this week?' }]);
    // Agents see one person: the conversation is on the contact they know, and no contact was added.
    expect(chatwoot.contacts).toHaveLength(contactsBefore);
    expect(chatwoot.violations).toEqual([]);

    // While the client writes, agents see them typing (Chatwoot's public toggle_typing); it stops after a pause.
    await composer.fill('Thursday works');
    await expect.poll(() => conversation!.contactTyping, { timeout: 5_000 }).toBe(true);
    await expect.poll(() => conversation!.contactTyping, { timeout: 10_000 }).toBe(false);
    await composer.fill('');
    chatwoot.agentMessage(chatwootAccount, conversation!.id, { content: 'Internal: repeat caller, offer the annual plan', private: true });
    chatwoot.agentMessage(chatwootAccount, conversation!.id, { content: 'Hi Priya, we can come Thursday morning. Does 9–11 suit you?' });
    const reply = page.getByTestId('message').filter({ hasText: 'Thursday morning' });
    // The promise: on the open page within 2 s of the agent's reply.
    await expect.poll(() => reply.count(), { timeout: 2_000, interval: 100 }).toBe(1);
    expect(await page.getByText('Internal: repeat caller').count()).toBe(0);
    await expect.poll(() => conversation!.contactLastSeenAt ?? 0, { timeout: 5_000 }).toBeGreaterThan(0);
    await page.getByTestId('message').last().scrollIntoViewIfNeeded();
    expect(await accessibilityViolations(page)).toEqual([]);
    await shot(page, 'client-messages-thread-light');
  });

  it('a reply whose webhook was lost shows when the client next opens that conversation', async () => {
    // The job's conversation, opened from the job page and written in before (as the job page does it).
    const job = await asStaff<{ id: string; reference: string }>('/jobs', { method: 'POST', json: { summary: 'Dripping kitchen tap', service_category: 'plumbing', chatwoot_contact_id: contact.id } });
    const [thread] = await asClient<Array<{ id: string }>>(`/portal/client/threads?job_id=${job.id}`);
    await asClient(`/portal/client/threads/${thread!.id}/messages`, { method: 'POST', json: { id: crypto.randomUUID(), content: 'Photos of the tap to follow.' } });
    await expect.poll(() => conversationsOnContact().find((c) => c.customAttributes.onelink_job === job.reference)?.messages.length ?? 0, { timeout: 20_000 }).toBe(1);
    const jobConversation = conversationsOnContact().find((c) => c.customAttributes.onelink_job === job.reference)!;

    chatwoot.messageEvents = false; // Chatwoot's one attempt is lost: no webhook will ever bring this
    chatwoot.agentMessage(chatwootAccount, jobConversation.id, { content: 'Thanks, the plumber will bring a new cartridge.' });
    chatwoot.agentMessage(chatwootAccount, jobConversation.id, { content: 'Internal: order part 44-B', private: true });
    chatwoot.messageEvents = true;

    await page.getByRole('link', { name: 'All messages' }).click();
    const jobCard = page.getByTestId('thread-card').filter({ hasText: 'Dripping kitchen tap' });
    await jobCard.waitFor({ timeout: 15_000 });
    await jobCard.click();
    await expect.poll(() => page.getByTestId('message').filter({ hasText: 'new cartridge' }).count(), { timeout: 10_000 }).toBe(1);
    expect(await page.getByText('Internal: order part').count()).toBe(0);
    expect(await page.getByText(job.reference).count()).toBeGreaterThan(0);
    // Home again: the general conversation first, then the job's; nothing left unread.
    await page.getByRole('link', { name: 'All messages' }).click();
    await expect.poll(() => page.getByTestId('thread-card').count(), { timeout: 10_000 }).toBe(2);
    expect(await page.getByTestId('thread-card').nth(1).textContent()).toContain('Dripping kitchen tap');
    await expect.poll(() => page.getByTestId('unread').count(), { timeout: 10_000 }).toBe(0);
    expect(await accessibilityViolations(page)).toEqual([]);
    await shot(page, 'client-messages-home-threads-light');
  });

  it('a message written with no signal waits on the phone, survives a reload, and reaches Chatwoot once when the signal is back', async () => {
    // From home (where the last test left the phone): the general conversation.
    await page.getByTestId('thread-card').first().click();
    const composer = page.getByLabel('Your message');
    await composer.waitFor({ timeout: 15_000 });
    await phone.setOffline(true);
    await composer.fill('Written in the cellar, no signal here');
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    const waiting = page.getByTestId('message').filter({ hasText: 'Written in the cellar' });
    await expect.poll(() => waiting.getAttribute('data-status'), { timeout: 10_000 }).toBe('queued');
    await page.reload();
    await expect.poll(() => waiting.getAttribute('data-status'), { timeout: 15_000 }).toBe('queued');
    await phone.setOffline(false);
    await expect.poll(() => waiting.getAttribute('data-status'), { timeout: 20_000 }).toBe('sent');
    const general = conversationsOnContact().find((c) => !c.customAttributes.onelink_job)!;
    expect(general.messages.filter((m) => m.content === 'Written in the cellar, no signal here')).toHaveLength(1);
  });

  it('looks right in dark mode', async () => {
    const dark = await launchPhone(client.token, 'dark');
    try {
      const darkPage = await openClientPortal(dark, '/');
      await darkPage.getByTestId('thread-card').first().waitFor({ timeout: 15_000 });
      expect(await accessibilityViolations(darkPage)).toEqual([]);
      await shot(darkPage, 'client-messages-home-dark');
      await darkPage.getByTestId('thread-card').first().click();
      await darkPage.getByTestId('message').filter({ hasText: 'Thursday morning' }).waitFor({ timeout: 15_000 });
      await darkPage.getByTestId('message').last().scrollIntoViewIfNeeded();
      expect(await accessibilityViolations(darkPage)).toEqual([]);
      await shot(darkPage, 'client-messages-thread-dark');
    } finally {
      await dark.close();
    }
  });
});
