// The vendor portal on a phone (Pixel 7-like: touch, 390×844): invited by dispatch, signed in with
// the code from the e-mail, an offer accepted, the whole job done (on my way, start with the
// location, ticks, a photo, completion refused until the last item is done), then the same with
// no signal: ticks and a note survive a reload offline and reach the server once each, in order,
// with the phone's times. This file runs its own server (with a loopback SMTP server as its mail
// service) so the test can read the sign-in codes the server sends.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { chromium, devices, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeChatwoot, type FakeChatwoot } from '../fakes/chatwoot.ts';
import { freePort } from '../helpers/ports.ts';
import { spawnIn, spawnServer, waitForReady, type Spawned } from '../helpers/processes.ts';
import { startTestSmtp, type TestSmtp } from '../helpers/smtp.ts';
import { accessibilityViolations, chromiumPath, screenshotDir } from './browser.ts';

let chatwoot: FakeChatwoot;
let smtp: TestSmtp;
let server: Spawned;
let baseUrl: string;
let dataDir: string;
let staffToken: string;
let accountId: number;
let vendorId: string;
const ownerEmail = 'pat@plumbfix.test';

async function api<T = unknown>(urlPath: string, init: { method?: string; json?: unknown } = {}) {
  const response = await fetch(`${baseUrl}/api/v1${urlPath}`, {
    method: init.method ?? 'GET',
    headers: { Authorization: `Bearer ${staffToken}`, 'Content-Type': 'application/json' },
    body: init.json === undefined ? undefined : JSON.stringify(init.json),
  });
  const body = (await response.json()) as { data: T; error?: { code: string; message: string } };
  if (!response.ok) throw new Error(`${init.method ?? 'GET'} ${urlPath}: ${response.status} ${JSON.stringify(body.error)}`);
  return body.data;
}

/** The newest sign-in e-mail to `address` after `seen` mails: its code and its link. */
async function signInMail(address: string, seen: number) {
  await expect.poll(() => smtp.mails.slice(seen).filter((m) => m.to.includes(address)).length, { timeout: 10_000 }).toBeGreaterThan(0);
  const raw = smtp.mails.slice(seen).filter((m) => m.to.includes(address)).at(-1)!.raw.replace(/=\r?\n/g, '');
  const code = /(\d{6}) is your sign-in code/.exec(raw)?.[1];
  const link = /(http:\/\/\S+\/portal\/vendor\/sign-in\S*#token=[A-Za-z0-9_=-]+)/.exec(raw)?.[1]?.replace(/=3D/g, '=');
  if (!code || !link) throw new Error(`no code or link in the mail:\n${raw}`);
  return { code, link };
}

/** What the phone's screen shows (390×844, from the top): the tab bar stays where a thumb finds it. */
async function screenshot(page: Page, name: string) {
  await page.evaluate(() => window.scrollTo(0, 0));
  fs.mkdirSync(screenshotDir, { recursive: true });
  await page.screenshot({ path: path.join(screenshotDir, `${name}.png`) });
}

async function launchPhone(colorScheme: 'light' | 'dark' = 'light'): Promise<BrowserContext> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'onelink-phone-'));
  const { defaultBrowserType: _type, ...pixel } = devices['Pixel 7']!;
  const context = await chromium.launchPersistentContext(profile, {
    ...pixel,
    viewport: { width: 390, height: 844 },
    executablePath: chromiumPath(),
    headless: true,
    colorScheme,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  context.once('close', () => fs.rm(profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 }, () => {}));
  return context;
}

/** A job for the vendor with the three-item checklist and the required "after" photo. */
/** A job whose visit window began a quarter of an hour ago: on the Today tab at any hour (a window starting later could fall after midnight). */
async function newJob(summary: string) {
  const starts = new Date(Date.now() - 15 * 60_000);
  const job = await api<{ id: string; reference: string }>('/jobs', {
    method: 'POST',
    json: { summary, priority: 'high', service_category: 'plumbing', address: '12 Rosebery Avenue, London', postal_code: 'EC1R 4TD', window_starts_at: starts.toISOString(), window_ends_at: new Date(starts.getTime() + 2 * 3600_000).toISOString() },
  });
  return job;
}

