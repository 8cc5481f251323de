// Documents a vendor sent from the portal, reviewed from the dispatch board: one approved (it then
// counts toward the vendor's compliance), one rejected with a reason the vendor sees; and a lock
// against the vendor's own edits, set from the same drawer. Light and dark, wide and narrow.
import { issueToken } from '../../extension/auth/tokens.ts';
import pg from 'pg';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startFakeChatwoot, type FakeChatwoot } from '../fakes/chatwoot.ts';
import { accessibilityViolations, launchBrowser, screenshot } from './browser.ts';
import { callApi, connectChatwoot, signInToken } from './world.ts';

const baseUrl = inject('baseUrl');
const chatwootAccount = 31;
let chatwoot: FakeChatwoot;
let adminToken: string;
let accountId: number;
let vendorId: string;
let ownerToken: string;
const pdf = (title: string) => Buffer.from(`%PDF-1.4\n1 0 obj << /Title (${title}) >> endobj\ntrailer << >>\n%%EOF\n`);

const asAdmin = async <T>(apiPath: string, init: { method?: string; json?: unknown } = {}) => {
  const answer = await callApi<T>(adminToken, apiPath, init);
  expect(answer.status, `${init.method ?? 'GET'} ${apiPath}: ${JSON.stringify(answer.error)}`).toBeLessThan(300);
  return answer.data;
};

/** The vendor's owner with a session, written where sign-in writes them (who gets in is tested elsewhere). */
async function ownerSession() {
  const db = new pg.Client({ connectionString: inject('databaseUrl') });
  await db.connect();
  try {
    await db.query('begin');
    await db.query(`select set_config('onelink.account_id', $1, true)`, [String(accountId)]);
    const { rows } = await db.query(`insert into onelink.portal_users (account_id, kind, vendor_id, vendor_role, name, email) values ($1, 'vendor', $2, 'owner', 'Rita Ridge', 'rita@ridge.test') returning id`, [
      accountId,
      vendorId,
    ]);
    const { token, hash } = issueToken('session', accountId);
    await db.query(`insert into onelink.sessions (account_id, subject_type, subject_id, token_hash, expires_at) values ($1, 'portal_user', $2, $3, now() + interval '1 day')`, [accountId, rows[0].id, hash]);
    await db.query('commit');
    return token;
  } finally {
    await db.end();
  }
}

/** Sends a document as the portal does: multipart with the file and its fields. */
async function sendDocument(kind: string, expiresOn: string, file: Buffer, filename: string) {
  const form = new FormData();
  form.set('kind', kind);
  form.set('expires_on', expiresOn);
  form.set('file', new Blob([new Uint8Array(file)], { type: 'application/pdf' }), filename);
  const response = await fetch(`${baseUrl}/api/v1/portal/vendor/documents`, { method: 'POST', headers: { Authorization: `Bearer ${ownerToken}` }, body: form });
  const body = (await response.json()) as { data: { id: string; status: string } };
  expect(response.status, JSON.stringify(body)).toBe(201);
  return body.data;
}

const boardUrl = () => `${baseUrl}/apps/dispatch/?chatwoot=${encodeURIComponent(chatwoot.url)}&account=${chatwootAccount}`;

async function signedIn(browser: BrowserContext): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(boardUrl());
  await page.getByLabel('Chatwoot access token').fill('vendor-docs-admin-token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('open-vendors').waitFor({ timeout: 10_000 });
  return page;
}

beforeAll(async () => {
  chatwoot = await startFakeChatwoot();
  chatwoot.addAgent({ id: 131, name: 'Vera Review', email: 'vera@acme.test', token: 'vendor-docs-admin-token', accounts: [{ id: chatwootAccount, name: 'Acme Roofing', role: 'administrator' }] });
  await connectChatwoot(chatwoot, 'vendor-docs-admin-token');
  adminToken = await signInToken(chatwoot, 'vendor-docs-admin-token', chatwootAccount);
  await asAdmin('/admin/capabilities', { method: 'PATCH', json: { profile: 'construction' } });
  accountId = (await asAdmin<{ account: { id: number } }>('/me')).account.id;
  vendorId = (await asAdmin<{ id: string }>('/vendors', { method: 'POST', json: { name: 'Ridge Roofing', categories: ['roofing', 'gutters'] } })).id;
  await asAdmin('/vendors', { method: 'POST', json: { name: 'Valley Glazing', categories: ['glazing'] } });
  ownerToken = await ownerSession();
});
afterAll(() => chatwoot.close());

