// The conversation sidebar inside Chatwoot's frame, across origins, through the dev host page:
// appContext, sign-in, creating a job from the conversation, following a switch (a rebuilt frame,
// or a new context posted into the same frame), ignoring a spoofed context, and a capability
// turned off. A watcher installed in every frame from its creation checks that the sidebar never
// claims "none" before its first answer. Measures bundle size and frame creation → records painted.
import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { BrowserContext, Frame, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startFakeChatwoot, type FakeChatwoot } from '../fakes/chatwoot.ts';
import { chatwootDelivery, conversationEvent } from '../fakes/chatwoot-webhooks.ts';
import { repoRoot, spawnIn } from '../helpers/processes.ts';
import { accessibilityViolations, launchBrowser, screenshot } from './browser.ts';
import { callApi, connectChatwoot, signInToken } from './world.ts';

const appOrigin = inject('appOrigin');
const baseUrl = inject('baseUrl');
let chatwoot: FakeChatwoot;
let adminToken: string;

const api = async <T = unknown>(path: string, token: string, init: { method?: string; json?: unknown } = {}) => {
  const answer = await callApi<T>(token, path, init);
  return { status: answer.status, body: { data: answer.data, error: answer.error } };
};

beforeAll(async () => {
  chatwoot = await startFakeChatwoot();
  chatwoot.addAgent({ id: 11, name: 'Ada Admin', email: 'ada@acme.test', token: 'sidebar-admin-token', accounts: [{ id: 8, name: 'Acme Heating', role: 'administrator' }] });
  chatwoot.addAgent({ id: 12, name: 'Sam Support', email: 'sam@acme.test', token: 'sidebar-agent-token', accounts: [{ id: 8, name: 'Acme Heating', role: 'agent' }] });
  // The conversations the dev host page shows (its fixtures), so write-backs have somewhere to land.
  chatwoot.addConversation(8, 101);
  chatwoot.addConversation(8, 102);
  chatwoot.addConversation(8, 103);
  await connectChatwoot(chatwoot, 'sidebar-admin-token');
  adminToken = await signInToken(chatwoot, 'sidebar-admin-token', 8);
  expect((await api('/admin/capabilities', adminToken, { method: 'PATCH', json: { profile: 'construction' } })).status).toBe(200);
});
afterAll(async () => {
  expect(chatwoot.takeViolations()).toEqual([]);
  await chatwoot.close();
});

const hostUrl = (switchMode: 'rebuild' | 'same' = 'rebuild') =>
  `${chatwoot.url}/dev/chatwoot-host/?switch=${switchMode}&app=${encodeURIComponent(`${appOrigin}/apps/sidebar/?chatwoot=${encodeURIComponent(chatwoot.url)}&account=8`)}`;
const appFrame = (page: Page) => page.frameLocator('#dashboard-app');
const sidebarFrame = (page: Page) => page.frames().find((f) => f.url().startsWith(`${appOrigin}/apps/sidebar/`)) as Frame;

async function contextToPaint(page: Page) {
  const frame = sidebarFrame(page);
  await expect.poll(() => frame.evaluate(() => performance.getEntriesByName('onelink:context-to-paint').length), { timeout: 10_000 }).toBeGreaterThan(0);
  return frame.evaluate(() => performance.getEntriesByName('onelink:context-to-paint').at(-1)!.duration);
}

/** What the watcher saw in a sidebar frame (see watchSidebar). */
interface SidebarWatch {
  skeletonBeforeAnswer: boolean;
  emptyBeforeAnswer: string[];
  zeroBeforeAnswer: boolean;
  emptySeen: string[];
  answeredAt: number | null;
  recordsPaintedAt: number | null;
  staleSeen: string[];
  expectName: string | null;
  forbidden: string[];
}

/**
 * Installed into every frame before its own scripts run: follows the sidebar's DOM from the
 * frame's creation and notes whether an empty state ("No open … for this contact.") or a zero
 * count shows before the first answer (the section counts render only with an answer), when the
 * first records are painted, and — after `expect(name, forbidden)` for a switch within the frame —
 * whether any of the previous conversation's records show under the new contact's name.
 */
