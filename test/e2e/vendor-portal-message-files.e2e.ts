// Files with a message to dispatch, on a phone: a photo attached with no signal is shrunk, kept on
// the phone with its message through a reload, and reaches the job's conversation in Chatwoot once,
// as the very bytes the phone kept; the thread then shows it through its signed link, and a PDF as
// a chip. Screenshots at 390×844 in light and dark.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { type Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startFakeChatwoot, type FakeChatwoot } from '../fakes/chatwoot.ts';
import { spawnIn } from '../helpers/processes.ts';
import { accessibilityViolations, screenshotDir } from './browser.ts';
import { launchPhone, openPortal, vendorPerson } from './phone.ts';
import { callApi, connectChatwoot, signInToken } from './world.ts';

const baseUrl = inject('baseUrl');
const chatwootAccount = 43;
let chatwoot: FakeChatwoot;
let adminToken: string;
let accountId: number;
let vendorId: string;
let owner: { token: string; id: string };

const asAdmin = async <T>(apiPath: string, init: { method?: string; json?: unknown } = {}) => {
  const answer = await callApi<T>(adminToken, apiPath, init);
  expect(answer.status, `${init.method ?? 'GET'} ${apiPath}: ${JSON.stringify(answer.error)}`).toBeLessThan(300);
  return answer.data;
};

/** The files the phone keeps with its waiting messages (IndexedDB onelink-vendor-messages), as bytes. */
async function phoneOutboxFiles(page: Page): Promise<Array<{ message: string; filename: string; bytes: Buffer }>> {
  const rows = await page.evaluate(async () => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const open = indexedDB.open('onelink-vendor-messages');
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error);
    });
    try {
      const all = await new Promise<Array<{ content: string; files?: Array<{ filename: string; blob: Blob }> }>>((resolve, reject) => {
        const request = db.transaction('outbox').objectStore('outbox').getAll();
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
      const out: Array<{ message: string; filename: string; base64: string }> = [];
      for (const row of all) {
        for (const file of row.files ?? []) {
          const bytes = new Uint8Array(await file.blob.arrayBuffer());
          let binary = '';
          for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
          out.push({ message: row.content, filename: file.filename, base64: btoa(binary) });
        }
      }
      return out;
    } finally {
      db.close();
    }
  });
  return rows.map(({ base64, ...row }) => ({ ...row, bytes: Buffer.from(base64, 'base64') }));
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const conversationOf = (reference: string) => [...chatwoot.conversations.values()].find((c) => c.accountId === chatwootAccount && c.customAttributes.onelink_job === reference);

/** What the phone's screen shows (390×844), with `at` scrolled into the middle when given. */
async function phoneShot(page: Page, name: string, at?: string) {
  if (at) await page.locator(at).first().evaluate((el) => el.scrollIntoView({ block: 'center' }));
  fs.mkdirSync(screenshotDir, { recursive: true });
  await page.screenshot({ path: path.join(screenshotDir, `${name}.png`) });
}

let nextJob = 1;
async function vendorJob(summary: string) {
  const job = await asAdmin<{ id: string; reference: string }>('/jobs', { method: 'POST', json: { summary: `${summary} #${nextJob++}`, priority: 'normal', service_category: 'plumbing' } });
  await asAdmin(`/jobs/${job.id}/assignment`, { method: 'POST', json: { vendor_id: vendorId } });
  return job;
}

/** A camera-sized photo (big enough that the phone shrinks it before keeping it). */
const cameraPhoto = () =>
  sharp({ create: { width: 3000, height: 2000, channels: 3, background: { r: 30, g: 120, b: 190 } } })
    .composite([{ input: { create: { width: 3000, height: 300, channels: 3, background: { r: 240, g: 200, b: 40 } } }, left: 0, top: 0 }])
    .jpeg({ quality: 92 })
    .toBuffer();
const pdf = Buffer.from('%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n');

