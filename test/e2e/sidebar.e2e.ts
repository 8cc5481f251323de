// The conversation sidebar inside Chatwoot's frame, across origins, through the dev host page:
// appContext, sign-in, creating a job from the conversation, following a switch, ignoring a
// spoofed context, and a capability turned off. Measures bundle size and context-to-paint time.
import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { BrowserContext, Frame, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startFakeChatwoot, type FakeChatwoot } from '../fakes/chatwoot.ts';
import { repoRoot } from '../helpers/processes.ts';
import { accessibilityViolations, launchBrowser, screenshot } from './browser.ts';
import { callApi, connectChatwoot, signInToken } from './world.ts';

const appOrigin = inject('appOrigin');
const baseUrl = inject('baseUrl');
let chatwoot: FakeChatwoot;
let adminToken: string;

const api = async <T = unknown>(path: string, token: string, init: { method?: string; json?: unknown } = {}) => {
  const answer = await callApi<T>(token, path, init);
  return { status: answer.status, body: { data: answer.data, error: answer.error } };
};

beforeAll(async () => {
  chatwoot = await startFakeChatwoot();
  chatwoot.addAgent({ id: 11, name: 'Ada Admin', email: 'ada@acme.test', token: 'sidebar-admin-token', accounts: [{ id: 8, name: 'Acme Heating', role: 'administrator' }] });
  chatwoot.addAgent({ id: 12, name: 'Sam Support', email: 'sam@acme.test', token: 'sidebar-agent-token', accounts: [{ id: 8, name: 'Acme Heating', role: 'agent' }] });
  // The conversations the dev host page shows (its fixtures), so write-backs have somewhere to land.
  chatwoot.addConversation(8, 101);
  chatwoot.addConversation(8, 102);
  await connectChatwoot(chatwoot, 'sidebar-admin-token');
  adminToken = await signInToken(chatwoot, 'sidebar-admin-token', 8);
  expect((await api('/admin/capabilities', adminToken, { method: 'PATCH', json: { profile: 'construction' } })).status).toBe(200);
});
afterAll(async () => {
  expect(chatwoot.takeViolations()).toEqual([]);
  await chatwoot.close();
});

const hostUrl = () =>
  `${chatwoot.url}/dev/chatwoot-host/?app=${encodeURIComponent(`${appOrigin}/apps/sidebar/?chatwoot=${encodeURIComponent(chatwoot.url)}&account=8`)}`;
const appFrame = (page: Page) => page.frameLocator('#dashboard-app');

async function contextToPaint(page: Page) {
  const frame = page.frames().find((f) => f.url().startsWith(`${appOrigin}/apps/sidebar/`)) as Frame;
  await expect.poll(() => frame.evaluate(() => performance.getEntriesByName('onelink:context-to-paint').length), { timeout: 10_000 }).toBeGreaterThan(0);
  return frame.evaluate(() => performance.getEntriesByName('onelink:context-to-paint').at(-1)!.duration);
}

