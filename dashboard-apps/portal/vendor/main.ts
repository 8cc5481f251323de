// The vendor portal's entry: theme, strings, the shell with its router, then (after the first
// paint) the service worker that makes it open offline and the photo upload queue.
import { createPinia } from 'pinia';
import { createApp } from 'vue';
import '../../ui/theme.css';
import '../shared/portal.css';
import { useLocale } from '../../i18n/index.ts';
import { applyTheme } from '../shared/theme.ts';
import { loadUploadQueue } from './features.ts';
import { registerPortalWorker } from './offline/update.ts';
import './i18n.ts';
import { createPortalRouter } from './router.ts';
import { loadMe } from './session.ts';
import VendorPortalApp from './VendorPortalApp.vue';

applyTheme();
useLocale();
createApp(VendorPortalApp).use(createPinia()).use(createPortalRouter()).mount('#app');
void loadMe();

window.addEventListener('load', () => {
  // Only this page registers the service worker; a new version waits for the person (offline/update.ts).
  void registerPortalWorker();
  void loadUploadQueue().then((uploads) => uploads?.startUploadQueue());
});
