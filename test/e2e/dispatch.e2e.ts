// The dispatch board as a full page: jobs by status; a job opens in a drawer with its story;
// vendor suggestions explain their scores; assigning the best one moves the job on.
import { randomBytes } from 'node:crypto';
import PgBoss from 'pg-boss';
import type { BrowserContext, Page } from 'playwright-core';
import twilio from 'twilio';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startFakeChatwoot, type FakeChatwoot } from '../fakes/chatwoot.ts';

import { accessibilityViolations, launchBrowser, screenshot } from './browser.ts';
import { callApi, connectChatwoot, signInToken } from './world.ts';

const baseUrl = inject('baseUrl');
let chatwoot: FakeChatwoot;
let token: string;

const api = async <T>(path: string, init: { method?: string; json?: unknown } = {}) => (await callApi<T>(token, path, init)).data;

beforeAll(async () => {
  chatwoot = await startFakeChatwoot();
  chatwoot.addAgent({ id: 31, name: 'Dee Dispatch', email: 'dee@acme.test', token: 'dispatch-admin-token', accounts: [{ id: 10, name: 'Acme Field', role: 'administrator' }] });
  await connectChatwoot(chatwoot, 'dispatch-admin-token');
  token = await signInToken(chatwoot, 'dispatch-admin-token', 10);
  await api('/admin/capabilities', { method: 'PATCH', json: { profile: 'construction' } });
  for (const [name, lat] of [['Near Heating', 51.51], ['Far Heating', 51.7]] as const) {
    const vendor = await api<{ id: string }>('/vendors', { method: 'POST', json: { name, categories: ['heating'], base_lat: lat, base_lng: -0.12, radius_km: 40 } });
    await api(`/vendors/${vendor.id}/documents`, { method: 'POST', json: { kind: 'insurance', expires_on: '2099-01-01' } });
  }
  await api('/checklist-templates', { method: 'POST', json: { name: 'Boiler', service_category: 'heating', items: [{ label: 'Pressure test' }] } });
  await api('/jobs', { method: 'POST', json: { summary: 'Boiler not firing', priority: 'urgent', service_category: 'heating', lat: 51.5, lng: -0.12, conversation_ids: [44] } });
  await api('/jobs', { method: 'POST', json: { summary: 'Annual service', priority: 'low', service_category: 'heating' } });
});
afterAll(() => chatwoot.close());

const boardUrl = () => `${baseUrl}/apps/dispatch/?chatwoot=${encodeURIComponent(chatwoot.url)}&account=10`;

async function signedIn(browser: BrowserContext): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(boardUrl());
  await page.getByLabel('Chatwoot access token').fill('dispatch-admin-token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect.poll(() => page.getByTestId('job-card').count(), { timeout: 10_000 }).toBe(2);
  return page;
}

