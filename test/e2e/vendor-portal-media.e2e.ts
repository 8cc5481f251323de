// The vendor portal's photos, messages, business and team screens in a phone-sized Chromium with
// touch: photos taken with no signal are compressed and kept on the phone (through a reload), and
// arrive once each, byte for byte, when the signal returns; an upload cut by a reload resumes from
// the server's offset; a message reaches Chatwoot and an agent's reply comes back live (a private
// note never does); the owner edits the weekly hours, uploads a document and invites a technician.
// Screenshots at 390×844 in light and dark.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { type Page, type Request } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startFakeChatwoot, type FakeChatwoot } from '../fakes/chatwoot.ts';
import { spawnIn } from '../helpers/processes.ts';
import { accessibilityViolations, screenshotDir } from './browser.ts';
import { inAccount, launchPhone, openPortal, vendorPerson } from './phone.ts';
import { callApi, connectChatwoot, signInToken } from './world.ts';

const baseUrl = inject('baseUrl');
const chatwootAccount = 23;
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

/** Calls the portal's API as a vendor user (the session cookie and the app header, as the app does). */
async function asVendor<T>(token: string, apiPath: string) {
  const response = await fetch(`${baseUrl}/api/v1${apiPath}`, { headers: { Cookie: `onelink_session=${token}`, 'X-Requested-With': 'onelink' } });
  const body = (await response.json()) as { data: T; error?: unknown };
  expect(response.status, `GET ${apiPath}: ${JSON.stringify(body.error)}`).toBe(200);
  return body.data;
}

interface StoredFile { client_id: string; tag: string | null; upload_url: string | null; size: number; bytes: Buffer }

/** What the phone still holds in its upload database (the compressed files, as they will be sent). */
async function phoneUploads(page: Page): Promise<StoredFile[]> {
  const rows = await page.evaluate(async () => {
    const names = (await indexedDB.databases()).map((d) => d.name);
    if (!names.includes('onelink-vendor-uploads')) return [];
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const open = indexedDB.open('onelink-vendor-uploads');
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error);
    });
    try {
      if (!db.objectStoreNames.contains('uploads')) return [];
      const all = await new Promise<Array<{ client_id: string; tag: string | null; upload_url: string | null; size: number; blob: Blob }>>((resolve, reject) => {
        const request = db.transaction('uploads').objectStore('uploads').getAll();
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
      return Promise.all(
        all.map(async (row) => {
          const bytes = new Uint8Array(await row.blob.arrayBuffer());
          let binary = '';
          for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
          return { client_id: row.client_id, tag: row.tag, upload_url: row.upload_url, size: row.size, base64: btoa(binary) };
        }),
      );
    } finally {
      db.close();
    }
  });
  return rows.map(({ base64, ...row }) => ({ ...row, bytes: Buffer.from(base64, 'base64') }));
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** Whether a JPEG's EXIF holds a GPS block (the IFD0 entry 0x8825 that points at it). */
async function hasGps(jpeg: Buffer) {
  const exif = (await sharp(jpeg).metadata()).exif;
  if (!exif) return false;
  const tiff = exif.subarray(exif.indexOf('Exif\0\0') === 0 ? 6 : 0);
  const little = tiff.toString('latin1', 0, 2) === 'II';
  const u16 = (at: number) => (little ? tiff.readUInt16LE(at) : tiff.readUInt16BE(at));
  const u32 = (at: number) => (little ? tiff.readUInt32LE(at) : tiff.readUInt32BE(at));
  const ifd0 = u32(4);
  for (let i = 0; i < u16(ifd0); i++) if (u16(ifd0 + 2 + i * 12) === 0x8825) return true;
  return false;
}

/**
 * A camera photo: landscape pixels (4000×3000) with EXIF orientation 6 (shown turned a quarter
 * clockwise, so upright it is portrait), a blue stripe on the pixels' left edge (upright: the top),
 * and a GPS position. `noisy` makes a big file (noise compresses badly).
 */
