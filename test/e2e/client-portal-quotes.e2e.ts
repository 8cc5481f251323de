// Quotes from the deal drawer to the client's phone: staff add a quote with its PDF in the pipeline
// board's deal drawer and share it; the client opens it in the portal (390×844, touch), approves
// after the confirmation step, and the open drawer shows the deal won with the client's decision.
// A second quote is declined on a phone in dark mode: the deal is lost with the client's comment.
import fs from 'node:fs';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startFakeChatwoot, type FakeChatwoot } from '../fakes/chatwoot.ts';
import { accessibilityViolations, launchBrowser, screenshotDir } from './browser.ts';
import { clientPerson, launchPhone, openClientPortal } from './phone.ts';
import { callApi, connectChatwoot, signInToken } from './world.ts';

const baseUrl = inject('baseUrl');
const chatwootAccount = 53;
const contactId = 5301;
let chatwoot: FakeChatwoot;
let staffToken: string;
let accountId: number;
let client: { token: string; id: string };
let pipeline: { id: string; stages: Array<{ id: string; name: string; kind: string }> };
const deals: Record<'bathroom' | 'wall', { id: string; reference: string }> = {} as never;
const pdf = Buffer.from('%PDF-1.4\n1 0 obj << /Title (Bathroom refit quote) >> endobj\ntrailer << >>\n%%EOF\n');

async function api<T>(urlPath: string, init: { method?: string; json?: unknown } = {}) {
  const res = await callApi<T>(staffToken, urlPath, init);
  if (res.status >= 400) throw new Error(`${init.method ?? 'GET'} ${urlPath}: ${res.status} ${JSON.stringify(res.error)}`);
  return res.data;
}

/** What the screen shows from the top (the phone's tab bar stays where a thumb finds it). */
async function shot(page: Page, name: string, fullPage = false) {
  await page.evaluate(() => window.scrollTo(0, 0));
  fs.mkdirSync(screenshotDir, { recursive: true });
  await page.screenshot({ path: path.join(screenshotDir, `${name}.png`), fullPage });
}

beforeAll(async () => {
  chatwoot = await startFakeChatwoot();
  chatwoot.addAgent({ id: 5301, name: 'Quinn Quotes', email: 'quinn@bright-baths.test', token: 'quotes-agent-token', accounts: [{ id: chatwootAccount, name: 'Bright Baths', role: 'administrator' }] });
  await connectChatwoot(chatwoot, 'quotes-agent-token');
  staffToken = await signInToken(chatwoot, 'quotes-agent-token', chatwootAccount);
  accountId = (await api<{ account: { id: number } }>('/me')).account.id;
  pipeline = (await api<Array<typeof pipeline>>('/pipelines'))[0]!;
  deals.bathroom = await api('/deals', { method: 'POST', json: { title: 'Bathroom refit', pipeline_id: pipeline.id, amount_minor: 640_000, currency: 'EUR', chatwoot_contact_id: contactId } });
  deals.wall = await api('/deals', { method: 'POST', json: { title: 'Garden wall', pipeline_id: pipeline.id, chatwoot_contact_id: contactId } });
  client = await clientPerson(accountId, contactId, { name: 'Carla Client', email: 'carla@example.test' });
});
afterAll(async () => {
  await chatwoot.close();
});

const drawerUrl = (dealId: string) => `${baseUrl}/apps/pipeline/?chatwoot=${encodeURIComponent(chatwoot.url)}&account=${chatwootAccount}&deal=${dealId}`;