beforeAll(async () => {
  chatwoot = await startFakeChatwoot();
  chatwoot.addAgent({ id: 81, name: 'Fay Files', email: 'fay@acme.test', token: 'files-admin-token', accounts: [{ id: chatwootAccount, name: 'Acme Files', role: 'administrator' }] });
  await connectChatwoot(chatwoot, 'files-admin-token');
  const installer = spawnIn(
    'npm',
    ['run', '--silent', 'onelink', '--', 'install', '--chatwoot-url', chatwoot.url, '--account-id', String(chatwootAccount), '--token', 'files-admin-token', '--public-url', baseUrl, '--check-timeout', '15'],
    { ONELINK_DATA_DIR: inject('dataDir') },
  );
  expect((await installer.exited).code, installer.output()).toBe(0);
  adminToken = await signInToken(chatwoot, 'files-admin-token', chatwootAccount);
  await asAdmin('/admin/capabilities', { method: 'PATCH', json: { profile: 'construction' } });
  accountId = (await asAdmin<{ account: { id: number } }>('/me')).account.id;
  vendorId = (await asAdmin<{ id: string }>('/vendors', { method: 'POST', json: { name: 'Flow Plumbing', categories: ['plumbing'], time_zone: 'Europe/London' } })).id;
  await asAdmin(`/vendors/${vendorId}/documents`, { method: 'POST', json: { kind: 'insurance', expires_on: '2099-01-01' } });
  owner = await vendorPerson(accountId, vendorId, { name: 'Omar Owner', email: 'omar@flow.test', role: 'owner' });
});
afterAll(() => chatwoot?.close());

