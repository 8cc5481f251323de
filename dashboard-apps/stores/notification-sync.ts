// Reading a notification is one's own bookkeeping: the server does not announce it. So the pages
// of the same person in the same account (other tabs, other Chatwoot frames) tell each other at
// once over a BroadcastChannel named for both (`onelink.notifications.<account>.<user>`, given by the
// bell: apps/shared/NotificationCentre.vue). Where there is none (an old browser, a frame whose
// storage is partitioned away from the others) nothing is said, and a page still asks for the
// count when it is shown again (stores/notifications.ts). Loaded after the page's first load.
import type { NotificationsStore } from './notifications.ts';

/** What one page tells the others after marking read: the new count, and which items (or all). */
export interface ReadNews { unread: number; at: string; ids: string[] | 'all' }

let channel: BroadcastChannel | null = null;

/** The news applied to a page's store: the count, and the read mark on the items it shows. */
export function applyNews(store: NotificationsStore, news: ReadNews) {
  store.unread = news.unread;
  const read = news.ids === 'all' ? null : new Set(news.ids);
  if (store.items.some((n) => !n.read_at && (!read || read.has(n.id)))) {
    store.items = store.items.map((n) => (n.read_at || (read && !read.has(n.id)) ? n : { ...n, read_at: news.at }));
  }
}

/** Listens for the other pages' news (one channel per page; a new name replaces the old one). */
export function follow(store: NotificationsStore, name: string) {
  stopFollowing();
  if (typeof BroadcastChannel !== 'function') return;
  try {
    channel = new BroadcastChannel(name);
  } catch {
    return; // refused (e.g. an opaque origin): the count on showing covers it
  }
  channel.onmessage = (event: MessageEvent<ReadNews>) => {
    const news = event.data;
    if (news && typeof news.unread === 'number' && (news.ids === 'all' || Array.isArray(news.ids))) applyNews(store, news);
  };
}

export function stopFollowing() {
  channel?.close();
  channel = null;
}

/** Tells the other pages (a channel never hears its own messages, so this page is not told twice). */
export function announce(news: ReadNews) {
  try {
    channel?.postMessage(news);
  } catch {
    // Closed meanwhile: the others ask when shown.
  }
}