function watchSidebar() {
  if (!location.pathname.startsWith('/apps/sidebar/')) return;
  const empties = ['No open deals for this contact.', 'No open jobs for this contact.', 'No open tasks for this contact.'];
  const log: SidebarWatch = {
    skeletonBeforeAnswer: false,
    emptyBeforeAnswer: [],
    zeroBeforeAnswer: false,
    emptySeen: [],
    answeredAt: null,
    recordsPaintedAt: null,
    staleSeen: [],
    expectName: null,
    forbidden: [],
  };
  const check = () => {
    if (!document.body) return;
    const text = document.body.textContent ?? '';
    const name = document.querySelector('[data-testid="contact-name"]')?.textContent ?? null;
    const counts = Array.from(document.querySelectorAll('[data-testid="count"]'));
    const current = log.expectName === null || name === log.expectName;
    const answered = current && counts.length > 0;
    if (!answered && document.querySelector('.ol-skeleton')) log.skeletonBeforeAnswer = true;
    for (const empty of empties.filter((e) => text.includes(e))) {
      if (current && !answered) log.emptyBeforeAnswer.push(`${empty} (at ${Date.now()})`);
      if (current && !log.emptySeen.includes(empty)) log.emptySeen.push(empty);
    }
    if (current && !answered && counts.some((c) => c.textContent?.trim() === '0')) log.zeroBeforeAnswer = true;
    if (name !== null && name === log.expectName) for (const old of log.forbidden.filter((f) => text.includes(f))) log.staleSeen.push(old);
    if (answered && log.answeredAt === null) log.answeredAt = Date.now();
    if (current && log.recordsPaintedAt === null && document.querySelector('[data-testid="deal"], [data-testid="job"], [data-testid="task"]')) {
      log.recordsPaintedAt = -1;
      requestAnimationFrame(() => (log.recordsPaintedAt = Date.now()));
    }
  };
  const w = window as unknown as { __sidebarWatch: SidebarWatch; __sidebarExpect: (name: string, forbidden: string[]) => void };
  w.__sidebarWatch = log;
  w.__sidebarExpect = (name, forbidden) => {
    Object.assign(log, { expectName: name, forbidden, skeletonBeforeAnswer: false, emptyBeforeAnswer: [], zeroBeforeAnswer: false, emptySeen: [], answeredAt: null, recordsPaintedAt: null, staleSeen: [] });
  };
  new MutationObserver(check).observe(document, { subtree: true, childList: true, characterData: true });
}

