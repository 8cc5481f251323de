// The Reports app on the real server: each report renders from deals, jobs and vendors made
// through the API; a figure (a table cell, or its bar) opens the records behind it; the CSV of a
// table and of the records download, formula-safe; dispatch reports stay hidden from an agent;
// the admin app's "this week" links to the reports; axe finds nothing serious; screenshots in
// light and dark at sidebar width and wide go to docs/screenshots/reports/.
import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startFakeChatwoot, type FakeChatwoot } from '../fakes/chatwoot.ts';
import { repoRoot } from '../helpers/processes.ts';
import { accessibilityViolations, launchBrowser, settleAnimations } from './browser.ts';
import { callApi, connectChatwoot, signInToken } from './world.ts';

const baseUrl = inject('baseUrl');
const chatwootAccount = 18;
let chatwoot: FakeChatwoot;
let token: string;
let pipeline: { id: string; name: string; stages: Array<{ id: string; name: string; kind: string }> };
const deals: Record<string, { id: string; version: number }> = {};

const api = async <T>(apiPath: string, init: { method?: string; json?: unknown } = {}) => {
  const answer = await callApi<T>(token, apiPath, init);
  expect(answer.status, `${init.method ?? 'GET'} ${apiPath}: ${JSON.stringify(answer.error)}`).toBeLessThan(300);
  return answer.data;
};

beforeAll(async () => {
  chatwoot = await startFakeChatwoot();
  chatwoot.addAgent({ id: 181, name: 'Rae Reports', email: 'rae@acme.test', token: 'reports-admin-token', accounts: [{ id: chatwootAccount, name: 'Acme Reports', role: 'administrator' }] });
  chatwoot.addAgent({ id: 182, name: 'Abe Agent', email: 'abe@acme.test', token: 'reports-agent-token', accounts: [{ id: chatwootAccount, name: 'Acme Reports', role: 'agent' }] });
  await connectChatwoot(chatwoot, 'reports-admin-token');
  token = await signInToken(chatwoot, 'reports-admin-token', chatwootAccount);
  await api('/admin/capabilities', { method: 'PATCH', json: { profile: 'construction' } });
  pipeline = (await api<Array<typeof pipeline>>('/pipelines'))[0]!;
  // Three deals enter the first stage today; one is won, one lost with a reason. A title starting
  // with "=" must reach a spreadsheet as text.
  for (const title of ['=HYPERLINK("http://x.test")', 'Kitchen refit', 'Boiler swap']) {
    deals[title] = await api('/deals', { method: 'POST', json: { title, pipeline_id: pipeline.id, amount_minor: 250_000, currency: 'EUR' } });
  }
  await api(`/deals/${deals['Boiler swap']!.id}/status`, { method: 'POST', json: { status: 'won', version: deals['Boiler swap']!.version } });
  await api(`/deals/${deals['Kitchen refit']!.id}/status`, { method: 'POST', json: { status: 'lost', lost_reason: 'Chose a cheaper quote', version: deals['Kitchen refit']!.version } });
  await api('/vendors', { method: 'POST', json: { name: 'Near Heating', categories: ['heating'], base_lat: 51.5, base_lng: -0.12, radius_km: 40 } });
  await api('/jobs', { method: 'POST', json: { summary: 'Boiler not firing', priority: 'urgent', service_category: 'heating' } });
  await api('/jobs', { method: 'POST', json: { summary: 'Annual service', priority: 'low', service_category: 'heating' } });
  // Weekdays 9 to 5, so "business hours only" has hours to count in.
  await api('/reports/settings', { method: 'PUT', json: { time_zone: 'UTC', business_hours: [1, 2, 3, 4, 5].map((day) => ({ day, opens: '09:00', closes: '17:00' })) } });
  await signInToken(chatwoot, 'reports-agent-token', chatwootAccount);
});
afterAll(() => chatwoot.close());

const appQuery = () => `chatwoot=${encodeURIComponent(chatwoot.url)}&account=${chatwootAccount}`;
const reportsUrl = (extra = '') => `${baseUrl}/apps/reports/?${appQuery()}${extra}`;
const shotDir = path.join(repoRoot, 'docs', 'screenshots', 'reports');
/** A screenshot of the page (of the window only while a drawer is open: it covers the window, not the page). */
async function shoot(page: Page, name: string, fullPage = true) {
  fs.mkdirSync(shotDir, { recursive: true });
  await settleAnimations(page);
  await page.screenshot({ path: path.join(shotDir, `${name}.png`), fullPage });
}

async function signedIn(browser: BrowserContext, url: string, accessToken = 'reports-admin-token'): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(url);
  await page.getByLabel('Chatwoot access token').fill(accessToken);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('tab').first().waitFor({ timeout: 10_000 });
  return page;
}

