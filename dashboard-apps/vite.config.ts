// One Vite build for every page we serve: the landing page now, dashboard apps and portals as they land.
// It lives here (not at the repository root) so Histoire and Vitest keep their own Vite set-up.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import vue from '@vitejs/plugin-vue';
import { defineConfig, type Plugin } from 'vite';

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

export const pages = {
  landing: here('./index.html'),
  account: here('./apps/account/index.html'),
  sidebar: here('./apps/sidebar/index.html'),
  pipeline: here('./apps/pipeline/index.html'),
  dispatch: here('./apps/dispatch/index.html'),
  admin: here('./apps/admin/index.html'),
  // Served outside production only (see extension/app.ts): Chatwoot's frame, for trying the apps.
  devHost: here('./dev/chatwoot-host/index.html'),
};

export default defineConfig({
  root: here('.'),
  base: '/',
  plugins: [vue(), appPages()],
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
