// A client asks for service from a phone (390×844, touch): the category, what needs doing, the
// address already filled in from their last job, a day, two photos made smaller on the phone. The
// job appears on the dispatch board open in another browser with the "client portal" label and the
// client's preferred window, and the phone lands on the job's page: its timeline at "Received".
// Dispatch then gives the job to a vendor and the technician sets off: the open page follows live
// (on the way, first name and expected arrival). Every screen is checked with axe and
// photographed in light and dark.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startFakeChatwoot, type FakeChatwoot } from '../fakes/chatwoot.ts';
import { accessibilityViolations, launchBrowser, screenshotDir } from './browser.ts';
import { clientPerson, launchPhone, openClientPortal, vendorPerson } from './phone.ts';
import { callApi, connectChatwoot, signInToken } from './world.ts';

const baseUrl = inject('baseUrl');
const chatwootAccount = 57;
const contactId = 5701;
let chatwoot: FakeChatwoot;
let staffToken: string;
let accountId: number;
let client: { token: string; id: string };
let vendorId: string;
let photoDir: string;

async function api<T>(urlPath: string, init: { method?: string; json?: unknown } = {}) {
  const res = await callApi<T>(staffToken, urlPath, init);
  if (res.status >= 400) throw new Error(`${init.method ?? 'GET'} ${urlPath}: ${res.status} ${JSON.stringify(res.error)}`);
  return res.data;
}

/** What the phone's screen shows from the top of the page (the tab bar stays where a thumb finds it). */
async function shot(page: Page, name: string) {
  await page.evaluate(() => window.scrollTo(0, 0));
  fs.mkdirSync(screenshotDir, { recursive: true });
  await page.screenshot({ path: path.join(screenshotDir, `${name}.png`) });
}

/** The same screen scrolled to the end of the page. */
async function shotEnd(page: Page, name: string) {
  await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
  await page.screenshot({ path: path.join(screenshotDir, `${name}.png`) });
}

beforeAll(async () => {
  chatwoot = await startFakeChatwoot();
  chatwoot.addAgent({ id: 5701, name: 'Dana Dispatch', email: 'dana@fixit.test', token: 'jobs-agent-token', accounts: [{ id: chatwootAccount, name: 'Fix-It Homes', role: 'administrator' }] });
  await connectChatwoot(chatwoot, 'jobs-agent-token');
  staffToken = await signInToken(chatwoot, 'jobs-agent-token', chatwootAccount);
  accountId = (await api<{ account: { id: number } }>('/me')).account.id;
  await api('/admin/capabilities', { method: 'PATCH', json: { profile: 'construction' } });
  const vendor = await api<{ id: string }>('/vendors', { method: 'POST', json: { name: 'Able Plumbing', categories: ['plumbing', 'electrical'] } });
  vendorId = vendor.id;
  await api(`/vendors/${vendorId}/documents`, { method: 'POST', json: { kind: 'insurance', expires_on: new Date(Date.now() + 365 * 86_400_000).toISOString().slice(0, 10) } });
  // An earlier job gives the address the request form fills in.
  await api('/jobs', { method: 'POST', json: { summary: 'Annual boiler check', service_category: 'plumbing', address: '14 Willow Close, Leeds', chatwoot_contact_id: contactId } });
  client = await clientPerson(accountId, contactId, { name: 'Priya Patel', email: 'priya@example.test' });
  photoDir = fs.mkdtempSync(path.join(os.tmpdir(), 'request-photos-'));
  // Two large phone photos: the page makes them smaller before sending.
  for (const [name, color] of [['leak.jpg', '#2a6f97'], ['ceiling.jpg', '#a44a3f']] as const) {
    await sharp({ create: { width: 3000, height: 2250, channels: 3, background: color } }).jpeg({ quality: 92 }).toFile(path.join(photoDir, name));
  }
});
afterAll(async () => {
  await chatwoot.close();
  fs.rmSync(photoDir, { recursive: true, force: true });
});

const boardUrl = () => `${baseUrl}/apps/dispatch/?chatwoot=${encodeURIComponent(chatwoot.url)}&account=${chatwootAccount}`;

