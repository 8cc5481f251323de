// Our Chatwoot SDK: openapi-fetch clients typed by Chatwoot's own OpenAPI document (generated
// into spec/chatwoot-api.d.ts by `npm run chatwoot:types`, corrected and completed in
// spec/missing.ts), for the application API (an agent's or administrator's token) and the public
// client API (an API-channel inbox identifier, no token). Every call goes through chatwootFetch
// (http.ts): timeouts, retries, Retry-After and the no-blind-POST-retry rule live there.
import createClient from 'openapi-fetch';
import { ChatwootError, chatwootFetch } from './http.ts';
import type { ChatwootPaths } from './spec/missing.ts';

export interface ChatwootTarget { baseUrl: string; token: string; timeoutMs: number }

export type ChatwootApi = ReturnType<typeof createClient<ChatwootPaths>>;

/** The application API of one installation, acting with `target.token`. Reads and idempotent writes are retried `retries` times. */
export function chatwootApi(target: ChatwootTarget, { retries = 3 } = {}): ChatwootApi {
  return createClient<ChatwootPaths>({
    baseUrl: target.baseUrl,
    // Hyphens, not underscores: proxies such as nginx drop headers with underscores by default; Chatwoot accepts both.
    headers: { 'Api-Access-Token': target.token, Accept: 'application/json' },
    fetch: chatwootFetch({ timeoutMs: target.timeoutMs, retries }),
  });
}

/** The public client API (`/public/api/v1/inboxes/{inbox_identifier}/…`): no token; call it from the server only. */
export function chatwootPublicApi(target: Omit<ChatwootTarget, 'token'>, { retries = 3 } = {}): ChatwootApi {
  return createClient<ChatwootPaths>({ baseUrl: target.baseUrl, headers: { Accept: 'application/json' }, fetch: chatwootFetch({ timeoutMs: target.timeoutMs, retries }) });
}

type Outcome<T> = { data?: T; error?: unknown; response: Response };

async function settle<T>(call: Promise<Outcome<T>>, what: string): Promise<Outcome<T>> {
  try {
    return await call;
  } catch (err) {
    if (err instanceof ChatwootError) throw err;
    // chatwootFetch answers 2xx only, with the body read: what is left is a body that is not JSON.
    throw new ChatwootError('bad_response', `Chatwoot's answer to ${what} could not be read: ${(err as Error).message}`, undefined, { cause: err });
  }
}

/** The answer of a call whose body we need; a 2xx without one is a bad response. */
export async function answer<T>(call: Promise<Outcome<T>>, what: string): Promise<NonNullable<T>> {
  const { data, response } = await settle(call, what);
  if (data === undefined || data === null) throw new ChatwootError('bad_response', `Chatwoot answered ${what} without a body`, response.status);
  return data;
}

/** A call whose answer we do not read (deletes, replacements). */
export async function done(call: Promise<Outcome<unknown>>, what: string): Promise<void> {
  await settle(call, what);
}