async function cameraPhoto(options: { noisy?: boolean; colour?: { r: number; g: number; b: number } } = {}) {
  const base = options.noisy
    ? sharp({ create: { width: 4000, height: 3000, channels: 3, background: { r: 0, g: 0, b: 0 }, noise: { type: 'gaussian', mean: 128, sigma: 70 } } })
    : sharp({ create: { width: 4000, height: 3000, channels: 3, background: options.colour ?? { r: 190, g: 60, b: 40 } } });
  const photo = await base
    .composite([{ input: { create: { width: 400, height: 3000, channels: 3, background: { r: 0, g: 0, b: 255 } } }, left: 0, top: 0 }])
    .jpeg({ quality: 92 })
    .withMetadata({ orientation: 6 })
    .withExifMerge({ IFD0: { Make: 'Onelink test camera' }, IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '51/1 30/1 2600/100', GPSLongitudeRef: 'W', GPSLongitude: '0/1 7/1 3900/100' } })
    .toBuffer();
  return photo;
}

/** The job's artifacts as the database holds them (every row, so a duplicate would show). */
const artifactRows = (jobId: string) =>
  inAccount(accountId, async (db) => (await db.query(`select id, client_id, tag, sha256, size_bytes from onelink.job_artifacts where account_id = $1 and job_id = $2 and deleted_at is null order by created_at`, [accountId, jobId])).rows as Array<{ id: string; client_id: string | null; tag: string | null; sha256: string; size_bytes: string }>);

interface PortalArtifact { id: string; kind: string; tag: string | null; url: string; thumbnail_url: string | null }
async function serverCopy(jobId: string, artifactId: string) {
  const job = await asVendor<{ artifacts: PortalArtifact[] }>(owner.token, `/portal/vendor/jobs/${jobId}`);
  const artifact = job.artifacts.find((a) => a.id === artifactId);
  expect(artifact, `artifact ${artifactId} in the portal's job`).toBeTruthy();
  const response = await fetch(new URL(artifact!.url, baseUrl));
  expect(response.status).toBe(200);
  return Buffer.from(await response.arrayBuffer());
}

/** The job's conversation in the fake Chatwoot (custom attribute onelink_job: the job's reference). */
const conversationOf = (reference: string) => [...chatwoot.conversations.values()].find((c) => c.accountId === chatwootAccount && c.customAttributes.onelink_job === reference);

/** An agent writes in the conversation in Chatwoot (a reply, or a private note). */
async function agentSays(conversationId: number, content: string, isPrivate = false) {
  const response = await fetch(`${chatwoot.url}/api/v1/accounts/${chatwootAccount}/conversations/${conversationId}/messages`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', api_access_token: 'media-admin-token' },
    body: JSON.stringify({ content, private: isPrivate, message_type: 'outgoing' }),
  });
  expect(response.status).toBe(200);
}

/** What the phone's screen shows (390×844), scrolled to `at` when given. */
async function phoneShot(page: Page, name: string, at?: string) {
  // Clear of the page's sticky notices at the top.
  if (at) await page.locator(at).first().evaluate((el) => window.scrollTo(0, el.getBoundingClientRect().top + window.scrollY - 130));
  else await page.evaluate(() => window.scrollTo(0, 0));
  fs.mkdirSync(screenshotDir, { recursive: true });
  await page.screenshot({ path: path.join(screenshotDir, `${name}.png`) });
}

let template: { id: string };
let nextJob = 1;
/** A job of the vendor's, assigned, needing two "after" photos. */
async function vendorJob(summary: string) {
  const job = await asAdmin<{ id: string; reference: string }>('/jobs', {
    method: 'POST',
    json: { summary: `${summary} #${nextJob++}`, priority: 'normal', service_category: 'plumbing', checklist_template_id: template.id },
  });
  await asAdmin(`/jobs/${job.id}/assignment`, { method: 'POST', json: { vendor_id: vendorId } });
  return job;
}

