// Who of a vendor can sign in to the portal, managed from the dispatch board: a dispatcher invites
// the vendor's owner by e-mail (the answer says whether the code went out, and why not), sees the
// owner's devices and signs one out, then deactivates the owner, which ends every session they
// had; reactivating lets them sign in again. Light and dark, wide and narrow.
import { issueToken } from '../../extension/auth/tokens.ts';
import pg from 'pg';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startFakeChatwoot, type FakeChatwoot } from '../fakes/chatwoot.ts';
import { accessibilityViolations, launchBrowser, screenshot } from './browser.ts';
import { callApi, connectChatwoot, signInToken } from './world.ts';

const baseUrl = inject('baseUrl');
const chatwootAccount = 37;
const android = 'Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36';
const iphone = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';
let chatwoot: FakeChatwoot;
let adminToken: string;
let accountId: number;
let vendorId: string;

const asAdmin = async <T>(apiPath: string, init: { method?: string; json?: unknown } = {}) => {
  const answer = await callApi<T>(adminToken, apiPath, init);
  expect(answer.status, `${init.method ?? 'GET'} ${apiPath}: ${JSON.stringify(answer.error)}`).toBeLessThan(300);
  return answer.data;
};

/** A session on one of the person's devices, written where sign-in writes it (signing in is tested elsewhere). */
async function deviceSession(portalUserId: string, userAgent: string) {
  const db = new pg.Client({ connectionString: inject('databaseUrl') });
  await db.connect();
  try {
    await db.query('begin');
    await db.query(`select set_config('onelink.account_id', $1, true)`, [String(accountId)]);
    const { token, hash } = issueToken('session', accountId);
    await db.query(
      `insert into onelink.sessions (account_id, subject_type, subject_id, token_hash, expires_at, user_agent) values ($1, 'portal_user', $2, $3, now() + interval '30 days', $4)`,
      [accountId, portalUserId, hash, userAgent],
    );
    await db.query('commit');
    return token;
  } finally {
    await db.end();
  }
}

/** What the API answers the portal user's own session. */
const portalStatus = async (token: string) => (await fetch(`${baseUrl}/api/v1/portal/sessions`, { headers: { Authorization: `Bearer ${token}` } })).status;

const boardUrl = () => `${baseUrl}/apps/dispatch/?chatwoot=${encodeURIComponent(chatwoot.url)}&account=${chatwootAccount}`;

async function signedIn(browser: BrowserContext): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(boardUrl());
  await page.getByLabel('Chatwoot access token').fill('vendor-users-dispatcher-token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('open-vendors').waitFor({ timeout: 10_000 });
  return page;
}

/** The vendors drawer with Harbour Plumbing's portal access open. */
async function portalAccess(page: Page) {
  await page.getByTestId('open-vendors').click();
  const drawer = page.getByRole('dialog', { name: 'Vendors' });
  const harbour = drawer.getByTestId('vendor-row').filter({ hasText: 'Harbour Plumbing' });
  const access = harbour.getByTestId('portal-access');
  await access.getByText(/^Portal access/).click({ timeout: 10_000 });
  return { drawer, access };
}

beforeAll(async () => {
  chatwoot = await startFakeChatwoot();
  const accounts = (role: 'administrator' | 'agent') => [{ id: chatwootAccount, name: 'Harbour Homes', role }];
  chatwoot.addAgent({ id: 171, name: 'Ada Admin', email: 'ada@harbour-homes.test', token: 'vendor-users-admin-token', accounts: accounts('administrator') });
  chatwoot.addAgent({ id: 172, name: 'Dan Dispatch', email: 'dan@harbour-homes.test', token: 'vendor-users-dispatcher-token', accounts: accounts('agent') });
  await connectChatwoot(chatwoot, 'vendor-users-admin-token');
  adminToken = await signInToken(chatwoot, 'vendor-users-admin-token', chatwootAccount);
  await asAdmin('/admin/capabilities', { method: 'PATCH', json: { profile: 'construction' } });
  accountId = (await asAdmin<{ account: { id: number } }>('/me')).account.id;
  // Dan is an agent the admin lets dispatch (vendors:manage comes with it).
  const dispatcherToken = await signInToken(chatwoot, 'vendor-users-dispatcher-token', chatwootAccount);
  const dan = (await callApi<{ caller: { id: string } }>(dispatcherToken, '/me')).data.caller.id;
  await asAdmin(`/admin/users/${dan}/dispatcher`, { method: 'PUT', json: { granted: true } });
  vendorId = (await asAdmin<{ id: string }>('/vendors', { method: 'POST', json: { name: 'Harbour Plumbing', categories: ['plumbing'] } })).id;
  await asAdmin('/vendors', { method: 'POST', json: { name: 'Quay Electrical', categories: ['electrical'] } });
});
afterAll(() => chatwoot.close());

