// The dispatch board as a full page: jobs by status; a job opens in a drawer with its story;
// vendor suggestions explain their scores; assigning the best one moves the job on.
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startFakeChatwoot, type FakeChatwoot } from '../fakes/chatwoot.ts';

import { accessibilityViolations, launchBrowser, screenshot } from './browser.ts';
import { callApi, connectChatwoot, signInToken } from './world.ts';

const baseUrl = inject('baseUrl');
let chatwoot: FakeChatwoot;
let token: string;

const api = async <T>(path: string, init: { method?: string; json?: unknown } = {}) => (await callApi<T>(token, path, init)).data;

beforeAll(async () => {
  chatwoot = await startFakeChatwoot();
  chatwoot.addAgent({ id: 31, name: 'Dee Dispatch', email: 'dee@acme.test', token: 'dispatch-admin-token', accounts: [{ id: 10, name: 'Acme Field', role: 'administrator' }] });
  await connectChatwoot(chatwoot, 'dispatch-admin-token');
  token = await signInToken(chatwoot, 'dispatch-admin-token', 10);
  await api('/admin/capabilities', { method: 'PATCH', json: { profile: 'construction' } });
  for (const [name, lat] of [['Near Heating', 51.51], ['Far Heating', 51.7]] as const) {
    const vendor = await api<{ id: string }>('/vendors', { method: 'POST', json: { name, categories: ['heating'], base_lat: lat, base_lng: -0.12, radius_km: 40 } });
    await api(`/vendors/${vendor.id}/documents`, { method: 'POST', json: { kind: 'insurance', expires_on: '2099-01-01' } });
  }
  await api('/checklist-templates', { method: 'POST', json: { name: 'Boiler', service_category: 'heating', items: [{ label: 'Pressure test' }] } });
  await api('/jobs', { method: 'POST', json: { summary: 'Boiler not firing', priority: 'urgent', service_category: 'heating', lat: 51.5, lng: -0.12, conversation_ids: [44] } });
  await api('/jobs', { method: 'POST', json: { summary: 'Annual service', priority: 'low', service_category: 'heating' } });
});
afterAll(() => chatwoot.close());

const boardUrl = () => `${baseUrl}/apps/dispatch/?chatwoot=${encodeURIComponent(chatwoot.url)}&account=10`;

async function signedIn(browser: BrowserContext): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(boardUrl());
  await page.getByLabel('Chatwoot access token').fill('dispatch-admin-token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect.poll(() => page.getByTestId('job-card').count(), { timeout: 10_000 }).toBe(2);
  return page;
}

