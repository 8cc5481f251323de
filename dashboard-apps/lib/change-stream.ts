// Follows the account's change stream (server-sent events) while the page is open: each follower's
// `onChange` runs (at most every 300 ms) whenever something in the account changed. A page holds
// ONE stream however many parts follow it (the board and the bell share it). The stream needs a
// short-lived token (EventSource cannot send our headers); when it fails or the token expires, a
// new one is fetched after a pause. `streamUp` says whether it is connected, so followers that
// would otherwise poll (the bell) poll only while it is down.
import { getCurrentInstance, onBeforeUnmount, ref } from 'vue';
import { api, unwrap } from './api.ts';

const followers = new Set<() => void>();
let source: EventSource | null = null;
let connecting = false;
let retry: ReturnType<typeof setTimeout> | undefined;
/** True while the stream is open (changes arrive as they happen). */
export const streamUp = ref(false);

async function connect() {
  if (source || connecting || !followers.size) return;
  connecting = true;
  try {
    const { data } = await unwrap<{ token: string }>(api.POST('/api/v1/events/token'));
    if (!followers.size) return;
    const next = new EventSource(`/api/v1/events/stream?token=${encodeURIComponent(data.token)}`);
    source = next;
    next.addEventListener('open', () => (streamUp.value = true));
    next.addEventListener('change', () => followers.forEach((follower) => follower()));
    next.addEventListener('error', () => {
      streamUp.value = false;
      // Closed for good (expired token, server gone): start over with a fresh token shortly.
      if (next.readyState === EventSource.CLOSED) reconnect();
    });
  } catch {
    reconnect();
  } finally {
    connecting = false;
  }
}

function reconnect() {
  source?.close();
  source = null;
  streamUp.value = false;
  clearTimeout(retry);
  if (followers.size) retry = setTimeout(() => void connect(), 15_000);
}

/** Follows the stream outside a component (a store): answers how to stop following. */
export function followChanges(onChange: () => void) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const follower = () => {
    clearTimeout(timer);
    timer = setTimeout(onChange, 300);
  };
  followers.add(follower);
  return {
    connect,
    stop() {
      clearTimeout(timer);
      followers.delete(follower);
      if (!followers.size) {
        clearTimeout(retry);
        source?.close();
        source = null;
        streamUp.value = false;
      }
    },
  };
}

/** Follows the stream for as long as the calling component lives; `connect()` once signed in. */
export function useChangeStream(onChange: () => void) {
  const following = followChanges(onChange);
  if (getCurrentInstance()) onBeforeUnmount(following.stop);
  return { connect: following.connect };
}