beforeAll(async () => {
  chatwoot = await startFakeChatwoot();
  chatwoot.addAgent({ id: 71, name: 'Mina Media', email: 'mina@acme.test', token: 'media-admin-token', accounts: [{ id: chatwootAccount, name: 'Acme Media', role: 'administrator' }] });
  await connectChatwoot(chatwoot, 'media-admin-token');
  // The installer registers the account's webhook (agents' replies come back through it).
  const installer = spawnIn(
    'npm',
    ['run', '--silent', 'onelink', '--', 'install', '--chatwoot-url', chatwoot.url, '--account-id', String(chatwootAccount), '--token', 'media-admin-token', '--public-url', baseUrl, '--check-timeout', '15'],
    { ONELINK_DATA_DIR: inject('dataDir') },
  );
  expect((await installer.exited).code, installer.output()).toBe(0);
  adminToken = await signInToken(chatwoot, 'media-admin-token', chatwootAccount);
  await asAdmin('/admin/capabilities', { method: 'PATCH', json: { profile: 'construction' } });
  const me = await asAdmin<{ account: { id: number } }>('/me');
  accountId = me.account.id;
  const vendor = await asAdmin<{ id: string }>('/vendors', { method: 'POST', json: { name: 'Drip Plumbing', categories: ['plumbing'], time_zone: 'Europe/London' } });
  vendorId = vendor.id;
  await asAdmin(`/vendors/${vendorId}/documents`, { method: 'POST', json: { kind: 'insurance', expires_on: '2099-01-01' } });
  template = await asAdmin<{ id: string }>('/checklist-templates', {
    method: 'POST',
    json: { name: 'Leak repair', service_category: 'plumbing', items: [{ label: 'Water off', required: true }], required_photos: [{ tag: 'after', label: 'After the repair', min: 2 }] },
  });
  owner = await vendorPerson(accountId, vendorId, { name: 'Paula Plumber', email: 'paula@drip.test', role: 'owner' });
});
afterAll(() => chatwoot?.close());

