// A new version of a portal, downloaded by its service worker and waiting: it is not forced on an
// open page (that would reload it mid-work). It is taken as the app opens (before anything was
// touched), or when the person taps the "Update ready" notice. Each portal registers its own
// worker (its own script and scope), so one portal's phone never downloads the other portal.
import { ref } from 'vue';

/** True when a new version waits (or already took over from another tab: this page is behind it). */
export const updateReady = ref(false);
let skipWaiting: (() => void) | null = null;
/** This page asked for the new version: its taking over reloads the page. */
let asked = false;
/** The new version took over (from another tab) without this page asking. */
let behind = false;
/** Nothing done on this page yet: the app has just been opened. */
let untouched = true;
const openedAt = Date.now();
const justOpened = () => untouched && Date.now() - openedAt < 5_000;

/** Registers the portal's service worker `script` for `scope` (only the portal's own page does). */
export async function registerPortalWorker(script: string, scope: string) {
  if (!('serviceWorker' in navigator)) return;
  for (const type of ['pointerdown', 'keydown'] as const) window.addEventListener(type, () => (untouched = false), { once: true, capture: true });
  const { Workbox } = await import('workbox-window');
  const worker = new Workbox(script, { scope });
  skipWaiting = () => worker.messageSkipWaiting();
  let prompted = false;
  const needRefresh = () => {
    if (!prompted) {
      prompted = true;
      worker.addEventListener('controlling', (event) => {
        if (!event.isUpdate) return;
        if (asked) window.location.reload();
        else {
          behind = true;
          updateReady.value = true;
        }
      });
    }
    if (justOpened()) applyUpdate();
    else updateReady.value = true;
  };
  // A version installed by another tab, waiting: this page learns of it as "installed, external".
  worker.addEventListener('installed', (event) => {
    if (event.isUpdate === undefined && event.isExternal) needRefresh();
  });
  worker.addEventListener('waiting', needRefresh);
  await worker.register({ immediate: true }).catch(() => undefined);
}

/** Starts the waiting version now (the page reloads once it has taken over). */
export function applyUpdate() {
  asked = true;
  if (behind) window.location.reload();
  else skipWaiting?.();
}
