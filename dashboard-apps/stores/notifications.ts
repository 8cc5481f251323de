// The signed-in person's notifications (the bell): the unread count, kept live by the account's
// change stream (a new notification is a committed change, so it is announced) and polled on a slow
// timer only while the stream is down; the list, fetched when the bell opens and refreshed by the
// same changes while it is loaded. What the list does (stores/notification-list.ts) loads with it,
// so a page whose bell stays closed carries only the count.
import { defineStore } from 'pinia';
import { ref } from 'vue';
import { api, unwrap } from '../lib/api.ts';
import { followChanges, streamUp } from '../lib/change-stream.ts';

export interface Notification {
  id: string;
  event: string;
  title: string;
  body: string;
  resource_type: string | null;
  resource_id: string | null;
  urgent: boolean;
  created_at: string;
  read_at: string | null;
}

/** Where a call or a task leads: its job, else its conversation, else its deal (looked up once per record). */
export interface Destination { job_id?: string | null; chatwoot_conversation_id?: number | null; deal_id?: string | null }

const pollEvery = 60_000;

export const useNotifications = defineStore('notifications', () => {
  const unread = ref<number | null>(null);
  const items = ref<Notification[]>([]);
  const nextCursor = ref<string | null>(null);
  const loading = ref(false);
  const loadingMore = ref(false);
  const error = ref<string | null>(null);
  const destinations = ref<Record<string, Destination | null>>({});
  /** Set by the list once it is loaded: reloads it quietly when something changed. */
  const refreshList = ref<(() => void) | null>(null);
  let following: ReturnType<typeof followChanges> | null = null;
  let poll: ReturnType<typeof setInterval> | undefined;
  let syncing = false;

  async function refreshCount() {
    try {
      unread.value = (await unwrap<{ unread: number }>(api.GET('/api/v1/notifications/unread-count'))).data.unread;
    } catch {
      // The count stays as it was; the next change or poll tries again.
    }
  }

  /**
   * Starts following (once signed in): the count now, then on every change; a poll while the stream
   * is down; and what this person's other pages mark read (`pages`: their channel's name, followed
   * by a module loaded after the first load).
   */
  function start(pages: string) {
    void refreshCount();
    syncing = true;
    void import('./notification-sync.ts').then((sync) => sync.follow(useNotifications(), pages));
    if (following) return;
    following = followChanges(() => {
      void refreshCount();
      refreshList.value?.();
    });
    void following.connect();
    poll = setInterval(() => {
      if (!streamUp.value) void refreshCount();
    }, pollEvery);
    document.addEventListener('visibilitychange', whenShown);
  }

  // Reading is not announced by the server: the person's other pages say so where they can
  // (notification-sync.ts), and a page coming back into view (another app's tab, a Chatwoot frame
  // shown again) asks for the count, in case it was read somewhere that could not say.
  function whenShown() {
    if (document.visibilityState === 'visible') void refreshCount();
  }

  function stop() {
    if (syncing) void import('./notification-sync.ts').then((sync) => sync.stopFollowing());
    syncing = false;
    following?.stop();
    following = null;
    clearInterval(poll);
    document.removeEventListener('visibilitychange', whenShown);
  }

  return { unread, items, nextCursor, loading, loadingMore, error, destinations, refreshList, start, stop, refreshCount };
});

export type NotificationsStore = ReturnType<typeof useNotifications>;