describe('photos on a phone with no signal', () => {
  it('keeps two photos through an offline reload and delivers each once, byte for byte, upright and without GPS', async () => {
    const job = await vendorJob('Leak under the sink');
    const context = await launchPhone(owner.token);
    const page = await openPortal(context, `/jobs/${job.id}`);
    await page.getByRole('button', { name: 'Take photo' }).waitFor({ timeout: 15_000 });

    const original = await cameraPhoto();
    expect(await hasGps(original)).toBe(true);
    expect((await sharp(original).metadata()).orientation).toBe(6);

    await context.setOffline(true);
    await page.getByRole('radio', { name: 'After the repair' }).check();
    await page.locator('input[data-input="camera"]').setInputFiles({ name: 'IMG_0001.jpg', mimeType: 'image/jpeg', buffer: original });
    await page.locator('input[data-input="gallery"]').setInputFiles({ name: 'IMG_0002.jpg', mimeType: 'image/jpeg', buffer: await cameraPhoto({ colour: { r: 40, g: 150, b: 60 } }) });
    const banner = page.locator('[data-banner="uploads"]');
    await expect.poll(() => banner.textContent(), { timeout: 10_000 }).toContain('2 photos waiting for signal');

    // On the phone: compressed (long side 2048, turned upright, no EXIF at all), tagged, waiting.
    const kept = await phoneUploads(page);
    expect(kept).toHaveLength(2);
    for (const file of kept) {
      const meta = await sharp(file.bytes).metadata();
      expect(meta.format).toBe('jpeg');
      expect(Math.max(meta.width!, meta.height!)).toBe(2048);
      expect(meta.height).toBeGreaterThan(meta.width!);
      expect(meta.exif).toBeUndefined();
      expect(file.tag).toBe('after');
    }
    console.log(`photo: ${original.length} bytes from the camera → ${kept.map((f) => f.bytes.length).join(' and ')} bytes on the phone`);

    // A reload with no signal: the page comes back from the service worker and still holds both.
    await page.reload();
    await expect.poll(() => banner.textContent(), { timeout: 15_000 }).toContain('2 photos waiting for signal');
    expect((await phoneUploads(page)).map((f) => f.client_id).sort()).toEqual(kept.map((f) => f.client_id).sort());
    expect(await artifactRows(job.id)).toEqual([]);
    expect(await accessibilityViolations(page)).toEqual([]);

    // Signal again: both arrive, once each, and leave the phone.
    await context.setOffline(false);
    await expect.poll(async () => (await phoneUploads(page)).length, { timeout: 30_000 }).toBe(0);
    await expect.poll(() => banner.count(), { timeout: 10_000 }).toBe(0);
    const rows = await artifactRows(job.id);
    expect(rows.map((r) => r.client_id).sort()).toEqual(kept.map((f) => f.client_id).sort());
    for (const file of kept) {
      const row = rows.find((r) => r.client_id === file.client_id)!;
      expect(row.sha256).toBe(sha256(file.bytes));
      expect(row.tag).toBe('after');
      const copy = await serverCopy(job.id, row.id);
      expect(copy.equals(file.bytes)).toBe(true);
      const meta = await sharp(copy).metadata();
      expect(Math.max(meta.width!, meta.height!)).toBeLessThanOrEqual(2048);
      expect(meta.exif).toBeUndefined();
      expect(await hasGps(copy)).toBe(false);
      // Upright: the stripe that was on the pixels' left edge is now along the top.
      const { data, info } = await sharp(copy).raw().toBuffer({ resolveWithObject: true });
      const at = (x: number, y: number) => Array.from(data.subarray((y * info.width + x) * info.channels, (y * info.width + x) * info.channels + 3));
      expect(at(info.width >> 1, 10)[2]).toBeGreaterThan(200);
      expect(at(info.width >> 1, info.height - 10)[2]).toBeLessThan(120);
    }
    // The job now counts them, and the section shows them as on the server.
    await expect.poll(() => page.locator('[data-artifact-id]').count(), { timeout: 10_000 }).toBe(2);
    const portalJob = await asVendor<{ required_photos: Array<{ tag: string; have: number }> }>(owner.token, `/portal/vendor/jobs/${job.id}`);
    expect(portalJob.required_photos.find((p) => p.tag === 'after')?.have).toBe(2);
    await context.close();
  });

  it('resumes an upload cut by a reload from the offset the server holds', async () => {
    const job = await vendorJob('Burst pipe in the loft');
    const context = await launchPhone(owner.token);
    const page = await openPortal(context, `/jobs/${job.id}`);
    await page.getByRole('button', { name: 'Take photo' }).waitFor({ timeout: 15_000 });
    const uploads: Array<{ method: string; offset: string | null; at: 'before' | 'after' }> = [];
    let phase: 'before' | 'after' = 'before';
    const watch = (request: Request) => {
      if (new URL(request.url()).pathname.startsWith('/api/v1/uploads')) uploads.push({ method: request.method(), offset: request.headers()['upload-offset'] ?? null, at: phase });
    };
    context.on('request', watch);

    // A slow line (64 KB/s each way): the photo takes many seconds, so the reload lands mid-way.
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 150, downloadThroughput: 64 * 1024, uploadThroughput: 64 * 1024 });
    await page.locator('input[data-input="camera"]').setInputFiles({ name: 'IMG_0100.jpg', mimeType: 'image/jpeg', buffer: await cameraPhoto({ noisy: true }) });
    await expect.poll(async () => (await phoneUploads(page))[0]?.upload_url ?? null, { timeout: 20_000 }).not.toBe(null);
    const [file] = await phoneUploads(page);
    const uploadUrl = new URL(file!.upload_url!, baseUrl).toString();
    const serverOffset = async () => {
      const head = await fetch(uploadUrl, { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0', Cookie: `onelink_session=${owner.token}`, 'X-Requested-With': 'onelink' } });
      return Number(head.headers.get('upload-offset'));
    };
    await expect.poll(serverOffset, { timeout: 30_000 }).toBeGreaterThan(0);

    // Cut: no signal, and the page reloads (the app is closed and opened again).
    await context.setOffline(true);
    await page.reload();
    const heldAtCut = await serverOffset();
    expect(heldAtCut).toBeGreaterThan(0);
    expect(heldAtCut).toBeLessThan(file!.size);
    console.log(`resume: the server held ${heldAtCut} of ${file!.size} bytes when the upload was cut`);
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 }).catch(() => undefined);
    phase = 'after';
    await context.setOffline(false);
    await expect.poll(async () => (await phoneUploads(page)).length, { timeout: 30_000 }).toBe(0);

    // After the reload: no new upload was created; the first data sent started at the server's offset.
    const after = uploads.filter((u) => u.at === 'after');
    expect(after.filter((u) => u.method === 'POST')).toEqual([]);
    const firstPatch = after.find((u) => u.method === 'PATCH');
    expect(Number(firstPatch?.offset)).toBe(heldAtCut);
    const rows = await artifactRows(job.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ client_id: file!.client_id, sha256: sha256(file!.bytes) });
    expect((await serverCopy(job.id, rows[0]!.id)).equals(file!.bytes)).toBe(true);
    context.off('request', watch);
    await context.close();
  });
});