describe('reviewing vendor documents from the dispatch board', () => {
  it('approves one document and rejects another with a reason; locks the vendor’s categories', async () => {
    const insurance = await sendDocument('insurance', '2099-06-30', pdf('Ridge insurance'), 'ridge-insurance-2099.pdf');
    const licence = await sendDocument('licence', '2098-01-31', pdf('Ridge licence'), 'ridge-licence.pdf');
    const compliance = async () => (await asAdmin<{ compliance: string }>(`/vendors/${vendorId}`)).compliance;
    expect(await compliance()).toBe('missing');

    const browser = await launchBrowser({ width: 1400, height: 900 });
    const page = await signedIn(browser);
    await expect.poll(() => page.getByTestId('open-vendors').textContent(), { timeout: 10_000 }).toContain('2 to review');
    await screenshot(page, 'dispatch-vendor-documents-board-light');
    await page.getByTestId('open-vendors').click();
    const drawer = page.getByRole('dialog', { name: 'Vendors' });
    const waiting = drawer.getByTestId('document-to-review');
    await expect.poll(() => waiting.count(), { timeout: 10_000 }).toBe(2);
    await expect.poll(() => drawer.getByTestId('vendor-row').count()).toBe(2);
    expect(await waiting.first().textContent()).toContain('Ridge Roofing');

    // The file link opens the very bytes the vendor sent, without the page's credentials.
    const href = await drawer.getByRole('link', { name: 'View ridge-insurance-2099.pdf' }).first().getAttribute('href');
    const file = await fetch(new URL(href!, baseUrl));
    expect(file.status).toBe(200);
    expect(file.headers.get('content-type')).toBe('application/pdf');
    expect(Buffer.from(await file.arrayBuffer()).equals(pdf('Ridge insurance'))).toBe(true);

    expect(await accessibilityViolations(page)).toEqual([]);
    await screenshot(page, 'dispatch-vendor-documents-wide-light');

    await drawer.getByRole('button', { name: 'Approve Ridge Roofing’s insurance' }).click();
    await expect.poll(() => waiting.count(), { timeout: 10_000 }).toBe(1);
    await expect.poll(() => page.getByText('Ridge Roofing’s insurance approved').count()).toBeGreaterThan(0);
    await expect.poll(compliance).toBe('compliant');

    // Rejecting asks why; the reason is required.
    await drawer.getByRole('button', { name: 'Reject Ridge Roofing’s licence' }).click();
    const ask = page.getByRole('dialog', { name: 'Reject Ridge Roofing’s licence?' });
    await expect.poll(() => ask.isVisible()).toBe(true);
    expect(await ask.getByRole('button', { name: 'Reject document' }).isDisabled()).toBe(true);
    await ask.getByLabel('Why is it rejected?').fill('The licence number is cut off in the scan');
    expect(await accessibilityViolations(page)).toEqual([]);
    await screenshot(page, 'dispatch-vendor-documents-reject-light');
    await ask.getByRole('button', { name: 'Reject document' }).click();
    await expect.poll(() => waiting.count(), { timeout: 10_000 }).toBe(0);
    await expect.poll(() => drawer.getByText('Nothing waits for review').count()).toBe(1);

    // The vendor sees both outcomes, the rejection with its reason.
    const business = await fetch(`${baseUrl}/api/v1/portal/vendor/business`, { headers: { Authorization: `Bearer ${ownerToken}` } });
    const documents = ((await business.json()) as { data: { documents: Array<{ id: string; status: string; rejection_reason: string | null }> } }).data.documents;
    expect(documents.find((d) => d.id === insurance.id)).toMatchObject({ status: 'approved', rejection_reason: null });
    expect(documents.find((d) => d.id === licence.id)).toMatchObject({ status: 'rejected', rejection_reason: 'The licence number is cut off in the scan' });

    // The vendor's documents, with their review, under the vendor's row.
    const ridge = drawer.getByTestId('vendor-row').filter({ hasText: 'Ridge Roofing' });
    await ridge.getByText('Documents').click();
    await expect.poll(() => ridge.getByText('Rejected: The licence number is cut off in the scan').count(), { timeout: 10_000 }).toBe(1);
    expect(await ridge.textContent()).toContain('Compliance: Compliant');

    // Locking the categories: the vendor's own change is refused from then on.
    await ridge.getByRole('switch', { name: 'Categories' }).click();
    await expect.poll(async () => (await asAdmin<{ locked_fields: string[] }>(`/vendors/${vendorId}`)).locked_fields).toEqual(['categories']);
    const refused = await fetch(`${baseUrl}/api/v1/portal/vendor/business/categories`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${ownerToken}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ categories: ['plumbing'] }),
    });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('locked_by_dispatch');
    expect(await ridge.getByRole('switch', { name: 'Categories' }).getAttribute('aria-checked')).toBe('true');
    expect(await accessibilityViolations(page)).toEqual([]);
    await screenshot(page, 'dispatch-vendor-documents-reviewed-wide-light');

    // Narrow, as in Chatwoot's sidebar.
    await page.setViewportSize({ width: 400, height: 860 });
    await screenshot(page, 'dispatch-vendor-documents-reviewed-narrow-light');
    await browser.close();
  });

  it('looks right in dark mode, wide and narrow, with documents waiting', async () => {
    await sendDocument('permit', '2097-03-01', pdf('Ridge permit'), 'scaffolding-permit-with-a-rather-long-file-name.pdf');
    const browser = await launchBrowser({ colorScheme: 'dark', width: 1400, height: 900 });
    const page = await signedIn(browser);
    await page.getByTestId('open-vendors').click();
    const drawer = page.getByRole('dialog', { name: 'Vendors' });
    await expect.poll(() => drawer.getByTestId('document-to-review').count(), { timeout: 10_000 }).toBe(1);
    await drawer.getByTestId('vendor-row').filter({ hasText: 'Ridge Roofing' }).getByText('Documents').click();
    await expect.poll(() => drawer.getByText('Rejected: The licence number is cut off in the scan').count(), { timeout: 10_000 }).toBe(1);
    expect(await accessibilityViolations(page)).toEqual([]);
    await screenshot(page, 'dispatch-vendor-documents-wide-dark');
    await page.setViewportSize({ width: 400, height: 860 });
    await screenshot(page, 'dispatch-vendor-documents-narrow-dark');
    await browser.close();
  });

  it('the bell tells dispatch of a document sent for review, and its link opens the board on that vendor', async () => {
    const browser = await launchBrowser({ width: 1400, height: 900 });
    const board = await signedIn(browser);
    await board.getByTestId('bell').click();
    const item = board.getByRole('dialog', { name: 'Notifications' }).getByTestId('notification').filter({ hasText: 'Ridge Roofing sent their permit for review' });
    await expect.poll(() => item.count(), { timeout: 15_000 }).toBe(1);
    const href = await item.getAttribute('href');
    expect(new URL(href!, baseUrl).searchParams.get('vendor')).toBe(vendorId);
    // Followed (as a new tab would): the vendors drawer opens with that vendor's documents shown.
    const page = await browser.newPage();
    await page.goto(new URL(href!, baseUrl).toString());
    const drawer = page.getByRole('dialog', { name: 'Vendors' });
    await expect.poll(() => drawer.getByText('Rejected: The licence number is cut off in the scan').count(), { timeout: 10_000 }).toBe(1);
    await browser.close();
  });
});
