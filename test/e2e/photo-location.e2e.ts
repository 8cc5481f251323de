// "Keep where photos were taken", end to end: dispatch switches it on in the board's settings
// dialog; the vendor's phone then reads the position from a camera photo's EXIF (the reader is
// loaded only then, not with the portal) and sends it beside the compressed copy, which itself
// carries no EXIF; the job drawer shows "Taken at …" with a maps link.
import { type Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startFakeChatwoot, type FakeChatwoot } from '../fakes/chatwoot.ts';
import { accessibilityViolations, launchBrowser, screenshot } from './browser.ts';
import { inAccount, launchPhone, vendorPerson } from './phone.ts';
import { callApi, connectChatwoot, signInToken } from './world.ts';

const baseUrl = inject('baseUrl');
const chatwootAccount = 37;
let chatwoot: FakeChatwoot;
let adminToken: string;
let accountId: number;
let vendorId: string;
let owner: { token: string; id: string };
let job: { id: string; reference: string };

const asAdmin = async <T>(apiPath: string, init: { method?: string; json?: unknown } = {}) => {
  const answer = await callApi<T>(adminToken, apiPath, init);
  expect(answer.status, `${init.method ?? 'GET'} ${apiPath}: ${JSON.stringify(answer.error)}`).toBeLessThan(300);
  return answer.data;
};

/** The scripts the page has fetched so far (through the service worker or not). */
const scriptsLoaded = (page: Page) => page.evaluate(() => performance.getEntriesByType('resource').map((entry) => entry.name).filter((name) => name.endsWith('.js')));

/** A camera photo with a GPS position: 51°30'26" N 0°7'39" W (Trafalgar Square), 5 m error. */
const cameraPhoto = () =>
  sharp({ create: { width: 3000, height: 2000, channels: 3, background: { r: 60, g: 110, b: 170 } } })
    .jpeg({ quality: 90 })
    .withExifMerge({
      IFD0: { Make: 'Onelink test camera' },
      IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '51/1 30/1 26/1', GPSLongitudeRef: 'W', GPSLongitude: '0/1 7/1 39/1', GPSHPositioningError: '5/1' },
    })
    .toBuffer();

beforeAll(async () => {
  chatwoot = await startFakeChatwoot();
  chatwoot.addAgent({ id: 81, name: 'Pia Photos', email: 'pia@acme.test', token: 'photo-admin-token', accounts: [{ id: chatwootAccount, name: 'Acme Glass', role: 'administrator' }] });
  await connectChatwoot(chatwoot, 'photo-admin-token');
  adminToken = await signInToken(chatwoot, 'photo-admin-token', chatwootAccount);
  await asAdmin('/admin/capabilities', { method: 'PATCH', json: { profile: 'construction' } });
  accountId = (await asAdmin<{ account: { id: number } }>('/me')).account.id;
  vendorId = (await asAdmin<{ id: string }>('/vendors', { method: 'POST', json: { name: 'Clear Glass', categories: ['glazing'] } })).id;
  await asAdmin(`/vendors/${vendorId}/documents`, { method: 'POST', json: { kind: 'insurance', expires_on: '2099-01-01' } });
  job = await asAdmin<{ id: string; reference: string }>('/jobs', { method: 'POST', json: { summary: 'Cracked shop window', service_category: 'glazing' } });
  await asAdmin(`/jobs/${job.id}/assignment`, { method: 'POST', json: { vendor_id: vendorId } });
  owner = await vendorPerson(accountId, vendorId, { name: 'Gil Glazier', email: 'gil@glass.test', role: 'owner' });
});
afterAll(() => chatwoot?.close());

