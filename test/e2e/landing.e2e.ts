import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import type { BrowserContext } from 'playwright-core';
import { accessibilityViolations, launchBrowser, screenshot } from './browser.ts';

const baseUrl = inject('baseUrl');

describe('landing page', () => {
  let browser: BrowserContext;
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(() => browser.close());

  it('explains how to connect Chatwoot and shows the live service state', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    page.on('console', (msg) => msg.type() === 'error' && errors.push(msg.text()));

    await page.goto(baseUrl);
    await expect.poll(() => page.getByTestId('service-health').textContent()).toContain('Ready');
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Onelink for Chatwoot');
    expect(await page.getByRole('heading', { name: 'Connect a Chatwoot account' }).isVisible()).toBe(true);
    // The public URL the operator configured is what Chatwoot must reach.
    expect(await page.getByLabel('Public URL', { exact: true }).textContent()).toBe(baseUrl);
    expect(await page.getByText('Embedded Postgres').isVisible()).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('switches the registration tabs with the keyboard', async () => {
    const page = await browser.newPage();
    await page.goto(baseUrl);
    const installerTab = page.getByRole('tab', { name: 'With the installer' });
    await installerTab.focus();
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('Enter');
    const manualTab = page.getByRole('tab', { name: 'By hand in Chatwoot' });
    expect(await manualTab.getAttribute('aria-selected')).toBe('true');
    expect(await page.getByText('Settings → Integrations → Webhooks').isVisible()).toBe(true);
    await page.close();
  });

  it('has no serious accessibility violations, in light and dark', async () => {
    for (const colorScheme of ['light', 'dark'] as const) {
      const context = await launchBrowser({ colorScheme });
      const page = await context.newPage();
      await page.goto(baseUrl);
      await expect.poll(() => page.getByTestId('service-health').textContent()).toContain('Ready');
      expect(await accessibilityViolations(page)).toEqual([]);
      await context.close();
    }
  });

  it('renders at desktop, sidebar and phone widths in light and dark (screenshots)', async () => {
    for (const colorScheme of ['light', 'dark'] as const) {
      for (const [label, width] of [['desktop', 1280], ['sidebar', 380], ['phone', 390]] as const) {
        const context = await launchBrowser({ colorScheme, width, height: 900 });
        const page = await context.newPage();
        await page.goto(baseUrl);
        await expect.poll(() => page.getByTestId('service-health').textContent()).toContain('Ready');
        // Nothing may overflow sideways at narrow widths.
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
        expect(overflow).toBeLessThanOrEqual(0);
        await screenshot(page, `landing-${label}-${colorScheme}`);
        await context.close();
      }
    }
  });
});

describe('API reference page', () => {
  it('lists the API for people', async () => {
    const context = await launchBrowser();
    const page = await context.newPage();
    await page.goto(`${baseUrl}/api/v1/docs`);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toContain('Onelink CRM & Dispatch API');
    expect(await page.getByText('/health/ready').isVisible()).toBe(true);
    expect(await accessibilityViolations(page)).toEqual([]);
    await screenshot(page, 'api-reference-light');
    await context.close();
  });
});