describe('a quote from the deal drawer to the client’s phone', () => {
  let staff: BrowserContext;
  let board: Page;
  let quoteId: string;

  beforeAll(async () => {
    staff = await launchBrowser({ width: 1400, height: 900 });
    board = await staff.newPage();
    await board.goto(drawerUrl(deals.bathroom.id));
    await board.getByLabel('Chatwoot access token').fill('quotes-agent-token');
    await board.getByRole('button', { name: 'Sign in' }).click();
  });
  afterAll(() => staff.close());

  it('staff add a quote with its PDF in the deal drawer and share it with the client', async () => {
    const quotes = board.getByTestId('deal-quotes');
    await quotes.getByText('No quotes yet').waitFor({ timeout: 15_000 });
    await quotes.getByRole('button', { name: 'Add a quote' }).click();
    const form = board.getByTestId('quote-form');
    await form.getByLabel('Title').fill('Bathroom refit, tiles and fittings');
    // The deal's currency is the default.
    expect(await form.getByLabel('Currency').inputValue()).toBe('EUR');
    await form.getByLabel('Amount').fill('6400,00');
    await form.getByRole('button', { name: 'Save as draft' }).click();
    // A comma is refused at its field (the server says how to write it); nothing is saved.
    await form.getByText(/no thousands separators/).waitFor();
    await form.getByLabel('Amount').fill('6400.00');
    await form.getByLabel('Document (PDF or photo, optional)').setInputFiles({ name: 'bathroom-quote.pdf', mimeType: 'application/pdf', buffer: pdf });
    await form.getByRole('button', { name: 'Save as draft' }).click();
    const card = quotes.locator('article[data-status="draft"]');
    await card.waitFor({ timeout: 10_000 });
    expect(await card.getByText('Draft').count()).toBe(1);
    expect(await card.getByRole('link', { name: /bathroom-quote\.pdf/ }).count()).toBe(1);

    await card.getByRole('button', { name: 'Share with client' }).click();
    await quotes.locator('article[data-status="shared"]').waitFor({ timeout: 10_000 });
    const listed = await api<Array<{ id: string; status: string; amount_minor: number; document: { filename: string } }>>(`/deals/${deals.bathroom.id}/quotes`);
    expect(listed).toMatchObject([{ status: 'shared', amount_minor: 640_000, document: { filename: 'bathroom-quote.pdf' } }]);
    quoteId = listed[0]!.id;
    expect(await accessibilityViolations(board)).toEqual([]);
    await quotes.screenshot({ path: path.join(screenshotDir, 'pipeline-deal-quotes-shared.png') });
  });

  it('refuses to share where the contact has not been invited, saying so in the drawer', async () => {
    const lonely = await api<{ id: string }>('/deals', { method: 'POST', json: { title: 'Shed roof', pipeline_id: pipeline.id, chatwoot_contact_id: 5399 } });
    await api(`/deals/${lonely.id}/quotes`, { method: 'POST', json: { title: 'Shed roof felt', amount: '380', currency: 'EUR' } });
    const page = await staff.newPage();
    await page.goto(drawerUrl(lonely.id));
    const quotes = page.getByTestId('deal-quotes');
    await quotes.getByRole('button', { name: 'Share with client' }).click({ timeout: 15_000 });
    await expect.poll(() => quotes.getByTestId('quote-refusal').textContent(), { timeout: 10_000 }).toMatch(/invite the contact to the portal/);
    await page.close();
  });

  it('the client approves it on their phone after a confirmation step', async () => {
    const phone = await launchPhone(client.token, 'light');
    try {
      const page = await openClientPortal(phone, '/quotes');
      const item = page.getByTestId(`client-quote-${quoteId}`);
      await item.waitFor({ timeout: 15_000 });
      expect(await item.textContent()).toContain('€6,400.00');
      await page.getByRole('link', { name: 'Quotes' }).waitFor(); // the tab bar offers Quotes now
      expect(await accessibilityViolations(page)).toEqual([]);
      await shot(page, 'client-portal-quotes-light');

      await item.tap();
      await page.getByRole('heading', { name: 'Bathroom refit, tiles and fittings' }).waitFor();
      expect(await page.getByTestId('quote-amount').textContent()).toBe('€6,400.00');
      expect(await page.getByTestId('quote-open').getAttribute('href')).toMatch(/^\/api\/v1\/quotes\/content\?token=/);
      // The document opens from the phone without any credentials of its own (a signed link).
      const bytes = await page.evaluate(async (url) => (await fetch(url, { credentials: 'omit' })).text(), (await page.getByTestId('quote-open').getAttribute('href'))!);
      expect(bytes).toContain('%PDF-1.4');
      expect(await accessibilityViolations(page)).toEqual([]);
      await shot(page, 'client-portal-quote-light');

      await page.getByTestId('quote-approve').tap();
      const step = page.getByTestId('decision-step');
      await step.getByRole('heading', { name: 'Approve this quote?' }).waitFor();
      // Nothing is sent before the final yes.
      expect((await api<Array<{ status: string }>>(`/deals/${deals.bathroom.id}/quotes`))[0]!.status).toBe('shared');
      await step.getByLabel('A comment for us (optional)').fill('Please start after the 10th');
      expect(await accessibilityViolations(page)).toEqual([]);
      await shot(page, 'client-portal-quote-confirm-light', true);
      await step.getByRole('button', { name: 'Yes, approve' }).tap();
      await page.getByTestId('quote-decision').getByText('You approved this quote').waitFor({ timeout: 10_000 });
      expect(await page.getByTestId('quote-status').textContent()).toContain('Approved');
      await shot(page, 'client-portal-quote-approved-light', true);
    } finally {
      await phone.close();
    }
    const deal = await api<{ status: string; stage_id: string }>(`/deals/${deals.bathroom.id}`);
    expect(deal.status).toBe('won');
    expect(pipeline.stages.find((s) => s.id === deal.stage_id)?.kind).toBe('won');
  });

  it('the open deal drawer shows the deal won and the client’s decision', async () => {
    // The board follows the account live: no reload.
    await expect.poll(() => board.getByTestId('deal-status').textContent(), { timeout: 15_000 }).toBe('Won');
    const quotes = board.getByTestId('deal-quotes');
    const approved = quotes.locator('article[data-status="approved"]');
    await approved.waitFor({ timeout: 10_000 });
    expect(await approved.textContent()).toContain('Approved by Carla Client');
    expect(await approved.textContent()).toContain('Please start after the 10th');
    await approved.screenshot({ path: path.join(screenshotDir, 'pipeline-deal-quote-approved.png') });
    // At a sidebar's width too.
    await board.setViewportSize({ width: 400, height: 900 });
    await board.getByTestId('deal-quotes').scrollIntoViewIfNeeded();
    await board.screenshot({ path: path.join(screenshotDir, 'pipeline-deal-quotes-400.png') });
    await board.setViewportSize({ width: 1400, height: 900 });
  });
});