describe('keep where photos were taken', () => {
  it('dispatch switches it on; the phone sends a photo’s position; the drawer links to it', async () => {
    // Dispatch: the board's settings dialog.
    const desk = await launchBrowser({ width: 1280, height: 860 });
    const board = await desk.newPage();
    await board.goto(`${baseUrl}/apps/dispatch/?chatwoot=${encodeURIComponent(chatwoot.url)}&account=${chatwootAccount}`);
    await board.getByLabel('Chatwoot access token').fill('photo-admin-token');
    await board.getByRole('button', { name: 'Sign in' }).click();
    await board.getByTestId('job-card').first().waitFor({ timeout: 10_000 });
    await board.getByRole('button', { name: 'Offer settings' }).click();
    const dialog = board.getByRole('dialog', { name: 'Offer settings' });
    const keep = dialog.getByRole('switch', { name: 'Keep where photos were taken' });
    await keep.waitFor({ timeout: 10_000 });
    expect(await keep.getAttribute('aria-checked')).toBe('false');
    await keep.click();
    expect(await accessibilityViolations(board)).toEqual([]);
    await dialog.getByRole('button', { name: 'Save settings' }).click();
    await expect.poll(() => board.getByText('Offer settings saved').count(), { timeout: 10_000 }).toBeGreaterThan(0);
    expect((await asAdmin<{ keep_photo_location: boolean }>('/dispatch/settings')).keep_photo_location).toBe(true);

    // The phone: the reader is not part of what the portal loads to open a job.
    const phone = await launchPhone(owner.token);
    const page = phone.pages()[0] ?? (await phone.newPage());
    await page.goto(`${baseUrl}/portal/vendor/jobs/${job.id}`);
    await page.getByRole('button', { name: 'Take photo' }).waitFor({ timeout: 15_000 });
    expect((await scriptsLoaded(page)).filter((name) => name.includes('exif-gps'))).toEqual([]);

    const original = await cameraPhoto();
    await page.locator('input[data-input="camera"]').setInputFiles({ name: 'IMG_0042.jpg', mimeType: 'image/jpeg', buffer: original });
    await expect.poll(async () => (await scriptsLoaded(page)).filter((name) => name.includes('exif-gps')).length, { timeout: 10_000 }).toBe(1);
    const row = async () =>
      inAccount(accountId, async (db) => (await db.query(`select id, taken_lat, taken_lng, taken_accuracy_m from onelink.job_artifacts where account_id = $1 and job_id = $2`, [accountId, job.id])).rows[0] as
        | { id: string; taken_lat: number | null; taken_lng: number | null; taken_accuracy_m: number | null }
        | undefined);
    await expect.poll(row, { timeout: 30_000 }).toBeTruthy();
    expect(await row()).toMatchObject({ taken_lat: 51.5072222, taken_lng: -0.1275, taken_accuracy_m: 5 });
    await phone.close();

    // What the server keeps is the compressed copy: no EXIF, so no position inside the file.
    const listed = await asAdmin<Array<{ id: string; url: string; taken_lat: number }>>(`/jobs/${job.id}/artifacts`);
    expect(listed[0]).toMatchObject({ taken_lat: 51.5072222 });
    const copy = Buffer.from(await (await fetch(new URL(listed[0]!.url, baseUrl))).arrayBuffer());
    expect((await sharp(copy).metadata()).exif).toBeUndefined();

    // Dispatch: the job's files say where the photo was taken, with a maps link.
    await board.reload();
    const token = board.getByLabel('Chatwoot access token');
    await Promise.race([board.getByTestId('job-card').first().waitFor({ timeout: 10_000 }), token.waitFor({ timeout: 10_000 })]);
    if (await token.isVisible()) {
      await token.fill('photo-admin-token');
      await board.getByRole('button', { name: 'Sign in' }).click();
    }
    await board.getByTestId('job-card').filter({ hasText: 'Cracked shop window' }).click();
    const place = board.getByRole('dialog').getByRole('link', { name: 'Taken at 51.50722, -0.12750 (within 5 m)' });
    await place.waitFor({ timeout: 10_000 });
    expect(await place.getAttribute('href')).toBe('https://www.google.com/maps/search/?api=1&query=51.5072222%2C-0.1275');
    expect(await accessibilityViolations(board)).toEqual([]);
    await screenshot(board, 'dispatch-drawer-photo-place');
    await desk.close();
  });
});
