// One Vite build for every page we serve: the landing page now, dashboard apps and portals as they land.
// It lives here (not at the repository root) so Histoire and Vitest keep their own Vite set-up.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import vue from '@vitejs/plugin-vue';
import { defineConfig, type Plugin } from 'vite';
import sharp from 'sharp';
import { VitePWA } from 'vite-plugin-pwa';

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

/**
 * Every dashboard app's page is one template (apps/shared/app.html): an app's own index.html holds
 * only its <title>, and its entry is the main.ts beside it. Each app keeps its own URL and output path.
 */
function appPages(): Plugin {
  const template = () => fs.readFileSync(here('./apps/shared/app.html'), 'utf8');
  return {
    name: 'onelink-app-pages',
    transformIndexHtml: {
      order: 'pre',
      handler(html, { filename }) {
        if (!/[\\/]apps[\\/][^\\/]+[\\/]index\.html$/.test(filename)) return html;
        const title = /<title>([^<]+)<\/title>/.exec(html)?.[1];
        if (!title) throw new Error(`${filename}: an app page names its <title>`);
        return template().replace('%APP_TITLE%', () => title);
      },
    },
  };
}

/**
 * The portals are the installable pages among many (see vendorPortalPwa and clientPortalPwa below):
 * the PWA plugin puts the vendor portal's manifest link into every page, so each page keeps only
 * the link to its own portal's manifest (the client portal's page names its own), the others none.
 */
function manifestLinkOnlyInPortal(): Plugin {
  return {
    name: 'onelink-manifest-link-only-in-portal',
    enforce: 'post',
    transformIndexHtml: {
      order: 'post',
      handler(html, { filename }) {
        const portal = /[\\/]portal[\\/](vendor|client)[\\/]index\.html$/.exec(filename)?.[1];
        return html.replace(/<link rel="manifest"[^>]*>/g, (link) => (portal && link.includes(`/portal/${portal}/`) ? link : ''));
      },
    },
  };
}

const portalDir = 'portal/vendor/';
const clientDir = 'portal/client/';
const portalIconSizes = [192, 512] as const;

/** A portal's icons, drawn from its one SVG at build time (no binary files in the repository). */
function portalIcons(dir = portalDir, background = '#1f66d1'): Plugin {
  return {
    name: `onelink-portal-icons-${dir}`,
    apply: 'build',
    async generateBundle() {
      const svg = fs.readFileSync(here(`./${dir}icon.svg`));
      for (const size of portalIconSizes) {
        this.emitFile({ type: 'asset', fileName: `${dir}icon-${size}.png`, source: await sharp(svg, { density: 300 }).resize(size, size).png().toBuffer() });
      }
      // Maskable: the same mark with room around it, so a round launcher mask does not cut it.
      const padded = await sharp(svg, { density: 300 }).resize(410, 410).png().toBuffer();
      const maskable = await sharp({ create: { width: 512, height: 512, channels: 4, background } })
        .composite([{ input: padded, gravity: 'centre' }])
        .png()
        .toBuffer();
      this.emitFile({ type: 'asset', fileName: `${dir}icon-maskable-512.png`, source: maskable });
    },
  };
}

/**
 * The files the portal page reaches: its entry and every chunk, stylesheet and asset it imports,
 * statically or on demand (read from Vite's manifest), so the service worker precaches the portal
 * and nothing of the staff apps.
 */
function portalFiles(outDir: string, dir = portalDir): Set<string> {
  type Chunk = { file: string; imports?: string[]; dynamicImports?: string[]; css?: string[]; assets?: string[] };
  const manifest = JSON.parse(fs.readFileSync(`${outDir}/.vite/manifest.json`, 'utf8')) as Record<string, Chunk>;
  const files = new Set<string>();
  const seen = new Set<string>();
  const walk = (key: string) => {
    if (seen.has(key) || !manifest[key]) return;
    seen.add(key);
    const chunk = manifest[key];
    files.add(chunk.file);
    for (const file of [...(chunk.css ?? []), ...(chunk.assets ?? [])]) files.add(file);
    for (const next of [...(chunk.imports ?? []), ...(chunk.dynamicImports ?? [])]) walk(next);
  };
  walk(`${dir}index.html`);
  return files;
}