describe('messages with dispatch', () => {
  it('sends a message to the Vendors inbox and shows the agent’s reply live, never a private note', async () => {
    chatwoot.messageEvents = true;
    const job = await vendorJob('Dripping tap');
    const context = await launchPhone(owner.token);
    const page = await openPortal(context, `/jobs/${job.id}/messages`);
    const composer = page.getByLabel('Message to dispatch');
    await composer.waitFor({ timeout: 15_000 });
    await composer.fill('Water is off, starting on the tap now.');
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    const mine = page.getByTestId('message').filter({ hasText: 'Water is off, starting on the tap now.' });
    await expect.poll(() => mine.getAttribute('data-status'), { timeout: 15_000 }).toBe('sent');

    // In Chatwoot: an incoming message in the job's conversation of the Vendors inbox.
    const conversationOfJob = () => conversationOf(job.reference);
    await expect.poll(() => conversationOfJob()?.messages.map((m) => [m.message_type, m.content]), { timeout: 15_000 }).toContainEqual(['incoming', 'Water is off, starting on the tap now.']);
    const conversation = conversationOfJob()!;
    const inbox = chatwoot.apiInboxes.find((i) => i.inboxId === conversation.inboxId);
    expect(inbox?.accountId).toBe(chatwootAccount);
    expect(chatwoot.takeViolations()).toEqual([]);

    // An agent answers in Chatwoot (and writes a private note first): the reply shows within 2 s, the note never.
    const delivered = chatwoot.webhookDeliveries.length;
    await agentSays(conversation.id, 'Internal: vendor is slow on this one', true);
    await expect.poll(() => chatwoot.webhookDeliveries.slice(delivered).filter((d) => d.status === 202).length, { timeout: 10_000 }).toBeGreaterThan(0);
    const sentAt = Date.now();
    await agentSays(conversation.id, 'Thanks Paula, the client is home all day.');
    const reply = page.getByTestId('message').filter({ hasText: 'Thanks Paula, the client is home all day.' });
    await expect.poll(() => reply.count(), { timeout: 2_000, interval: 50 }).toBe(1);
    console.log(`messages: the agent's reply showed in the portal ${Date.now() - sentAt} ms after it was posted in Chatwoot`);
    expect(await reply.getAttribute('class')).toContain('theirs');
    expect(await page.getByText('Internal: vendor is slow on this one').count()).toBe(0);
    const thread = await asVendor<Array<{ content: string }>>(owner.token, `/portal/vendor/jobs/${job.id}/messages`);
    expect(thread.map((m) => m.content)).not.toContain('Internal: vendor is slow on this one');

    // Written with no signal: kept on the phone (through a reload), sent once when back online.
    await context.setOffline(true);
    await composer.fill('Need a 15 mm valve, going to the shop.');
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    const offline = page.getByTestId('message').filter({ hasText: 'Need a 15 mm valve' });
    await expect.poll(() => offline.getAttribute('data-status'), { timeout: 10_000 }).toBe('queued');
    await page.reload();
    await expect.poll(() => page.getByTestId('message').filter({ hasText: 'Thanks Paula' }).count(), { timeout: 15_000 }).toBe(1);
    await expect.poll(() => offline.getAttribute('data-status'), { timeout: 10_000 }).toBe('queued');
    expect(await accessibilityViolations(page)).toEqual([]);
    await context.setOffline(false);
    await expect.poll(() => offline.getAttribute('data-status'), { timeout: 15_000 }).toBe('sent');
    await expect.poll(() => conversationOfJob()!.messages.filter((m) => m.content === 'Need a 15 mm valve, going to the shop.').length, { timeout: 15_000 }).toBe(1);
    await context.close();
    chatwoot.messageEvents = false;
  });
});