type StaffJob = { status: string; checklist: Array<{ id: string; label: string; done_at: string | null }>; events: Array<{ id: number; kind: string; data: Record<string, unknown>; occurred_at: string }> };
const staffJob = (jobId: string) => api<StaffJob>(`/jobs/${jobId}`);

async function signInByCode(page: Page, shots = false) {
  await page.goto(`${baseUrl}/portal/vendor/sign-in?account=${accountId}`);
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await page.getByLabel('Your e-mail address').fill(ownerEmail);
  const seen = smtp.mails.length;
  await page.getByRole('button', { name: 'Send the code' }).tap();
  const { code } = await signInMail(ownerEmail, seen);
  await page.getByLabel('6-digit code').waitFor();
  if (shots) {
    expect(await accessibilityViolations(page)).toEqual([]);
    await screenshot(page, 'vendor-portal-sign-in-code-light');
  }
  await page.getByLabel('6-digit code').fill(code);
  await page.getByRole('button', { name: 'Sign in' }).tap();
  await page.getByRole('heading', { name: 'Jobs' }).waitFor();
}

beforeAll(async () => {
  smtp = await startTestSmtp();
  chatwoot = await startFakeChatwoot();
  chatwoot.addAgent({ id: 71, name: 'Dana Dispatch', email: 'dana@acme.test', token: 'portal-admin-token', accounts: [{ id: 21, name: 'Acme Home Services', role: 'administrator' }] });
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'onelink-portal-e2e-'));
  const port = await freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  server = spawnServer({
    PORT: String(port),
    HOST: '127.0.0.1',
    PUBLIC_URL: baseUrl,
    ONELINK_DATA_DIR: dataDir,
    ONELINK_EMBEDDED_PG_PORT: String(await freePort()),
    ONELINK_SIGN_IN_ATTEMPTS_PER_MINUTE: '1000',
    SMTP_URL: smtp.url,
    LOG_LEVEL: 'warn',
  });
  await waitForReady(baseUrl, server);
  const cli = spawnIn('npm', ['run', '--silent', 'onelink', '--', 'installation', 'add', '--chatwoot-url', chatwoot.url, '--token', 'portal-admin-token'], { ONELINK_DATA_DIR: dataDir });
  expect((await cli.exited).code, cli.output()).toBe(0);
  const signIn = await fetch(`${baseUrl}/api/v1/auth/chatwoot`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ access_token: 'portal-admin-token', chatwoot_url: chatwoot.url, account_id: 21 }),
  });
  const session = ((await signIn.json()) as { data: { token: string; account_id: number } }).data;
  staffToken = session.token;
  accountId = session.account_id;
  await api('/admin/capabilities', { method: 'PATCH', json: { profile: 'construction' } });
  await api('/checklist-templates', {
    method: 'POST',
    json: {
      name: 'Valve swap',
      service_category: 'plumbing',
      items: [{ label: 'Water shut off' }, { label: 'Valve replaced' }, { label: 'No leaks after 10 minutes' }],
      required_photos: [{ tag: 'after', label: 'After photo', min: 1 }],
    },
  });
  const vendor = await api<{ id: string }>('/vendors', { method: 'POST', json: { name: 'PlumbFix Ltd', categories: ['plumbing'], base_lat: 51.5, base_lng: -0.12, radius_km: 30 } });
  vendorId = vendor.id;
  await api(`/vendors/${vendorId}/documents`, { method: 'POST', json: { kind: 'insurance', expires_on: '2099-01-01' } });
  await api(`/vendors/${vendorId}/users`, { method: 'POST', json: { name: 'Pat Plumber', email: ownerEmail, role: 'owner' } });
}, 180_000);