/** The sidebar in the host's current frame element (not a frame just replaced), once its page is there. */
async function currentSidebar(page: Page): Promise<Frame | null> {
  const frame = await (await page.locator('#dashboard-app').elementHandle())?.contentFrame();
  return frame && frame.url().startsWith(`${appOrigin}/apps/sidebar/`) ? frame : null;
}
async function watchOf(page: Page): Promise<SidebarWatch | null> {
  const frame = await currentSidebar(page);
  return frame ? frame.evaluate(() => (window as unknown as { __sidebarWatch?: SidebarWatch }).__sidebarWatch ?? null).catch(() => null) : null;
}
async function expectInFrame(page: Page, name: string, forbidden: string[]) {
  const frame = (await currentSidebar(page))!;
  await frame.evaluate(([n, f]) => (window as unknown as { __sidebarExpect: (n: string, f: string[]) => void }).__sidebarExpect(n, f), [name, forbidden] as const);
}
const paintedAfter = async (page: Page) => {
  await expect.poll(async () => (await watchOf(page))?.recordsPaintedAt ?? 0, { timeout: 10_000 }).toBeGreaterThan(0);
  return (await watchOf(page))!;
};
interface Phases { navigationStart: number; html: number; interactive: number; context: number; askedAt: number; answeredAt: number; applied: number }
/** The frame's own timings, as ms after the host created the frame (both clocks are this machine's). */
async function phasesOf(page: Page, createdAt: number): Promise<Phases> {
  const frame = (await currentSidebar(page))!;
  const raw = await frame.evaluate(() => {
    const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
    const request = performance.getEntriesByType('resource').find((r) => r.name.includes('/api/v1/sidebar?')) as PerformanceResourceTiming | undefined;
    return { origin: performance.timeOrigin, html: nav.responseEnd, interactive: nav.domInteractive, context: performance.getEntriesByName('onelink:context')[0]?.startTime ?? -1, asked: request?.startTime ?? -1, answered: request?.responseEnd ?? -1, applied: performance.getEntriesByName('onelink:records')[0]?.startTime ?? -1 };
  });
  const at = (ms: number) => Math.round(raw.origin + ms - createdAt);
  return { navigationStart: at(0), html: at(raw.html), interactive: at(raw.interactive), context: at(raw.context), askedAt: at(raw.asked), answeredAt: at(raw.answered), applied: at(raw.applied) };
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const frameCreatedAt = async (page: Page) => Number(await page.locator('#dashboard-app').getAttribute('data-created-at'));

async function signInInFrame(page: Page) {
  const frame = appFrame(page);
  await frame.getByLabel('Chatwoot access token').fill('sidebar-agent-token');
  await frame.getByRole('button', { name: 'Sign in' }).click();
}

/** Seeds open records for a dev-host contact (ids are the host's fixtures). */
async function seedRecords(contactId: number, label: string) {
  const [pipeline] = (await api<Array<{ id: string }>>('/pipelines', adminToken)).body.data;
  const deal = await api<{ reference: string }>('/deals', adminToken, { method: 'POST', json: { title: `${label} deal`, pipeline_id: pipeline!.id, chatwoot_contact_id: contactId } });
  await api('/jobs', adminToken, { method: 'POST', json: { summary: `${label} job`, chatwoot_contact_id: contactId } });
  await api('/tasks', adminToken, { method: 'POST', json: { title: `${label} task`, chatwoot_contact_id: contactId } });
  return deal.body.data.reference;
}

describe('the conversation sidebar in Chatwoot’s frame', () => {
  let browser: BrowserContext;
  let page: Page;
  beforeAll(async () => {
    browser = await launchBrowser({ width: 1100, height: 760 });
    page = await browser.newPage();
  });
  afterAll(() => browser.close());

  it('receives the appContext, signs the agent in, and creates a job from the conversation', async () => {
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(hostUrl());
    const frame = appFrame(page);
    await frame.getByLabel('Chatwoot access token').fill('sidebar-agent-token');
    await frame.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => frame.getByTestId('contact-name').textContent(), { timeout: 10_000 }).toBe('Ada Lovelace');
    expect(await frame.getByTestId('conversation-id').textContent()).toBe('Conversation #101');
    await expect.poll(() => frame.getByText('No open jobs for this contact.').isVisible()).toBe(true);

    await frame.getByRole('button', { name: '+ Job' }).click();
    const summary = frame.getByLabel('What needs doing');
    expect(await summary.inputValue()).toBe('Could someone come tomorrow before noon?'); // the latest message
    await summary.fill('Leaking radiator in the hall; visit before noon');
    await frame.getByLabel('Priority').selectOption('high');
    // The account's field pack (construction) adds its own fields to the form.
    await frame.getByLabel('Trade').selectOption('plumbing');
    await frame.getByLabel('Site address').fill('12 Crescent Road');
    await screenshot(page, 'sidebar-new-job-form');
    await frame.getByRole('button', { name: 'Create job' }).click();
    await expect.poll(() => frame.getByTestId('job').count()).toBe(1);
    expect(await frame.getByTestId('job').textContent()).toContain('Leaking radiator in the hall; visit before noon');
    const jobs = await api<Array<{ id: string }>>('/jobs?contact_id=501', adminToken);
    expect(jobs.body.data).toMatchObject([
      { summary: 'Leaking radiator in the hall; visit before noon', priority: 'high', source: 'chat', custom_fields: { trade: 'plumbing', site_address: '12 Crescent Road' } },
    ]);
    expect((await api<{ conversation_ids: number[] }>(`/jobs/${jobs.body.data[0]!.id}`, adminToken)).body.data.conversation_ids).toEqual([101]);
    // …and Chatwoot's conversation hears of it (a private note from the write-back worker).
    await expect.poll(() => chatwoot.conversations.get('8:101')!.messages.map((m) => m.content), { timeout: 10_000 }).toContainEqual(expect.stringContaining('job created'));

    await frame.getByRole('button', { name: '+ Task' }).click();
    await frame.getByRole('button', { name: 'Create task' }).click();
    await expect.poll(() => frame.getByTestId('task').count()).toBe(1);
    await frame.getByRole('checkbox', { name: 'Mark “Follow up with Ada Lovelace” done' }).check();
    await expect.poll(() => frame.getByTestId('task').count()).toBe(0);

    // Live: a job a dispatcher opens elsewhere appears without a reload (the change stream), and leaves when canceled.
    const elsewhere = await api<{ id: string }>('/jobs', adminToken, { method: 'POST', json: { summary: 'Opened by dispatch', chatwoot_contact_id: 501 } });
    await expect.poll(() => frame.getByTestId('job').count(), { timeout: 5_000 }).toBe(2);
    await api(`/jobs/${elsewhere.body.data.id}/status`, adminToken, { method: 'POST', json: { status: 'canceled', reason: 'Opened by mistake' } });
    await expect.poll(() => frame.getByTestId('job').count(), { timeout: 5_000 }).toBe(1);

    expect(await accessibilityViolations(page.frames().find((f) => f.url().startsWith(`${appOrigin}/apps/sidebar/`))!)).toEqual([]);
    await screenshot(page, 'sidebar-in-chatwoot-light');
    expect(errors).toEqual([]);
  });

  it('follows a conversation switch (Chatwoot rebuilds the frame) and measures context-to-paint on a cold frame', async () => {
    await page.locator('#conversation').selectOption('102');
    const frame = appFrame(page);
    await expect.poll(() => frame.getByTestId('contact-name').textContent(), { timeout: 10_000 }).toBe('Grace Hopper');
    expect(await frame.getByTestId('job').count()).toBe(0);
    const ms = await contextToPaint(page);
    console.log(`Sidebar: appContext received → records painted on a cold frame: ${ms.toFixed(0)} ms`);

    // Link an existing job (another contact's, from a phone call) to this conversation by its number.
    const other = await api<{ id: string; reference: string }>('/jobs', adminToken, { method: 'POST', json: { summary: 'Window quote visit', chatwoot_contact_id: 9999 } });
    await frame.getByRole('button', { name: 'Link…' }).click();
    await frame.getByLabel('Job or deal number').fill(other.body.data.reference);
    await frame.getByRole('button', { name: 'Link', exact: true }).click();
    await expect.poll(() => frame.getByTestId('job').count(), { timeout: 10_000 }).toBe(1);
    expect(await frame.getByTestId('job').textContent()).toContain('Window quote visit');
    expect((await api<{ conversation_ids: number[] }>(`/jobs/${other.body.data.id}`, adminToken)).body.data.conversation_ids).toEqual([102]);
    await page.locator('#conversation').selectOption('101');
    await expect.poll(() => frame.getByTestId('job').count(), { timeout: 10_000 }).toBe(1);
  });

  it('ignores an appContext posted by any window but Chatwoot’s', async () => {
    const frame = appFrame(page);
    await expect.poll(() => frame.getByTestId('contact-name').textContent()).toBe('Ada Lovelace');
    const spoof = JSON.stringify({ event: 'appContext', data: { conversation: { id: 666, meta: { sender: { id: 666, name: 'Mallory' } } }, contact: { id: 666, name: 'Mallory' } } });
    // A sibling frame from another origin, and the app's own window, both try.
    await page.evaluate((src) => {
      const sibling = document.createElement('iframe');
      sibling.src = src;
      sibling.id = 'intruder';
      document.body.append(sibling);
    }, `${baseUrl}/`);
    await expect.poll(() => page.frames().some((f) => f.url().startsWith(baseUrl)), { timeout: 10_000 }).toBe(true);
    const intruder = page.frames().find((f) => f.url().startsWith(baseUrl))!;
    await intruder.evaluate((message) => window.parent.frames[0]!.postMessage(message, '*'), spoof);
    const app = page.frames().find((f) => f.url().startsWith(`${appOrigin}/apps/sidebar/`))!;
    await app.evaluate((message) => window.postMessage(message, '*'), spoof);
    await page.waitForTimeout(300);
    expect(await frame.getByTestId('contact-name').textContent()).toBe('Ada Lovelace');
  });

  it('hides the jobs section when an admin turns dispatch.jobs off, and the API refuses jobs', async () => {
    expect((await api('/admin/capabilities', adminToken, { method: 'PATCH', json: { overrides: { 'dispatch.jobs': false } } })).status).toBe(200);
    await page.locator('#conversation').selectOption('102');
    const frame = appFrame(page);
    await expect.poll(() => frame.getByTestId('contact-name').textContent(), { timeout: 10_000 }).toBe('Grace Hopper');
    await expect.poll(() => frame.getByRole('heading', { name: /Deals/ }).isVisible()).toBe(true);
    expect(await frame.getByTestId('jobs-section').count()).toBe(0);
    expect(await frame.getByRole('button', { name: '+ Job' }).count()).toBe(0);
    const refused = await api('/jobs', adminToken);
    expect([refused.status, refused.body.error?.code]).toEqual([403, 'capability_disabled']);
    expect((await api('/admin/capabilities', adminToken, { method: 'PATCH', json: { overrides: { 'dispatch.jobs': true } } })).status).toBe(200);
  });
});

