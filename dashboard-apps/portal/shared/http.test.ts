import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError, call, isTransient, requestTimeoutMs } from './http.ts';

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe('call()', () => {
  it('gives up a request that hangs, as a failure worth retrying', async () => {
    vi.useFakeTimers();
    // A fetch that never answers, as a dead route does; it stops only when aborted.
    vi.stubGlobal('fetch', (_url: string, init: RequestInit) => new Promise((_resolve, reject) => init.signal!.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')))));
    const answer = call('POST', '/portal/vendor/actions', { id: 'x' }).catch((err: unknown) => err);
    await vi.advanceTimersByTimeAsync(requestTimeoutMs);
    const err = await answer;
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 0, code: 'timeout' });
    expect(isTransient(err)).toBe(true);
  });

  it('answers the data of a prompt reply', async () => {
    vi.stubGlobal('fetch', async () => new Response(JSON.stringify({ data: { ok: true } }), { status: 200, headers: { 'Content-Type': 'application/json' } }));
    await expect(call('GET', '/portal/vendor/me')).resolves.toMatchObject({ data: { ok: true }, status: 200 });
  });
});
