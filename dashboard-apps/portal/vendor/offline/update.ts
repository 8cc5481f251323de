// The vendor portal's service worker (/sw.js, scope /portal/vendor/) and its "Update ready" notice:
// the waiting-version behaviour is the portals' shared one (../../shared/update.ts).
import { applyUpdate, registerPortalWorker as register, updateReady } from '../../shared/update.ts';

export { applyUpdate, updateReady };

/** Registers the portal's service worker (only this page does). */
export const registerPortalWorker = () => register('/sw.js', '/portal/vendor/');