describe('a phone shared by two people', () => {
  it("keeps a person's unsent photo and message for them alone: signed out with no signal, the next person neither sees nor sends them", async () => {
    const job = await vendorJob('Shared phone');
    const colleague = await vendorPerson(accountId, vendorId, { name: 'Omar Owner', email: 'omar@drip.test', role: 'owner' });
    const context = await launchPhone(owner.token);
    const page = await openPortal(context, `/jobs/${job.id}`);
    const takePhoto = async (colour: { r: number; g: number; b: number }) => {
      await page.getByRole('button', { name: 'Take photo' }).waitFor({ timeout: 15_000 });
      await page.getByRole('radio', { name: 'After the repair' }).check();
      await page.locator('input[data-input="camera"]').setInputFiles({ name: 'IMG.jpg', mimeType: 'image/jpeg', buffer: await cameraPhoto({ colour }) });
    };

    // Paula takes a photo and writes with no signal, then signs out, still with no signal: the
    // warning counts them (no job action waits).
    await context.setOffline(true);
    await takePhoto({ r: 200, g: 20, b: 20 });
    await expect.poll(() => page.locator('[data-banner="uploads"]').textContent(), { timeout: 10_000 }).toContain('1 photo waiting for signal');
    const [paulasPhoto] = (await phoneUploads(page)).map((file) => file.client_id);
    await page.goto(`${baseUrl}/portal/vendor/jobs/${job.id}/messages`);
    const composer = page.getByLabel('Message to dispatch');
    await composer.waitFor({ timeout: 15_000 });
    await composer.fill('Paula only: the gate code is 4321.');
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    const hers = page.getByTestId('message').filter({ hasText: 'gate code' });
    await expect.poll(() => hers.getAttribute('data-status'), { timeout: 10_000 }).toBe('queued');
    await page.getByRole('link', { name: 'Account' }).click();
    await page.getByText('Changes not yet sent stay on this phone').waitFor({ timeout: 10_000 });
    await page.getByRole('button', { name: 'Sign out' }).click();
    await expect.poll(() => new URL(page.url()).pathname, { timeout: 10_000 }).toBe('/portal/vendor/sign-in');

    // Omar signs in on the same phone, with signal: Paula's photo and message are not his to see or
    // send. His own go out (each queue sends oldest first, so hers would have gone before them).
    await context.addCookies([{ name: 'onelink_session', value: colleague.token, url: baseUrl, httpOnly: true, sameSite: 'Lax' }]);
    await context.setOffline(false);
    await page.goto(`${baseUrl}/portal/vendor/jobs/${job.id}`);
    await takePhoto({ r: 20, g: 20, b: 200 });
    await expect.poll(async () => (await artifactRows(job.id)).length, { timeout: 20_000 }).toBe(1);
    await expect.poll(async () => (await phoneUploads(page)).map((file) => file.client_id), { timeout: 10_000 }).toEqual([paulasPhoto]); // still on the phone
    expect((await artifactRows(job.id)).map((row) => row.client_id)).not.toContain(paulasPhoto);
    await page.goto(`${baseUrl}/portal/vendor/jobs/${job.id}/messages`);
    await composer.waitFor({ timeout: 15_000 });
    await composer.fill('Omar here, on my way.');
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    await expect.poll(() => page.getByTestId('message').filter({ hasText: 'Omar here' }).getAttribute('data-status'), { timeout: 15_000 }).toBe('sent');
    // Each person writes in their own conversation of the job: all of the job's are counted.
    const sentToChatwoot = (text: string) =>
      [...chatwoot.conversations.values()].filter((c) => c.accountId === chatwootAccount && c.customAttributes.onelink_job === job.reference).flatMap((c) => c.messages).filter((m) => m.content?.includes(text)).length;
    await expect.poll(() => sentToChatwoot('Omar here'), { timeout: 15_000 }).toBe(1);
    expect(sentToChatwoot('gate code')).toBe(0);
    expect(await hers.count()).toBe(0);

    // Omar signs out; Paula is back (her session was still valid): her message goes, once.
    await page.getByRole('link', { name: 'Account' }).click();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await expect.poll(() => new URL(page.url()).pathname, { timeout: 10_000 }).toBe('/portal/vendor/sign-in');
    await context.addCookies([{ name: 'onelink_session', value: owner.token, url: baseUrl, httpOnly: true, sameSite: 'Lax' }]);
    await page.goto(`${baseUrl}/portal/vendor/jobs/${job.id}/messages`);
    await expect.poll(() => sentToChatwoot('gate code'), { timeout: 15_000 }).toBe(1);
    await expect.poll(async () => (await artifactRows(job.id)).length, { timeout: 20_000 }).toBe(2);
    expect((await artifactRows(job.id)).map((row) => row.client_id)).toContain(paulasPhoto);
    expect(await phoneUploads(page)).toEqual([]);
    await expect.poll(() => hers.getAttribute('data-status'), { timeout: 15_000 }).toBe('sent');
    expect(chatwoot.takeViolations()).toEqual([]);
    await context.close();
  });
});