describe('no false "none": placeholders until the first answer, whichever way Chatwoot switches', () => {
  let browser: BrowserContext;
  let page: Page;
  beforeAll(async () => {
    await seedRecords(501, 'Ada');
    await seedRecords(502, 'Grace');
    browser = await launchBrowser({ width: 1100, height: 760 });
    await browser.addInitScript(watchSidebar);
    page = await browser.newPage();
  });
  afterAll(() => browser.close());

  it('rebuilt frames: skeleton, never an empty state or a zero count before the answer; frame creation → records painted', async () => {
    await page.goto(hostUrl('rebuild'));
    await signInInFrame(page);
    await expect.poll(() => appFrame(page).getByText('Ada deal').count(), { timeout: 10_000 }).toBe(1);
    const timings: number[] = [];
    const phases: Phases[] = [];
    for (const id of ['102', '101', '102', '101', '102', '101', '102']) {
      await page.locator('#conversation').selectOption(id);
      const created = await frameCreatedAt(page);
      const watch = await paintedAfter(page);
      expect(watch.emptyBeforeAnswer).toEqual([]);
      expect(watch.zeroBeforeAnswer).toBe(false);
      expect(watch.emptySeen).toEqual([]); // both contacts have a deal, a job and a task
      expect(watch.skeletonBeforeAnswer).toBe(true);
      timings.push(watch.recordsPaintedAt! - created);
      phases.push(await phasesOf(page, created));
    }
    const phase = (name: keyof Phases) => median(phases.map((p) => p[name]));
    console.log(
      `Sidebar: where the time goes (medians, ms after frame creation): navigation starts ${phase('navigationStart')}, HTML in ${phase('html')}, ` +
        `scripts run ${phase('interactive')}, appContext ${phase('context')}, /sidebar asked ${phase('askedAt')} and answered ${phase('answeredAt')}, records applied ${phase('applied')}`,
    );
    console.log(
      `Sidebar: frame creation → real records painted: ${median(timings)} ms median, ${Math.max(...timings)} ms max over ${timings.length} rebuilt frames on a warm server (target < 500 ms)`,
    );
    expect(median(timings)).toBeLessThan(1000); // a regression guard; the target above is printed

    // A slow answer: the placeholders stay up the whole time, and "none" never shows early.
    await page.route('**/api/v1/sidebar?*', async (route) => {
      await new Promise((resolve) => setTimeout(resolve, 700));
      await route.continue();
    });
    await page.locator('#conversation').selectOption('101');
    await expect.poll(async () => (await currentSidebar(page))?.locator('.ol-skeleton').count() ?? 0, { timeout: 10_000 }).toBeGreaterThan(0);
    const slow = await paintedAfter(page);
    expect([slow.emptyBeforeAnswer, slow.zeroBeforeAnswer, slow.emptySeen]).toEqual([[], false, []]);
    await page.unroute('**/api/v1/sidebar?*');
  });

  it('rebuilt frame for a contact with truly nothing: the empty states, after the answer', async () => {
    await page.locator('#conversation').selectOption('103');
    const frame = appFrame(page);
    await expect.poll(() => frame.getByTestId('contact-name').textContent(), { timeout: 10_000 }).toBe('Alan Turing');
    await expect.poll(() => frame.getByText('No open deals for this contact.').isVisible(), { timeout: 10_000 }).toBe(true);
    expect(await frame.getByText('No open jobs for this contact.').isVisible()).toBe(true);
    expect(await frame.getByText('No open tasks for this contact.').isVisible()).toBe(true);
    expect(await frame.getByTestId('count').allTextContents()).toEqual(['0', '0', '0']);
    const watch = (await watchOf(page))!;
    expect(watch.emptyBeforeAnswer).toEqual([]);
    expect(watch.answeredAt).toBeGreaterThan(0);
    expect(watch.emptySeen.sort()).toEqual(['No open deals for this contact.', 'No open jobs for this contact.', 'No open tasks for this contact.']);
  });

  it('a new context posted into the same frame: that conversation’s records, nothing stale, placeholders meanwhile', async () => {
    const same = await browser.newPage();
    await same.goto(hostUrl('same'));
    const frame = appFrame(same);
    await expect.poll(() => frame.getByText('Ada deal').count(), { timeout: 10_000 }).toBe(1); // signed in already (same browser)
    const created = await frameCreatedAt(same);
    await same.route('**/api/v1/sidebar?*', async (route) => {
      await new Promise((resolve) => setTimeout(resolve, 400));
      await route.continue();
    });
    await expectInFrame(same, 'Grace Hopper', ['Ada deal', 'Ada job', 'Ada task']);
    await same.locator('#conversation').selectOption('102');
    await expect.poll(() => frame.locator('.ol-skeleton').count(), { timeout: 5_000 }).toBeGreaterThan(0);
    await same.locator('aside.app').screenshot({ path: path.join(repoRoot, 'test-results', 'screenshots', 'sidebar-loading-light.png') });
    await expect.poll(() => frame.getByText('Grace deal').count(), { timeout: 10_000 }).toBe(1);
    expect(await frame.getByTestId('contact-name').textContent()).toBe('Grace Hopper');
    expect(await frameCreatedAt(same)).toBe(created); // the very same frame
    const watch = (await watchOf(same))!;
    expect(watch.staleSeen).toEqual([]);
    expect([watch.emptyBeforeAnswer, watch.zeroBeforeAnswer, watch.skeletonBeforeAnswer]).toEqual([[], false, true]);
    expect(await frame.getByText('Ada deal').count()).toBe(0);

    // Two switches in quick succession, the first one's answer arriving last: it is dropped.
    await same.unroute('**/api/v1/sidebar?*');
    await same.route('**/api/v1/sidebar?*', async (route) => {
      await new Promise((resolve) => setTimeout(resolve, route.request().url().includes('conversation_id=103') ? 900 : 100));
      await route.continue();
    });
    await expectInFrame(same, 'Ada Lovelace', ['Grace deal', 'Grace job', 'Grace task']);
    await same.locator('#conversation').selectOption('103');
    await same.locator('#conversation').selectOption('101');
    await expect.poll(() => frame.getByText('Ada deal').count(), { timeout: 10_000 }).toBe(1);
    await same.waitForTimeout(1200); // past the late answer for #103 (a contact with nothing)
    expect(await frame.getByText('Ada deal').count()).toBe(1);
    const after = (await watchOf(same))!;
    expect([after.staleSeen, after.emptySeen, after.emptyBeforeAnswer]).toEqual([[], [], []]);
    expect(await frameCreatedAt(same)).toBe(created);
    await same.close();
  });

  it('shows each deal’s stage once, as the control that moves it, and phone numbers formatted', async () => {
    await page.locator('#conversation').selectOption('102');
    const frame = appFrame(page);
    await expect.poll(() => frame.getByText('Grace deal').count(), { timeout: 10_000 }).toBe(1);
    // An account in the US: a US number in national form, a foreign one in international form.
    expect(await frame.getByTestId('contact-phone').textContent()).toBe('(415) 555-0123');
    const card = frame.getByTestId('deal').filter({ hasText: 'Grace deal' });
    const stage = card.getByTestId('deal-stage');
    expect(await stage.count()).toBe(1);
    expect(await stage.evaluate((el) => el.tagName)).toBe('SELECT');
    const reference = (await card.locator('.ref').textContent())!;
    expect(await card.getByRole('combobox', { name: `Stage of ${reference}` }).count()).toBe(1);
    expect(await stage.evaluate((el) => (el as HTMLSelectElement).selectedOptions[0]!.textContent)).toBe('Lead');
    expect(await accessibilityViolations((await currentSidebar(page))!)).toEqual([]);
    await stage.selectOption({ label: 'Site visit' });
    await expect.poll(() => frame.getByText(`${reference} moved`).isVisible(), { timeout: 10_000 }).toBe(true);
    await expect.poll(() => stage.evaluate((el) => (el as HTMLSelectElement).selectedOptions[0]!.textContent), { timeout: 10_000 }).toBe('Site visit');
    const moved = await api<Array<{ reference: string; stage_id: string }>>('/deals?contact_id=502&status=open', adminToken);
    const stages = (await api<Array<{ stages: Array<{ id: string; name: string }> }>>('/pipelines', adminToken)).body.data[0]!.stages;
    expect(stages.find((s) => s.id === moved.body.data.find((d) => d.reference === reference)!.stage_id)!.name).toBe('Site visit');
    await page.locator('#conversation').selectOption('101');
    await expect.poll(() => frame.getByTestId('contact-phone').textContent(), { timeout: 10_000 }).toBe('+44 20 7946 0958');
  });
});

