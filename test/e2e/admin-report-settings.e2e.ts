// The admin app's Reports tab: an admin sets the reports' time zone and weekly business hours,
// saves, reloads and sees them again; an interval that closes before it opens shows the server's
// problem at that field; a day with several intervals keeps them all; a failed load says so and
// can be retried; axe finds nothing serious; screenshots in light and dark, wide and at phone width,
// go to docs/screenshots/admin/.
import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startFakeChatwoot, type FakeChatwoot } from '../fakes/chatwoot.ts';
import { repoRoot } from '../helpers/processes.ts';
import { accessibilityViolations, launchBrowser, settleAnimations } from './browser.ts';
import { callApi, connectChatwoot, signInToken } from './world.ts';

const baseUrl = inject('baseUrl');
const chatwootAccount = 67;
let chatwoot: FakeChatwoot;
let token: string;

interface Settings { time_zone: string; business_hours: Array<{ day: number; opens: string; closes: string }> }
const settings = async () => (await callApi<Settings>(token, '/reports/settings')).data;

beforeAll(async () => {
  chatwoot = await startFakeChatwoot();
  chatwoot.addAgent({ id: 671, name: 'Hana Hours', email: 'hana@acme.test', token: 'hours-admin-token', accounts: [{ id: chatwootAccount, name: 'Acme Hours', role: 'administrator' }] });
  await connectChatwoot(chatwoot, 'hours-admin-token');
  token = await signInToken(chatwoot, 'hours-admin-token', chatwootAccount);
});
afterAll(() => chatwoot.close());

const adminUrl = () => `${baseUrl}/apps/admin/?chatwoot=${encodeURIComponent(chatwoot.url)}&account=${chatwootAccount}`;
const shotDir = path.join(repoRoot, 'docs', 'screenshots', 'admin');

async function shoot(page: Page, name: string) {
  fs.mkdirSync(shotDir, { recursive: true });
  await settleAnimations(page);
  await page.screenshot({ path: path.join(shotDir, `${name}.png`), fullPage: true });
}

async function signIn(page: Page) {
  await page.goto(adminUrl());
  await page.getByLabel('Chatwoot access token').fill('hours-admin-token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('tab', { name: 'Reports' }).waitFor({ timeout: 10_000 });
}

/** Opens the Reports tab and waits for the form (not the placeholder). */
async function openTab(page: Page) {
  await page.getByRole('tab', { name: 'Reports' }).click();
  await page.getByRole('button', { name: 'Save business hours' }).waitFor({ timeout: 10_000 });
}

const day = (page: Page, name: string) => page.getByRole('group', { name, exact: true });
const pageFitsWidth = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);

