// The admin app: capability switches, dispatcher grants, service tokens, the audit log and
// webhook deliveries, each through the real API; agents are kept out; a banner when Chatwoot's
// deliveries are being refused.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startFakeChatwoot, type FakeChatwoot } from '../fakes/chatwoot.ts';
import { chatwootDelivery } from '../fakes/chatwoot-webhooks.ts';
import { spawnIn } from '../helpers/processes.ts';
import { accessibilityViolations, launchBrowser, screenshot, settleAnimations } from './browser.ts';
import { callApi, connectChatwoot, signInToken } from './world.ts';

const baseUrl = inject('baseUrl');
let chatwoot: FakeChatwoot;
let adminToken: string;

const api = async <T>(path: string, token: string) => (await callApi<T>(token, path)).data;

beforeAll(async () => {
  chatwoot = await startFakeChatwoot();
  chatwoot.addAgent({ id: 41, name: 'Alex Admin', email: 'alex@acme.test', token: 'settings-admin-token', accounts: [{ id: 11, name: 'Acme Care', role: 'administrator' }] });
  chatwoot.addAgent({ id: 42, name: 'Casey Agent', email: 'casey@acme.test', token: 'settings-agent-token', accounts: [{ id: 11, name: 'Acme Care', role: 'agent' }] });
  await connectChatwoot(chatwoot, 'settings-admin-token');
  adminToken = await signInToken(chatwoot, 'settings-admin-token', 11);
  await signInToken(chatwoot, 'settings-agent-token', 11); // the agent is known to Onelink once signed in
});
afterAll(() => chatwoot.close());

const adminUrl = () => `${baseUrl}/apps/admin/?chatwoot=${encodeURIComponent(chatwoot.url)}&account=11`;