describe('the dispatch board', () => {
  it('opens a job, explains the vendor suggestions and assigns the best one', async () => {
    const browser = await launchBrowser({ width: 1400, height: 860 });
    const page = await signedIn(browser);
    expect(await page.locator('section[data-status="new"]').getByTestId('job-card').count()).toBe(2);
    await page.getByTestId('job-card').filter({ hasText: 'Boiler not firing' }).click();
    const drawer = page.getByRole('dialog');
    await expect.poll(() => drawer.getByTestId('job-status').textContent()).toContain('New');
    await drawer.getByRole('button', { name: 'Suggest vendors' }).click();
    await expect.poll(() => drawer.getByTestId('suggestion').count()).toBe(2);
    const best = drawer.getByTestId('suggestion').first();
    expect(await best.textContent()).toContain('Near Heating');
    expect(await best.textContent()).toMatch(/Distance\d+(\.\d)?\/30 · [\d.]+ km away, within a 40 km radius/);
    expect(await drawer.getByRole('link', { name: 'Conversation #44 in Chatwoot' }).getAttribute('href')).toBe(`${chatwoot.url}/app/accounts/10/conversations/44`);
    expect(await accessibilityViolations(page)).toEqual([]);
    await screenshot(page, 'dispatch-board-drawer-light');
    await drawer.getByRole('button', { name: 'Assign Near Heating' }).click();
    await expect.poll(() => drawer.getByTestId('job-status').textContent(), { timeout: 10_000 }).toContain('Assigned');
    expect(await drawer.textContent()).toContain('Vendor: Near Heating');
    await expect.poll(() => page.getByText(/J-\d+ assigned to Near Heating/).count()).toBeGreaterThan(0);
    await page.keyboard.press('Escape');
    await expect.poll(() => page.locator('section[data-status="assigned"]').getByTestId('job-card').count()).toBe(1);

    // Cancelling asks why, in a dialog; the reason is required.
    await page.getByTestId('job-card').filter({ hasText: 'Annual service' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel job' }).click();
    const ask = page.getByRole('dialog', { name: /Cancel J-\d+\?/ });
    await expect.poll(() => ask.isVisible()).toBe(true);
    expect(await ask.getByRole('button', { name: 'Cancel job' }).isDisabled()).toBe(true);
    await ask.getByLabel('Why is the job canceled?').fill('Customer booked elsewhere');
    await ask.getByRole('button', { name: 'Cancel job' }).click();
    await expect.poll(() => page.getByTestId('job-status').textContent(), { timeout: 10_000 }).toContain('Canceled');
    await page.keyboard.press('Escape');
    await expect.poll(() => page.getByTestId('job-card').count()).toBe(1); // canceled jobs leave the board
    // A job opened elsewhere (a call, the sidebar) appears without a reload.
    await api('/jobs', { method: 'POST', json: { summary: 'Radiator bleed', priority: 'normal', service_category: 'heating' } });
    await expect.poll(() => page.getByTestId('job-card').count(), { timeout: 5_000 }).toBe(2);
    await page.getByLabel('Priority').selectOption('low');
    await expect.poll(() => page.getByTestId('job-card').count()).toBe(0);
    expect(new URL(page.url()).searchParams.get('priority')).toBe('low');

    // The filters kept as a view: cleared, then brought back in one click.
    await page.getByRole('button', { name: 'Views' }).click();
    await page.getByRole('menuitem', { name: 'Save current filters…' }).click();
    await page.getByRole('dialog').getByLabel('Name').fill('Low priority');
    await page.getByRole('dialog').getByRole('button', { name: 'Save view' }).click();
    await expect.poll(() => page.getByText('View “Low priority” saved').count(), { timeout: 10_000 }).toBeGreaterThan(0);
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await expect.poll(() => page.getByTestId('job-card').count()).toBe(2);
    await page.getByRole('button', { name: 'Views' }).click();
    await page.getByRole('menuitem', { name: /^Low priority/ }).click();
    await expect.poll(() => page.getByTestId('job-card').count()).toBe(0);
    expect(await page.getByLabel('Priority').inputValue()).toBe('low');
    await page.getByLabel('Find jobs').fill('J-999999');
    await page.getByLabel('Find jobs').press('Enter');
    expect(await accessibilityViolations(page)).toEqual([]);
    await browser.close();
  });

  it('looks right in dark mode', async () => {
    const browser = await launchBrowser({ colorScheme: 'dark', width: 1400, height: 860 });
    const page = await browser.newPage();
    await page.goto(boardUrl());
    await page.getByLabel('Chatwoot access token').fill('dispatch-admin-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByTestId('job-card').count(), { timeout: 10_000 }).toBe(2);
    await screenshot(page, 'dispatch-board-dark');
    await page.setViewportSize({ width: 390, height: 844 });
    await screenshot(page, 'dispatch-board-phone-dark');
    await page.setViewportSize({ width: 1400, height: 860 });
    await page.getByTestId('job-card').filter({ hasText: 'Boiler not firing' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Suggest vendors' }).click();
    await expect.poll(() => page.getByRole('dialog').getByTestId('suggestion').count()).toBe(2);
    await screenshot(page, 'dispatch-board-drawer-dark');
    await browser.close();
  });
});

// Changes made by Onelink itself — a missed call's job, the SLA sweep — reach an open board the
// way people's changes do: write() announces after commit → NOTIFY → change stream → the page.
describe('the board follows what Onelink itself changes, without a reload', () => {
  const twilioSid = `AC${randomBytes(16).toString('hex')}`;
  const twilioToken = randomBytes(16).toString('hex');
  const twilioFields = (sid: string, extra: Record<string, string>) => ({ AccountSid: twilioSid, CallSid: sid, From: '+14155550177', To: '+14155550199', Direction: 'inbound', CallStatus: 'ringing', ApiVersion: '2010-04-01', ...extra });
  let browser: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    browser = await launchBrowser({ width: 1400, height: 860 });
    page = await browser.newPage();
    await page.goto(boardUrl());
    await page.getByLabel('Chatwoot access token').fill('dispatch-admin-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('job-card').first().waitFor({ timeout: 10_000 });
    await page.evaluate(() => ((window as unknown as { sameDocument: boolean }).sameDocument = true));
  });
  afterAll(() => browser.close());

  const sameDocument = () => page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument === true);
  /** Notes, in the page, when a job card first shows all of `texts` (this machine's clock). */
  const watchForCard = (key: string, texts: string[]) =>
    page.evaluate(
      ([k, wanted]) => {
        const seen = window as unknown as Record<string, number>;
        const check = () => {
          const cards = Array.from(document.querySelectorAll('[data-testid="job-card"]'));
          if (!seen[k] && cards.some((card) => wanted.every((text) => card.textContent?.includes(text)))) seen[k] = Date.now();
        };
        new MutationObserver(check).observe(document.body, { subtree: true, childList: true, characterData: true });
        check();
      },
      [key, texts] as const,
    );
  const cardSeenAt = (key: string) => page.evaluate((k) => (window as unknown as Record<string, number | undefined>)[k] ?? null, key);

  it('shows the job a missed call opened within 2 s of its creation (signed Twilio callbacks)', async () => {
    const settings = await callApi<{ webhook_urls: { voice: string; status_callback: string } }>(token, '/twilio/settings', {
      method: 'PUT',
      json: { account_sid: twilioSid, auth_token: twilioToken, forward_to: ['+1 415 555 0100'], voicemail_enabled: false, create_job_on: 'missed_or_voicemail' },
    });
    expect(settings.status, JSON.stringify(settings.error)).toBe(200);
    expect((await callApi(token, '/twilio/numbers', { method: 'POST', json: { e164: '+14155550199', label: 'Main line' } })).status).toBe(201);
    const post = async (url: string, fields: Record<string, string>) => {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Twilio-Signature': twilio.getExpectedTwilioSignature(twilioToken, url, fields), 'User-Agent': 'TwilioProxy/1.1' },
        body: new URLSearchParams(fields).toString(),
      });
      const text = await response.text();
      expect(response.status, `${url}: ${text}`).toBeLessThan(300);
      return text;
    };
    await watchForCard('missedCallCard', ['Missed call from +1 415 555 0177']);
    const sid = `CA${randomBytes(16).toString('hex')}`;
    const { voice, status_callback: status } = settings.data.webhook_urls;
    // Our TwiML forwards the call and names where Twilio reports the dial's outcome.
    const twiml = await post(voice, twilioFields(sid, {}));
    const dial = /<Dial[^>]*\saction="([^"]+)"/.exec(twiml)?.[1]?.replaceAll('&amp;', '&');
    expect(dial, twiml).toBeTruthy();
    // Nobody picks up, and with voicemail off nothing more can come: the call is settled at once.
    await post(dial!, twilioFields(sid, { CallStatus: 'in-progress', DialCallStatus: 'no-answer' }));
    await post(status, twilioFields(sid, { CallStatus: 'completed', CallDuration: '18' }));
    await expect.poll(() => cardSeenAt('missedCallCard'), { timeout: 15_000 }).not.toBeNull();
    const jobs = await callApi<Array<{ summary: string; created_at: string }>>(token, '/jobs?source=call');
    const job = jobs.data.find((j) => j.summary === 'Missed call from +1 415 555 0177');
    expect(job, JSON.stringify(jobs.data)).toBeTruthy();
    const delay = (await cardSeenAt('missedCallCard'))! - new Date(job!.created_at).getTime();
    console.info(`missed call: the job showed on the open board ${delay} ms after it was created`);
    expect(delay).toBeLessThan(2_000);
    expect(await sameDocument()).toBe(true);
  });

  it('flips a card’s SLA badge when the sweep finds it breached, within 2 s of the sweep', async () => {
    const due = Date.now() + 4_000;
    const created = await callApi<{ id: string }>(token, '/jobs', { method: 'POST', json: { summary: 'Gas smell in the hallway', priority: 'urgent', sla_due_at: new Date(due).toISOString() } });
    expect(created.status).toBe(201);
    const card = page.getByTestId('job-card').filter({ hasText: 'Gas smell in the hallway' });
    await expect.poll(() => card.textContent(), { timeout: 5_000 }).toContain('SLA Approaching');
    await watchForCard('breachedCard', ['Gas smell in the hallway', 'SLA Breached']);
    // Past due, nothing on the page changes by itself: the badge is what the server last said.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - Date.now()) + 300));
    // Run the SLA sweep now, through the server's own queue, rather than wait for its minute.
    const queue = new PgBoss({ connectionString: inject('databaseUrl'), schema: 'onelink_queue', supervise: false, schedule: false, migrate: false });
    await queue.start();
    await queue.send('job-sla', {});
    await queue.stop({ graceful: false });
    await expect.poll(() => cardSeenAt('breachedCard'), { timeout: 15_000 }).not.toBeNull();
    const detail = await callApi<{ events: Array<{ kind: string; occurred_at: string }> }>(token, `/jobs/${created.data.id}`);
    const breach = detail.data.events.find((e) => e.kind === 'sla_breached');
    expect(breach, JSON.stringify(detail.data.events)).toBeTruthy();
    const delay = (await cardSeenAt('breachedCard'))! - new Date(breach!.occurred_at).getTime();
    console.info(`SLA sweep: the badge flipped ${delay} ms after the breach was recorded`);
    expect(delay).toBeLessThan(2_000);
    expect(await sameDocument()).toBe(true);
    await screenshot(page, 'dispatch-board-live-light');
  });
});