describe('sidebar screenshots and weight', () => {
  it('looks right in light and dark, at sidebar width (400 px) and phone width', async () => {
    for (const scheme of ['dark', 'light'] as const) {
      const browser = await launchBrowser({ colorScheme: scheme, width: 1100, height: 760 });
      const page = await browser.newPage();
      await page.goto(hostUrl());
      const frame = appFrame(page);
      await signInInFrame(page);
      await expect.poll(() => frame.getByText('Ada deal').count(), { timeout: 10_000 }).toBe(1);
      if (scheme === 'dark') await screenshot(page, 'sidebar-in-chatwoot-dark');
      await page.locator('#width').selectOption('400');
      await expect.poll(() => frame.getByText('Ada deal').count(), { timeout: 10_000 }).toBe(1);
      await page.locator('aside.app').screenshot({ path: path.join(repoRoot, 'test-results', 'screenshots', `sidebar-400-${scheme}.png`) });
      await page.locator('#width').selectOption('390');
      await frame.getByRole('button', { name: '+ Deal' }).click();
      await page.locator('aside.app').screenshot({ path: path.join(repoRoot, 'test-results', 'screenshots', `sidebar-phone-width-${scheme}.png`) });
      await browser.close();
    }
  });

  it('keeps the sidebar’s JavaScript small (printed; budget 60 KB gzipped)', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, 'dist', 'web', '.vite', 'manifest.json'), 'utf8')) as Record<string, { file: string; imports?: string[] }>;
    const seen = new Set<string>();
    const walk = (key: string) => {
      if (seen.has(key)) return;
      seen.add(key);
      for (const child of manifest[key]?.imports ?? []) walk(child);
    };
    walk('apps/sidebar/index.html');
    const bytes = [...seen].map((key) => gzipSync(fs.readFileSync(path.join(repoRoot, 'dist', 'web', manifest[key]!.file))).length).reduce((a, b) => a + b, 0);
    console.log(`Sidebar JavaScript: ${(bytes / 1024).toFixed(1)} KB gzipped (budget 60 KB)`);
    expect(bytes).toBeLessThanOrEqual(60 * 1024);
  });
});

