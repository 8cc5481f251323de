// The client portal's shell on a phone (Pixel 7-like: touch, 390×844): a client opens the sign-in
// link staff sent and lands at home; the same link again gives the friendly "link used" page, from
// which a new code comes by e-mail and signs them in; on the account page a new phone number
// reaches the Chatwoot contact, and "sign out everywhere" ends every session; offline, a reload
// still shows the shell. Every shell screen is checked with axe and photographed, light and dark.
// This file runs its own server (with a loopback SMTP server as its mail service) so the test can
// read the sign-in codes the server sends.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeChatwoot, type FakeChatwoot, type FakeContact } from '../fakes/chatwoot.ts';
import { freePort } from '../helpers/ports.ts';
import { spawnIn, spawnServer, waitForReady, type Spawned } from '../helpers/processes.ts';
import { startTestSmtp, type TestSmtp } from '../helpers/smtp.ts';
import { accessibilityViolations, screenshotDir } from './browser.ts';
import { launchPhone } from './phone.ts';

let chatwoot: FakeChatwoot;
let smtp: TestSmtp;
let server: Spawned;
let baseUrl: string;
let dataDir: string;
let staffToken: string;
let accountId: number;
const business = 'Acme Home Services';

async function api<T = unknown>(urlPath: string, init: { method?: string; json?: unknown; token?: string } = {}) {
  const response = await fetch(`${baseUrl}/api/v1${urlPath}`, {
    method: init.method ?? 'GET',
    headers: { Authorization: `Bearer ${init.token ?? staffToken}`, 'Content-Type': 'application/json' },
    body: init.json === undefined ? undefined : JSON.stringify(init.json),
  });
  const body = (await response.json()) as { data: T; error?: { code: string; message: string } };
  if (!response.ok) throw new Error(`${init.method ?? 'GET'} ${urlPath}: ${response.status} ${JSON.stringify(body.error)}`);
  return body.data;
}

interface Client { id: string; email: string; contact: FakeContact }
let clientSeq = 0;
/** A Chatwoot contact with a client portal account (each test its own: staff may issue 5 links per person per 15 minutes). */
async function newClient(phone = `+1415555${String(100 + clientSeq).padStart(4, '0')}`): Promise<Client> {
  clientSeq += 1;
  const email = `robin${clientSeq}@client.test`;
  const contact = chatwoot.addContact({ accountId: 21, name: 'Robin Client', email, phone_number: phone });
  const { id } = await api<{ id: string }>('/portal/clients', { method: 'POST', json: { chatwoot_contact_id: contact.id, name: 'Robin Client', email, phone } });
  return { id, email, contact };
}

/** A fresh sign-in link for the client, as staff issue it. */
const newLink = async (client: Client) => (await api<{ url: string }>(`/portal/clients/${client.id}/magic-links`, { method: 'POST' })).url;

/** The newest sign-in e-mail to `address` after `seen` mails: its code. */
async function signInCode(address: string, seen: number) {
  await expect.poll(() => smtp.mails.slice(seen).filter((m) => m.to.includes(address)).length, { timeout: 10_000 }).toBeGreaterThan(0);
  const raw = smtp.mails.slice(seen).filter((m) => m.to.includes(address)).at(-1)!.raw.replace(/=\r?\n/g, '');
  const code = /(\d{6}) is your sign-in code/.exec(raw)?.[1];
  if (!code) throw new Error(`no code in the mail:\n${raw}`);
  return code;
}

/** What the phone's screen shows (390×844, from the top): the tab bar stays where a thumb finds it. */
async function screenshot(page: Page, name: string, fullPage = false) {
  await page.evaluate(() => window.scrollTo(0, 0));
  fs.mkdirSync(screenshotDir, { recursive: true });
  await page.screenshot({ path: path.join(screenshotDir, `${name}.png`), fullPage });
}

/** Opens the link and waits for the signed-in shell (the business's name on top, the tab bar). */
async function openLink(page: Page, link: string) {
  await page.goto(link);
  await page.getByTestId('business-name').waitFor({ timeout: 15_000 });
  expect(await page.getByTestId('business-name').textContent()).toBe(business);
  expect(page.url()).not.toContain('token=');
}

/** Waits until the portal's own service worker controls the page (so it opens offline). */
async function workerControls(page: Page) {
  await page.evaluate(() => Promise.race([navigator.serviceWorker?.ready, new Promise((resolve) => setTimeout(resolve, 10_000))]));
  if (!(await page.evaluate(() => !!navigator.serviceWorker?.controller))) await page.reload();
  await expect.poll(() => page.evaluate(() => navigator.serviceWorker?.controller?.scriptURL ?? ''), { timeout: 15_000 }).toBe(`${baseUrl}/portal/client/sw.js`);
}