// Offers: a job is offered to a suggested vendor, waits in flight with a live countdown, is taken
// back, offered again and accepted for the vendor; the board follows each step without a reload.
describe('offers in flight on the board', () => {
  let heldJob: { id: string; reference: string };
  let offerJob: { id: string; reference: string };

  beforeAll(async () => {
    offerJob = await api('/jobs', { method: 'POST', json: { summary: 'Leaking radiator valve', priority: 'high', service_category: 'heating', lat: 51.5, lng: -0.12 } });
    heldJob = await api('/jobs', { method: 'POST', json: { summary: 'Thermostat swap', priority: 'normal', service_category: 'heating', lat: 51.52, lng: -0.12 } });
    const vendors = await api<Array<{ id: string; name: string }>>('/vendors');
    const near = vendors.find((v) => v.name === 'Near Heating')!;
    // One offer already out, answered slowly: the strip has something in it all along.
    const made = await callApi(token, `/jobs/${heldJob.id}/offers`, { method: 'POST', json: { vendor_id: near.id, answer_minutes: 120 } });
    expect(made.status, JSON.stringify(made.error)).toBe(201);
  });

  async function board(options: { colorScheme?: 'light' | 'dark'; width: number }) {
    const browser = await launchBrowser({ colorScheme: options.colorScheme, width: options.width, height: 860 });
    const page = await browser.newPage();
    await page.goto(boardUrl());
    await page.getByLabel('Chatwoot access token').fill('dispatch-admin-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('job-card').first().waitFor({ timeout: 10_000 });
    return { browser, page };
  }
  const inFlight = (page: Page, text: string) => page.getByTestId('offer-in-flight').filter({ hasText: text });

  it('offers a job, shows it in flight with its countdown, withdraws it, offers again and sees it accepted', async () => {
    const { browser, page } = await board({ width: 1100 });
    await expect.poll(() => inFlight(page, heldJob.reference).textContent(), { timeout: 10_000 }).toMatch(/Near Heating\s*1:5\d:\d\d left/);

    await page.getByTestId('job-card').filter({ hasText: 'Leaking radiator valve' }).click();
    const drawer = page.getByRole('dialog');
    await drawer.getByRole('button', { name: 'Suggest vendors' }).click();
    await expect.poll(() => drawer.getByTestId('suggestion').count()).toBe(2);
    await drawer.getByRole('button', { name: 'Offer to Near Heating' }).click();
    const open = drawer.getByTestId('open-offer');
    await expect.poll(() => open.textContent(), { timeout: 10_000 }).toMatch(/Offered to Near Heating, answer by .+Waiting for their answer: 1[45]:\d\d left/);
    await expect.poll(() => page.getByText(new RegExp(`${offerJob.reference} offered to Near Heating, answer by`)).count()).toBeGreaterThan(0);
    // The countdown runs by itself.
    const first = await open.getByRole('timer').textContent();
    await expect.poll(() => open.getByRole('timer').textContent(), { timeout: 5_000 }).not.toBe(first);
    expect(await drawer.getByTestId('job-offer').first().textContent()).toMatch(/Open\s*Near Heating/);
    expect(await drawer.textContent()).toContain('Offered to Near Heating (answer by');

    // Offering it to someone else while Near Heating holds it: the board says who holds it until when.
    await drawer.getByRole('button', { name: 'Offer to Far Heating' }).click();
    const held = drawer.getByTestId('offer-held');
    await expect.poll(() => held.textContent(), { timeout: 10_000 }).toMatch(new RegExp(`${offerJob.reference} is already offered to Near Heating until \\S+`));
    expect(await held.getByRole('button', { name: 'Withdraw offer' }).isVisible()).toBe(true);
    expect(await accessibilityViolations(page)).toEqual([]);
    await screenshot(page, 'dispatch-offers-drawer-light');

    // Taken back from the strip.
    await page.keyboard.press('Escape');
    await expect.poll(() => inFlight(page, offerJob.reference).textContent()).toMatch(/Near Heating\s*1[45]:\d\d left/);
    expect(await accessibilityViolations(page)).toEqual([]);
    await screenshot(page, 'dispatch-offers-strip-light');
    await page.getByRole('button', { name: `Withdraw the offer of ${offerJob.reference} to Near Heating` }).click();
    await expect.poll(() => inFlight(page, offerJob.reference).count(), { timeout: 10_000 }).toBe(0);
    expect(await inFlight(page, heldJob.reference).count()).toBe(1);

    // Offered again, this time to Far Heating, who accepts (answered for them by dispatch).
    await page.getByTestId('job-card').filter({ hasText: 'Leaking radiator valve' }).click();
    await expect.poll(() => drawer.getByTestId('job-offer').first().textContent()).toMatch(/Withdrawn\s*Near Heating/);
    expect(await drawer.textContent()).toContain('The offer to Near Heating was withdrawn');
    await drawer.getByRole('button', { name: 'Suggest vendors' }).click();
    await drawer.getByRole('button', { name: 'Offer to Far Heating' }).click();
    await expect.poll(() => open.textContent(), { timeout: 10_000 }).toContain('Offered to Far Heating');
    await expect.poll(() => inFlight(page, offerJob.reference).textContent(), { timeout: 10_000 }).toContain('Far Heating');
    const offers = await api<Array<{ id: string; status: string; vendor_name: string }>>(`/jobs/${offerJob.id}/offers`);
    expect(offers.map((o) => [o.vendor_name, o.status])).toEqual([['Near Heating', 'withdrawn'], ['Far Heating', 'open']]);
    const accepted = await callApi(token, `/offers/${offers[1]!.id}/accept`, { method: 'POST' });
    expect(accepted.status, JSON.stringify(accepted.error)).toBe(200);
    // The open drawer and the strip follow the answer through the change stream.
    await expect.poll(() => drawer.getByTestId('job-status').textContent(), { timeout: 10_000 }).toContain('Assigned');
    expect(await drawer.textContent()).toContain('Vendor: Far Heating');
    await expect.poll(() => drawer.getByTestId('job-offer').first().textContent()).toMatch(/Accepted\s*Far Heating/);
    expect(await drawer.textContent()).toContain('Far Heating accepted the offer');
    expect(await drawer.getByTestId('open-offer').count()).toBe(0);
    await expect.poll(() => inFlight(page, offerJob.reference).count()).toBe(0);
    await page.keyboard.press('Escape');
    await expect.poll(() => page.locator('section[data-status="assigned"]').getByTestId('job-card').filter({ hasText: 'Leaking radiator valve' }).count()).toBe(1);
    await browser.close();
  });

  it('takes back the offer that holds a job from the warning, and records a decline given by phone', async () => {
    const job = await api<{ id: string; reference: string }>('/jobs', { method: 'POST', json: { summary: 'Radiator knocking', priority: 'normal', service_category: 'heating', lat: 51.5, lng: -0.12 } });
    const far = (await api<Array<{ id: string; name: string }>>('/vendors')).find((v) => v.name === 'Far Heating')!;
    expect((await callApi(token, `/jobs/${job.id}/offers`, { method: 'POST', json: { vendor_id: far.id, answer_minutes: 60 } })).status).toBe(201);
    const { browser, page } = await board({ width: 1100 });
    await page.getByTestId('job-card').filter({ hasText: 'Radiator knocking' }).click();
    const drawer = page.getByRole('dialog');
    await drawer.getByRole('button', { name: 'Suggest vendors' }).click();
    await drawer.getByRole('button', { name: 'Offer to Near Heating' }).click();
    const held = drawer.getByTestId('offer-held');
    await expect.poll(() => held.textContent(), { timeout: 10_000 }).toMatch(new RegExp(`${job.reference} is already offered to Far Heating until \\S+.*(59|60):\\d\\d left`));
    await held.getByRole('button', { name: 'Withdraw offer' }).click();
    await expect.poll(() => drawer.getByTestId('job-offer').first().textContent(), { timeout: 10_000 }).toMatch(/Withdrawn\s*Far Heating/);
    expect(await held.count()).toBe(0);

    await drawer.getByRole('button', { name: 'Offer to Near Heating' }).click();
    const open = drawer.getByTestId('open-offer');
    await expect.poll(() => open.textContent(), { timeout: 10_000 }).toContain('Offered to Near Heating');
    await open.getByRole('button', { name: 'They declined' }).click();
    const ask = page.getByRole('dialog', { name: 'Decline for Near Heating?' });
    await ask.getByLabel('Why did they decline?').fill('Van broke down');
    await ask.getByRole('button', { name: 'Record decline' }).click();
    await expect.poll(() => drawer.getByTestId('job-offer').first().textContent(), { timeout: 10_000 }).toMatch(/Declined\s*Near Heating.*Declined: Van broke down/);
    await expect.poll(() => drawer.textContent(), { timeout: 10_000 }).toContain('Near Heating declined the offer: Van broke down');
    expect(await open.count()).toBe(0);
    expect((await api<Array<{ status: string; decline_reason: string | null }>>(`/jobs/${job.id}/offers`)).map((o) => [o.status, o.decline_reason])).toEqual([['withdrawn', null], ['declined', 'Van broke down']]);
    await browser.close();
  });

  it('keeps the account’s offer settings', async () => {
    const { browser, page } = await board({ width: 1100 });
    await page.getByRole('button', { name: 'Offer settings' }).click();
    const dialog = page.getByRole('dialog', { name: 'Offer settings' });
    const minutes = dialog.getByLabel('Minutes a vendor has to answer');
    await expect.poll(() => minutes.inputValue(), { timeout: 10_000 }).toBe('15');
    await minutes.fill('0');
    expect(await dialog.getByRole('button', { name: 'Save settings' }).isDisabled()).toBe(true);
    await minutes.fill('30');
    await dialog.getByRole('switch', { name: 'Offer the next suggested vendor automatically' }).click();
    expect(await accessibilityViolations(page)).toEqual([]);
    await dialog.getByRole('button', { name: 'Save settings' }).click();
    await expect.poll(() => page.getByText('Offer settings saved').count(), { timeout: 10_000 }).toBeGreaterThan(0);
    expect(await api('/dispatch/offer-settings')).toEqual({ offer_answer_minutes: 30, offer_next_automatically: true });
    await browser.close();
  });

  for (const [colorScheme, width] of [['light', 390], ['dark', 1100], ['dark', 390]] as const) {
    it(`shows the offers in flight and a job's offers in ${colorScheme} at ${width} px`, async () => {
      const { browser, page } = await board({ colorScheme, width });
      await expect.poll(() => inFlight(page, heldJob.reference).count(), { timeout: 10_000 }).toBe(1);
      await screenshot(page, `dispatch-offers-strip-${colorScheme}-${width}`);
      await inFlight(page, heldJob.reference).getByRole('button', { name: `${heldJob.reference} Thermostat swap` }).click();
      const drawer = page.getByRole('dialog');
      await expect.poll(() => drawer.getByTestId('open-offer').textContent(), { timeout: 10_000 }).toContain('Offered to Near Heating');
      await drawer.getByRole('button', { name: 'Suggest vendors' }).click();
      await expect.poll(() => drawer.getByTestId('suggestion').count()).toBeGreaterThan(0);
      expect(await accessibilityViolations(page)).toEqual([]);
      await screenshot(page, `dispatch-offers-drawer-${colorScheme}-${width}`);
      await browser.close();
    });
  }
});
