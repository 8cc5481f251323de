// Cards in the portals are plain links (they open in a new tab when asked); a plain click on one is
// followed inside the app by its router instead of loading the page again.
import type { Router } from 'vue-router';

/** A click handler for a list: follows `a[data-in-app]` links under `base` (e.g. /portal/client) with `router`. */
export function inAppLinks(router: Router, base: string) {
  return (event: MouseEvent) => {
    const link = (event.target as HTMLElement).closest<HTMLAnchorElement>('a[data-in-app]');
    if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    const at = link.pathname.startsWith(base) ? link.pathname.slice(base.length) : link.pathname;
    void router.push(at || '/');
  };
}
