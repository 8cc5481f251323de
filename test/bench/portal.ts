// `npm run bench:portal`: the vendor portal's weight and speed on a phone, measured and printed
// next to the budgets (it asserts nothing):
// - initial JS: the portal entry and every chunk it imports statically, gzipped (from Vite's manifest);
// - first contentful paint of a first visit with a cold cache, the network throttled to slow 4G (CDP);
// - first contentful paint of a later visit, the page and its code coming from the service worker's cache;
// - rendering a list of 200 jobs (switching to the tab that holds them, until painted).
// It runs the real server (its own embedded Postgres, a fake Chatwoot, a loopback SMTP server for
// the sign-in link) and Debian's Chromium.
import type { BrowserContext } from 'playwright-core';
import { ensureBuild } from '../../extension/cli/ensure-build.ts';
import { firstContentfulPaint, initialJs, line, listFiles, median, phone, screenReady, slow4g, throttle, unthrottled } from './phone.ts';
import { signInLinkFrom, startStack } from './stack.ts';

const budgets = { initialJsKb: 90, coldFcpMs: 2500, cachedFcpMs: 1000, listRenderMs: 100 };
const jobCount = Number(process.env.BENCH_PORTAL_JOBS ?? 200);

async function main() {
  await ensureBuild();
  const js = initialJs('portal/vendor/index.html');

  const stack = await startStack();
  const { baseUrl, smtp, staff, api } = stack;
  let context: BrowserContext | null = null;
  try {
    await api('/admin/capabilities', { profile: 'construction' }, 'PATCH');
    await api('/checklist-templates', { name: 'Visit', service_category: 'plumbing', items: [{ label: 'Water off' }, { label: 'Fixed' }, { label: 'Tested' }] });
    const vendor = await api<{ id: string }>('/vendors', { name: 'Bench Plumbing', categories: ['plumbing'] });
    await api(`/vendors/${vendor.id}/documents`, { kind: 'insurance', expires_on: '2099-01-01' });
    const email = 'owner@bench.test';
    await api(`/vendors/${vendor.id}/users`, { name: 'Bench Owner', email, role: 'owner' });
    // Ten at a time: the seeding is not what is measured.
    const seed = async (i: number) => {
      const starts = new Date(Date.now() + (30 + (i % 8) * 20) * 60_000);
      const job = await api<{ id: string }>('/jobs', {
        summary: `Job ${i + 1}: ${['Leaking tap', 'Blocked drain', 'No hot water', 'Running toilet'][i % 4]} at unit ${i + 1}`,
        priority: ['low', 'normal', 'high', 'urgent'][i % 4],
        service_category: 'plumbing',
        address: `${i + 1} Long Street, London`,
        window_starts_at: starts.toISOString(),
        window_ends_at: new Date(starts.getTime() + 2 * 3600_000).toISOString(),
      });
      await api(`/jobs/${job.id}/assignment`, { vendor_id: vendor.id });
    };
    for (let i = 0; i < jobCount; i += 10) await Promise.all(Array.from({ length: Math.min(10, jobCount - i) }, (_, k) => seed(i + k)));

    // A first visit: nothing cached, slow 4G.
    context = await phone();
    const page = await context.newPage();
    const cdp = await throttle(page, true);
    await page.goto(`${baseUrl}/portal/vendor/`);
    const coldFcp = await firstContentfulPaint(page);
    // FCP is the page's own splash; the sign-in form (the first screen of a first visit) follows.
    const coldReady = await screenReady(page, 'h1');
    await cdp.send('Network.emulateNetworkConditions', unthrottled);

    // Signed in through the link of the sign-in e-mail; the service worker takes over.
    const seen = smtp.mails.length;
    await fetch(`${baseUrl}/api/v1/portal/vendor/sign-in`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ account: staff.account_id, email }) });
    const link = await signInLinkFrom(smtp, seen);
    await page.goto(link);
    await page.waitForFunction((count) => document.querySelectorAll('article[data-job]').length >= Math.min(count, 100), jobCount, { timeout: 60_000 }).catch(async (err: unknown) => {
      throw new Error(`the jobs did not show at ${page.url()}: ${(await page.locator('body').innerText()).slice(0, 500)}`, { cause: err });
    });
    await page.waitForFunction(() => !!navigator.serviceWorker.controller, undefined, { timeout: 30_000 });
    // Every page of the tab, so the list holds all of them.
    while (await page.getByRole('button', { name: 'Show more' }).isVisible()) {
      const before = await page.locator('article[data-job]').count();
      await page.getByRole('button', { name: 'Show more' }).click();
      await page.waitForFunction((n) => document.querySelectorAll('article[data-job]').length > n, before);
    }
    const listed = await page.locator('article[data-job]').count();
    console.log(`${listed} jobs listed; measuring`);

    // Rendering the list: from another tab to the one with the jobs, until they are painted.
    const renders: number[] = [];
    for (let i = 0; i < 7; i++) {
      await page.getByRole('tab', { name: 'Done' }).click();
      await page.waitForFunction(() => document.querySelectorAll('article[data-job]').length === 0);
      // Plain source (not a compiled function): the bench runs under tsx, whose helpers the page lacks.
      renders.push(
        (await page.evaluate(`(async () => {
          const tab = [...document.querySelectorAll('[role="tab"]')].find((el) => el.textContent.trim() === 'Today');
          const started = performance.now();
          tab.dispatchEvent(new MouseEvent('mousedown', { bubbles: true }));
          tab.click();
          const until = performance.now() + 10000;
          while (document.querySelectorAll('article[data-job]').length < ${listed} && performance.now() < until) await new Promise((r) => requestAnimationFrame(r));
          await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
          return performance.now() - started;
        })()`)) as number,
      );
    }

    // A later visit: page and code from the service worker's cache, still on slow 4G.
    const cached: number[] = [];
    const cachedReady: number[] = [];
    for (let i = 0; i < 3; i++) {
      await cdp.send('Network.emulateNetworkConditions', slow4g);
      await page.reload();
      cached.push(await firstContentfulPaint(page));
      cachedReady.push(await screenReady(page, 'article[data-job]'));
      await cdp.send('Network.emulateNetworkConditions', unthrottled);
    }

    console.log(`\nVendor portal on a Pixel 7-like phone (390×844), Chromium ${context.browser()?.version() ?? ''}`.trimEnd());
    line('initial JS, gzipped', js.totalKb, 'KB', budgets.initialJsKb);
    console.log(listFiles(js.files));
    line('FCP, first visit, cold cache, slow 4G', coldFcp, 'ms', budgets.coldFcpMs);
    console.log(`  (the splash in the page; the sign-in form followed at ${coldReady.toFixed(0)} ms)`);
    line('FCP, from the service worker cache, slow 4G', median(cached), 'ms', budgets.cachedFcpMs);
    console.log(`  runs: ${cached.map((v) => v.toFixed(0)).join(', ')} ms; today's jobs on screen at ${cachedReady.map((v) => v.toFixed(0)).join(', ')} ms`);
    line(`render ${listed} jobs (median of ${renders.length})`, median(renders), 'ms', budgets.listRenderMs);
    console.log(`  runs: ${renders.map((v) => v.toFixed(0)).join(', ')} ms`);
  } finally {
    await context?.close();
    await stack.close();
  }
}

await main();