/** Opens a report's tab and waits for its tables (a report that failed shows its problem instead). */
async function openReport(page: Page, name: string) {
  await page.getByRole('tab', { name }).click();
  await expect.poll(async () => (await page.getByTestId('report-problem').count()) || (await page.getByTestId('report').count()), { timeout: 10_000 }).toBe(1);
  const problems = await page.getByTestId('report-problem').allTextContents();
  expect(problems, `${name}: ${problems.join(' ')}`).toEqual([]);
}

/** Reads a download the page starts with `start`. */
async function downloaded(page: Page, start: () => Promise<void>) {
  const [download] = await Promise.all([page.waitForEvent('download'), start()]);
  return { name: download.suggestedFilename(), text: fs.readFileSync((await download.path())!, 'utf8') };
}

describe('the Reports app', () => {
  it('renders every report, drills into a figure and exports formula-safe CSV', async () => {
    const browser = await launchBrowser({ width: 1280, height: 900 });
    const page = await signedIn(browser, reportsUrl());
    expect(await page.getByRole('tab').allTextContents()).toEqual(['Overview', 'Funnel', 'Response time', 'Dispatch', 'Vendors']);
    await openReport(page, 'Funnel');
    expect(new URL(page.url()).searchParams.get('report')).toBe('funnel');

    // The first stage: three deals entered it today. Its "Entered" cell (a button) lists them.
    const stages = page.getByTestId('report-table-stages');
    const first = stages.locator(`tr[data-row="${pipeline.stages[0]!.id}"]`);
    expect(await first.locator('td[data-column="entered"]').textContent()).toContain('3');
    await first.locator('td[data-column="entered"]').getByRole('button').click();
    const drawer = page.getByRole('dialog');
    await expect.poll(() => drawer.getByTestId('drill-row').count(), { timeout: 10_000 }).toBe(3);
    const listed = await drawer.getByTestId('drill-row').allTextContents();
    for (const title of Object.keys(deals)) expect(listed.some((line) => line.includes(title))).toBe(true);
    const dealLink = drawer.getByRole('link', { name: /^Open deal / }).first();
    expect(await dealLink.getAttribute('href')).toMatch(new RegExp(`^/apps/pipeline/\\?chatwoot=.+&account=${chatwootAccount}&deal=[0-9a-f-]{36}$`));
    expect(await accessibilityViolations(page)).toEqual([]);
    await shoot(page, 'funnel-drill-light-1280', false);

    // The records as CSV: the "=" title arrives with an apostrophe in front.
    const rows = await downloaded(page, () => drawer.getByTestId('drill-csv').click());
    expect(rows.name).toMatch(/^funnel-rows-\d{4}-\d{2}-\d{2}_\d{4}-\d{2}-\d{2}\.csv$/);
    expect(rows.text).toContain(`'=HYPERLINK(""http://x.test"")`);
    expect(rows.text).toContain('Kitchen refit');
    await page.keyboard.press('Escape');
    await expect.poll(() => drawer.count()).toBe(0);

    // The table as CSV, one line per stage.
    const table = await downloaded(page, () => stages.getByTestId('table-csv').click());
    expect(table.text.split('\n')[0]).toMatch(/^Stage,Entered,/);
    expect(table.text).toContain(`${pipeline.stages[0]!.name},3,`);

    // A bar of the chart opens the same list as its cell.
    const bar = stages.locator('[data-testid="bar-chart"] svg [class*="-bar"] path').first();
    await bar.waitFor({ timeout: 10_000 });
    await bar.click();
    await expect.poll(() => page.getByRole('dialog').getByTestId('drill-row').count(), { timeout: 10_000 }).toBeGreaterThan(0);
    await page.keyboard.press('Escape');

    // Each figure's definition is beside it and under the table.
    await stages.getByRole('button', { name: 'What “Entered” means' }).click();
    expect(await page.getByRole('dialog', { name: 'What “Entered” means' }).textContent()).toMatch(/moved into the stage/);
    await page.keyboard.press('Escape');
    expect(await stages.locator('dl').textContent()).toMatch(/moved into the stage/);

    expect(await accessibilityViolations(page)).toEqual([]);
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    await shoot(page, 'funnel-light-1280');
    await page.setViewportSize({ width: 400, height: 900 });
    await shoot(page, 'funnel-light-400');
    // Custom dates: the range in the address and in the answer; nothing entered back then.
    await page.getByLabel('Dates', { exact: true }).selectOption('custom');
    await page.getByLabel('From', { exact: true }).fill('2020-01-01');
    await page.getByLabel('To', { exact: true }).fill('2020-01-31');
    await expect.poll(() => page.getByTestId('range-line').textContent(), { timeout: 10_000 }).toBe('Jan 1, 2020 – Jan 31, 2020 (UTC)');
    expect(Object.fromEntries(new URL(page.url()).searchParams)).toMatchObject({ range: 'custom', from: '2020-01-01', to: '2020-01-31' });
    expect(await page.getByTestId('report-table-stages').locator('td[data-column="entered"]').first().textContent()).toBe('0');
    await page.getByLabel('Dates', { exact: true }).selectOption('last30');
    await openReport(page, 'Response time');
    await page.getByRole('switch', { name: 'Business hours only' }).click();
    await expect.poll(() => new URL(page.url()).searchParams.get('business_hours')).toBe('true');
    for (const name of ['Response time', 'Vendors', 'Dispatch']) await openReport(page, name);
    expect(await accessibilityViolations(page)).toEqual([]);
    await shoot(page, 'dispatch-light-400');
    // The overview: five figures, each a link to its report (opened here, in place).
    await openReport(page, 'Overview');
    const headlines = page.getByTestId('report-table-headlines');
    expect(await headlines.getByTestId('report-row').count()).toBe(5);
    await shoot(page, 'overview-light-400');
    await headlines.getByRole('link', { name: /won/i }).first().click();
    await expect.poll(() => page.getByRole('tab', { name: 'Funnel' }).getAttribute('aria-selected')).toBe('true');
    await browser.close();
  });

  it('looks right in dark mode, wide and at sidebar width', async () => {
    const browser = await launchBrowser({ colorScheme: 'dark', width: 1280, height: 900 });
    const page = await signedIn(browser, reportsUrl('&report=funnel'));
    await openReport(page, 'Funnel');
    await page.locator('[data-testid="bar-chart"] svg').first().waitFor({ timeout: 10_000 });
    expect(await accessibilityViolations(page)).toEqual([]);
    await shoot(page, 'funnel-dark-1280');
    await page.setViewportSize({ width: 400, height: 900 });
    await openReport(page, 'Vendors');
    expect(await accessibilityViolations(page)).toEqual([]);
    await shoot(page, 'vendors-dark-400');
    await page.setViewportSize({ width: 1280, height: 900 });
    await openReport(page, 'Overview');
    await shoot(page, 'overview-dark-1280');
    await browser.close();
  });

  it('shows an agent only the reports of their own figures', async () => {
    const browser = await launchBrowser({ width: 400, height: 800 });
    const page = await signedIn(browser, reportsUrl(), 'reports-agent-token');
    expect(await page.getByRole('tab').allTextContents()).toEqual(['Overview', 'Funnel', 'Response time']);
    await openReport(page, 'Funnel');
    expect(await page.getByRole('status').filter({ hasText: 'These are your own figures' }).count()).toBe(1);
    await browser.close();
  });

  it('links the admin app’s "this week" figures to their reports', async () => {
    const browser = await launchBrowser({ width: 1280, height: 900 });
    const page = await browser.newPage();
    await page.goto(`${baseUrl}/apps/admin/?${appQuery()}`);
    await page.getByLabel('Chatwoot access token').fill('reports-admin-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const panel = page.getByTestId('this-week');
    await expect.poll(() => panel.getByTestId('report-row').count(), { timeout: 10_000 }).toBe(5);
    const funnel = panel.getByRole('link', { name: /won/i }).first();
    expect(await funnel.getAttribute('href')).toMatch(/^\/apps\/reports\/\?chatwoot=.+&report=funnel/);
    expect(await accessibilityViolations(page)).toEqual([]);
    await shoot(page, 'admin-this-week-light-1280');
    await browser.close();
  });

  it('loads the chart on demand (sizes printed, gzipped)', () => {
    const web = path.join(repoRoot, 'dist', 'web');
    const manifest = JSON.parse(fs.readFileSync(path.join(web, '.vite', 'manifest.json'), 'utf8')) as Record<string, { file: string; imports?: string[] }>;
    const reach = (key: string, seen = new Set<string>()) => {
      if (!seen.has(key) && manifest[key]) {
        seen.add(key);
        for (const child of manifest[key].imports ?? []) reach(child, seen);
      }
      return seen;
    };
    const gz = (keys: Iterable<string>) => [...keys].reduce((sum, key) => sum + gzipSync(fs.readFileSync(path.join(web, manifest[key]!.file))).length, 0);
    const page = reach('apps/reports/index.html');
    const chart = [...reach('ui/BarChart/BarChart.vue')].filter((key) => !page.has(key));
    const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
    console.log(`Reports page first JavaScript: ${kb(gz(page))} gzipped; the chart, loaded on demand: ${kb(gz(chart))} gzipped`);
    expect(chart.length).toBeGreaterThan(0);
    expect(page.has('ui/BarChart/BarChart.vue')).toBe(false);
  });
});