beforeAll(async () => {
  smtp = await startTestSmtp();
  chatwoot = await startFakeChatwoot();
  chatwoot.addAgent({ id: 71, name: 'Dana Dispatch', email: 'dana@acme.test', token: 'client-portal-admin', accounts: [{ id: 21, name: business, role: 'administrator' }] });
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'onelink-client-portal-e2e-'));
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
  const cli = spawnIn('npm', ['run', '--silent', 'onelink', '--', 'installation', 'add', '--chatwoot-url', chatwoot.url, '--token', 'client-portal-admin'], { ONELINK_DATA_DIR: dataDir });
  expect((await cli.exited).code, cli.output()).toBe(0);
  const signIn = await fetch(`${baseUrl}/api/v1/auth/chatwoot`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ access_token: 'client-portal-admin', chatwoot_url: chatwoot.url, account_id: 21 }),
  });
  const session = ((await signIn.json()) as { data: { token: string; account_id: number } }).data;
  staffToken = session.token;
  accountId = session.account_id;
  await api('/admin/capabilities', { method: 'PATCH', json: { profile: 'construction' } });
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

describe('the client portal shell on a phone', () => {
  it('signs in with the link; the same link again gives the friendly page, and a new code by e-mail signs in', async () => {
    const client = await newClient();
    const link = await newLink(client);
    const phone = await launchPhone(null);
    const page = await phone.newPage();
    await openLink(page, link);
    expect(new URL(page.url()).pathname).toBe('/portal/client/');
    await expect.poll(() => page.getByRole('navigation', { name: 'Portal sections' }).getByRole('link').allTextContents()).toEqual(['Messages', 'Jobs', 'Account']);
    await phone.close();

    // Another phone opens the same (now used) link.
    const other = await launchPhone(null);
    const page2 = await other.newPage();
    await page2.goto(link);
    await page2.getByRole('heading', { name: 'This link has already been used or has expired' }).waitFor({ timeout: 15_000 });
    expect(page2.url()).not.toContain('token=');
    expect(await accessibilityViolations(page2)).toEqual([]);
    await page2.getByRole('button', { name: 'Send me a new link' }).tap();
    // The account came with the link: only the address is asked.
    expect(await page2.getByLabel('Account number').count()).toBe(0);
    await page2.getByLabel('Your e-mail address').fill(client.email);
    const seen = smtp.mails.length;
    await page2.getByRole('button', { name: 'Send me a code' }).tap();
    const code = await signInCode(client.email, seen);
    await page2.getByLabel('6-digit code').fill(code);
    await page2.getByRole('button', { name: 'Sign in' }).tap();
    await page2.getByTestId('business-name').waitFor({ timeout: 15_000 });
    expect(new URL(page2.url()).pathname).toBe('/portal/client/');
    await other.close();
  });

  it('changes the phone number (it reaches the Chatwoot contact), then signs out everywhere', async () => {
    const client = await newClient('+14155550111');
    const phone = await launchPhone(null);
    const page = await phone.newPage();
    await openLink(page, await newLink(client));
    // A second device of the same person.
    const elsewhere = (await (await fetch(`${baseUrl}/api/v1/portal/client/sessions`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ token: /#token=(.+)$/.exec(await newLink(client))![1] }) })).json()) as {
      data: { token: string };
    };
    await page.getByRole('link', { name: 'Account' }).tap();
    await page.getByRole('heading', { name: 'My details' }).waitFor();
    const field = page.getByLabel('Mobile number');
    await expect.poll(() => field.inputValue()).toBe('+14155550111');
    await field.fill('+14155550122');
    await page.getByRole('button', { name: 'Save my details' }).tap();
    await page.getByText('Saved.').waitFor();
    await expect.poll(() => chatwoot.contacts.find((c) => c.id === client.contact.id)?.phone_number, { timeout: 15_000 }).toBe('+14155550122');
    await expect.poll(() => page.getByTestId('sessions').getByRole('listitem').count()).toBe(2);
    expect(await page.getByTestId('sessions').textContent()).toContain('This device');

    const meElsewhere = () => fetch(`${baseUrl}/api/v1/me`, { headers: { Cookie: `onelink_session=${elsewhere.data.token}`, 'X-Requested-With': 'onelink' } });
    expect((await meElsewhere()).status).toBe(200);
    await page.getByRole('button', { name: 'Sign out everywhere' }).tap();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    expect((await meElsewhere()).status).toBe(401);
    // This phone too: back in, it asks to sign in.
    await page.goto(`${baseUrl}/portal/client/account`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await phone.close();
  });

  it('shows the Quotes tab as soon as the business shares a quote, without a reload', async () => {
    const client = await newClient();
    const phone = await launchPhone(null);
    const page = await phone.newPage();
    await openLink(page, await newLink(client));
    const tabs = () => page.getByRole('navigation', { name: 'Portal sections' }).getByRole('link').allTextContents();
    await expect.poll(tabs).toEqual(['Messages', 'Jobs', 'Account']);
    const pipeline = (await api<Array<{ id: string }>>('/pipelines'))[0]!;
    const deal = await api<{ id: string }>('/deals', { method: 'POST', json: { title: 'Boiler service', pipeline_id: pipeline.id, chatwoot_contact_id: client.contact.id } });
    const quote = await api<{ id: string }>(`/deals/${deal.id}/quotes`, { method: 'POST', json: { title: 'Annual boiler service', amount: '120', currency: 'GBP' } });
    await api(`/deals/${deal.id}/quotes/${quote.id}/share`, { method: 'POST' });
    await expect.poll(tabs, { timeout: 10_000 }).toEqual(['Messages', 'Jobs', 'Quotes', 'Account']);
    await phone.close();
  });

  it('reloads offline to the shell, from its own service worker', async () => {
    const phone = await launchPhone(null);
    const page = await phone.newPage();
    await openLink(page, await newLink(await newClient()));
    await workerControls(page);
    // The client's worker holds only the client portal (never the vendor portal's page or code).
    const cached = await page.evaluate(async () => (await Promise.all((await caches.keys()).map(async (name) => (await (await caches.open(name)).keys()).map((r) => r.url)))).flat());
    expect(cached.some((url) => url.includes('/portal/client/index.html'))).toBe(true);
    expect(cached.filter((url) => /portal\/vendor|vendorPortal/.test(url))).toEqual([]);
    // Installable on its own: its page names its own manifest, whose icons are there.
    expect(await page.locator('link[rel="manifest"]').evaluateAll((links) => links.map((l) => l.getAttribute('href')))).toEqual(['/portal/client/manifest.webmanifest']);
    const manifest = (await (await fetch(`${baseUrl}/portal/client/manifest.webmanifest`)).json()) as { start_url: string; scope: string; display: string; icons: Array<{ src: string; sizes: string }> };
    expect(manifest).toMatchObject({ start_url: '/portal/client/', scope: '/portal/client/', display: 'standalone' });
    for (const icon of manifest.icons) expect((await fetch(`${baseUrl}${icon.src}`)).headers.get('content-type')).toBe('image/png');
    // …and the vendor portal's worker lists nothing of the client portal.
    const vendorWorker = await (await fetch(`${baseUrl}/sw.js`)).text();
    expect(vendorWorker).toContain('portal/vendor/index.html');
    expect(vendorWorker).not.toMatch(/portal\/client|clientPortal/);
    await phone.setOffline(true);
    await page.reload();
    await page.getByTestId('business-name').waitFor({ timeout: 15_000 });
    await page.getByTestId('offline-banner').waitFor();
    await page.getByRole('navigation', { name: 'Portal sections' }).waitFor();
    await phone.setOffline(false);
    await phone.close();
  });

  it('every shell screen is accessible and looked at, light and dark', async () => {
    for (const scheme of ['light', 'dark'] as const) {
      const client = await newClient();
      const phone = await launchPhone(null, scheme);
      const page = await phone.newPage();
      await page.goto(`${baseUrl}/portal/client/sign-in?account=${accountId}`);
      await page.getByRole('heading', { name: 'Sign in' }).waitFor();
      const shots: Array<[string, () => Promise<void>]> = [
        ['sign-in', async () => undefined],
        ['sign-in-code', async () => {
          await page.getByLabel('Your e-mail address').fill(client.email);
          await page.getByRole('button', { name: 'Send me a code' }).tap();
          await page.getByLabel('6-digit code').waitFor();
        }],
        ['link-used', async () => {
          const used = await newLink(client);
          await api('/portal/client/sessions', { method: 'POST', json: { token: /#token=(.+)$/.exec(used)![1] } });
          await page.goto(used);
          await page.getByTestId('link-failed').waitFor({ timeout: 15_000 });
        }],
        ['home', async () => openLink(page, await newLink(client))],
        ['account', async () => {
          await page.getByRole('link', { name: 'Account' }).tap();
          await page.getByTestId('profile').waitFor();
          await page.getByTestId('sessions').getByRole('listitem').first().waitFor();
        }],
        ['offline', async () => {
          await workerControls(page);
          await phone.setOffline(true);
          await page.reload();
          await page.getByTestId('offline-banner').waitFor({ timeout: 15_000 });
        }],
      ];
      for (const [name, open] of shots) {
        await open();
        if (name !== 'offline') await page.waitForLoadState('networkidle');
        expect(await accessibilityViolations(page), `${name} ${scheme}`).toEqual([]);
        await screenshot(page, `client-portal-${name}-${scheme}`);
        // The account page is longer than a screen: all of it, once.
        if (name === 'account') await screenshot(page, `client-portal-account-all-${scheme}`, true);
      }
      await phone.close();
    }
  });
});
