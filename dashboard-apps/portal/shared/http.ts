// The portals' way to call our API: same-origin fetch with the session cookie and the app header
// (the server takes the cookie only with it), the envelope unwrapped, an error answer turned into
// one ApiError (status 0 when the network failed), and a 401 reported to whoever listens.
import { ApiError } from '../../lib/api.ts';

export { ApiError };

let onUnauthorized: () => void = () => undefined;
export function whenUnauthorized(handler: () => void) {
  onUnauthorized = handler;
}

/** How long one request may take before it counts as lost. */
export const requestTimeoutMs = 30_000;

export async function call<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<{ data: T; status: number; meta: Record<string, unknown> }> {
  let response: Response;
  // A request that hangs (a captive portal, a dead route) must not hold up what waits behind it:
  // past the limit it is given up as a network failure (status 0), to be tried again later.
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), requestTimeoutMs);
  let payload: { data?: T; meta?: Record<string, unknown>; error?: { code: string; message: string; details?: unknown } } | null;
  try {
    try {
      response = await fetch(`/api/v1${path}`, {
        method,
        credentials: 'same-origin',
        headers: { 'X-Requested-With': 'onelink', Accept: 'application/json', ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: abort.signal,
      });
    } catch {
      throw abort.signal.aborted ? new ApiError(0, 'timeout', 'The service did not answer in time') : new ApiError(0, 'network_error', 'No connection');
    }
    if (response.status === 401) onUnauthorized();
    payload = (await response.json().catch(() => null)) as typeof payload;
    if (abort.signal.aborted) throw new ApiError(0, 'timeout', 'The service did not answer in time');
  } finally {
    clearTimeout(timer);
  }
  if (!response.ok || !payload || !('data' in payload)) {
    throw new ApiError(response.status, payload?.error?.code ?? 'http_error', payload?.error?.message ?? `The service answered ${response.status}`, payload?.error?.details ?? null);
  }
  return { data: payload.data as T, status: response.status, meta: payload.meta ?? {} };
}

/** A failure of the network (or a server that is down or overloaded), worth retrying later, as opposed to a refusal. */
export const isTransient = (err: unknown) => !(err instanceof ApiError) || err.status === 0 || err.status === 408 || err.status === 429 || err.status >= 500;
