// An agent signs in inside Chatwoot's iframe: cross-site, where third-party cookies are blocked.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { BrowserContext, FrameLocator } from 'playwright-core';
import { startFakeChatwoot, type FakeChatwoot } from '../fakes/chatwoot.ts';
import { spawnIn } from '../helpers/processes.ts';
import { accessibilityViolations, launchBrowser, screenshot } from './browser.ts';

const appOrigin = inject('appOrigin');
let chatwoot: FakeChatwoot;

beforeAll(async () => {
  chatwoot = await startFakeChatwoot();
  chatwoot.addAgent({ id: 1, name: 'Ada Admin', email: 'ada@example.com', token: 'admin-token-e2e', accounts: [{ id: 7, name: 'Acme Plumbing', role: 'administrator' }] });
  chatwoot.addAgent({ id: 2, name: 'Sam Support', email: 'sam@example.com', token: 'sam-token-e2e', accounts: [{ id: 7, name: 'Acme Plumbing', role: 'agent' }] });
  // Connect the fake Chatwoot with the command an operator runs, against the running server's database.
  const cli = spawnIn('npm', ['run', '--silent', 'onelink', '--', 'installation', 'add', '--chatwoot-url', chatwoot.url, '--token', 'admin-token-e2e'], {
    ONELINK_DATA_DIR: inject('dataDir'),
  });
  const { code } = await cli.exited;
  expect(code, cli.output()).toBe(0);
  expect(cli.output()).toContain(`Connected ${chatwoot.url}`);
});
afterAll(async () => {
  expect(chatwoot.takeViolations()).toEqual([]);
  await chatwoot.close();
});

function hostUrl() {
  const app = `${appOrigin}/apps/account/?chatwoot=${encodeURIComponent(chatwoot.url)}&account=7`;
  return `${chatwoot.url}/__test/dashboard-host?app=${encodeURIComponent(app)}`;
}

async function signIn(frame: FrameLocator, token: string) {
  await frame.getByLabel('Chatwoot access token').fill(token);
  await frame.getByRole('button', { name: 'Sign in' }).click();
}

describe('agent sign-in inside the Chatwoot iframe (cross-site)', () => {
  let browser: BrowserContext;
  beforeAll(async () => {
    browser = await launchBrowser({ width: 1100, height: 800 });
  });
  afterAll(() => browser.close());

  it('signs in with the Chatwoot token, survives a reload, and signs out', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(hostUrl());
    const frame = page.frameLocator('#dashboard-app');
    await expect.poll(() => frame.getByRole('heading', { name: 'Sign in to Onelink' }).isVisible()).toBe(true);
    await screenshot(page, 'account-iframe-signed-out-light');

    await signIn(frame, 'not-the-right-token');
    await expect.poll(() => frame.getByText('Chatwoot did not accept this access token').isVisible()).toBe(true);

    await signIn(frame, 'sam-token-e2e');
    await expect.poll(() => frame.getByTestId('caller-name').textContent()).toBe('Sam Support');
    expect(await frame.getByTestId('caller-role').textContent()).toBe('Agent');
    await screenshot(page, 'account-iframe-signed-in-light');

    // This browser blocks third-party storage: the session survives the frame being rebuilt
    // through the partitioned cookie alone.
    const storageBlocked = await page.frames()[1]!.evaluate(() => {
      try {
        return window.localStorage.length < 0;
      } catch {
        return true;
      }
    });
    expect(storageBlocked).toBe(true);
    await page.reload();
    const reloaded = page.frameLocator('#dashboard-app');
    await expect.poll(() => reloaded.getByTestId('caller-name').textContent()).toBe('Sam Support');
    const [cookie] = await page.context().cookies(appOrigin);
    expect(cookie).toMatchObject({ name: 'onelink_session', httpOnly: true, secure: true, sameSite: 'None', partitionKey: expect.stringContaining('127.0.0.1') });
    expect(errors).toEqual([]);

    await reloaded.getByRole('button', { name: 'Sign out' }).click();
    await expect.poll(() => reloaded.getByRole('heading', { name: 'Sign in to Onelink' }).isVisible()).toBe(true);
    await page.reload();
    await expect.poll(() => page.frameLocator('#dashboard-app').getByRole('heading', { name: 'Sign in to Onelink' }).isVisible()).toBe(true);
    await page.close();
  });

  it('is framed only by the connected Chatwoot', async () => {
    const page = await browser.newPage();
    const response = await page.goto(`${appOrigin}/apps/account/`);
    const csp = response!.headers()['content-security-policy'];
    // Every connected Chatwoot may frame us (other browser tests connect theirs to the same server); nothing else.
    const ancestors = csp!.split(';').map((d) => d.trim()).find((d) => d.startsWith('frame-ancestors'))!.split(' ').slice(1);
    expect(ancestors).toContain("'self'");
    expect(ancestors).toContain(chatwoot.url);
    expect(ancestors.every((a) => a === "'self'" || a.startsWith('http://127.0.0.1:'))).toBe(true);
    await page.close();
  });

  it('has no serious accessibility violations, light and dark, at sidebar width', async () => {
    for (const colorScheme of ['light', 'dark'] as const) {
      const context = await launchBrowser({ colorScheme, width: 360, height: 700 });
      const page = await context.newPage();
      await page.goto(`${appOrigin}/apps/account/?chatwoot=${encodeURIComponent(chatwoot.url)}&account=7`);
      await expect.poll(() => page.getByRole('heading', { name: 'Sign in to Onelink' }).isVisible()).toBe(true);
      expect(await accessibilityViolations(page)).toEqual([]);
      await screenshot(page, `account-sidebar-signed-out-${colorScheme}`);
      await page.getByLabel('Chatwoot access token').fill('admin-token-e2e');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await expect.poll(() => page.getByTestId('caller-role').textContent()).toBe('Administrator');
      expect(await accessibilityViolations(page)).toEqual([]);
      await screenshot(page, `account-sidebar-signed-in-${colorScheme}`);
      await context.close();
    }
  });
});