/** A browser on the admin app, signed in as the account's administrator. */
async function adminPage(options: Parameters<typeof launchBrowser>[0] = { width: 1200, height: 900 }) {
  const browser = await launchBrowser(options);
  const page = await browser.newPage();
  await page.goto(adminUrl());
  await page.getByLabel('Chatwoot access token').fill('settings-admin-token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  return { browser, page };
}

describe('the admin app', () => {
  it('switches capabilities, grants the dispatcher role, creates a token and shows the audit log', async () => {
    const { browser, page } = await adminPage();
    await expect.poll(() => page.getByRole('heading', { name: /Onelink settings/ }).isVisible(), { timeout: 10_000 }).toBe(true);

    const jobs = page.locator('input[data-flag="dispatch.jobs"]');
    await expect.poll(() => jobs.isVisible()).toBe(true);
    expect(await jobs.isChecked()).toBe(false); // generic profile
    await jobs.check();
    await expect.poll(async () => (await api<{ capabilities: Array<{ flag: string; enabled: boolean }> }>('/admin/capabilities', adminToken)).capabilities.find((c) => c.flag === 'dispatch.jobs')!.enabled).toBe(true);
    // The default phone country: pick one by typing its name, then go back to automatic.
    const country = page.getByRole('combobox', { name: 'Default phone country' });
    await country.click();
    await country.fill('United King');
    await page.getByRole('option', { name: 'United Kingdom (GB)' }).click();
    type PhoneCountry = { phone_country: { country: string; source: string } };
    await expect.poll(async () => (await api<PhoneCountry>('/admin/capabilities', adminToken)).phone_country).toEqual(expect.objectContaining({ country: 'GB', source: 'setting' }));
    expect(await accessibilityViolations(page)).toEqual([]);
    await screenshot(page, 'admin-account-light');
    await country.click();
    await country.fill('Automatic');
    await page.getByRole('option', { name: /^Automatic/ }).click();
    await expect.poll(async () => (await api<PhoneCountry>('/admin/capabilities', adminToken)).phone_country.source).not.toBe('setting');

    // Fields: switch the healthcare pack on, add a field of the account's own, archive it.
    await page.getByRole('tab', { name: 'Fields' }).click();
    await page.getByRole('checkbox', { name: /^Healthcare/ }).check();
    await expect.poll(() => page.getByTestId('field-row').filter({ hasText: 'Care type' }).count()).toBeGreaterThan(0);
    await page.getByLabel('On', { exact: true }).selectOption('deal');
    await page.getByLabel('Label').fill('Funding source');
    expect(await page.getByLabel('Key').inputValue()).toBe('funding_source');
    await page.getByLabel('Type').selectOption('choice');
    await page.getByLabel('Choices').fill('private, insurer, council');
    await page.getByRole('button', { name: 'Add field' }).click();
    await expect.poll(() => page.getByTestId('field-row').filter({ hasText: 'Funding source' }).count()).toBe(1);
    const me = await api<{ fields: { deal: Array<{ key: string; options?: string[] }> } }>('/me', adminToken);
    expect(me.fields.deal.find((f) => f.key === 'funding_source')?.options).toEqual(['private', 'insurer', 'council']);
    expect(await accessibilityViolations(page)).toEqual([]);
    await screenshot(page, 'admin-fields-light');
    await page.getByRole('button', { name: 'Archive Funding source' }).click();
    await expect.poll(() => page.getByRole('button', { name: 'Restore Funding source' }).count()).toBe(1);

    await page.getByRole('tab', { name: 'People' }).click();
    await page.getByRole('checkbox', { name: 'Casey Agent may dispatch' }).check();
    await expect
      .poll(async () => (await api<Array<{ name: string; roles: string[] }>>('/admin/users', adminToken)).find((u) => u.name === 'Casey Agent')!.roles)
      .toContain('dispatcher');
    expect(await accessibilityViolations(page)).toEqual([]);
    await screenshot(page, 'admin-people-light');

    await page.getByRole('tab', { name: 'Service tokens' }).click();
    await expect.poll(() => page.getByText('No service tokens yet.').isVisible()).toBe(true);
    await page.getByLabel('Token name').fill('Billing sync');
    await page.getByRole('button', { name: 'Create token' }).click();
    await expect.poll(() => page.getByText(/^olt_/).isVisible()).toBe(true);
    await expect.poll(() => page.getByRole('table').filter({ hasText: 'Billing sync' }).count()).toBe(1);
    expect(await accessibilityViolations(page)).toEqual([]);
    await screenshot(page, 'admin-tokens-light');

    await page.getByRole('tab', { name: 'Automation' }).click();
    await page.getByLabel('Rule name').fill('Booked → site visit');
    await page.getByLabel('Job summary').fill('Site visit for {deal_title}');
    await page.getByRole('button', { name: 'Add rule' }).click();
    await expect.poll(() => page.getByTestId('rule-row').count()).toBe(1);
    const rules = await api<Array<{ name: string; trigger: string; action: string; config: { summary: string } }>>('/automation-rules', adminToken);
    expect(rules).toMatchObject([{ name: 'Booked → site visit', trigger: 'deal_entered_stage', action: 'create_job', config: { summary: 'Site visit for {deal_title}' } }]);
    expect(await accessibilityViolations(page)).toEqual([]);
    await screenshot(page, 'admin-automation-light');

    await page.getByRole('tab', { name: 'Audit log' }).click();
    await expect.poll(() => page.getByTestId('audit-row').count()).toBeGreaterThanOrEqual(3);
    // The tab's own table (the "This week" figures above the tabs are a table too).
    const audit = page.getByRole('tabpanel').getByRole('table');
    expect(await audit.textContent()).toContain('service_token.created');
    // The shared table: headers for every column, and a caption (read out, not shown, here).
    expect(await audit.getByRole('columnheader').allTextContents()).toEqual(['When', 'Actor', 'Action', 'Resource']);
    expect(await audit.locator('caption').textContent()).toBe('What happened in this account, newest first');
    expect(await accessibilityViolations(page)).toEqual([]);
    await screenshot(page, 'admin-audit-light');
    // At phone width the table scrolls inside its box; the page itself does not get wider.
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    await screenshot(page, 'admin-audit-phone-light');
    await page.setViewportSize({ width: 1200, height: 900 });

    await page.getByRole('tab', { name: 'Webhooks' }).click();
    await expect.poll(() => page.getByText('No failed deliveries.').isVisible()).toBe(true);

    await browser.close();
  });

  it('keeps agents out, and looks right in dark mode', async () => {
    const browser = await launchBrowser({ colorScheme: 'dark', width: 1200, height: 900 });
    const page = await browser.newPage();
    await page.goto(adminUrl());
    await page.getByLabel('Chatwoot access token').fill('settings-agent-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent(), { timeout: 10_000 }).toContain('Only administrators');
    await page.evaluate(() => fetch('/api/v1/auth/session', { method: 'DELETE', headers: { 'X-Requested-With': 'onelink' } }));
    await page.reload();
    await page.getByLabel('Chatwoot access token').fill('settings-admin-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.locator('input[data-flag="dispatch.jobs"]').isVisible(), { timeout: 10_000 }).toBe(true);
    await screenshot(page, 'admin-account-dark');
    await page.getByRole('tab', { name: 'Fields' }).click();
    await expect.poll(() => page.getByTestId('field-row').count()).toBeGreaterThan(0);
    await screenshot(page, 'admin-fields-dark');
    await page.setViewportSize({ width: 390, height: 844 });
    await screenshot(page, 'admin-fields-phone-dark');
    // Nothing widens the page at phone width (the table scrolls inside its own box).
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBe(390);
    await page.setViewportSize({ width: 1200, height: 900 });
    for (const [tab, name] of [['People', 'people'], ['Service tokens', 'tokens'], ['Automation', 'automation'], ['Audit log', 'audit']] as const) {
      await page.getByRole('tab', { name: tab }).click();
      await expect.poll(() => page.getByRole('table').or(page.getByRole('status')).first().isVisible()).toBe(true);
      // The table's placeholder rows have gone: what is shot is the loaded tab.
      await expect.poll(() => page.locator('[aria-busy="true"]').count()).toBe(0);
      await screenshot(page, `admin-${name}-dark`);
    }
    expect(await accessibilityViolations(page)).toEqual([]);
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    await screenshot(page, 'admin-audit-phone-dark');
    await browser.close();
  });

  it('says when Chatwoot’s deliveries fail the signature check, until one gets through', async () => {
    // The installer, against the running server: its connection check is a real round trip.
    const cli = spawnIn(
      'npm',
      ['run', '--silent', 'onelink', '--', 'install', '--chatwoot-url', chatwoot.url, '--account-id', '11', '--token', 'settings-admin-token', '--public-url', baseUrl, '--check-timeout', '15'],
      { ONELINK_DATA_DIR: inject('dataDir') },
    );
    expect((await cli.exited).code, cli.output()).toBe(0);
    expect(cli.output()).toMatch(/Connection check passed: Chatwoot's delivery arrived and its signature verified/);

    // Chatwoot now signs with a key other than the secret it gave us (chatwoot/chatwoot#13809).
    chatwoot.webhookDelivery = 'wrong_secret';
    const createContact = (name: string) =>
      fetch(`${chatwoot.url}/api/v1/accounts/11/contacts`, { method: 'POST', headers: { 'Content-Type': 'application/json', api_access_token: 'settings-admin-token' }, body: JSON.stringify({ name }) });
    const refusedBefore = chatwoot.webhookDeliveries.length;
    for (const name of ['Robin', 'Sam', 'Kim']) expect((await createContact(name)).status).toBe(200);
    await expect.poll(() => chatwoot.webhookDeliveries.slice(refusedBefore).filter((d) => d.status === 401).length).toBe(3);
    await expect.poll(async () => (await api<{ failing: { refused: number } | null }>('/admin/webhook-health', adminToken)).failing?.refused, { timeout: 5000 }).toBe(3);

    for (const [scheme, width] of [['light', 1200], ['dark', 1200], ['dark', 390]] as const) {
      const { browser, page } = await adminPage({ colorScheme: scheme, width, height: 844 });
      const banner = page.getByTestId('webhook-health-banner');
      await expect.poll(() => banner.isVisible(), { timeout: 10_000 }).toBe(true);
      expect(await banner.getAttribute('role')).toBe('alert');
      expect(await banner.textContent()).toMatch(/Deliveries from Chatwoot are failing the signature check since \d{1,2}:\d\d(\s?[AP]M)? — 3 refused; re-run the installer\./);
      if (width > 390) {
        expect(await accessibilityViolations(page)).toEqual([]);
        await screenshot(page, `admin-webhook-failing-${scheme}`);
      } else {
        await screenshot(page, 'admin-webhook-failing-phone-dark');
      }
      if (scheme === 'light') {
        await page.getByRole('tab', { name: 'Webhooks' }).click();
        await expect.poll(() => page.getByTestId('refusal-row').filter({ hasText: 'wrong signature' }).textContent()).toContain('3');
        await screenshot(page, 'admin-webhook-refusals-light');
      }
      await browser.close();
    }

    // One delivery that verifies ends the alarm; the counters stay.
    chatwoot.webhookDelivery = 'signed';
    expect((await createContact('Alex')).status).toBe(200);
    await expect.poll(async () => (await api<{ failing: unknown }>('/admin/webhook-health', adminToken)).failing, { timeout: 5000 }).toBeNull();
    const { browser, page } = await adminPage();
    await expect.poll(() => page.getByRole('heading', { name: /Onelink settings/ }).isVisible(), { timeout: 10_000 }).toBe(true);
    await page.getByRole('tab', { name: 'Webhooks' }).click();
    await expect.poll(() => page.getByTestId('refusal-row').count()).toBe(1);
    expect(await page.getByTestId('webhook-health-banner').count()).toBe(0);
    await browser.close();

    // A delivery Chatwoot signed but that cannot be processed fails at once; the admin dismisses it.
    const hook = chatwoot.webhooks.find((h) => h.accountId === 11);
    const broken = chatwootDelivery({ event: 'contact_created', id: 'not-a-number', account: { id: 11, name: 'Acme Care' } }, { secret: hook!.secret });
    expect((await fetch(hook!.url, { method: 'POST', headers: broken.headers, body: broken.body })).status).toBe(202);
    await expect.poll(async () => (await api<unknown[]>('/admin/webhook-deliveries?status=failed', adminToken)).length, { timeout: 10_000 }).toBe(1);
    const dismissing = await adminPage();
    await expect.poll(() => dismissing.page.getByRole('heading', { name: /Onelink settings/ }).isVisible(), { timeout: 10_000 }).toBe(true);
    await dismissing.page.getByRole('tab', { name: 'Webhooks' }).click();
    const dismiss = dismissing.page.getByRole('button', { name: 'Dismiss' });
    await expect.poll(() => dismiss.isVisible(), { timeout: 10_000 }).toBe(true);
    await settleAnimations(dismissing.page);
    await screenshot(dismissing.page, 'admin-deliveries-light');
    await dismissing.page.emulateMedia({ colorScheme: 'dark' });
    await dismissing.page.setViewportSize({ width: 390, height: 844 });
    await screenshot(dismissing.page, 'admin-deliveries-phone-dark');
    await dismissing.page.setViewportSize({ width: 1200, height: 900 });
    await dismiss.click();
    await expect.poll(() => dismissing.page.getByText('No failed deliveries.').isVisible()).toBe(true);
    expect((await api<Array<{ status: string }>>('/admin/webhook-deliveries?status=dismissed', adminToken)).map((d) => d.status)).toEqual(['dismissed']);
    await dismissing.browser.close();
  }, 120_000);
});