describe('files with a message to dispatch', () => {
  it('a photo attached with no signal survives a reload and reaches Chatwoot once, as the bytes the phone kept', async () => {
    const job = await vendorJob('Leak behind the boiler');
    const context = await launchPhone(owner.token);
    const page = await openPortal(context, `/jobs/${job.id}/messages`);
    const composer = page.getByLabel('Message to dispatch');
    await composer.waitFor({ timeout: 15_000 });

    await context.setOffline(true);
    await page.locator('input[data-input="message-files"]').setInputFiles({ name: 'boiler.jpg', mimeType: 'image/jpeg', buffer: await cameraPhoto() });
    const preview = page.getByTestId('attached-files').getByRole('img', { name: 'Photo boiler.jpg' });
    await preview.waitFor({ timeout: 15_000 });
    await composer.fill('Leak is behind the boiler, see photo.');
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    const mine = page.getByTestId('message').filter({ hasText: 'Leak is behind the boiler' });
    await expect.poll(() => mine.getAttribute('data-status'), { timeout: 10_000 }).toBe('queued');
    expect(await mine.getByRole('img', { name: 'Photo boiler.jpg' }).count()).toBe(1);
    expect(await page.getByTestId('attached-files').count()).toBe(0);

    // Closed and opened again with no signal: the message and its photo are still on the phone.
    await page.reload();
    await expect.poll(() => mine.getAttribute('data-status'), { timeout: 15_000 }).toBe('queued');
    await expect.poll(() => mine.getByRole('img', { name: 'Photo boiler.jpg' }).evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0), { timeout: 10_000 }).toBe(true);
    const kept = await phoneOutboxFiles(page);
    expect(kept.map((f) => [f.message, f.filename])).toEqual([['Leak is behind the boiler, see photo.', 'boiler.jpg']]);
    const shrunk = await sharp(kept[0]!.bytes).metadata();
    expect(Math.max(shrunk.width!, shrunk.height!)).toBeLessThanOrEqual(2048);
    expect(await accessibilityViolations(page)).toEqual([]);

    await context.setOffline(false);
    await expect.poll(() => mine.getAttribute('data-status'), { timeout: 20_000 }).toBe('sent');
    await expect.poll(() => conversationOf(job.reference)?.messages.length ?? 0, { timeout: 15_000 }).toBe(1);
    const [message] = conversationOf(job.reference)!.messages;
    expect(message).toMatchObject({ message_type: 'incoming', content: 'Leak is behind the boiler, see photo.' });
    expect(message!.attachments).toHaveLength(1);
    expect(message!.attachments![0]!.content_type).toBe('image/jpeg');
    expect(sha256(message!.attachments![0]!.data!)).toBe(sha256(kept[0]!.bytes));
    expect(await phoneOutboxFiles(page)).toEqual([]);

    // The sent message shows the photo from the server, through its signed link.
    const photo = mine.getByRole('img', { name: 'Photo boiler.jpg' });
    await expect.poll(() => photo.getAttribute('src'), { timeout: 10_000 }).toMatch(/^\/api\/v1\/portal\/vendor\/message-attachments\/content\?token=/);
    await expect.poll(() => photo.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0), { timeout: 10_000 }).toBe(true);

    // A PDF alone (no text), online: a chip with its name; still one Chatwoot message each.
    await page.locator('input[data-input="message-files"]').setInputFiles({ name: 'quote.pdf', mimeType: 'application/pdf', buffer: pdf });
    await page.getByTestId('attached-files').getByText('quote.pdf').waitFor();
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    const chip = page.getByTestId('message-files').getByRole('link', { name: 'quote.pdf' });
    await chip.waitFor({ timeout: 15_000 });
    // The thread refetches on every change and may redraw the chip meanwhile: measure it once it holds still.
    await expect.poll(async () => (await chip.boundingBox())?.height ?? 0, { timeout: 10_000 }).toBeGreaterThanOrEqual(44);
    await expect.poll(() => conversationOf(job.reference)!.messages.length, { timeout: 15_000 }).toBe(2);
    expect(conversationOf(job.reference)!.messages[1]!.attachments!.map((a) => a.data!.equals(pdf))).toEqual([true]);
    expect(chatwoot.takeViolations()).toEqual([]);
    await context.close();
  });

  for (const scheme of ['light', 'dark'] as const) {
    it(`looks right at 390×844 (${scheme})`, async () => {
      const job = await vendorJob(`Files look ${scheme}`);
      const context = await launchPhone(owner.token, scheme);
      const page = await openPortal(context, `/jobs/${job.id}/messages`);
      const composer = page.getByLabel('Message to dispatch');
      await composer.waitFor({ timeout: 15_000 });
      const input = page.locator('input[data-input="message-files"]');
      await input.setInputFiles([
        { name: 'before.jpg', mimeType: 'image/jpeg', buffer: await cameraPhoto() },
        { name: 'quote.pdf', mimeType: 'application/pdf', buffer: pdf },
      ]);
      await page.getByTestId('attached-files').getByText('quote.pdf').waitFor({ timeout: 15_000 });
      await composer.fill('Photo and the quote.');
      await page.getByRole('button', { name: 'Send', exact: true }).click();
      const sent = page.getByTestId('message').filter({ hasText: 'Photo and the quote.' });
      await expect.poll(() => sent.getAttribute('data-status'), { timeout: 20_000 }).toBe('sent');
      await expect.poll(() => sent.getByRole('img').evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0), { timeout: 10_000 }).toBe(true);
      // The next message's files, picked and shown before sending.
      await input.setInputFiles([{ name: 'after.jpg', mimeType: 'image/jpeg', buffer: await cameraPhoto() }, { name: 'invoice.pdf', mimeType: 'application/pdf', buffer: pdf }]);
      await page.getByTestId('attached-files').getByText('invoice.pdf').waitFor({ timeout: 15_000 });
      for (const button of await page.getByRole('button', { name: /^Remove / }).all()) {
        const box = (await button.boundingBox())!;
        expect(Math.min(box.width, box.height)).toBeGreaterThanOrEqual(44);
      }
      expect(await accessibilityViolations(page)).toEqual([]);
      await phoneShot(page, `vendor-message-files-${scheme}`, '[data-testid="message-files"]');
      // The narrowest phones (360 px): nothing wider than the screen.
      await page.setViewportSize({ width: 360, height: 780 });
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
      await phoneShot(page, `vendor-message-files-360-${scheme}`, '[data-testid="attached-files"]');
      await context.close();
    });
  }
});