// A conversation_updated delivery from Chatwoot is a change Onelink makes itself (its cache of the
// conversation, through write(), its trail the delivery row): an open sidebar must hear of it
// through the change stream at once, not on its minute timer.
describe('the sidebar hears of Chatwoot’s own changes', () => {
  it('refreshes within 2 s of a signed conversation_updated delivery being processed', async () => {
    // Wire the account the way an operator does, so Chatwoot holds our webhook and its secret.
    const install = spawnIn(
      'npm',
      ['run', '--silent', 'onelink', '--', 'install', '--chatwoot-url', chatwoot.url, '--account-id', '8', '--token', 'sidebar-admin-token', '--public-url', baseUrl, '--skip-check', '--skip-backfill'],
      { ONELINK_DATA_DIR: inject('dataDir') },
    );
    expect((await install.exited).code, install.output()).toBe(0);
    const hook = chatwoot.webhooks.find((h) => h.accountId === 8 && h.url.startsWith(baseUrl));
    expect(hook, install.output()).toBeTruthy();
    const browser = await launchBrowser({ width: 1100, height: 760 });
    const page = await browser.newPage();
    await page.goto(hostUrl());
    await signInInFrame(page);
    const frame = appFrame(page);
    await expect.poll(() => frame.getByTestId('conversation-id').textContent(), { timeout: 10_000 }).toBe('Conversation #101');
    await expect.poll(() => frame.getByTestId('count').count(), { timeout: 10_000 }).toBeGreaterThan(0);
    let snapshots: number[] = [];
    page.on('request', (request) => {
      if (request.url().includes('/api/v1/sidebar?')) snapshots.push(Date.now());
    });
    // Quiet first: signing in was itself a change the stream announces; wait until a whole second
    // passes without the sidebar asking again (its own timer runs once a minute).
    const watchedFrom = Date.now();
    while (Date.now() - Math.max(watchedFrom, ...snapshots) < 1_000) await new Promise((resolve) => setTimeout(resolve, 100));
    snapshots = [];

    const payload = conversationEvent('conversation_updated', { id: 101, contactId: 501, status: 'resolved', labels: ['boiler', 'priority-customer'] }, { id: 8, name: 'Acme Heating' });
    const delivery = chatwootDelivery(payload, { secret: hook!.secret });
    const sentAt = Date.now();
    const sent = await fetch(hook!.url, { method: 'POST', headers: delivery.headers, body: delivery.body });
    expect(sent.status).toBeLessThan(300);

    const processed = async () => {
      const page = await api<Array<{ event: string; processed_at: string | null }>>('/admin/webhook-deliveries?status=processed&limit=20', adminToken);
      return page.body.data.find((d) => d.event === 'conversation_updated')?.processed_at ?? null;
    };
    await expect.poll(processed, { timeout: 10_000, interval: 100 }).not.toBeNull();
    const processedAt = new Date((await processed())!).getTime();
    await expect.poll(() => snapshots.filter((at) => at >= sentAt).length, { timeout: 5_000 }).toBeGreaterThan(0);
    const delay = snapshots.find((at) => at >= sentAt)! - processedAt;
    console.info(`conversation_updated: the open sidebar asked for its records again ${delay} ms after the delivery was processed`);
    expect(delay).toBeLessThan(2_000);
    expect(await frame.getByTestId('conversation-id').textContent()).toBe('Conversation #101');
    await browser.close();
  });
});
