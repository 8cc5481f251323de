// The portals' benches measure a page the way a phone meets it: the code a first visit downloads
// (an entry and every chunk it imports statically, gzipped, read from Vite's manifest) and the
// first contentful paint in Debian's Chromium at phone size, the network throttled over CDP.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { chromium, devices, type BrowserContext, type Page } from 'playwright-core';
import { chromiumPath } from '../e2e/browser.ts';
import { repoRoot } from '../helpers/processes.ts';

/** Chromium's (and Lighthouse's) "slow 4G": 150 ms RTT × 3.75, 1.6 Mbit/s down × 0.9, 750 kbit/s up × 0.9. */
export const slow4g = { offline: false, latency: 562.5, downloadThroughput: (1.6 * 1024 * 1024 * 0.9) / 8, uploadThroughput: (750 * 1024 * 0.9) / 8 };
export const unthrottled = { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 };

/** The gzipped size of `entry` (a manifest key such as 'portal/vendor/index.html') and its static imports. */
export function initialJs(entry: string) {
  const webDir = path.join(repoRoot, 'dist', 'web');
  type Chunk = { file: string; imports?: string[] };
  const manifest = JSON.parse(fs.readFileSync(path.join(webDir, '.vite', 'manifest.json'), 'utf8')) as Record<string, Chunk>;
  if (!manifest[entry]) throw new Error(`${entry} is not an entry of the web build`);
  const files = new Map<string, number>();
  const walk = (key: string) => {
    const chunk = manifest[key]!;
    if (files.has(chunk.file)) return;
    files.set(chunk.file, gzipSync(fs.readFileSync(path.join(webDir, chunk.file)), { level: 9 }).length);
    for (const next of chunk.imports ?? []) walk(next);
  };
  walk(entry);
  return { totalKb: [...files.values()].reduce((a, b) => a + b, 0) / 1024, files };
}

/** A Pixel 7-like phone at 390×844 with its own empty profile (a cold cache), removed on close. */
export async function phone(): Promise<BrowserContext> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'onelink-bench-phone-'));
  const { defaultBrowserType: _type, ...pixel } = devices['Pixel 7']!;
  const context = await chromium.launchPersistentContext(profile, {
    ...pixel,
    viewport: { width: 390, height: 844 },
    executablePath: chromiumPath(),
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  context.once('close', () => fs.rm(profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 }, () => {}));
  return context;
}

export async function throttle(page: Page, on: boolean) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', on ? slow4g : unthrottled);
  return cdp;
}

export async function firstContentfulPaint(page: Page) {
  await page.waitForFunction(() => performance.getEntriesByName('first-contentful-paint').length > 0, undefined, { timeout: 30_000 });
  return page.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0]!.startTime);
}

/** Milliseconds from the navigation's start until `selector` is on the page (the real first screen). */
export async function screenReady(page: Page, selector: string) {
  await page.waitForSelector(selector, { timeout: 60_000 });
  return page.evaluate(() => performance.now());
}

export const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** One printed figure next to its budget. */
export const line = (name: string, value: number, unit: string, budget: number, lowerIsBetter = true) =>
  console.log(
    `${name.padEnd(44)} ${value.toFixed(unit === 'KB' ? 1 : 0).padStart(8)} ${unit.padEnd(3)} budget ${lowerIsBetter ? '≤' : '≥'} ${budget} ${unit}  ${(lowerIsBetter ? value <= budget : value >= budget) ? 'ok' : 'OVER'}`,
  );

/** The files of an initialJs() answer, one line. */
export const listFiles = (files: Map<string, number>) => `  ${[...files].map(([file, size]) => `${path.basename(file)} ${(size / 1024).toFixed(1)}`).join(', ')}`;