afterAll(async () => {
  await chatwoot?.close();
  if (server) {
    server.child.kill('SIGTERM');
    await server.exited;
  }
  await smtp?.close();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('the vendor portal on a phone', () => {
  it('signs in by code, takes an offer and does the whole job; dispatch sees every step', async () => {
    const phone = await launchPhone();
    await phone.grantPermissions(['geolocation'], { origin: baseUrl });
    await phone.setGeolocation({ latitude: 51.5033, longitude: -0.1196, accuracy: 12 });
    const page = await phone.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));

    await page.goto(`${baseUrl}/portal/vendor/sign-in?account=${accountId}`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    expect(await accessibilityViolations(page)).toEqual([]);
    await screenshot(page, 'vendor-portal-sign-in-light');
    await signInByCode(page, true);

    // Dispatch offers a job; the open portal hears of it and shows it under Offered.
    const job = await newJob('Leaking valve under the sink');
    await api(`/jobs/${job.id}/offers`, { method: 'POST', json: { vendor_id: vendorId, answer_minutes: 30 } });
    await page.getByRole('tab', { name: 'Offered' }).tap();
    const offer = page.locator(`article[data-job="${job.reference}"]`);
    await offer.waitFor({ timeout: 15_000 });
    expect(await offer.getByRole('timer').textContent()).toMatch(/^(29|30):\d\d left$/);
    expect(await accessibilityViolations(page)).toEqual([]);
    await screenshot(page, 'vendor-portal-offered-light');
    await offer.getByRole('button', { name: 'Accept' }).tap();
    await expect.poll(async () => (await staffJob(job.id)).status, { timeout: 10_000 }).toBe('assigned');

    await page.getByRole('tab', { name: 'Today' }).tap();
    const card = page.locator(`article[data-job="${job.reference}"]`);
    await card.waitFor({ timeout: 10_000 });
    expect(await card.textContent()).toContain('Checklist 0/3');
    await screenshot(page, 'vendor-portal-today-light');
    await card.getByRole('link', { name: new RegExp(job.reference) }).tap();
    await page.getByRole('heading', { name: 'Leaking valve under the sink' }).waitFor();

    // On my way, in 30 minutes.
    await page.getByRole('button', { name: 'On my way' }).tap();
    await page.getByRole('radio', { name: 'In 30 min' }).tap();
    await page.getByRole('button', { name: 'Tell dispatch' }).tap();
    await expect.poll(async () => (await staffJob(job.id)).events.filter((e) => e.kind === 'en_route').length, { timeout: 10_000 }).toBe(1);

    // Start, sharing the location (the browser's answer: granted, 12 m).
    await page.getByRole('button', { name: 'Start the job' }).tap();
    expect(await accessibilityViolations(page)).toEqual([]);
    await page.getByRole('button', { name: 'Share location and start' }).tap();
    await expect.poll(async () => (await staffJob(job.id)).status, { timeout: 10_000 }).toBe('in_progress');
    const started = (await staffJob(job.id)).events.find((e) => e.kind === 'started')!;
    expect(started.data).toMatchObject({ offline: false, location: { lat: 51.5033, lng: -0.1196, accuracy_m: 12 } });

    // Two of three ticks, then completion: refused, naming what is missing.
    await page.getByRole('checkbox', { name: /Water shut off/ }).tap();
    await page.getByRole('checkbox', { name: /Valve replaced/ }).tap();
    await expect.poll(async () => (await staffJob(job.id)).checklist.filter((i) => i.done_at).length, { timeout: 10_000 }).toBe(2);
    await page.getByRole('button', { name: 'Mark completed' }).tap();
    const refused = page.getByTestId('refused-action').first();
    await refused.waitFor({ timeout: 10_000 });
    expect(await refused.textContent()).toContain('Checklist: No leaks after 10 minutes');
    expect(await refused.textContent()).toContain('Photo: After photo');
    expect(await accessibilityViolations(page)).toEqual([]);
    await screenshot(page, 'vendor-portal-job-refused-light');
    expect((await staffJob(job.id)).status).toBe('in_progress');
    await refused.getByRole('button', { name: 'Discard' }).first().tap();
    await expect.poll(() => page.getByTestId('refused-action').count()).toBe(0);

    // No signal: the last tick, the "after" photo and completion wait on the phone. Back online,
    // completion is sent only once the photo is up (else the server would refuse it again).
    await phone.setOffline(true);
    await page.getByRole('checkbox', { name: /No leaks after 10 minutes/ }).tap();
    const photo = await sharp({ create: { width: 1200, height: 900, channels: 3, background: '#3a7bd5' } }).jpeg().toBuffer();
    await page.locator('input[data-input="camera"]').setInputFiles({ name: 'after.jpg', mimeType: 'image/jpeg', buffer: photo });
    await page.locator('li[data-client-id]').first().waitFor({ timeout: 15_000 });
    await page.getByRole('button', { name: 'Mark completed' }).tap();
    await expect.poll(() => page.getByTestId('pending-changes').textContent()).toContain('2 changes waiting for signal');
    await screenshot(page, 'vendor-portal-job-waiting-photo-light');
    await phone.setOffline(false);
    await expect.poll(async () => (await staffJob(job.id)).status, { timeout: 30_000 }).toBe('completed');
    expect((await api<{ artifacts: Array<{ tag: string | null }> }>(`/jobs/${job.id}`)).artifacts.filter((a) => a.tag === 'after')).toHaveLength(1);
    await expect.poll(() => page.getByTestId('job-status').textContent()).toBe('Completed');
    expect(await page.getByTestId('refused-action').count()).toBe(0);

    // Dispatch's copy holds each step once, in the order taken.
    const events = (await staffJob(job.id)).events;
    const kinds = events.map((e) => e.kind);
    const completedAt = events.findIndex((e) => e.kind === 'status_changed' && e.data.to === 'completed');
    const order = [kinds.indexOf('en_route'), kinds.indexOf('started'), kinds.indexOf('checklist_item_done'), kinds.lastIndexOf('checklist_item_done'), completedAt];
    expect(order.every((at) => at >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(kinds.filter((k) => k === 'checklist_item_done')).toHaveLength(3);
    expect(errors).toEqual([]);
    await phone.close();
  });

  it('keeps ticks and a note made offline through a reload, and sends them once each, in order, with the phone’s times', async () => {
    const job = await newJob('Dripping outside tap');
    await api(`/jobs/${job.id}/assignment`, { method: 'POST', json: { vendor_id: vendorId } });
    const phone = await launchPhone();
    const page = await phone.newPage();
    await signInByCode(page);
    // The service worker takes the portal over (clientsClaim) and has cached the shell.
    await expect.poll(() => page.evaluate(async () => !!(await navigator.serviceWorker.ready) && !!navigator.serviceWorker.controller), { timeout: 20_000 }).toBe(true);
    await page.locator(`article[data-job="${job.reference}"]`).getByRole('link', { name: new RegExp(job.reference) }).tap();
    await page.getByRole('heading', { name: 'Dripping outside tap' }).waitFor();

    await phone.setOffline(true);
    const before = Date.now();
    await page.getByRole('checkbox', { name: /Water shut off/ }).tap();
    await page.getByRole('checkbox', { name: /Valve replaced/ }).tap();
    await page.getByLabel('Note to dispatch').fill('Neighbour has the key to the side gate');
    await page.getByRole('button', { name: 'Send note' }).tap();
    await expect.poll(() => page.getByTestId('pending-changes').textContent()).toContain('3 changes waiting for signal');
    expect(await accessibilityViolations(page)).toEqual([]);
    await screenshot(page, 'vendor-portal-offline-light');

    await page.reload();
    await page.getByRole('heading', { name: 'Dripping outside tap' }).waitFor({ timeout: 15_000 });
    expect(await page.getByTestId('pending-changes').textContent()).toContain('3 changes waiting for signal');
    expect(await page.getByRole('checkbox', { name: /Water shut off/ }).isChecked()).toBe(true);
    expect(await page.getByRole('checkbox', { name: /Valve replaced/ }).isChecked()).toBe(true);
    expect(await page.getByRole('checkbox', { name: /No leaks/ }).isChecked()).toBe(false);
    expect(await page.getByText('Neighbour has the key to the side gate').isVisible()).toBe(true);
    // Nothing reached the server meanwhile.
    expect((await staffJob(job.id)).checklist.filter((i) => i.done_at)).toHaveLength(0);
    // Today's jobs open offline too, from the phone's copy, with the waiting ticks counted.
    await page.getByRole('link', { name: 'Back to jobs' }).tap();
    const offlineCard = page.locator(`article[data-job="${job.reference}"]`);
    await offlineCard.waitFor({ timeout: 10_000 });
    expect(await offlineCard.textContent()).toContain('Checklist 2/3');
    expect(await page.getByText('Shown from this phone').isVisible()).toBe(true);
    await offlineCard.getByRole('link', { name: new RegExp(job.reference) }).tap();
    await page.getByRole('heading', { name: 'Dripping outside tap' }).waitFor();

    const backOnline = Date.now();
    await phone.setOffline(false);
    await expect.poll(() => page.getByTestId('pending-changes').textContent(), { timeout: 20_000 }).toBe('');
    const events = (await staffJob(job.id)).events.filter((e) => e.kind === 'checklist_item_done' || e.kind === 'vendor_note');
    expect(events.map((e) => [e.kind, e.data.label ?? e.data.text])).toEqual([
      ['checklist_item_done', 'Water shut off'],
      ['checklist_item_done', 'Valve replaced'],
      ['vendor_note', 'Neighbour has the key to the side gate'],
    ]);
    const deviceTimes = events.map((e) => new Date(String(e.data.device_time)).getTime());
    expect(events.every((e) => e.data.offline === true)).toBe(true);
    expect(deviceTimes.every((at) => at >= before - 1000 && at <= backOnline)).toBe(true);
    expect([...deviceTimes].sort((a, b) => a - b)).toEqual(deviceTimes);
    await phone.close();
  });

  it('opens from the sign-in link, and every screen is accessible and looked at, light and dark', async () => {
    for (const scheme of ['light', 'dark'] as const) {
      const phone = await launchPhone(scheme);
      const page = await phone.newPage();
      const seen = smtp.mails.length;
      await fetch(`${baseUrl}/api/v1/portal/vendor/sign-in`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ account: accountId, email: ownerEmail }) });
      const { link } = await signInMail(ownerEmail, seen);
      await page.goto(`${baseUrl}/portal/vendor/sign-in?account=${accountId}`);
      await page.getByRole('heading', { name: 'Sign in' }).waitFor();
      expect(await accessibilityViolations(page)).toEqual([]);
      await screenshot(page, `vendor-portal-sign-in-${scheme}`);
      // Opened on the sign-in page itself: only the fragment changes, and the portal still follows it.
      await page.goto(link);
      await page.getByRole('heading', { name: 'Jobs' }).waitFor({ timeout: 15_000 });
      expect(page.url()).not.toContain('token=');
      const shots: Array<[string, () => Promise<void>]> = [
        ['jobs-today', async () => page.getByRole('tab', { name: 'Today' }).tap()],
        ['jobs-done', async () => page.getByRole('tab', { name: 'Done' }).tap()],
        ['job', async () => {
          await page.getByRole('tab', { name: 'Today' }).tap();
          await page.getByRole('link', { name: /Dripping outside tap/ }).tap();
          await page.getByRole('heading', { name: 'Checklist' }).waitFor();
        }],
        ['messages', async () => {
          await page.getByRole('link', { name: /Messages with dispatch/ }).tap();
          await page.getByRole('heading', { name: 'Messages with dispatch' }).waitFor();
        }],
        ['business', async () => page.getByRole('link', { name: 'Business' }).tap()],
        ['team', async () => page.getByRole('link', { name: 'Team' }).tap()],
        ['account', async () => {
          await page.getByRole('link', { name: 'Account' }).tap();
          await page.getByTestId('account-name').waitFor();
        }],
        ['jobs-no-signal', async () => {
          await phone.setOffline(true);
          await page.getByRole('link', { name: 'Jobs' }).tap();
          await expect.poll(() => page.getByTestId('pending-changes').textContent()).toContain('No connection');
        }],
      ];
      for (const [name, open] of shots) {
        await open();
        if (name !== 'jobs-no-signal') await page.waitForLoadState('networkidle');
        expect(await accessibilityViolations(page), `${name} ${scheme}`).toEqual([]);
        await screenshot(page, `vendor-portal-${name}-${scheme}`);
      }
      await phone.close();
    }
  });
});