describe('asking for service from a phone', () => {
  let staff: BrowserContext;
  let board: Page;
  let phone: BrowserContext;
  let page: Page;
  let jobId: string;

  beforeAll(async () => {
    staff = await launchBrowser({ width: 1400, height: 900 });
    board = await staff.newPage();
    await board.goto(boardUrl());
    await board.getByLabel('Chatwoot access token').fill('jobs-agent-token');
    await board.getByRole('button', { name: 'Sign in' }).click();
    await board.getByTestId('job-card').first().waitFor({ timeout: 15_000 });
    phone = await launchPhone(client.token, 'light');
  });
  afterAll(async () => {
    await phone?.close();
    await staff?.close();
  });

  it('lists the client’s jobs', async () => {
    page = await openClientPortal(phone, '/jobs');
    await page.getByTestId('open-jobs').getByText('Annual boiler check').waitFor({ timeout: 15_000 });
    expect(await page.getByTestId('client-job-card').first().getByTestId('job-stage').textContent()).toContain('Received');
    expect(await accessibilityViolations(page)).toEqual([]);
    await shot(page, 'client-portal-jobs-light');
  });

  it('sends a request with two photos: it is on the dispatch board at once, and the phone shows its timeline', async () => {
    await page.getByTestId('ask-for-service').click();
    await page.getByRole('heading', { name: 'Ask for service' }).waitFor();
    // The address of the last job is filled in; the categories are the vendors'.
    await expect.poll(() => page.getByLabel('Address').inputValue(), { timeout: 10_000 }).toBe('14 Willow Close, Leeds');
    await page.getByLabel('What kind of service?').selectOption('plumbing');
    await page.getByLabel('What needs doing?').fill('Water is dripping through the kitchen ceiling under the bathroom.');
    const tomorrow = new Date(Date.now() + 86_400_000);
    const day = `${tomorrow.getFullYear()}-${String(tomorrow.getMonth() + 1).padStart(2, '0')}-${String(tomorrow.getDate()).padStart(2, '0')}`;
    await page.getByLabel('Day').fill(day);
    await page.getByLabel('Time of day').selectOption('morning');
    await page.getByTestId('request-photo-input').setInputFiles([path.join(photoDir, 'leak.jpg'), path.join(photoDir, 'ceiling.jpg')]);
    await expect.poll(() => page.getByTestId('request-photos').locator('img').count(), { timeout: 15_000 }).toBe(2);
    expect(await accessibilityViolations(page)).toEqual([]);
    await shot(page, 'client-portal-request-light');
    await shotEnd(page, 'client-portal-request-photos-light');

    await page.getByTestId('send-request').click();
    await page.waitForURL(/\/portal\/client\/jobs\/[0-9a-f-]{36}/, { timeout: 20_000 });
    jobId = /jobs\/([0-9a-f-]{36})/.exec(page.url())![1]!;

    // The board follows the account live: the new job is there, labelled, without a reload.
    const card = board.getByTestId('job-card').filter({ hasText: 'Water is dripping' });
    await expect.poll(() => card.count(), { timeout: 2_000 }).toBe(1);
    expect(await card.getByTestId('job-source').textContent()).toContain('From the client portal');
    await card.click();
    const prefers = board.getByTestId('client-prefers');
    await prefers.waitFor();
    expect(await prefers.textContent()).toMatch(/^Client prefers .+ – .+$/);
    expect(await accessibilityViolations(board)).toEqual([]);
    await board.screenshot({ path: path.join(screenshotDir, 'dispatch-portal-request-drawer.png') });

    // The phone: thanks, "Received", the timeline, the two photos (made smaller on the phone).
    await page.getByText(/We received your request J-\d+/).waitFor();
    expect(await page.getByTestId('job-stage').textContent()).toContain('Received');
    const steps = page.getByTestId('job-timeline').locator('li');
    expect(await steps.count()).toBe(5);
    expect(await steps.first().getAttribute('aria-current')).toBe('step');
    await expect.poll(() => page.getByTestId('job-photos').locator('img').count()).toBe(2);
    const files = await callApi<Array<{ width: number; height: number; visibility: string }>>(staffToken, `/jobs/${jobId}/artifacts`);
    expect(files.data.map((f) => [f.visibility, Math.max(f.width, f.height)])).toEqual([['client_visible', 2048], ['client_visible', 2048]]);
    expect(await accessibilityViolations(page)).toEqual([]);
    await shot(page, 'client-portal-job-received-light');
    await shotEnd(page, 'client-portal-job-received-files-light');
  });

  it('follows the job live: given to a vendor, the technician on the way with the expected arrival', async () => {
    const tech = await vendorPerson(accountId, vendorId, { name: 'Tomasz Nowak', email: 'tomasz@able.test', role: 'technician' });
    await api(`/jobs/${jobId}/assignment`, { method: 'POST', json: { vendor_id: vendorId } });
    await api(`/jobs/${jobId}/technician`, { method: 'PUT', json: { technician_id: tech.id } });
    await expect.poll(() => page.getByTestId('job-stage').textContent(), { timeout: 10_000 }).toContain('Scheduled');
    expect(await page.getByTestId('job-technician').textContent()).toBe('Tomasz');
    expect(await page.getByTestId('job-cancel').count()).toBe(0);
    const eta = new Date(Date.now() + 35 * 60_000);
    await api(`/jobs/${jobId}/en-route`, { method: 'POST', json: { eta: eta.toISOString() } });
    await expect.poll(() => page.getByTestId('job-stage').textContent(), { timeout: 10_000 }).toContain('On the way');
    expect(await page.getByTestId('job-eta').textContent()).toContain('Tomasz is on the way, expected at');
    expect(await accessibilityViolations(page)).toEqual([]);
    await shot(page, 'client-portal-job-on-the-way-light');
    // "Message us about this job" opens the job's conversation: the thread the request started.
    await page.getByTestId('job-message').click();
    await page.waitForURL(/\/portal\/client\/messages\/[0-9a-f-]{36}/, { timeout: 15_000 });
    const threads = await callApi<Array<{ id: string }>>(client.token, `/portal/client/threads?job_id=${jobId}`);
    expect(page.url()).toContain(`/messages/${threads.data[0]!.id}`);
  });

  it('cancels a request nobody has yet', async () => {
    const made = await callApi<{ id: string }>(client.token, '/portal/client/requests', { method: 'POST', json: { id: crypto.randomUUID(), description: 'Garden tap frozen', address: '14 Willow Close, Leeds' } });
    expect(made.status).toBe(201);
    await page.goto(`${baseUrl}/portal/client/jobs/${made.data.id}`);
    await page.getByTestId('job-cancel').click();
    await page.getByLabel('Why? (optional)').fill('A neighbour fixed it');
    expect(await accessibilityViolations(page)).toEqual([]);
    await shot(page, 'client-portal-job-cancel-light');
    await page.getByTestId('confirm-cancel').click();
    await expect.poll(() => page.getByTestId('job-stage').textContent()).toContain('Canceled');
    expect(await page.getByTestId('job-cancel').count()).toBe(0);
    const staffView = await api<{ status: string; cancel_reason: string }>(`/jobs/${made.data.id}`);
    expect(staffView).toMatchObject({ status: 'canceled', cancel_reason: 'Canceled by the client: A neighbour fixed it' });
  });

  it('keeps a request written without signal, even through a reload, and sends it once the phone is back online', async () => {
    await page.goto(`${baseUrl}/portal/client/request`);
    await page.getByRole('heading', { name: 'Ask for service' }).waitFor({ timeout: 15_000 });
    await page.getByLabel('What needs doing?').fill('Hall light flickers');
    await phone.setOffline(true);
    await page.getByTestId('send-request').click();
    const kept = page.getByTestId('request-notice').getByText(/kept on this phone/);
    await kept.waitFor();
    await shot(page, 'client-portal-request-offline-light');
    await page.reload();
    await kept.waitFor({ timeout: 15_000 });
    expect(await page.getByLabel('What needs doing?').inputValue()).toBe('Hall light flickers');
    await phone.setOffline(false);
    await page.waitForURL(/\/portal\/client\/jobs\/[0-9a-f-]{36}/, { timeout: 20_000 });
    const open = await callApi<Array<{ summary: string }>>(client.token, '/portal/client/jobs?scope=open');
    expect(open.data.filter((j) => j.summary === 'Hall light flickers')).toHaveLength(1);
  });

  it('reads well in dark mode', async () => {
    const dark = await launchPhone(client.token, 'dark');
    try {
      const darkPage = await openClientPortal(dark, '/jobs');
      await darkPage.getByTestId('past-jobs').getByText('Garden tap frozen').waitFor({ timeout: 15_000 });
      expect(await accessibilityViolations(darkPage)).toEqual([]);
      await shot(darkPage, 'client-portal-jobs-dark');
      await darkPage.goto(`${baseUrl}/portal/client/jobs/${jobId}`);
      await darkPage.getByTestId('job-eta').waitFor({ timeout: 15_000 });
      expect(await accessibilityViolations(darkPage)).toEqual([]);
      await shot(darkPage, 'client-portal-job-on-the-way-dark');
      await shotEnd(darkPage, 'client-portal-job-on-the-way-files-dark');
      await darkPage.goto(`${baseUrl}/portal/client/request`);
      await darkPage.getByRole('heading', { name: 'Ask for service' }).waitFor({ timeout: 15_000 });
      expect(await accessibilityViolations(darkPage)).toEqual([]);
      await shot(darkPage, 'client-portal-request-dark');
    } finally {
      await dark.close();
    }
  });
});
