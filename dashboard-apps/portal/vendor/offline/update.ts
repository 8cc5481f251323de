// A new version of the portal, downloaded by the service worker and waiting: it is not forced on
// an open page (that would reload it mid-work). It is taken as the app opens (before anything was
// touched), or when the person taps the "Update ready" notice.
import { ref } from 'vue';

/** True when a new version waits (or already took over from another tab: this page is behind it). */
export const updateReady = ref(false);
let apply: (() => Promise<void>) | null = null;
/** This page asked for the new version: its taking over reloads the page. */
let asked = false;
/** The new version took over (from another tab) without this page asking. */
let behind = false;
/** Nothing done on this page yet: the app has just been opened. */
let untouched = true;
const openedAt = Date.now();
const justOpened = () => untouched && Date.now() - openedAt < 5_000;

/** Registers the portal's service worker (only this page does; scope /portal/vendor/). */
export async function registerPortalWorker() {
  if (!('serviceWorker' in navigator)) return;
  for (const type of ['pointerdown', 'keydown'] as const) window.addEventListener(type, () => (untouched = false), { once: true, capture: true });
  const { registerSW } = await import('virtual:pwa-register');
  const update = registerSW({
    immediate: true,
    onNeedRefresh() {
      if (justOpened()) applyUpdate();
      else updateReady.value = true;
    },
    onNeedReload() {
      if (asked) window.location.reload();
      else {
        behind = true;
        updateReady.value = true;
      }
    },
  });
  apply = () => update(true);
}

/** Starts the waiting version now (the page reloads once it has taken over). */
export function applyUpdate() {
  asked = true;
  if (behind) window.location.reload();
  else void apply?.();
}