describe('declining on a phone in dark mode', () => {
  it('loses the deal with the client’s comment as the reason', async () => {
    const quote = await api<{ id: string }>(`/deals/${deals.wall.id}/quotes`, { method: 'POST', json: { title: 'Garden wall, 12 m of brick', amount: '2150.5', currency: 'EUR' } });
    await api(`/deals/${deals.wall.id}/quotes/${quote.id}/share`, { method: 'POST' });
    const phone = await launchPhone(client.token, 'dark');
    try {
      const page = await openClientPortal(phone, '/quotes');
      await page.getByTestId(`client-quote-${quote.id}`).waitFor({ timeout: 15_000 });
      expect(await accessibilityViolations(page)).toEqual([]);
      await shot(page, 'client-portal-quotes-dark');
      await page.getByTestId(`client-quote-${quote.id}`).tap();
      expect(await page.getByTestId('quote-amount').textContent({ timeout: 10_000 })).toBe('€2,150.50');
      await page.getByText('No document with this quote').waitFor();
      await shot(page, 'client-portal-quote-dark');
      await page.getByTestId('quote-decline').tap();
      const step = page.getByTestId('decision-step');
      await step.getByLabel('Tell us why (optional)').fill('Too expensive for this year');
      expect(await accessibilityViolations(page)).toEqual([]);
      await shot(page, 'client-portal-quote-confirm-dark', true);
      // Back leaves it undecided.
      await step.getByRole('button', { name: 'Back' }).tap();
      await page.getByTestId('quote-decline').tap();
      await page.getByTestId('decision-step').getByLabel('Tell us why (optional)').fill('Too expensive for this year');
      await page.getByTestId('decision-step').getByRole('button', { name: 'Yes, decline' }).tap();
      await page.getByTestId('quote-decision').getByText('You declined this quote').waitFor({ timeout: 10_000 });
      expect(await page.getByTestId('quote-decision').textContent()).toContain('Too expensive for this year');
      expect(await accessibilityViolations(page)).toEqual([]);
      await shot(page, 'client-portal-quote-declined-dark', true);
    } finally {
      await phone.close();
    }
    expect(await api(`/deals/${deals.wall.id}`)).toMatchObject({ status: 'lost', lost_reason: 'Too expensive for this year' });
  });
});
