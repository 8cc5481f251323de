// The client portal's entry: theme, strings, the shell with its router, then (after the first
// paint) the service worker that makes it installable and open offline.
import { createPinia } from 'pinia';
import { createApp } from 'vue';
import '../../ui/theme.css';
import '../shared/portal.css';
import { useLocale } from '../../i18n/index.ts';
import { applyTheme } from '../shared/theme.ts';
import { registerPortalWorker } from '../shared/update.ts';
import ClientPortalApp from './ClientPortalApp.vue';
import './i18n.ts';
import { createPortalRouter } from './router.ts';
import { loadMe, preferredLanguages } from './session.ts';

applyTheme();
// The account's language as this device last heard it (a change shows from the next start).
useLocale(preferredLanguages());
createApp(ClientPortalApp).use(createPinia()).use(createPortalRouter()).mount('#app');
void loadMe();

window.addEventListener('load', () => {
  // Only this page registers this worker (its own script and scope: nothing of the vendor portal).
  void registerPortalWorker('/portal/client/sw.js', '/portal/client/');
});