/** Where this build writes (ensure-build.ts builds into a staging folder), for portalFiles(). */
const built = { outDir: '' };
function rememberOutDir(): Plugin {
  return { name: 'onelink-remember-out-dir', configResolved: (config) => void (built.outDir = path.resolve(config.root, config.build.outDir)) };
}

function vendorPortalPwa() {
  return VitePWA({
    // Registered by the portal's own entry (main.ts), never by the other pages.
    injectRegister: false,
    // A new version waits: taking over at once would reload the page in the middle of someone's
    // work. It starts when the app is next opened cold, or when the person taps "Update ready".
    registerType: 'prompt',
    filename: 'sw.js',
    scope: `/${portalDir}`,
    manifestFilename: `${portalDir}manifest.webmanifest`,
    includeManifestIcons: false,
    manifest: {
      id: `/${portalDir}`,
      name: 'Onelink vendor portal',
      short_name: 'Onelink jobs',
      description: 'Your jobs, offers and messages with dispatch, also without signal',
      start_url: `/${portalDir}`,
      scope: `/${portalDir}`,
      display: 'standalone',
      orientation: 'portrait',
      theme_color: '#1f66d1',
      background_color: '#ffffff',
      icons: [
        ...portalIconSizes.map((size) => ({ src: `/${portalDir}icon-${size}.png`, sizes: `${size}x${size}`, type: 'image/png', purpose: 'any' })),
        { src: `/${portalDir}icon-maskable-512.png`, sizes: '512x512', type: 'image/png', purpose: 'maskable' },
      ],
    },
    workbox: {
      globPatterns: ['**/*.{js,css,html,png,svg,webmanifest}'],
      // Opened with no network, any portal address answers with the portal's page; other pages never do.
      navigateFallback: `/${portalDir}index.html`,
      navigateFallbackAllowlist: [/^\/portal\/vendor\//],
      cleanupOutdatedCaches: true,
      // The first install controls the open page at once (so it works offline from the first visit).
      clientsClaim: true,
      manifestTransforms: [
        (entries) => {
          const reached = portalFiles(built.outDir);
          const own = (url: string) => reached.has(url) || url === `${portalDir}index.html` || url === `${portalDir}manifest.webmanifest` || url.startsWith(`${portalDir}icon-`);
          return { manifest: entries.filter((entry) => own(entry.url)), warnings: [] };
        },
      ],
    },
  });
}

const clientColor = '#0f7b6c';

/** What the client portal's worker adds to Workbox's: showing a web push, and opening its link on a tap. */
const clientPushHandler = `
self.addEventListener('push', (event) => {
  let message = {};
  try { message = event.data ? event.data.json() : {}; } catch { message = { body: event.data ? event.data.text() : '' }; }
  event.waitUntil(self.registration.showNotification(message.title || 'Update', {
    body: message.body || '', tag: message.tag, data: { url: message.url || '/${clientDir}' }, icon: '/${clientDir}icon-192.png',
  }));
});
self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const url = new URL(event.notification.data && event.notification.data.url || '/${clientDir}', self.location.origin);
  const target = url.origin === self.location.origin && url.pathname.startsWith('/${clientDir}') ? url.href : self.location.origin + '/${clientDir}';
  event.waitUntil(self.clients.matchAll({ type: 'window', includeUncontrolled: true }).then((open) => {
    const tab = open.find((client) => client.url.startsWith(self.location.origin + '/${clientDir}'));
    return tab ? tab.navigate(target).then((client) => (client || tab).focus()) : self.clients.openWindow(target);
  }));
});
`;

/**
 * The client portal, installable on its own: its manifest and icons, and its own service worker
 * (/portal/client/sw.js, scope /portal/client/) precaching only the files its page reaches, so a
 * client's phone never downloads the vendor portal and a vendor's never the client portal. Built
 * with Workbox like the vendor portal's (same prompt-to-update behaviour, see shared/update.ts).
 */
function clientPortalPwa(): Plugin {
  return {
    name: 'onelink-client-portal-pwa',
    apply: 'build',
    generateBundle() {
      const manifest = {
        id: `/${clientDir}`,
        name: 'Your service portal',
        short_name: 'Service',
        description: 'Message us, follow your jobs and ask for service',
        start_url: `/${clientDir}`,
        scope: `/${clientDir}`,
        display: 'standalone',
        orientation: 'portrait',
        theme_color: clientColor,
        background_color: '#ffffff',
        icons: [
          ...portalIconSizes.map((size) => ({ src: `/${clientDir}icon-${size}.png`, sizes: `${size}x${size}`, type: 'image/png', purpose: 'any' })),
          { src: `/${clientDir}icon-maskable-512.png`, sizes: '512x512', type: 'image/png', purpose: 'maskable' },
        ],
      };
      this.emitFile({ type: 'asset', fileName: `${clientDir}manifest.webmanifest`, source: JSON.stringify(manifest) });
      this.emitFile({ type: 'asset', fileName: `${clientDir}push-handler.js`, source: clientPushHandler });
    },
    closeBundle: {
      sequential: true,
      async handler() {
        const { generateSW } = await import('workbox-build');
        const reached = portalFiles(built.outDir, clientDir);
        const own = (url: string) => reached.has(url) || (url.startsWith(clientDir) && !url.startsWith(`${clientDir}workbox-`));
        const { warnings } = await generateSW({
          swDest: path.join(built.outDir, clientDir, 'sw.js'),
          globDirectory: built.outDir,
          globPatterns: ['**/*.{js,css,html,png,svg,webmanifest}'],
          globIgnores: ['**/node_modules/**', `${clientDir}sw.js`],
          // The worker lives in /portal/client/: its list names files from the site's root.
          modifyURLPrefix: { '': '/' },
          manifestTransforms: [(entries) => ({ manifest: entries.filter((entry) => own(entry.url.replace(/^\//, ''))), warnings: [] })],
          importScripts: [`/${clientDir}push-handler.js`],
          // Opened with no network, any client portal address answers with its page; other pages never do.
          navigateFallback: `/${clientDir}index.html`,
          navigateFallbackAllowlist: [/^\/portal\/client\//],
          cleanupOutdatedCaches: true,
          cacheId: 'onelink-client-portal',
          clientsClaim: true,
          // A new version waits for the person (skipWaiting on their "Update ready" tap).
          skipWaiting: false,
          inlineWorkboxRuntime: true,
          mode: 'production',
          sourcemap: false,
        });
        for (const warning of warnings) this.warn(warning);
      },
    },
  };
}

export const pages = {
  landing: here('./index.html'),
  account: here('./apps/account/index.html'),
  sidebar: here('./apps/sidebar/index.html'),
  pipeline: here('./apps/pipeline/index.html'),
  dispatch: here('./apps/dispatch/index.html'),
  admin: here('./apps/admin/index.html'),
  reports: here('./apps/reports/index.html'),
  // The portals: each its own page, installable on its own (vendorPortalPwa, clientPortalPwa).
  vendorPortal: here('./portal/vendor/index.html'),
  clientPortal: here('./portal/client/index.html'),
  // Served outside production only (see extension/app.ts): Chatwoot's frame, for trying the apps.
  devHost: here('./dev/chatwoot-host/index.html'),
};

export default defineConfig({
  root: here('.'),
  base: '/',
  plugins: [vue(), appPages(), portalIcons(), portalIcons(clientDir, clientColor), rememberOutDir(), vendorPortalPwa(), clientPortalPwa(), manifestLinkOnlyInPortal()],
  build: {
    outDir: here('../dist/web'),
    emptyOutDir: true,
    manifest: true,
    rollupOptions: {
      input: pages,
      output: {
        // Vue and VueUse in chunks of their own (cached across pages); reka-ui is left to Rollup,
        // which splits it by the pages that use each primitive, so the sidebar (reloaded on every
        // conversation switch) does not pay for the boards' dialogs.
        manualChunks(id) {
          if (id.includes('/node_modules/@vueuse/')) return 'vueuse';
          if (/\/node_modules\/(@vue|vue|pinia)\//.test(id)) return 'vue';
          return undefined;
        },
      },
    },
  },
  server: { proxy: { '/api': 'http://localhost:4000', '/health': 'http://localhost:4000' } },
});
