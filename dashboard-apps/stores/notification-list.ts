// What the bell's list does with the notifications store: the first page (and a quiet reload of it
// when something changed), further pages, marking read. Loaded the first time the bell opens.
// Marking read is one's own bookkeeping: the server does not announce it, so the store takes the
// answers as they come and tells this person's other pages (stores/notification-sync.ts).
import { t } from '../i18n/index.ts';
import { api, errorMessage, unwrap } from '../lib/api.ts';
import type { Destination, Notification, NotificationsStore } from './notifications.ts';
import { announce } from './notification-sync.ts';

const pageSize = 20;

/** The first page; `quiet` keeps the items on screen while it reloads (a live refresh). */
export async function loadList(store: NotificationsStore, quiet = false) {
  if (!quiet) store.loading = true;
  try {
    const { data, meta } = await unwrap<Notification[]>(api.GET('/api/v1/notifications', { params: { query: { limit: pageSize } } }));
    // A live refresh keeps the further pages already shown (newer items come first, older ones stay).
    const seen = new Set(data.map((n) => n.id));
    const oldest = data[data.length - 1]?.created_at;
    const older = quiet && oldest ? store.items.filter((n) => !seen.has(n.id) && n.created_at < oldest) : [];
    store.items = [...data, ...older];
    if (!older.length) store.nextCursor = (meta.next_cursor as string | null) ?? null;
    store.unread = Number(meta.unread ?? store.unread ?? 0);
    store.error = null;
    store.refreshList = () => void loadList(store, true);
    void resolveDestinations(store);
  } catch (err) {
    if (!quiet) store.error = errorMessage(err, t('common.unreachable'));
  } finally {
    store.loading = false;
  }
}

export async function loadMore(store: NotificationsStore) {
  if (!store.nextCursor || store.loadingMore) return;
  store.loadingMore = true;
  try {
    const { data, meta } = await unwrap<Notification[]>(api.GET('/api/v1/notifications', { params: { query: { limit: pageSize, cursor: store.nextCursor } } }));
    const seen = new Set(store.items.map((n) => n.id));
    store.items = [...store.items, ...data.filter((n) => !seen.has(n.id))];
    store.nextCursor = (meta.next_cursor as string | null) ?? null;
    store.error = null;
    void resolveDestinations(store);
  } catch (err) {
    store.error = errorMessage(err, t('common.unreachable'));
  } finally {
    store.loadingMore = false;
  }
}

export async function markRead(store: NotificationsStore, id: string) {
  if (store.items.find((n) => n.id === id)?.read_at) return;
  try {
    const { data } = await unwrap<{ notification: Notification; unread: number }>(api.POST('/api/v1/notifications/{notificationId}/read', { params: { path: { notificationId: id } } }));
    store.items = store.items.map((n) => (n.id === id ? data.notification : n));
    store.unread = data.unread;
    announce({ unread: data.unread, at: data.notification.read_at ?? new Date().toISOString(), ids: [id] });
  } catch (err) {
    store.error = errorMessage(err, t('common.unreachable'));
  }
}

export async function markAllRead(store: NotificationsStore) {
  try {
    await unwrap(api.POST('/api/v1/notifications/read-all'));
    const now = new Date().toISOString();
    store.items = store.items.map((n) => (n.read_at ? n : { ...n, read_at: now }));
    store.unread = 0;
    announce({ unread: 0, at: now, ids: 'all' });
  } catch (err) {
    store.error = errorMessage(err, t('common.unreachable'));
  }
}

// Calls and tasks lead to their job or conversation: looked up once for the items on screen.
async function resolveDestinations(store: NotificationsStore) {
  const wanted = store.items.filter((n) => (n.resource_type === 'call' || n.resource_type === 'task') && n.resource_id && !(n.resource_id in store.destinations));
  await Promise.all(
    wanted.map(async (n) => {
      const id = n.resource_id!;
      let found: Destination | null = null;
      try {
        const call =
          n.resource_type === 'call'
            ? api.GET('/api/v1/calls/{callId}', { params: { path: { callId: id } } })
            : api.GET('/api/v1/tasks/{taskId}', { params: { path: { taskId: id } } });
        found = (await unwrap<Destination>(call)).data;
      } catch {
        // Gone or not ours to see: the item simply leads nowhere.
      }
      store.destinations = { ...store.destinations, [id]: found };
    }),
  );
}
