// How every call to Chatwoot behaves on the wire, in one place: the fetch that openapi-fetch is
// given (sdk.ts). Each attempt has a timeout; 429 is retried after Retry-After (seconds or an
// HTTP date); 5xx and network errors are retried with backoff and jitter when repeating the
// request is harmless (reads, PUT/PATCH/DELETE, and the few POSTs that read or replace). A POST
// that creates something is never repeated blindly: when its answer is lost (a timeout, a dropped connection,
// a gateway error) the caller gets an `outcome_unknown` error and looks up what happened before
// trying again, as the outbox does for notes and the calls workflow does for contacts.

export type ChatwootErrorKind =
  | 'unauthorized'
  | 'unreachable'
  | 'bad_response'
  /** A write whose answer was lost: it may or may not have been carried out. Look before repeating it. */
  | 'outcome_unknown';

export class ChatwootError extends Error {
  /** What Chatwoot said when it refused (the start of its answer's body), for callers that tell refusals apart. */
  detail?: string;
  constructor(
    readonly kind: ChatwootErrorKind,
    message: string,
    readonly status?: number,
    options?: ErrorOptions, // `cause`: the network error behind an unreachable Chatwoot
  ) {
    super(message, options);
  }
}

export interface CallPolicy {
  timeoutMs: number;
  /** Further attempts after the first, where a retry is allowed. */
  retries: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Backoff for attempt n (1-based): exponential with full jitter, capped; Retry-After wins when given. */
export function retryDelayMs(attempt: number, retryAfter: string | null, capMs = 10_000): number {
  const seconds = retryAfter !== null && /^\d+$/.test(retryAfter.trim()) ? Number(retryAfter.trim()) : null;
  if (seconds !== null) return Math.min(seconds * 1000, 60_000);
  // Retry-After may also be an HTTP date (RFC 9110).
  const until = retryAfter ? Date.parse(retryAfter) : NaN;
  if (!Number.isNaN(until)) return Math.min(Math.max(0, until - Date.now()), 60_000);
  return Math.round(Math.random() * Math.min(capMs, 250 * 2 ** attempt));
}

/**
 * POSTs that may be sent twice: the filter endpoints only read (they take their conditions in a
 * body), and a conversation's custom_attributes replaces the whole set with the one sent.
 */
const repeatablePosts = [/\/contacts\/filter$/, /\/conversations\/filter$/, /\/conversations\/\d+\/custom_attributes$/];

/** Whether sending this request twice has the same effect as sending it once. */
export function repeatable(method: string, path: string): boolean {
  if (method !== 'POST') return true; // GET, HEAD, PUT, PATCH, DELETE
  return repeatablePosts.some((pattern) => pattern.test(path));
}

/** Network failures that happen before a request leaves this machine: repeating it is harmless. */
const neverSentCodes = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);
function neverSent(err: unknown): boolean {
  const code = (err as { cause?: { code?: string } })?.cause?.code;
  return Boolean(code && (neverSentCodes.has(code) || /CERT|SSL|TLS/.test(code)));
}

/** Gateway errors: something between us and Chatwoot lost the answer, not Chatwoot refusing. */
const answerLost = (status: number) => status === 502 || status === 504;

function refusal(status: number, method: string, path: string, writeOnce: boolean, body?: ArrayBuffer): ChatwootError {
  const error = classify(status, method, path, writeOnce);
  if (body?.byteLength) error.detail = new TextDecoder().decode(body.slice(0, 2000));
  return error;
}

function classify(status: number, method: string, path: string, writeOnce: boolean): ChatwootError {
  const said = `Chatwoot answered ${status} to ${method} ${path}`;
  if (status === 401 || status === 403) return new ChatwootError('unauthorized', `Chatwoot refused ${method} ${path}`, status);
  if (writeOnce && answerLost(status)) return new ChatwootError('outcome_unknown', `${said}; it may have been carried out: look before repeating it`, status);
  if (status === 429 || status >= 500) return new ChatwootError('unreachable', said, status);
  return new ChatwootError('bad_response', said, status);
}

/**
 * A request path as errors may show it: the public client API names an inbox and a contact by
 * their identifier and source id, which are its only credentials, so those segments become
 * placeholders. Errors end in logs, outbox rows and audit events.
 */
export function describePath(path: string): string {
  return path
    .replace(/^(\/public\/api\/v1\/inboxes\/)[^/]+/, '$1{inbox_identifier}')
    .replace(/^(\/public\/api\/v1\/inboxes\/\{inbox_identifier\}\/contacts\/)[^/]+/, '$1{contact_identifier}');
}

const nullBodyStatus = new Set([101, 204, 205, 304]);

/**
 * The fetch handed to openapi-fetch. Answers 2xx with the body already read (so a body that
 * stalls counts against the attempt's timeout, and is retried like any other failure); throws
 * a ChatwootError for everything else.
 */
export function chatwootFetch(policy: CallPolicy): (request: Request) => Promise<Response> {
  return async (request) => {
    const { method, url } = request;
    const path = new URL(url).pathname;
    const shown = describePath(path);
    const body = request.body ? await request.arrayBuffer() : undefined;
    const writeOnce = !repeatable(method, path);
    for (let attempt = 1; ; attempt++) {
      const mayRetry = attempt <= policy.retries;
      let response: Response;
      let content: ArrayBuffer;
      try {
        response = await fetch(url, { method, headers: request.headers, body, signal: AbortSignal.timeout(policy.timeoutMs), redirect: 'error' });
        content = await response.arrayBuffer();
      } catch (err) {
        const harmless = !writeOnce || neverSent(err);
        if (harmless && mayRetry) {
          await sleep(retryDelayMs(attempt, null));
          continue;
        }
        const reason = (err as Error).message;
        if (!harmless) {
          throw new ChatwootError('outcome_unknown', `Chatwoot did not answer ${method} ${shown} (${reason}); it may have been carried out: look before repeating it`, undefined, { cause: err });
        }
        throw new ChatwootError('unreachable', `Chatwoot ${method} ${shown} failed: ${reason}`, undefined, { cause: err });
      }
      if (response.ok) {
        // The body is already decoded: describe it as it now is.
        const headers = new Headers(response.headers);
        headers.delete('content-encoding');
        headers.delete('transfer-encoding');
        headers.set('content-length', String(content.byteLength));
        return new Response(nullBodyStatus.has(response.status) ? null : content, { status: response.status, statusText: response.statusText, headers });
      }
      // 429 means Chatwoot (rack-attack) turned the request away before doing anything: always safe to repeat.
      const retryable = response.status === 429 || (response.status >= 500 && !writeOnce);
      if (retryable && mayRetry) {
        await sleep(retryDelayMs(attempt, response.headers.get('retry-after')));
        continue;
      }
      throw refusal(response.status, method, shown, writeOnce, content);
    }
  };
}
