// Notifications in the dashboard apps: an agent's bell counts a job put in their hands live (the
// notification worker fans the event out; the change stream tells the page), the list marks one
// and all read (and the person's other tabs hear of it at once), a job's item opens the dispatch
// board's drawer; the agent's preferences; the admin's notification settings (with the default
// channels per audience), customer messages (edit, preview, unknown variable, save, reset) and the
// delivery log (events in words, filters, resend). Screenshots in light and dark, at sidebar and
// phone widths.
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startFakeChatwoot, type FakeChatwoot } from '../fakes/chatwoot.ts';
import { accessibilityViolations, launchBrowser, screenshot } from './browser.ts';
import { callApi, connectChatwoot, signInToken } from './world.ts';

const baseUrl = inject('baseUrl');
let chatwoot: FakeChatwoot;
let adminToken: string;
let agentToken: string;
let agentId: string;

const asAdmin = async <T>(path: string, init: { method?: string; json?: unknown } = {}) => {
  const answer = await callApi<T>(adminToken, path, init);
  expect(answer.status, `${init.method ?? 'GET'} ${path}: ${JSON.stringify(answer.error)}`).toBeLessThan(300);
  return answer.data;
};
const unreadOfAgent = async () => (await callApi<{ unread: number }>(agentToken, '/notifications/unread-count')).data.unread;

/** A job created by the admin and then put in the agent's hands (PATCH owner_id), as another user would. */
async function giveAgentAJob(summary: string) {
  const job = await asAdmin<{ id: string; version: number; reference: string }>('/jobs', { method: 'POST', json: { summary, priority: 'high' } });
  await asAdmin(`/jobs/${job.id}`, { method: 'PATCH', json: { owner_id: agentId, version: job.version } });
  return job;
}

beforeAll(async () => {
  chatwoot = await startFakeChatwoot();
  chatwoot.addAgent({ id: 61, name: 'Nora Admin', email: 'nora@acme.test', token: 'notify-admin-token', accounts: [{ id: 14, name: 'Acme Notify', role: 'administrator' }] });
  chatwoot.addAgent({ id: 62, name: 'Ollie Agent', email: 'ollie@acme.test', token: 'notify-agent-token', accounts: [{ id: 14, name: 'Acme Notify', role: 'agent' }] });
  await connectChatwoot(chatwoot, 'notify-admin-token');
  adminToken = await signInToken(chatwoot, 'notify-admin-token', 14);
  agentToken = await signInToken(chatwoot, 'notify-agent-token', 14);
  await asAdmin('/admin/capabilities', { method: 'PATCH', json: { profile: 'construction' } });
  agentId = (await asAdmin<Array<{ id: string; name: string }>>('/teammates')).find((mate) => mate.name === 'Ollie Agent')!.id;
});
afterAll(() => chatwoot.close());

const appUrl = (app: string, extra = '') => `${baseUrl}/apps/${app}/?chatwoot=${encodeURIComponent(chatwoot.url)}&account=14${extra}`;

async function signIn(browser: BrowserContext, url: string, token: string): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(url);
  await page.getByLabel('Chatwoot access token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('bell').waitFor({ timeout: 10_000 });
  return page;
}

const bellCount = (page: Page) => page.getByTestId('bell-count').textContent({ timeout: 1_000 }).catch(() => null);