describe('the conversation sidebar in Chatwoot’s frame', () => {
  let browser: BrowserContext;
  let page: Page;
  beforeAll(async () => {
    browser = await launchBrowser({ width: 1100, height: 760 });
    page = await browser.newPage();
  });
  afterAll(() => browser.close());

  it('receives the appContext, signs the agent in, and creates a job from the conversation', async () => {
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(hostUrl());
    const frame = appFrame(page);
    await frame.getByLabel('Chatwoot access token').fill('sidebar-agent-token');
    await frame.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => frame.getByTestId('contact-name').textContent(), { timeout: 10_000 }).toBe('Ada Lovelace');
    expect(await frame.getByTestId('conversation-id').textContent()).toBe('Conversation #101');
    await expect.poll(() => frame.getByText('No open jobs for this contact.').isVisible()).toBe(true);

    await frame.getByRole('button', { name: '+ Job' }).click();
    const summary = frame.getByLabel('What needs doing');
    expect(await summary.inputValue()).toBe('Could someone come tomorrow before noon?'); // the latest message
    await summary.fill('Leaking radiator in the hall; visit before noon');
    await frame.getByLabel('Priority').selectOption('high');
    // The account's field pack (construction) adds its own fields to the form.
    await frame.getByLabel('Trade').selectOption('plumbing');
    await frame.getByLabel('Site address').fill('12 Crescent Road');
    await screenshot(page, 'sidebar-new-job-form');
    await frame.getByRole('button', { name: 'Create job' }).click();
    await expect.poll(() => frame.getByTestId('job').count()).toBe(1);
    expect(await frame.getByTestId('job').textContent()).toContain('Leaking radiator in the hall; visit before noon');
    const jobs = await api<Array<{ id: string }>>('/jobs?contact_id=501', adminToken);
    expect(jobs.body.data).toMatchObject([
      { summary: 'Leaking radiator in the hall; visit before noon', priority: 'high', source: 'chat', custom_fields: { trade: 'plumbing', site_address: '12 Crescent Road' } },
    ]);
    expect((await api<{ conversation_ids: number[] }>(`/jobs/${jobs.body.data[0]!.id}`, adminToken)).body.data.conversation_ids).toEqual([101]);
    // …and Chatwoot's conversation hears of it (a private note from the write-back worker).
    await expect.poll(() => chatwoot.conversations.get('8:101')!.messages.map((m) => m.content), { timeout: 10_000 }).toContainEqual(expect.stringContaining('job created'));

    await frame.getByRole('button', { name: '+ Task' }).click();
    await frame.getByRole('button', { name: 'Create task' }).click();
    await expect.poll(() => frame.getByTestId('task').count()).toBe(1);
    await frame.getByRole('checkbox', { name: 'Mark “Follow up with Ada Lovelace” done' }).check();
    await expect.poll(() => frame.getByTestId('task').count()).toBe(0);

    // Live: a job a dispatcher opens elsewhere appears without a reload (the change stream), and leaves when canceled.
    const elsewhere = await api<{ id: string }>('/jobs', adminToken, { method: 'POST', json: { summary: 'Opened by dispatch', chatwoot_contact_id: 501 } });
    await expect.poll(() => frame.getByTestId('job').count(), { timeout: 5_000 }).toBe(2);
    await api(`/jobs/${elsewhere.body.data.id}/status`, adminToken, { method: 'POST', json: { status: 'canceled', reason: 'Opened by mistake' } });
    await expect.poll(() => frame.getByTestId('job').count(), { timeout: 5_000 }).toBe(1);

    expect(await accessibilityViolations(page.frames().find((f) => f.url().startsWith(`${appOrigin}/apps/sidebar/`))!)).toEqual([]);
    await screenshot(page, 'sidebar-in-chatwoot-light');
    expect(errors).toEqual([]);
  });

  it('follows a conversation switch (Chatwoot rebuilds the frame) and measures context-to-paint on a cold frame', async () => {
    await page.locator('#conversation').selectOption('102');
    const frame = appFrame(page);
    await expect.poll(() => frame.getByTestId('contact-name').textContent(), { timeout: 10_000 }).toBe('Grace Hopper');
    expect(await frame.getByTestId('job').count()).toBe(0);
    const ms = await contextToPaint(page);
    console.log(`Sidebar: appContext received → records painted on a cold frame: ${ms.toFixed(0)} ms (target < 500 ms)`);

    // Link an existing job (another contact's, from a phone call) to this conversation by its number.
    const other = await api<{ id: string; reference: string }>('/jobs', adminToken, { method: 'POST', json: { summary: 'Window quote visit', chatwoot_contact_id: 9999 } });
    await frame.getByRole('button', { name: 'Link…' }).click();
    await frame.getByLabel('Job or deal number').fill(other.body.data.reference);
    await frame.getByRole('button', { name: 'Link', exact: true }).click();
    await expect.poll(() => frame.getByTestId('job').count(), { timeout: 10_000 }).toBe(1);
    expect(await frame.getByTestId('job').textContent()).toContain('Window quote visit');
    expect((await api<{ conversation_ids: number[] }>(`/jobs/${other.body.data.id}`, adminToken)).body.data.conversation_ids).toEqual([102]);
    await page.locator('#conversation').selectOption('101');
    await expect.poll(() => frame.getByTestId('job').count(), { timeout: 10_000 }).toBe(1);
  });

  it('ignores an appContext posted by any window but Chatwoot’s', async () => {
    const frame = appFrame(page);
    await expect.poll(() => frame.getByTestId('contact-name').textContent()).toBe('Ada Lovelace');
    const spoof = JSON.stringify({ event: 'appContext', data: { conversation: { id: 666, meta: { sender: { id: 666, name: 'Mallory' } } }, contact: { id: 666, name: 'Mallory' } } });
    // A sibling frame from another origin, and the app's own window, both try.
    await page.evaluate((src) => {
      const sibling = document.createElement('iframe');
      sibling.src = src;
      sibling.id = 'intruder';
      document.body.append(sibling);
    }, `${baseUrl}/`);
    await expect.poll(() => page.frames().some((f) => f.url().startsWith(baseUrl)), { timeout: 10_000 }).toBe(true);
    const intruder = page.frames().find((f) => f.url().startsWith(baseUrl))!;
    await intruder.evaluate((message) => window.parent.frames[0]!.postMessage(message, '*'), spoof);
    const app = page.frames().find((f) => f.url().startsWith(`${appOrigin}/apps/sidebar/`))!;
    await app.evaluate((message) => window.postMessage(message, '*'), spoof);
    await page.waitForTimeout(300);
    expect(await frame.getByTestId('contact-name').textContent()).toBe('Ada Lovelace');
  });

  it('hides the jobs section when an admin turns dispatch.jobs off, and the API refuses jobs', async () => {
    expect((await api('/admin/capabilities', adminToken, { method: 'PATCH', json: { overrides: { 'dispatch.jobs': false } } })).status).toBe(200);
    await page.locator('#conversation').selectOption('102');
    const frame = appFrame(page);
    await expect.poll(() => frame.getByTestId('contact-name').textContent(), { timeout: 10_000 }).toBe('Grace Hopper');
    await expect.poll(() => frame.getByRole('heading', { name: /Deals/ }).isVisible()).toBe(true);
    expect(await frame.getByTestId('jobs-section').count()).toBe(0);
    expect(await frame.getByRole('button', { name: '+ Job' }).count()).toBe(0);
    const refused = await api('/jobs', adminToken);
    expect([refused.status, refused.body.error?.code]).toEqual([403, 'capability_disabled']);
    expect((await api('/admin/capabilities', adminToken, { method: 'PATCH', json: { overrides: { 'dispatch.jobs': true } } })).status).toBe(200);
  });
});