describe('the admin app’s report settings', () => {
  it('sets weekday hours in a zone, keeps them over a reload, and shows the server’s problem with a bad interval', async () => {
    expect(await settings()).toEqual({ time_zone: 'UTC', business_hours: [] });
    const browser = await launchBrowser({ width: 1280, height: 900 });
    const page = await browser.newPage();
    await signIn(page);
    await openTab(page);
    // Nothing set yet: every day closed.
    for (const name of ['Monday', 'Sunday']) expect(await day(page, name).getByRole('switch', { name: 'Open' }).getAttribute('aria-checked')).toBe('false');

    await page.getByLabel('Business hours are in').selectOption('Europe/London');
    const monday = day(page, 'Monday');
    await monday.getByRole('switch', { name: 'Open' }).click();
    await monday.getByLabel('Opens').fill('09:00');
    await monday.getByLabel('Closes').fill('17:00');
    await page.getByRole('button', { name: 'Copy Monday to weekdays' }).click();
    expect(await day(page, 'Friday').getByLabel('Closes').inputValue()).toBe('17:00');
    await page.getByRole('button', { name: 'Save business hours' }).click();
    await expect.poll(() => page.getByText('Business hours saved').first().isVisible(), { timeout: 5000 }).toBe(true);
    expect(await settings()).toEqual({ time_zone: 'Europe/London', business_hours: [1, 2, 3, 4, 5].map((d) => ({ day: d, opens: '09:00', closes: '17:00' })) });

    await page.reload();
    await openTab(page);
    expect(await page.getByLabel('Business hours are in').inputValue()).toBe('Europe/London');
    expect(await day(page, 'Wednesday').getByLabel('Opens').inputValue()).toBe('09:00');
    expect(await day(page, 'Friday').getByLabel('Closes').inputValue()).toBe('17:00');
    expect(await day(page, 'Saturday').getByRole('switch', { name: 'Open' }).getAttribute('aria-checked')).toBe('false');
    expect(await day(page, 'Saturday').textContent()).toContain('Closed');
    expect(await accessibilityViolations(page)).toEqual([]);
    await shoot(page, 'report-settings-light-1280');
    await page.setViewportSize({ width: 400, height: 900 });
    expect(await pageFitsWidth(page)).toBe(true);
    await shoot(page, 'report-settings-light-400');
    await page.setViewportSize({ width: 1280, height: 900 });

    // Tuesday closing before it opens: the server refuses, and says so at Tuesday's closing time.
    const tuesday = day(page, 'Tuesday');
    await tuesday.getByLabel('Opens').fill('17:00');
    await tuesday.getByLabel('Closes').fill('09:00');
    await page.getByRole('button', { name: 'Save business hours' }).click();
    await expect.poll(() => tuesday.getByText('Must be later than the opening time (choose midnight for the end of the day).').isVisible(), { timeout: 5000 }).toBe(true);
    expect(await tuesday.getByLabel('Closes').getAttribute('aria-invalid')).toBe('true');
    expect(await day(page, 'Monday').getByLabel('Closes').getAttribute('aria-invalid')).toBeNull();
    expect(await page.getByRole('alert').filter({ hasText: 'Nothing was saved: correct the marked times.' }).count()).toBe(1);
    expect((await settings()).business_hours.find((h) => h.day === 2)).toEqual({ day: 2, opens: '09:00', closes: '17:00' });
    expect(await accessibilityViolations(page)).toEqual([]);
    await shoot(page, 'report-settings-invalid-light-1280');
    await browser.close();
  });

  it('keeps several intervals of a day and midnight closing, says when loading fails, and looks right in dark', async () => {
    // Saturday has a lunch break; Sunday is open until midnight.
    const hours = [
      { day: 1, opens: '08:30', closes: '17:30' },
      { day: 6, opens: '09:00', closes: '12:00' },
      { day: 6, opens: '13:00', closes: '16:00' },
      { day: 7, opens: '18:00', closes: '24:00' },
    ];
    expect((await callApi(token, '/reports/settings', { method: 'PUT', json: { time_zone: 'America/New_York', business_hours: hours } })).status).toBe(200);

    const browser = await launchBrowser({ colorScheme: 'dark', width: 1280, height: 900 });
    const page = await browser.newPage();
    await signIn(page);
    // The first load fails; the tab says so and tries again on request.
    await page.route('**/api/v1/reports/settings', (route) => route.fulfill({ status: 503, contentType: 'application/json', body: JSON.stringify({ error: { code: 'unavailable', message: 'Try again shortly' } }) }));
    await page.getByRole('tab', { name: 'Reports' }).click();
    await expect.poll(() => page.getByRole('alert').filter({ hasText: 'could not be loaded' }).textContent(), { timeout: 5000 }).toContain('Try again shortly');
    await page.unroute('**/api/v1/reports/settings');
    await page.getByRole('button', { name: 'Try again' }).click();
    await page.getByRole('button', { name: 'Save business hours' }).waitFor({ timeout: 5000 });

    const saturday = day(page, 'Saturday');
    expect(await saturday.getByTestId('report-interval').count()).toBe(2);
    expect(await saturday.getByLabel('Opens').nth(1).inputValue()).toBe('13:00');
    expect(await day(page, 'Sunday').getByLabel('Closes').inputValue()).toBe('00:00');
    expect(await accessibilityViolations(page)).toEqual([]);
    await shoot(page, 'report-settings-dark-1280');
    await page.setViewportSize({ width: 400, height: 900 });
    expect(await pageFitsWidth(page)).toBe(true);
    await shoot(page, 'report-settings-dark-400');

    // Saving what is shown changes nothing: both Saturday intervals and Sunday's midnight stay.
    await page.getByRole('button', { name: 'Save business hours' }).click();
    await expect.poll(() => page.getByText('Business hours saved').first().isVisible(), { timeout: 5000 }).toBe(true);
    expect(await settings()).toEqual({ time_zone: 'America/New_York', business_hours: hours });
    // Saturday's afternoon moved into the morning overlaps it: the server refuses, said at that interval.
    await saturday.getByLabel('Opens').nth(1).fill('11:00');
    await page.getByRole('button', { name: 'Save business hours' }).click();
    await expect.poll(() => saturday.getByTestId('report-interval').nth(1).textContent(), { timeout: 5000 }).toContain('Overlaps other hours of the same day.');
    expect(await saturday.getByTestId('report-interval').nth(0).textContent()).not.toContain('Overlaps');
    // Removing Saturday's afternoon leaves the morning.
    await saturday.getByRole('button', { name: 'Remove Saturday 11:00–16:00' }).click();
    // A time left empty is asked for at its field.
    const sunday = day(page, 'Sunday');
    await sunday.getByLabel('Opens').fill('');
    await page.getByRole('button', { name: 'Save business hours' }).click();
    await expect.poll(() => sunday.getByText('Give a time.').isVisible(), { timeout: 5000 }).toBe(true);
    expect(await sunday.getByLabel('Opens').getAttribute('aria-invalid')).toBe('true');
    await sunday.getByLabel('Opens').fill('18:00');
    await page.getByRole('button', { name: 'Save business hours' }).click();
    await expect.poll(async () => (await settings()).business_hours.filter((h) => h.day >= 6)).toEqual([
      { day: 6, opens: '09:00', closes: '12:00' },
      { day: 7, opens: '18:00', closes: '24:00' },
    ]);
    await browser.close();
  });
});
