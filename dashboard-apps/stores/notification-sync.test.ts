import { createPinia, setActivePinia } from 'pinia';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { announce, follow, stopFollowing, type ReadNews } from './notification-sync.ts';
import { useNotifications, type Notification } from './notifications.ts';

const note = (id: string, read_at: string | null = null): Notification => ({ id, event: 'staff.job_created', title: id, body: '', resource_type: null, resource_id: null, urgent: false, created_at: '2026-11-30T10:00:00Z', read_at });
const name = 'onelink.notifications.7.user-1';
afterEach(() => stopFollowing());

/** The other page: its own channel of the same name. */
function otherPage(channelName = name) {
  const heard: ReadNews[] = [];
  const channel = new BroadcastChannel(channelName);
  channel.onmessage = (event: MessageEvent<ReadNews>) => heard.push(event.data);
  return { channel, heard };
}

describe("the bell hears what the person's other pages marked read", () => {
  it('takes the count and the read marks another page announces, for this person only', async () => {
    setActivePinia(createPinia());
    const store = useNotifications();
    store.unread = 3;
    store.items = [note('a'), note('b'), note('c', '2026-11-30T09:00:00Z')];
    follow(store, name);
    const other = otherPage();
    const stranger = otherPage('onelink.notifications.7.user-2');

    other.channel.postMessage({ unread: 1, at: '2026-11-30T11:00:00Z', ids: ['a'] } satisfies ReadNews);
    await vi.waitFor(() => expect(store.unread).toBe(1));
    expect(store.items.map((n) => n.read_at)).toEqual(['2026-11-30T11:00:00Z', null, '2026-11-30T09:00:00Z']);

    // Another person's pages use another channel: nothing reaches this bell.
    stranger.channel.postMessage({ unread: 0, at: '2026-11-30T11:05:00Z', ids: 'all' } satisfies ReadNews);
    // Something that is not news is ignored.
    other.channel.postMessage({ hello: true });
    other.channel.postMessage({ unread: 0, at: '2026-11-30T11:10:00Z', ids: 'all' } satisfies ReadNews);
    await vi.waitFor(() => expect(store.unread).toBe(0));
    expect(store.items.map((n) => n.read_at)).toEqual(['2026-11-30T11:00:00Z', '2026-11-30T11:10:00Z', '2026-11-30T09:00:00Z']);

    // What this page announces reaches the others of the same person.
    announce({ unread: 4, at: '2026-11-30T12:00:00Z', ids: ['x'] });
    await vi.waitFor(() => expect(other.heard).toContainEqual({ unread: 4, at: '2026-11-30T12:00:00Z', ids: ['x'] }));
    expect(stranger.heard).toEqual([]);
    other.channel.close();
    stranger.channel.close();
  });

  it('stays quiet where the browser has no BroadcastChannel', () => {
    setActivePinia(createPinia());
    const store = useNotifications();
    vi.stubGlobal('BroadcastChannel', undefined);
    try {
      expect(() => follow(store, name)).not.toThrow();
      expect(() => announce({ unread: 0, at: '2026-11-30T12:00:00Z', ids: 'all' })).not.toThrow();
    } finally {
      vi.unstubAllGlobals();
    }
  });
});
