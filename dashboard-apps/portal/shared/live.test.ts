import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

/** An EventSource as the page sees it: the test opens, sends and closes it. */
class FakeSource {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSED = 2;
  static opened: FakeSource[] = [];
  readyState = FakeSource.CONNECTING;
  private listeners = new Map<string, Array<(event: MessageEvent) => void>>();
  constructor(readonly url: string) {
    FakeSource.opened.push(this);
  }
  addEventListener(name: string, listener: (event: MessageEvent) => void) {
    this.listeners.set(name, [...(this.listeners.get(name) ?? []), listener]);
  }
  emit(name: string, data = '{}') {
    if (name === 'open') this.readyState = FakeSource.OPEN;
    for (const listener of this.listeners.get(name) ?? []) listener(new MessageEvent(name, { data }));
  }
  close() {
    this.readyState = FakeSource.CLOSED;
  }
}

let tokens = 0;
beforeEach(() => {
  vi.resetModules();
  vi.useFakeTimers();
  FakeSource.opened = [];
  tokens = 0;
  vi.stubGlobal('EventSource', FakeSource);
  vi.stubGlobal('fetch', async (url: string) => {
    expect(url).toBe('/api/v1/events/token');
    tokens++;
    return new Response(JSON.stringify({ data: { token: `token-${tokens}-0123456789` } }), { status: 201, headers: { 'Content-Type': 'application/json' } });
  });
});
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe('followPortal()', () => {
  it('holds one stream for the whole page and gives every follower the person’s events and the account’s changes', async () => {
    const { followPortal, liveUp } = await import('./live.ts');
    const thread = { events: [] as unknown[], changes: 0 };
    const jobs = { events: [] as unknown[], changes: 0 };
    const one = followPortal({ onEvent: (event) => thread.events.push(event), onChange: () => thread.changes++ });
    const two = followPortal({ onEvent: (event) => jobs.events.push(event), onChange: () => jobs.changes++ });
    await vi.advanceTimersByTimeAsync(0);
    expect(FakeSource.opened.map((source) => source.url)).toEqual(['/api/v1/events/stream?token=token-1-0123456789']);
    const source = FakeSource.opened[0]!;
    source.emit('open');
    expect(liveUp.value).toBe(true);

    source.emit('portal', JSON.stringify({ type: 'message', thread_id: 't-1' }));
    source.emit('portal', 'not json'); // ignored
    expect(thread.events).toEqual([{ type: 'message', thread_id: 't-1' }]);
    expect(jobs.events).toEqual([{ type: 'message', thread_id: 't-1' }]);
    // Changes in a burst: one refetch each, after the burst.
    source.emit('change');
    source.emit('change');
    await vi.advanceTimersByTimeAsync(300);
    expect([thread.changes, jobs.changes]).toEqual([1, 1]);

    one.stop();
    expect(source.readyState).toBe(FakeSource.OPEN);
    two.stop();
    expect(source.readyState).toBe(FakeSource.CLOSED);
    expect(liveUp.value).toBe(false);
  });

  it('starts over with a fresh token when the stream closes, and has followers refetch what they missed', async () => {
    const { followPortal, liveUp } = await import('./live.ts');
    let changes = 0;
    const following = followPortal({ onChange: () => changes++ });
    await vi.advanceTimersByTimeAsync(0);
    FakeSource.opened[0]!.emit('open');
    // The token expired or the server went away: the browser gives up on this one.
    FakeSource.opened[0]!.close();
    FakeSource.opened[0]!.emit('error');
    expect(liveUp.value).toBe(false);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(FakeSource.opened.map((source) => source.url)).toEqual(['/api/v1/events/stream?token=token-1-0123456789', '/api/v1/events/stream?token=token-2-0123456789']);
    FakeSource.opened[1]!.emit('open');
    expect(liveUp.value).toBe(true);
    await vi.advanceTimersByTimeAsync(300);
    expect(changes).toBe(1);
    following.stop();
  });
});