describe('the bell', () => {
  it('counts a job put in my hands live, and marks one and all read', async () => {
    const browser = await launchBrowser({ width: 1280, height: 860 });
    const page = await signIn(browser, appUrl('dispatch'), 'notify-agent-token');
    await page.evaluate(() => ((window as unknown as { sameDocument: boolean }).sameDocument = true));
    const before = await unreadOfAgent();
    await expect.poll(() => page.getByTestId('bell').getAttribute('aria-label')).toBe(before ? `Notifications, ${before} unread` : 'Notifications');

    // Another user (the admin) puts a job in the agent's hands: the bell goes up without a reload.
    const first = await giveAgentAJob('Leaking radiator valve');
    await expect.poll(() => bellCount(page), { timeout: 10_000 }).toBe(String(before + 1));
    expect(await page.getByTestId('bell').getAttribute('aria-label')).toBe(`Notifications, ${before + 1} unread`);
    expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);

    // The list: the new item on top, unread; the popover is a labelled dialog and axe-clean.
    await page.getByTestId('bell').click();
    const panel = page.getByRole('dialog', { name: 'Notifications' });
    const mine = panel.getByTestId('notification').filter({ hasText: `Job ${first.reference} is yours` });
    await expect.poll(() => mine.count(), { timeout: 10_000 }).toBe(1);
    expect(await mine.getAttribute('data-unread')).toBe('true');
    expect(await mine.textContent()).toContain('Leaking radiator valve');
    expect(await accessibilityViolations(page)).toEqual([]);
    // Keyboard: Down moves from one item to the next.
    await panel.getByTestId('notification').first().focus();
    if ((await panel.getByTestId('notification').count()) > 1) {
      await page.keyboard.press('ArrowDown');
      expect(await page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('notification');
    }

    // On the dispatch board a job's item opens its drawer in place (and is marked read).
    await mine.click();
    await expect.poll(() => page.getByRole('dialog', { name: new RegExp(`^${first.reference} `) }).isVisible(), { timeout: 10_000 }).toBe(true);
    expect(new URL(page.url()).searchParams.get('job')).toBe(first.id);
    await expect.poll(() => unreadOfAgent()).toBe(before);
    await expect.poll(() => bellCount(page)).toBe(before ? String(before) : null);
    await page.keyboard.press('Escape');
    await expect.poll(() => new URL(page.url()).searchParams.get('job')).toBe(null);

    // Two more, then "Mark all read".
    await giveAgentAJob('No hot water');
    await giveAgentAJob('Boiler pressure low');
    await expect.poll(() => bellCount(page), { timeout: 10_000 }).toBe(String(before + 2));
    await page.getByTestId('bell').click();
    await expect.poll(() => panel.getByTestId('notification').filter({ hasText: 'Boiler pressure low' }).count(), { timeout: 10_000 }).toBe(1);
    await panel.getByRole('button', { name: 'Mark all read' }).click();
    await expect.poll(() => bellCount(page)).toBe(null);
    expect(await unreadOfAgent()).toBe(0);
    expect(await panel.locator('[data-unread]').count()).toBe(0);
    expect(await page.getByTestId('bell').getAttribute('aria-label')).toBe('Notifications');
    await page.keyboard.press('Escape');
    await browser.close();
  });

  it("marking read in one tab updates the bell in the person's other tabs at once", async () => {
    const browser = await launchBrowser({ width: 1280, height: 860 });
    const dispatch = await signIn(browser, appUrl('dispatch'), 'notify-agent-token');
    // The second tab shares the sign-in (the same browser); nothing reloads it afterwards.
    const pipeline = await browser.newPage();
    await pipeline.goto(appUrl('pipeline'));
    await pipeline.getByTestId('bell').waitFor({ timeout: 10_000 });
    await pipeline.evaluate(() => ((window as unknown as { sameDocument: boolean }).sameDocument = true));
    const start = await unreadOfAgent();
    const one = await giveAgentAJob('Cracked tile in the bathroom');
    await giveAgentAJob('Dripping kitchen tap');
    const before = start + 2;
    await expect.poll(() => unreadOfAgent(), { timeout: 10_000 }).toBe(before);
    for (const page of [dispatch, pipeline]) await expect.poll(() => bellCount(page), { timeout: 10_000 }).toBe(String(before));

    // One item read in the first tab: the second tab's bell goes down, with no change announced by the server.
    await dispatch.getByTestId('bell').click();
    const item = dispatch.getByRole('dialog', { name: 'Notifications' }).getByTestId('notification').filter({ hasText: `Job ${one.reference} is yours` });
    await expect.poll(() => item.count(), { timeout: 10_000 }).toBe(1);
    await item.click();
    await expect.poll(() => unreadOfAgent()).toBe(before - 1);
    await expect.poll(() => bellCount(pipeline), { timeout: 5_000 }).toBe(before - 1 ? String(before - 1) : null);
    // The second tab's open list shows the item read too.
    await pipeline.getByTestId('bell').click();
    const there = pipeline.getByRole('dialog', { name: 'Notifications' }).getByTestId('notification').filter({ hasText: `Job ${one.reference} is yours` });
    await expect.poll(() => there.getAttribute('data-unread'), { timeout: 10_000 }).toBe(null);

    // "Mark all read" in the second tab empties the first tab's badge.
    await pipeline.getByRole('dialog', { name: 'Notifications' }).getByRole('button', { name: 'Mark all read' }).click();
    await expect.poll(() => bellCount(dispatch), { timeout: 5_000 }).toBe(null);
    expect(await dispatch.getByTestId('bell').getAttribute('aria-label')).toBe('Notifications');
    expect(await pipeline.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);
    await browser.close();
  });

  it('leads from another app to the dispatch board with the job open (a new tab)', async () => {
    const job = await giveAgentAJob('Gutter overflowing');
    const browser = await launchBrowser({ width: 1280, height: 860 });
    const page = await signIn(browser, appUrl('pipeline'), 'notify-agent-token');
    await expect.poll(() => bellCount(page), { timeout: 10_000 }).toBe('1');
    await page.getByTestId('bell').click();
    const item = page.getByRole('dialog', { name: 'Notifications' }).getByTestId('notification').filter({ hasText: `Job ${job.reference} is yours` });
    await expect.poll(() => item.count(), { timeout: 10_000 }).toBe(1);
    expect(await item.getAttribute('target')).toBe('_blank');
    expect(await item.getAttribute('rel')).toBe('noopener');
    const href = await item.getAttribute('href');
    expect(href).toMatch(new RegExp(`^/apps/dispatch/\\?chatwoot=.+&account=14&job=${job.id}$`));
    const [opened] = await Promise.all([browser.waitForEvent('page'), item.click()]);
    await expect.poll(() => opened.getByRole('dialog', { name: new RegExp(`^${job.reference} `) }).isVisible(), { timeout: 10_000 }).toBe(true);
    await expect.poll(() => unreadOfAgent()).toBe(0);
    await browser.close();
  });

  it('keeps my preferences: event × channel, quiet hours, time zone, digest', async () => {
    const browser = await launchBrowser({ width: 1280, height: 860 });
    const page = await signIn(browser, appUrl('account'), 'notify-agent-token');
    await page.getByTestId('bell').click();
    await page.getByRole('button', { name: 'Notification settings' }).click();
    const dialog = page.getByRole('dialog', { name: 'Notification settings' });
    await expect.poll(() => dialog.getByTestId('preference-row').count(), { timeout: 10_000 }).toBeGreaterThan(3);
    const email = dialog.getByRole('switch', { name: 'E-mail: A job was put in my hands' });
    const wasOn = (await email.getAttribute('aria-checked')) === 'true';
    await email.click();
    // Half the quiet hours: the server names the missing end at its field.
    await dialog.getByLabel('From', { exact: true }).fill('22:00');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => dialog.getByText('is required with the other end of the quiet hours').isVisible(), { timeout: 10_000 }).toBe(true);
    await dialog.getByLabel('Until', { exact: true }).fill('07:00');
    await dialog.getByRole('switch', { name: 'Daily digest by e-mail' }).click();
    await dialog.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => dialog.getByText('Notification settings saved').isVisible(), { timeout: 10_000 }).toBe(true);
    type Prefs = { events: Array<{ event: string; channels: { email: boolean } }>; quiet_start: string; quiet_end: string; digest: boolean };
    const saved = (await callApi<Prefs>(agentToken, '/notifications/preferences')).data;
    expect(saved.events.find((e) => e.event === 'staff.job_assigned_to_me')!.channels.email).toBe(!wasOn);
    expect(saved).toMatchObject({ quiet_start: '22:00', quiet_end: '07:00', digest: false });
    expect(await accessibilityViolations(page)).toEqual([]);
    await browser.close();
  });
});

