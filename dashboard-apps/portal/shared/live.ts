// Follows the portal user's live stream while the page is open: `onChange` runs (at most every
// 300 ms) when something in the account changed, `onEvent` with each of the person's own events
// (an agent's reply, typing, a job or quote that moved). A page holds ONE EventSource however
// many parts follow it. The stream needs a short-lived token (EventSource cannot send our
// headers); when the stream closes for good (token expired, server restarted) a fresh token is
// fetched after a pause that grows while it keeps failing. After any gap every follower's
// `onChange` runs once, so what happened while the phone was offline is fetched again.
import { ref } from 'vue';
import { ApiError, call } from './http.ts';

export type PortalEvent =
  | { type: 'message'; thread_id: string }
  | { type: 'typing'; thread_id: string; on: boolean }
  | { type: 'read'; thread_id: string }
  | { type: 'job'; job_id: string }
  | { type: 'quote'; quote_id: string };

interface Follower {
  onChange: () => void;
  onEvent?: (event: PortalEvent) => void;
}

/** True while the stream is open (changes arrive as they happen); followers may poll while it is false. */
export const liveUp = ref(false);

const followers = new Set<Follower>();
let source: EventSource | null = null;
let connecting = false;
let retry: ReturnType<typeof setTimeout> | undefined;
let failures = 0;
let everOpened = false;
let listening = false;
const pausesMs = [2_000, 5_000, 15_000, 30_000];

const changed = () => followers.forEach((follower) => follower.onChange());

async function connect() {
  if (source || connecting || !followers.size) return;
  connecting = true;
  clearTimeout(retry);
  try {
    const { data } = await call<{ token: string }>('POST', '/events/token', {});
    if (!followers.size || source) return;
    const next = new EventSource(`/api/v1/events/stream?token=${encodeURIComponent(data.token)}`);
    source = next;
    next.addEventListener('open', () => {
      liveUp.value = true;
      failures = 0;
      // Reopened after a gap: whatever was announced meanwhile was missed.
      if (everOpened) changed();
      everOpened = true;
    });
    next.addEventListener('change', changed);
    next.addEventListener('portal', (message) => {
      let event: PortalEvent;
      try {
        event = JSON.parse((message as MessageEvent<string>).data) as PortalEvent;
      } catch {
        return;
      }
      followers.forEach((follower) => follower.onEvent?.(event));
    });
    next.addEventListener('error', () => {
      liveUp.value = false;
      // Closed for good (expired token, server gone): start over with a fresh token shortly.
      // Otherwise the browser reconnects by itself.
      if (next.readyState === EventSource.CLOSED) reconnect();
    });
  } catch (err) {
    // Signed out: the session's own handling takes over; a return to the page tries again.
    if (!(err instanceof ApiError && (err.status === 401 || err.status === 403))) reconnect();
  } finally {
    connecting = false;
  }
}

function reconnect() {
  source?.close();
  source = null;
  liveUp.value = false;
  clearTimeout(retry);
  if (!followers.size) return;
  const pause = pausesMs[Math.min(failures, pausesMs.length - 1)]!;
  failures += 1;
  retry = setTimeout(() => void connect(), pause);
}

// A phone coming back online or to the front reconnects at once instead of waiting out a pause.
function wake() {
  if (document.visibilityState === 'hidden' || source) return;
  failures = 0;
  void connect();
}

function listen(on: boolean) {
  if (on === listening || typeof window === 'undefined') return;
  listening = on;
  const method = on ? 'addEventListener' : 'removeEventListener';
  window[method]('online', wake);
  document[method]('visibilitychange', wake);
}

/** Follows the stream until `stop()`; the first follower opens it, the last one to stop closes it. */
export function followPortal(handlers: { onChange?: () => void; onEvent?: (event: PortalEvent) => void }): { stop(): void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const follower: Follower = {
    onChange: () => {
      if (!handlers.onChange) return;
      clearTimeout(timer);
      timer = setTimeout(() => handlers.onChange?.(), 300);
    },
    onEvent: handlers.onEvent,
  };
  followers.add(follower);
  listen(true);
  void connect();
  return {
    stop() {
      clearTimeout(timer);
      if (!followers.delete(follower) || followers.size) return;
      clearTimeout(retry);
      source?.close();
      source = null;
      liveUp.value = false;
      everOpened = false;
      failures = 0;
      listen(false);
    },
  };
}
