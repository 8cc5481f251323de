// Follows the account's change stream (server-sent events) while the page is open: `onChange` runs
// (at most every 300 ms) whenever something in the account changed. The stream needs a short-lived
// token (EventSource cannot send our headers); when it fails or the token expires, a new one is
// fetched after a pause. The pages still refresh on a slow timer, in case the stream is blocked.
import { onBeforeUnmount } from 'vue';
import { api, unwrap } from './api.ts';

export function useChangeStream(onChange: () => void) {
  let source: EventSource | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let retry: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  const changed = () => {
    clearTimeout(timer);
    timer = setTimeout(onChange, 300);
  };
  async function connect() {
    if (stopped || source) return;
    try {
      const { data } = await unwrap<{ token: string }>(api.POST('/api/v1/events/token'));
      source = new EventSource(`/api/v1/events/stream?token=${encodeURIComponent(data.token)}`);
      source.addEventListener('change', changed);
      source.addEventListener('error', () => {
        // Closed for good (expired token, server gone): start over with a fresh token shortly.
        if (source?.readyState === EventSource.CLOSED) reconnect();
      });
    } catch {
      reconnect();
    }
  }
  function reconnect() {
    source?.close();
    source = null;
    clearTimeout(retry);
    if (!stopped) retry = setTimeout(() => void connect(), 15_000);
  }
  onBeforeUnmount(() => {
    stopped = true;
    source?.close();
    clearTimeout(timer);
    clearTimeout(retry);
  });
  return { connect };
}
