// "Invite to portal" from the conversation sidebar inside Chatwoot's frame: the contact has no
// portal access, the agent invites them, the sign-in link arrives as an outgoing message in that
// Chatwoot conversation of the fake (validated against Chatwoot's OpenAPI document), and the link
// signs the client into the client portal on a phone. Screenshots at sidebar width, light and dark.
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startFakeChatwoot, type FakeChatwoot } from '../fakes/chatwoot.ts';
import { repoRoot } from '../helpers/processes.ts';
import { accessibilityViolations, launchBrowser, screenshot } from './browser.ts';
import { callApi, connectChatwoot, signInToken } from './world.ts';

const appOrigin = inject('appOrigin');
const chatwootAccount = 17;
const adminAccessToken = 'portal-invite-admin-token';
let chatwoot: FakeChatwoot;
let adminToken: string;

beforeAll(async () => {
  chatwoot = await startFakeChatwoot();
  chatwoot.addAgent({ id: 41, name: 'Ivy Invite', email: 'ivy@bright.test', token: adminAccessToken, accounts: [{ id: chatwootAccount, name: 'Bright Plumbing', role: 'administrator' }] });
  // The dev host page's first conversation (#101) and its contact (#501), as Chatwoot holds them.
  chatwoot.contacts.push({ id: 501, accountId: chatwootAccount, name: 'Ada Lovelace', email: 'ada@example.com', phone_number: '+442079460958' });
  chatwoot.addConversation(chatwootAccount, 101).contactId = 501;
  await connectChatwoot(chatwoot, adminAccessToken);
  adminToken = await signInToken(chatwoot, adminAccessToken, chatwootAccount);
  const on = await callApi(adminToken, '/admin/capabilities', { method: 'PATCH', json: { overrides: { 'portal.client': true } } });
  expect(on.status).toBe(200);
});
afterAll(async () => {
  expect(chatwoot.takeViolations()).toEqual([]);
  await chatwoot.close();
});

const hostUrl = () =>
  `${chatwoot.url}/dev/chatwoot-host/?switch=rebuild&app=${encodeURIComponent(`${appOrigin}/apps/sidebar/?chatwoot=${encodeURIComponent(chatwoot.url)}&account=${chatwootAccount}`)}`;
const sidebarFrame = (page: Page) => page.frames().find((f) => f.url().startsWith(`${appOrigin}/apps/sidebar/`))!;

async function openSidebar(page: Page) {
  await page.goto(hostUrl());
  const frame = page.frameLocator('#dashboard-app');
  await frame.getByLabel('Chatwoot access token').fill(adminAccessToken);
  await frame.getByRole('button', { name: 'Sign in' }).click();
  await expect.poll(() => frame.getByTestId('contact-name').textContent(), { timeout: 10_000 }).toBe('Ada Lovelace');
  return frame;
}

const outgoing = () => chatwoot.conversations.get(`${chatwootAccount}:101`)!.messages.filter((m) => m.message_type === 'outgoing' && !m.private);

describe('Invite to portal from the sidebar', () => {
  it('sends the sign-in link in the conversation, and the link signs the client in', async () => {
    const browser = await launchBrowser({ width: 1100, height: 760 });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (err) => errors.push(err.message));
      const frame = await openSidebar(page);
      await expect.poll(() => frame.getByTestId('portal-status').textContent(), { timeout: 10_000 }).toBe('No portal access yet');

      await frame.getByRole('button', { name: 'Invite to portal' }).click();
      await expect.poll(() => frame.getByTestId('portal-invite-result').textContent(), { timeout: 10_000 }).toBe('Link sent in this conversation');
      await expect.poll(() => frame.getByTestId('portal-status').textContent()).toContain('Has portal access');
      expect(await frame.getByRole('button', { name: 'Send a new sign-in link' }).isVisible()).toBe(true);

      // The link is an outgoing (public) message on conversation #101 of the fake Chatwoot.
      const messages = outgoing();
      expect(messages).toHaveLength(1);
      const content = String(messages[0]!.content);
      expect(content).toContain('Bright Plumbing');
      const link = /(https?:\/\/\S+\/portal\/client\/sign-in#token=olm_[A-Za-z0-9_-]+)/.exec(content)?.[1];
      expect(link, content).toBeTruthy();

      expect(await accessibilityViolations(sidebarFrame(page))).toEqual([]);
      await page.locator('#width').selectOption('400');
      await expect.poll(() => frame.getByTestId('portal-invite-result').isVisible()).toBe(true);
      await page.locator('aside.app').screenshot({ path: path.join(repoRoot, 'test-results', 'screenshots', 'sidebar-portal-invite-400-light.png') });
      expect(errors).toEqual([]);

      // The client opens the link on their phone: signed in, in the business's portal.
      const phone = await launchBrowser({ width: 390, height: 844 });
      try {
        const client = await phone.newPage();
        await client.goto(link!);
        await expect.poll(() => client.getByTestId('business-name').textContent(), { timeout: 10_000 }).toBe('Bright Plumbing');
        await screenshot(client, 'sidebar-portal-invite-client-signed-in');
      } finally {
        await phone.close();
      }
    } finally {
      await browser.close();
    }
  });

  it('shows a member with their last sign-in, in dark at sidebar width', async () => {
    const browser = await launchBrowser({ colorScheme: 'dark', width: 1100, height: 760 });
    try {
      const page = await browser.newPage();
      const frame = await openSidebar(page);
      await expect.poll(() => frame.getByTestId('portal-status').textContent(), { timeout: 10_000 }).toContain('Has portal access');
      await expect.poll(() => frame.getByTestId('portal-access').textContent()).toMatch(/last used/);
      await frame.getByRole('button', { name: 'Send a new sign-in link' }).click();
      await expect.poll(() => frame.getByTestId('portal-invite-result').textContent(), { timeout: 10_000 }).toBe('Link sent in this conversation');
      expect(outgoing()).toHaveLength(2);
      expect(await accessibilityViolations(sidebarFrame(page))).toEqual([]);
      await page.locator('#width').selectOption('400');
      await expect.poll(() => frame.getByTestId('portal-invite-result').isVisible()).toBe(true);
      await page.locator('aside.app').screenshot({ path: path.join(repoRoot, 'test-results', 'screenshots', 'sidebar-portal-invite-400-dark.png') });
    } finally {
      await browser.close();
    }
  });

  it('is not shown when the account has no client portal', async () => {
    expect((await callApi(adminToken, '/admin/capabilities', { method: 'PATCH', json: { overrides: { 'portal.client': false } } })).status).toBe(200);
    const browser = await launchBrowser({ width: 1100, height: 760 });
    try {
      const page = await browser.newPage();
      const frame = await openSidebar(page);
      await expect.poll(() => frame.getByTestId('count').count(), { timeout: 10_000 }).toBeGreaterThan(0);
      expect(await frame.getByTestId('portal-access').count()).toBe(0);
    } finally {
      await browser.close();
    }
  });
});