describe("the owner's business and team", () => {
  it('edits the weekly hours, uploads a document for review and invites a technician', async () => {
    const context = await launchPhone(owner.token);
    const page = await openPortal(context, '/business');
    const hours = page.locator('[data-section="hours"]');
    await hours.getByRole('button', { name: 'Add hours' }).first().waitFor({ timeout: 15_000 });
    // Monday 07:30–16:00.
    await hours.getByRole('button', { name: 'Add hours' }).first().click();
    await hours.getByLabel('Monday from').fill('07:30');
    await hours.getByLabel('Monday to').fill('16:00');
    await hours.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => hours.getByRole('status').textContent(), { timeout: 10_000 }).toBe('Saved');
    type Business = { availability: Array<{ weekday: number; starts: string; ends: string }>; documents: Array<{ kind: string; status: string; reference: string | null }> };
    expect((await asVendor<Business>(owner.token, '/portal/vendor/business')).availability.map((s) => [s.weekday, s.starts.slice(0, 5), s.ends.slice(0, 5)])).toContainEqual([1, '07:30', '16:00']);

    // Time off: two days, listed; then taken back.
    const timeOff = page.locator('[data-section="time-off"]');
    await timeOff.getByLabel('First day off').fill('2031-07-14');
    await timeOff.getByLabel('Last day off').fill('2031-07-15');
    await timeOff.getByLabel('Reason (optional)').fill('Family wedding');
    await timeOff.getByRole('button', { name: 'Add time off' }).click();
    const planned = timeOff.getByRole('button', { name: /^Remove time off / });
    await expect.poll(() => planned.count(), { timeout: 10_000 }).toBe(1);
    expect(await timeOff.textContent()).toContain('Family wedding');
    type TimeOff = { time_off: Array<{ starts_at: string; ends_at: string; reason: string | null }> };
    const [off] = (await asVendor<TimeOff>(owner.token, '/portal/vendor/business')).time_off;
    expect((new Date(off!.ends_at).getTime() - new Date(off!.starts_at).getTime()) / 3_600_000).toBe(48);
    await planned.click();
    await expect.poll(() => timeOff.textContent(), { timeout: 10_000 }).toContain('No time off planned.');
    expect((await asVendor<TimeOff>(owner.token, '/portal/vendor/business')).time_off).toEqual([]);

    // A document: a small PDF with its expiry; it shows as pending review.
    const documents = page.locator('[data-section="documents"]');
    await documents.getByLabel('Kind').selectOption('licence');
    await documents.getByLabel('Policy or licence number (optional)').fill('GAS-55120');
    await documents.getByLabel('Expiry date').fill('2028-03-31');
    const pdf = Buffer.from('%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n');
    await documents.getByLabel('File (PDF or photo)').setInputFiles({ name: 'gas-licence.pdf', mimeType: 'application/pdf', buffer: pdf });
    await documents.getByRole('button', { name: 'Upload document' }).click();
    const sent = documents.locator('[data-document-id]').filter({ hasText: 'GAS-55120' });
    await expect.poll(() => sent.textContent(), { timeout: 10_000 }).toContain('Pending review');
    expect((await asVendor<Business>(owner.token, '/portal/vendor/business')).documents).toContainEqual(expect.objectContaining({ kind: 'licence', status: 'pending_review', reference: 'GAS-55120' }));
    expect(await accessibilityViolations(page)).toEqual([]);

    // Dispatch locks the services: the section is read-only and says why.
    await asAdmin(`/vendors/${vendorId}/locks`, { method: 'PUT', json: { categories: true } });
    await page.reload();
    const services = page.locator('[data-section="categories"]');
    await expect.poll(() => services.textContent(), { timeout: 15_000 }).toContain('Locked by dispatch');
    expect(await services.getByRole('textbox').count()).toBe(0);
    expect(await hours.getByRole('button', { name: 'Save' }).count()).toBe(1);
    await asAdmin(`/vendors/${vendorId}/locks`, { method: 'PUT', json: { categories: false } });

    // The team: invite a technician by e-mail; they are listed.
    await page.goto(`${baseUrl}/portal/vendor/team`);
    const invite = page.locator('[data-section="invite"]');
    await invite.getByLabel('Name').fill('Theo Technician');
    await invite.getByLabel('E-mail').fill('theo@drip.test');
    await invite.getByRole('button', { name: 'Send invitation' }).click();
    await expect.poll(() => page.locator('[data-member-id]').filter({ hasText: 'Theo Technician' }).count(), { timeout: 10_000 }).toBe(1);
    const users = await asVendor<Array<{ name: string; vendor_role: string; active: boolean }>>(owner.token, '/portal/vendor/users');
    expect(users).toContainEqual(expect.objectContaining({ name: 'Theo Technician', vendor_role: 'technician', active: true }));
    expect(await accessibilityViolations(page)).toEqual([]);
    await context.close();
  });

  it("lists a technician's devices and signs one out, and deactivates them", async () => {
    const tech = await vendorPerson(accountId, vendorId, { name: 'Tara Technician', email: 'tara@drip.test', role: 'technician' });
    const context = await launchPhone(owner.token);
    const page = await openPortal(context, '/team');
    const tara = page.locator('[data-member-id]').filter({ hasText: 'Tara Technician' });
    await tara.getByRole('button', { name: 'Devices' }).click();
    const signOut = tara.getByRole('button', { name: /^Sign Tara Technician out of / });
    await expect.poll(() => signOut.count(), { timeout: 10_000 }).toBe(1);
    await signOut.click();
    await expect.poll(() => tara.getByText('Not signed in on any device.').count(), { timeout: 10_000 }).toBe(1);
    const me = await fetch(`${baseUrl}/api/v1/me`, { headers: { Cookie: `onelink_session=${tech.token}`, 'X-Requested-With': 'onelink' } });
    expect(me.status).toBe(401);
    await tara.getByRole('button', { name: 'Deactivate' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Deactivate' }).click();
    await expect.poll(() => tara.textContent(), { timeout: 10_000 }).toContain('Deactivated');
    expect(await accessibilityViolations(page)).toEqual([]);
    await context.close();
  });
});

describe('how it looks on a phone', () => {
  for (const scheme of ['light', 'dark'] as const) {
    it(`photos, messages, business and team at 390×844 (${scheme})`, async () => {
      const job = await vendorJob('Leaking radiator valve');
      const context = await launchPhone(owner.token, scheme);
      const page = await openPortal(context, `/jobs/${job.id}`);
      await page.getByRole('button', { name: 'Take photo' }).waitFor({ timeout: 15_000 });
      // One photo on the server, one waiting on the phone.
      await page.locator('input[data-input="camera"]').setInputFiles({ name: 'IMG_0200.jpg', mimeType: 'image/jpeg', buffer: await cameraPhoto() });
      await expect.poll(() => page.locator('[data-artifact-id]').count(), { timeout: 20_000 }).toBe(1);
      await context.setOffline(true);
      await page.locator('input[data-input="camera"]').setInputFiles({ name: 'IMG_0201.jpg', mimeType: 'image/jpeg', buffer: await cameraPhoto({ colour: { r: 60, g: 90, b: 160 } }) });
      await expect.poll(() => page.locator('[data-banner="uploads"]').textContent(), { timeout: 10_000 }).toContain('1 photo waiting for signal');
      expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
      await phoneShot(page, `vendor-portal-photos-queue-${scheme}`);
      await phoneShot(page, `vendor-portal-photos-${scheme}`, '#photos-title');
      expect(await accessibilityViolations(page)).toEqual([]);
      await context.setOffline(false);
      await expect.poll(() => page.locator('[data-artifact-id]').count(), { timeout: 20_000 }).toBe(2);

      await page.goto(`${baseUrl}/portal/vendor/jobs/${job.id}/messages`);
      await page.getByLabel('Message to dispatch').fill(`Arrived, looking at the valve (${scheme}).`);
      await page.getByRole('button', { name: 'Send', exact: true }).click();
      await expect.poll(() => page.getByTestId('message').last().getAttribute('data-status'), { timeout: 15_000 }).toBe('sent');
      chatwoot.messageEvents = true;
      await agentSays(conversationOf(job.reference)!.id, 'Great, the client says the valve is behind the sofa. Call me if you need a part.');
      await expect.poll(() => page.getByTestId('message').count(), { timeout: 10_000 }).toBe(2);
      chatwoot.messageEvents = false;
      expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
      await phoneShot(page, `vendor-portal-messages-${scheme}`);
      expect(await accessibilityViolations(page)).toEqual([]);

      for (const screen of ['business', 'team'] as const) {
        await page.goto(`${baseUrl}/portal/vendor/${screen}`);
        await page.locator(screen === 'business' ? '[data-section="documents"]' : '[data-section="invite"]').waitFor({ timeout: 15_000 });
        expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
        await phoneShot(page, `vendor-portal-${screen}-${scheme}`);
        if (screen === 'business') await phoneShot(page, `vendor-portal-business-documents-${scheme}`, '[data-section="documents"]');
        // The smallest phones we serve: nothing runs off the side at 360 px either.
        await page.setViewportSize({ width: 360, height: 740 });
        expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
        await page.setViewportSize({ width: 390, height: 844 });
        expect(await accessibilityViolations(page)).toEqual([]);
      }
      await context.close();
    });
  }
});
