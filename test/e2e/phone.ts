// The vendor portal's browser tests share these: SQL inside an account (as the service's role, so
// row security applies), a vendor person with a session written where sign-in writes them (who gets
// in is tested elsewhere), and a phone — 390×844, touch, a mobile user agent — signed in by the
// session cookie, opening portal pages once the service worker controls them.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { chromium, devices, type BrowserContext, type Page } from 'playwright-core';
import { expect, inject } from 'vitest';
import { issueToken } from '../../extension/auth/tokens.ts';
import { chromiumPath } from './browser.ts';

/** Runs SQL in `accountId` (row security needs the account set), in one transaction. */
export async function inAccount<T>(accountId: number, work: (db: pg.Client) => Promise<T>): Promise<T> {
  const db = new pg.Client({ connectionString: inject('databaseUrl') });
  await db.connect();
  try {
    await db.query('begin');
    await db.query(`select set_config('onelink.account_id', $1, true)`, [String(accountId)]);
    const result = await work(db);
    await db.query('commit');
    return result;
  } finally {
    await db.end();
  }
}

/** A vendor's person with a one-day session. */
export function vendorPerson(accountId: number, vendorId: string, person: { name: string; email: string; role: 'owner' | 'technician' }) {
  return inAccount(accountId, async (db) => {
    const { rows } = await db.query(
      `insert into onelink.portal_users (account_id, kind, vendor_id, vendor_role, name, email) values ($1, 'vendor', $2, $3, $4, $5) returning id`,
      [accountId, vendorId, person.role, person.name, person.email],
    );
    const { token, hash } = issueToken('session', accountId);
    await db.query(`insert into onelink.sessions (account_id, subject_type, subject_id, token_hash, expires_at) values ($1, 'portal_user', $2, $3, now() + interval '1 day')`, [
      accountId,
      rows[0].id,
      hash,
    ]);
    return { token, id: rows[0].id as string };
  });
}

/** A phone (signed in by the session cookie when given a token); its profile folder goes with it. */
export async function launchPhone(token: string | null, colorScheme: 'light' | 'dark' = 'light'): Promise<BrowserContext> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'onelink-phone-'));
  const context = await chromium.launchPersistentContext(profile, {
    ...devices['Pixel 7'],
    executablePath: chromiumPath(),
    headless: true,
    colorScheme,
    viewport: { width: 390, height: 844 },
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  context.once('close', () => fs.rm(profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 }, () => {}));
  // No token: a phone nobody signed in on yet.
  if (token) await context.addCookies([{ name: 'onelink_session', value: token, url: inject('baseUrl'), httpOnly: true, sameSite: 'Lax' }]);
  return context;
}

/** Opens a portal page and waits until the service worker controls it (so it reloads offline). */
export async function openPortal(context: BrowserContext, at: string): Promise<Page> {
  const page = context.pages()[0] ?? (await context.newPage());
  await page.goto(`${inject('baseUrl')}/portal/vendor${at}`);
  await page.evaluate(() => Promise.race([navigator.serviceWorker?.ready, new Promise((resolve) => setTimeout(resolve, 10_000))]));
  if (!(await page.evaluate(() => !!navigator.serviceWorker?.controller))) await page.reload();
  await expect.poll(() => page.evaluate(() => !!navigator.serviceWorker?.controller), { timeout: 15_000 }).toBe(true);
  return page;
}

/** A client portal user (bound to one Chatwoot contact) with a one-day session. */
export function clientPerson(accountId: number, contactId: number, person: { name: string; email?: string | null; phone?: string | null }) {
  return inAccount(accountId, async (db) => {
    const { rows } = await db.query(
      `insert into onelink.portal_users (account_id, kind, chatwoot_contact_id, name, email, phone) values ($1, 'client', $2, $3, $4, $5) returning id`,
      [accountId, contactId, person.name, person.email ?? null, person.phone ?? null],
    );
    const { token, hash } = issueToken('session', accountId);
    await db.query(`insert into onelink.sessions (account_id, subject_type, subject_id, token_hash, expires_at) values ($1, 'portal_user', $2, $3, now() + interval '1 day')`, [
      accountId,
      rows[0].id,
      hash,
    ]);
    return { token, id: rows[0].id as string };
  });
}

/** Opens a client portal page (/portal/client…) and waits until the service worker controls it. */
export async function openClientPortal(context: BrowserContext, at: string): Promise<Page> {
  const page = context.pages()[0] ?? (await context.newPage());
  await page.goto(`${inject('baseUrl')}/portal/client${at}`);
  await page.evaluate(() => Promise.race([navigator.serviceWorker?.ready, new Promise((resolve) => setTimeout(resolve, 10_000))]));
  if (!(await page.evaluate(() => !!navigator.serviceWorker?.controller))) await page.reload();
  await expect.poll(() => page.evaluate(() => !!navigator.serviceWorker?.controller), { timeout: 15_000 }).toBe(true);
  return page;
}
