// The portal features' one fetch: same-origin with the session cookie, the app header our server
// wants before it trusts that cookie, JSON in and out, and the standard envelope unwrapped. Routes
// the typed client does not know yet (the portal's new ones) go through here; an `{ error }` answer
// becomes the same ApiError the rest of the apps throw, and a network failure is status 0.
import { ApiError } from '../../../lib/api.ts';

export { ApiError };

export async function portalCall<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { 'X-Requested-With': 'onelink', Accept: 'application/json' };
  let payload: BodyInit | undefined;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  let response: Response;
  // A hung request is given up (as a network failure, status 0) so what waits behind it can go on;
  // a message with files gets longer on a slow line.
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), body instanceof FormData ? 120_000 : 30_000);
  let answer: { data?: T; error?: { code: string; message: string; details?: unknown } } | null;
  try {
    try {
      response = await fetch(`/api/v1${path}`, { method, headers, body: payload, credentials: 'same-origin', signal: abort.signal });
    } catch {
      throw new ApiError(0, abort.signal.aborted ? 'timeout' : 'network_error', abort.signal.aborted ? 'The service did not answer in time' : 'No connection');
    }
    answer = (await response.json().catch(() => null)) as typeof answer;
    if (abort.signal.aborted) throw new ApiError(0, 'timeout', 'The service did not answer in time');
  } finally {
    clearTimeout(timer);
  }
  if (!response.ok) {
    if (answer?.error) throw new ApiError(response.status, answer.error.code, answer.error.message, answer.error.details ?? null);
    throw new ApiError(response.status, 'http_error', `The service answered ${response.status}`);
  }
  return answer?.data as T;
}

/** True when the failure is the network's (try again later), not the server's refusal. */
export const isOffline = (err: unknown) => err instanceof ApiError && (err.status === 0 || err.status === 502 || err.status === 503 || err.status === 504);