describe("the admin's notification panels", () => {
  it('shows channel status, saves settings, edits a customer message and resends a delivery', async () => {
    const browser = await launchBrowser({ width: 1200, height: 900 });
    const page = await signIn(browser, appUrl('admin'), 'notify-admin-token');

    await page.getByRole('tab', { name: 'Notifications', exact: true }).click();
    const email = page.getByTestId('channel-email');
    await expect.poll(() => email.textContent(), { timeout: 10_000 }).toContain('Off');
    // The e-mail channel's own reason (this server runs without SMTP_URL).
    expect(await email.textContent()).toContain('E-mail is off: SMTP_URL is not set');
    await page.getByLabel('Reply-to address for e-mails').fill('not an address');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await expect.poll(() => page.locator('[aria-invalid="true"]').count(), { timeout: 10_000 }).toBe(1);
    await page.getByLabel('Reply-to address for e-mails').fill('help@acme.test');
    await page.getByLabel('Daily digest at').selectOption('8');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await expect.poll(async () => (await asAdmin<{ email_reply_to: string; digest_hour: number }>('/admin/notifications/settings')).email_reply_to, { timeout: 10_000 }).toBe('help@acme.test');
    expect((await asAdmin<{ digest_hour: number }>('/admin/notifications/settings')).digest_hour).toBe(8);
    expect(await accessibilityViolations(page)).toEqual([]);

    // Default channels, a table per audience with the channels that audience hears on: the built-in
    // switches show; a change is saved with the rest, and only what differs from the built-in ones is kept.
    type Defaults = { defaults: Record<string, Record<string, boolean>> };
    const tables = page.getByTestId('channel-defaults').locator('table');
    expect(await tables.evaluateAll((all) => all.map((table) => [table.getAttribute('data-audience'), Array.from(table.querySelectorAll('thead th')).slice(1).map((th) => th.firstChild?.textContent?.replace(/\u00ad/g, '').trim())]))).toEqual([
      ['staff', ['App', 'E-mail']],
      ['vendor', ['App', 'Push', 'SMS', 'E-mail']],
      ['client', ['App', 'Chatwoot', 'Push', 'SMS', 'E-mail']],
    ]);
    const staffEmail = page.getByRole('switch', { name: 'Staff, E-mail: A job was put in my hands' });
    expect(await staffEmail.getAttribute('aria-checked')).toBe('true');
    type Catalogue = { events: Array<{ event: string; audience: string; describe: string; defaults: Record<string, boolean> }> };
    const vendorOne = (await asAdmin<Catalogue>('/admin/notifications/settings')).events.find((e) => e.audience === 'vendor' && !e.defaults.email)!;
    const vendorEvent = vendorOne.describe;
    const vendorEmail = page.getByRole('region', { name: 'Default channels for Vendors' }).getByRole('switch', { name: `Vendors, E-mail: ${vendorEvent}` });
    expect(await vendorEmail.getAttribute('aria-checked')).toBe('false');
    // The e-mail channel cannot send on this server: its column says so.
    expect(await tables.first().locator('thead th').last().textContent()).toContain('Off');
    await staffEmail.click();
    await vendorEmail.click();
    await page.getByRole('button', { name: 'Save settings' }).click();
    await expect.poll(async () => (await asAdmin<Defaults>('/admin/notifications/settings')).defaults, { timeout: 10_000 }).toEqual({ 'staff.job_assigned_to_me': { email: false }, [vendorOne.event]: { email: true } });
    await page.reload();
    await page.getByRole('tab', { name: 'Notifications', exact: true }).click();
    await expect.poll(() => page.getByRole('switch', { name: 'Staff, E-mail: A job was put in my hands' }).getAttribute('aria-checked'), { timeout: 10_000 }).toBe('false');
    expect(await accessibilityViolations(page)).toEqual([]);
    // Back to the built-in switches: nothing of the account's own is left.
    await page.getByRole('switch', { name: 'Staff, E-mail: A job was put in my hands' }).click();
    await page.getByRole('switch', { name: `Vendors, E-mail: ${vendorEvent}` }).click();
    await page.getByRole('button', { name: 'Save settings' }).click();
    await expect.poll(async () => (await asAdmin<Defaults>('/admin/notifications/settings')).defaults, { timeout: 10_000 }).toEqual({});

    // Customer messages: a live preview, an unknown variable named at the field, save, reset.
    await page.getByRole('tab', { name: 'Customer messages' }).click();
    const message = page.getByTestId('customer-message').first();
    await expect.poll(() => message.isVisible(), { timeout: 10_000 }).toBe(true);
    type Settings = { customer_events: string[] };
    const firstEvent = (await asAdmin<{ items: Array<{ event: string; enabled: boolean }> }>('/admin/notifications/templates')).items[0]!;
    const sendIt = message.getByRole('switch', { name: 'Send this message' });
    expect(await sendIt.getAttribute('aria-checked')).toBe(String(firstEvent.enabled));
    await sendIt.click();
    await expect.poll(async () => (await asAdmin<Settings>('/admin/notifications/settings')).customer_events.includes(firstEvent.event), { timeout: 10_000 }).toBe(!firstEvent.enabled);
    const text = message.getByLabel('Text');
    await text.fill('Hello {customer_name}, job {job_reference} is booked. {bogus}');
    await expect.poll(() => message.getByText('unknown variable: {bogus}').isVisible(), { timeout: 10_000 }).toBe(true);
    expect(await text.getAttribute('aria-invalid')).toBe('true');
    await text.fill('Hello {customer_name}, job {job_reference} is booked with {account_name}.');
    const preview = message.getByTestId('message-preview');
    await expect.poll(() => preview.textContent(), { timeout: 10_000 }).toMatch(/^Hello \S+, job \S+ is booked with .+\.$/);
    expect(await preview.textContent()).not.toContain('{');
    await message.getByRole('button', { name: 'Save text' }).click();
    await expect.poll(() => message.getByText('Your text').isVisible(), { timeout: 10_000 }).toBe(true);
    type Templates = { items: Array<{ body: string; custom: boolean }> };
    expect((await asAdmin<Templates>('/admin/notifications/templates')).items[0]).toMatchObject({ body: 'Hello {customer_name}, job {job_reference} is booked with {account_name}.', custom: true });
    expect(await accessibilityViolations(page)).toEqual([]);
    await message.getByRole('button', { name: 'Reset to default' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Reset to default' }).click();
    await expect.poll(() => message.getByText('Built-in text').isVisible(), { timeout: 10_000 }).toBe(true);
    expect((await asAdmin<Templates>('/admin/notifications/templates')).items[0]!.custom).toBe(false);

    // The delivery log: the agent's e-mails for the jobs above could not go out (no SMTP_URL).
    await page.getByRole('tab', { name: 'Delivery log' }).click();
    const rows = page.getByTestId('delivery-row');
    await expect.poll(() => rows.count(), { timeout: 10_000 }).toBeGreaterThan(0);
    expect(await accessibilityViolations(page)).toEqual([]);
    await page.getByLabel('Channel').selectOption('sms');
    await expect.poll(() => page.getByText('No deliveries match these filters.').isVisible(), { timeout: 10_000 }).toBe(true);
    await page.getByLabel('Channel').selectOption('email');
    await page.getByLabel('Recipient').fill('Ollie');
    await page.getByRole('button', { name: 'Search' }).click();
    await expect.poll(() => rows.count(), { timeout: 10_000 }).toBeGreaterThan(0);
    expect(await rows.first().textContent()).toContain('Ollie Agent');
    expect(await rows.first().textContent()).toContain('E-mail is off: SMTP_URL is not set');
    // The event in words, its key kept beside it (a hover title and a small line).
    const event = rows.first().getByTestId('delivery-event');
    expect(await event.textContent()).toBe('A job was put in my hands');
    expect(await event.getAttribute('title')).toBe('staff.job_assigned_to_me');
    expect(await rows.first().locator('code').textContent()).toBe('staff.job_assigned_to_me');
    // The event filter offers the events in words too.
    expect(await page.getByLabel('Event').locator('option', { hasText: 'Staff: A job was put in my hands' }).getAttribute('value')).toBe('staff.job_assigned_to_me');
    // A failed delivery is settled: it can be sent again, after a confirmation; the copy joins the log.
    const countBefore = await rows.count();
    await rows.first().getByRole('button', { name: /^Resend/ }).click();
    const confirm = page.getByRole('dialog', { name: 'Send this again?' });
    await expect.poll(() => confirm.isVisible()).toBe(true);
    expect(await accessibilityViolations(page)).toEqual([]);
    await confirm.getByRole('button', { name: 'Resend' }).click();
    await expect.poll(() => rows.count(), { timeout: 10_000 }).toBe(countBefore + 1);
    type Delivery = { resend_of: string | null };
    expect((await asAdmin<Delivery[]>('/admin/notifications/deliveries?channel=email')).filter((d) => d.resend_of !== null)).toHaveLength(1);
    await browser.close();
  });
});

describe('how it looks', () => {
  for (const scheme of ['light', 'dark'] as const) {
    it(`the bell, preferences and admin panels (${scheme})`, async () => {
      await giveAgentAJob(`Broken window latch (${scheme})`);
      const browser = await launchBrowser({ colorScheme: scheme, width: 400, height: 760 });
      const page = await signIn(browser, appUrl('account'), 'notify-agent-token');
      await expect.poll(() => bellCount(page), { timeout: 10_000 }).not.toBe(null);
      for (const width of [400, 390]) {
        await page.setViewportSize({ width, height: 760 });
        await page.getByTestId('bell').click();
        await expect.poll(() => page.getByTestId('notification').count(), { timeout: 10_000 }).toBeGreaterThan(0);
        expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
        await screenshot(page, `notifications-bell-${width}-${scheme}`);
        await page.getByRole('button', { name: 'Notification settings' }).click();
        await expect.poll(() => page.getByTestId('preference-row').count(), { timeout: 10_000 }).toBeGreaterThan(0);
        await screenshot(page, `notifications-preferences-${width}-${scheme}`);
        await page.keyboard.press('Escape');
      }
      expect(await accessibilityViolations(page)).toEqual([]);
      await browser.close();

      const admin = await launchBrowser({ colorScheme: scheme, width: 1100, height: 900 });
      const adminPage = await signIn(admin, appUrl('admin'), 'notify-admin-token');
      const panels = [
        ['Notifications', 'channel-email'],
        ['Customer messages', 'customer-message'],
        ['Delivery log', 'delivery-row'],
      ] as const;
      for (const width of [1100, 390]) {
        await adminPage.setViewportSize({ width, height: 900 });
        for (const [tab, testId] of panels) {
          await adminPage.getByRole('tab', { name: tab, exact: true }).click();
          await expect.poll(() => adminPage.getByTestId(testId).count(), { timeout: 10_000 }).toBeGreaterThan(0);
          expect(await adminPage.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
          if (testId === 'delivery-row' && width === 390) {
            // On a phone the reason wraps over a few lines of readable width, not a strip one word wide.
            const reason = await adminPage.getByTestId('delivery-row').first().locator('td').nth(5).evaluate((cell) => {
              const box = cell.getBoundingClientRect();
              return { width: box.width, lines: Math.round(cell.firstElementChild!.getBoundingClientRect().height / (parseFloat(getComputedStyle(cell).lineHeight) || parseFloat(getComputedStyle(cell).fontSize) * 1.2)) };
            });
            expect(reason.width).toBeGreaterThan(150);
            expect(reason.lines).toBeLessThanOrEqual(3);
            // The event filter, whose options are long descriptions, stays within the page.
            const eventFilter = adminPage.getByLabel('Event');
            await expect.poll(() => eventFilter.locator('option').count(), { timeout: 10_000 }).toBeGreaterThan(1);
            expect(await eventFilter.evaluate((el) => el.getBoundingClientRect().right <= window.innerWidth)).toBe(true);
          }
          await screenshot(adminPage, `notifications-admin-${testId}-${width}-${scheme}`);
        }
      }
      expect(await accessibilityViolations(adminPage)).toEqual([]);
      await admin.close();
    });
  }
});