describe('sidebar screenshots and weight', () => {
  it('looks right in dark mode and at phone width', async () => {
    for (const scheme of ['dark', 'light'] as const) {
      const browser = await launchBrowser({ colorScheme: scheme, width: 1100, height: 760 });
      const page = await browser.newPage();
      await page.goto(hostUrl());
      const frame = appFrame(page);
      await frame.getByLabel('Chatwoot access token').fill('sidebar-agent-token');
      await frame.getByRole('button', { name: 'Sign in' }).click();
      await expect.poll(() => frame.getByTestId('job').count(), { timeout: 10_000 }).toBe(1);
      if (scheme === 'dark') await screenshot(page, 'sidebar-in-chatwoot-dark');
      await page.locator('#width').selectOption('390');
      await frame.getByRole('button', { name: '+ Deal' }).click();
      await page.locator('aside.app').screenshot({ path: path.join(repoRoot, 'test-results', 'screenshots', `sidebar-phone-width-${scheme}.png`) });
      await browser.close();
    }
  });

  it('keeps the sidebar’s JavaScript small (printed; budget 60 KB gzipped)', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, 'dist', 'web', '.vite', 'manifest.json'), 'utf8')) as Record<string, { file: string; imports?: string[] }>;
    const seen = new Set<string>();
    const walk = (key: string) => {
      if (seen.has(key)) return;
      seen.add(key);
      for (const child of manifest[key]?.imports ?? []) walk(child);
    };
    walk('apps/sidebar/index.html');
    const bytes = [...seen].map((key) => gzipSync(fs.readFileSync(path.join(repoRoot, 'dist', 'web', manifest[key]!.file))).length).reduce((a, b) => a + b, 0);
    console.log(`Sidebar JavaScript: ${(bytes / 1024).toFixed(1)} KB gzipped (budget 60 KB)`);
    expect(bytes).toBeLessThanOrEqual(60 * 1024);
  });
});
