// A new version of the portal, downloaded by the service worker and waiting: it is not forced on
// an open page (that would reload it mid-work). It starts by itself the next time the app is
// opened cold, or now when the person taps the "Update ready" notice.
import { ref } from 'vue';

/** True when a new version waits. */
export const updateReady = ref(false);
let apply: (() => Promise<void>) | null = null;

/** Registers the portal's service worker (only this page does; scope /portal/vendor/). */
export async function registerPortalWorker() {
  if (!('serviceWorker' in navigator)) return;
  const { registerSW } = await import('virtual:pwa-register');
  const update = registerSW({
    immediate: true,
    onNeedRefresh() {
      updateReady.value = true;
    },
  });
  apply = () => update(true);
}

/** Starts the waiting version now (the page reloads once it has taken over). */
export function applyUpdate() {
  void apply?.();
}