describe('the dispatch board', () => {
  it('opens a job, explains the vendor suggestions and assigns the best one', async () => {
    const browser = await launchBrowser({ width: 1400, height: 860 });
    const page = await signedIn(browser);
    expect(await page.locator('section[data-status="new"]').getByTestId('job-card').count()).toBe(2);
    await page.getByTestId('job-card').filter({ hasText: 'Boiler not firing' }).click();
    const drawer = page.getByRole('dialog');
    await expect.poll(() => drawer.getByTestId('job-status').textContent()).toContain('New');
    await drawer.getByRole('button', { name: 'Suggest vendors' }).click();
    await expect.poll(() => drawer.getByTestId('suggestion').count()).toBe(2);
    const best = drawer.getByTestId('suggestion').first();
    expect(await best.textContent()).toContain('Near Heating');
    expect(await best.textContent()).toMatch(/Distance\d+(\.\d)?\/30 · [\d.]+ km away, within a 40 km radius/);
    expect(await drawer.getByRole('link', { name: 'Conversation #44 in Chatwoot' }).getAttribute('href')).toBe(`${chatwoot.url}/app/accounts/10/conversations/44`);
    expect(await accessibilityViolations(page)).toEqual([]);
    await screenshot(page, 'dispatch-board-drawer-light');
    await drawer.getByRole('button', { name: 'Assign Near Heating' }).click();
    await expect.poll(() => drawer.getByTestId('job-status').textContent(), { timeout: 10_000 }).toContain('Assigned');
    expect(await drawer.textContent()).toContain('Vendor: Near Heating');
    await expect.poll(() => page.getByText(/J-\d+ assigned to Near Heating/).count()).toBeGreaterThan(0);
    await page.keyboard.press('Escape');
    await expect.poll(() => page.locator('section[data-status="assigned"]').getByTestId('job-card').count()).toBe(1);

    // Cancelling asks why, in a dialog; the reason is required.
    await page.getByTestId('job-card').filter({ hasText: 'Annual service' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel job' }).click();
    const ask = page.getByRole('dialog', { name: /Cancel J-\d+\?/ });
    await expect.poll(() => ask.isVisible()).toBe(true);
    expect(await ask.getByRole('button', { name: 'Cancel job' }).isDisabled()).toBe(true);
    await ask.getByLabel('Why is the job canceled?').fill('Customer booked elsewhere');
    await ask.getByRole('button', { name: 'Cancel job' }).click();
    await expect.poll(() => page.getByTestId('job-status').textContent(), { timeout: 10_000 }).toContain('Canceled');
    await page.keyboard.press('Escape');
    await expect.poll(() => page.getByTestId('job-card').count()).toBe(1); // canceled jobs leave the board
    // A job opened elsewhere (a call, the sidebar) appears without a reload.
    await api('/jobs', { method: 'POST', json: { summary: 'Radiator bleed', priority: 'normal', service_category: 'heating' } });
    await expect.poll(() => page.getByTestId('job-card').count(), { timeout: 5_000 }).toBe(2);
    await page.getByLabel('Priority').selectOption('low');
    await expect.poll(() => page.getByTestId('job-card').count()).toBe(0);
    expect(new URL(page.url()).searchParams.get('priority')).toBe('low');

    // The filters kept as a view: cleared, then brought back in one click.
    await page.getByRole('button', { name: 'Views' }).click();
    await page.getByRole('menuitem', { name: 'Save current filters…' }).click();
    await page.getByRole('dialog').getByLabel('Name').fill('Low priority');
    await page.getByRole('dialog').getByRole('button', { name: 'Save view' }).click();
    await expect.poll(() => page.getByText('View “Low priority” saved').count(), { timeout: 10_000 }).toBeGreaterThan(0);
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await expect.poll(() => page.getByTestId('job-card').count()).toBe(2);
    await page.getByRole('button', { name: 'Views' }).click();
    await page.getByRole('menuitem', { name: /^Low priority/ }).click();
    await expect.poll(() => page.getByTestId('job-card').count()).toBe(0);
    expect(await page.getByLabel('Priority').inputValue()).toBe('low');
    await page.getByLabel('Find jobs').fill('J-999999');
    await page.getByLabel('Find jobs').press('Enter');
    expect(await accessibilityViolations(page)).toEqual([]);
    await browser.close();
  });

  it('looks right in dark mode', async () => {
    const browser = await launchBrowser({ colorScheme: 'dark', width: 1400, height: 860 });
    const page = await browser.newPage();
    await page.goto(boardUrl());
    await page.getByLabel('Chatwoot access token').fill('dispatch-admin-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByTestId('job-card').count(), { timeout: 10_000 }).toBe(2);
    await screenshot(page, 'dispatch-board-dark');
    await page.setViewportSize({ width: 390, height: 844 });
    await screenshot(page, 'dispatch-board-phone-dark');
    await page.setViewportSize({ width: 1400, height: 860 });
    await page.getByTestId('job-card').filter({ hasText: 'Boiler not firing' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Suggest vendors' }).click();
    await expect.poll(() => page.getByRole('dialog').getByTestId('suggestion').count()).toBe(2);
    await screenshot(page, 'dispatch-board-drawer-dark');
    await browser.close();
  });
});