describe('vendor portal access from the dispatch board', () => {
  it('a dispatcher invites the owner by e-mail, signs a device out, deactivates and reactivates them', async () => {
    const browser = await launchBrowser({ width: 1400, height: 900 });
    const page = await signedIn(browser);
    const { access } = await portalAccess(page);
    await expect.poll(() => access.getByText('No one from Harbour Plumbing can sign in to the portal yet.').count(), { timeout: 10_000 }).toBe(1);

    // The invitation: the address is required, an e-mail address or a phone number.
    await access.getByRole('button', { name: 'Invite someone from Harbour Plumbing' }).click();
    const dialog = page.getByRole('dialog', { name: 'Invite someone from Harbour Plumbing' });
    await expect.poll(() => dialog.isVisible()).toBe(true);
    expect(await dialog.getByLabel('Role').inputValue()).toBe('owner');
    await dialog.getByLabel('Name').fill('Olive Harbour');
    await dialog.getByRole('button', { name: 'Send invitation' }).click();
    await expect.poll(() => dialog.getByText('Give an e-mail address or a phone number.').count()).toBe(1);
    await dialog.getByLabel('E-mail').fill('olive@harbour-plumbing.test');
    expect(await accessibilityViolations(page)).toEqual([]);
    await screenshot(page, 'dispatch-vendor-users-invite-wide-light');
    await dialog.getByRole('button', { name: 'Send invitation' }).click();

    const result = dialog.getByTestId('invitation-result');
    await result.waitFor({ timeout: 10_000 });
    const olive = (await asAdmin<Array<{ id: string; name: string; vendor_role: string; email: string; active: boolean }>>(`/vendors/${vendorId}/users`)).find((u) => u.name === 'Olive Harbour');
    expect(olive).toMatchObject({ vendor_role: 'owner', email: 'olive@harbour-plumbing.test', active: true });
    // The browser tests' server has no mail service: the dialog says the code did not go out, and why.
    const text = (await result.textContent()) ?? '';
    if (text.includes('the sign-in code was not sent')) {
      expect(text).toContain('Olive Harbour is added, but the sign-in code was not sent');
      expect(text).toMatch(/Reason: \S/);
      expect(text).not.toContain('Reason: —');
    } else {
      expect(text).toContain('A sign-in code and link were sent by e-mail to olive@harbour-plumbing.test.');
    }
    // The portal address to tell them, with the account so they need not type it.
    expect(await result.locator('pre').textContent()).toBe(`${baseUrl}/portal/vendor/?account=${accountId}`);
    expect(await accessibilityViolations(page)).toEqual([]);
    await screenshot(page, 'dispatch-vendor-users-invited-wide-light');
    await dialog.getByRole('button', { name: 'Done' }).click();
    await expect.poll(() => dialog.count()).toBe(0);

    const person = access.getByTestId('portal-user').filter({ hasText: 'Olive Harbour' });
    await expect.poll(() => person.count(), { timeout: 10_000 }).toBe(1);
    expect(await person.textContent()).toMatch(/olive@harbour-plumbing\.test.*Owner.*Active/);
    await expect.poll(() => access.getByText('Portal access (1)').count()).toBe(1);

    // Two phones signed in; one is signed out from here, the other keeps working.
    const onAndroid = await deviceSession(olive!.id, android);
    const onIphone = await deviceSession(olive!.id, iphone);
    expect([await portalStatus(onAndroid), await portalStatus(onIphone)]).toEqual([200, 200]);
    await person.getByRole('button', { name: 'Devices', exact: true }).click();
    const devices = person.getByTestId('portal-session');
    await expect.poll(() => devices.count(), { timeout: 10_000 }).toBe(2);
    expect(await person.getByRole('button', { name: 'Devices', exact: true }).count()).toBe(0);
    expect(await person.getByRole('button', { name: 'Hide devices' }).getAttribute('aria-expanded')).toBe('true');
    expect(await accessibilityViolations(page)).toEqual([]);
    await screenshot(page, 'dispatch-vendor-users-devices-wide-light');
    await person.getByRole('button', { name: 'Sign out Olive Harbour on Safari · iOS' }).click();
    await expect.poll(() => devices.count(), { timeout: 10_000 }).toBe(1);
    expect(await devices.textContent()).toContain('Chrome · Android');
    await expect.poll(() => page.getByText('Olive Harbour is signed out of Safari · iOS').count()).toBeGreaterThan(0);
    expect([await portalStatus(onAndroid), await portalStatus(onIphone)]).toEqual([200, 401]);

    // Deactivating asks first, then signs them out everywhere.
    await person.getByRole('button', { name: 'Deactivate Olive Harbour' }).click();
    const confirm = page.getByRole('dialog', { name: 'Deactivate Olive Harbour?' });
    await expect.poll(() => confirm.isVisible()).toBe(true);
    expect(await confirm.textContent()).toContain('signed out of the portal on every device');
    expect(await accessibilityViolations(page)).toEqual([]);
    await screenshot(page, 'dispatch-vendor-users-deactivate-wide-light');
    await confirm.getByRole('button', { name: 'Deactivate', exact: true }).click();
    await expect.poll(() => person.textContent(), { timeout: 10_000 }).toContain('Deactivated');
    await expect.poll(() => person.getByText('Not signed in on any device.').count()).toBe(1);
    expect(await portalStatus(onAndroid)).toBe(401);
    expect((await asAdmin<Array<{ id: string; active: boolean }>>(`/vendors/${vendorId}/users`)).find((u) => u.id === olive!.id)!.active).toBe(false);
    expect(await accessibilityViolations(page)).toEqual([]);
    await screenshot(page, 'dispatch-vendor-users-deactivated-wide-light');

    await page.setViewportSize({ width: 400, height: 900 });
    await screenshot(page, 'dispatch-vendor-users-deactivated-narrow-light');

    // Reactivating lets them sign in again (a new session; the old ones stay ended).
    await person.getByRole('button', { name: 'Reactivate Olive Harbour' }).click();
    const reactivate = page.getByRole('dialog', { name: 'Reactivate Olive Harbour?' });
    await expect.poll(() => reactivate.isVisible()).toBe(true);
    await screenshot(page, 'dispatch-vendor-users-reactivate-narrow-light');
    await reactivate.getByRole('button', { name: 'Reactivate', exact: true }).click();
    await expect.poll(() => person.textContent(), { timeout: 10_000 }).toContain('Active');
    expect((await asAdmin<Array<{ id: string; active: boolean }>>(`/vendors/${vendorId}/users`)).find((u) => u.id === olive!.id)!.active).toBe(true);
    expect(await portalStatus(onAndroid)).toBe(401);
    expect(await portalStatus(await deviceSession(olive!.id, android))).toBe(200);
    await browser.close();
  });

  it('looks right in dark mode, wide and narrow', async () => {
    const browser = await launchBrowser({ colorScheme: 'dark', width: 1400, height: 900 });
    const page = await signedIn(browser);
    const { access } = await portalAccess(page);
    const person = access.getByTestId('portal-user').filter({ hasText: 'Olive Harbour' });
    await expect.poll(() => person.count(), { timeout: 10_000 }).toBe(1);
    await person.getByRole('button', { name: 'Devices', exact: true }).click();
    await expect.poll(() => person.getByTestId('portal-session').count(), { timeout: 10_000 }).toBe(1);
    expect(await accessibilityViolations(page)).toEqual([]);
    await screenshot(page, 'dispatch-vendor-users-wide-dark');
    await page.setViewportSize({ width: 400, height: 900 });
    await screenshot(page, 'dispatch-vendor-users-narrow-dark');

    // A technician by phone, in the dialog at phone width.
    await access.getByRole('button', { name: 'Invite someone from Harbour Plumbing' }).click();
    const dialog = page.getByRole('dialog', { name: 'Invite someone from Harbour Plumbing' });
    await expect.poll(() => dialog.isVisible()).toBe(true);
    expect(await dialog.getByLabel('Role').inputValue()).toBe('technician');
    // An address already in use is refused, with the API's reason, and the form stays filled.
    await dialog.getByLabel('Name').fill('Olive Again');
    await dialog.getByLabel('E-mail').fill('olive@harbour-plumbing.test');
    await dialog.getByRole('button', { name: 'Send invitation' }).click();
    await expect.poll(() => dialog.getByRole('alert').textContent(), { timeout: 10_000 }).toContain('The invitation could not be sent: A vendor user with this e-mail address or phone number already exists');
    expect(await dialog.getByLabel('Name').inputValue()).toBe('Olive Again');
    await dialog.getByLabel('E-mail').fill('');
    await dialog.getByLabel('Name').fill('Tom Spanner');
    await dialog.getByLabel('Phone').fill('+1 415 555 0134');
    await dialog.getByRole('button', { name: 'Send invitation' }).click();
    const result = dialog.getByTestId('invitation-result');
    await result.waitFor({ timeout: 10_000 });
    expect(await result.textContent()).toMatch(/Tom Spanner is (added|invited)/);
    expect(await accessibilityViolations(page)).toEqual([]);
    await screenshot(page, 'dispatch-vendor-users-invited-narrow-dark');
    await dialog.getByRole('button', { name: 'Done' }).click();
    const tom = access.getByTestId('portal-user').filter({ hasText: 'Tom Spanner' });
    await expect.poll(() => tom.textContent(), { timeout: 10_000 }).toContain('Technician');
    // The number as people write it, not as it is stored.
    await expect.poll(() => tom.textContent()).toMatch(/415\D+555\D+0134/);
    await page.setViewportSize({ width: 1400, height: 900 });
    await screenshot(page, 'dispatch-vendor-users-two-wide-dark');
    await browser.close();
  });
});
