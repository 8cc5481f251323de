// Fetch wrapper for our JSON API: unwraps { data, meta } and turns { error } into ApiError.
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: unknown = null,
  ) {
    super(message);
  }
}

export interface ApiResult<T> { data: T; meta: Record<string, unknown> }

export interface ApiInit extends Omit<RequestInit, 'body'> {
  /** Sent as `Authorization: Bearer …`. */
  token?: string | null;
  /** Sent as JSON. */
  json?: unknown;
}

export async function apiFetch<T>(path: string, { token, json, ...init }: ApiInit = {}): Promise<ApiResult<T>> {
  // The app header lets the server accept our partitioned session cookie (it refuses the cookie without it).
  const headers: Record<string, string> = { Accept: 'application/json', 'X-Requested-With': 'onelink', ...(init.headers as Record<string, string>) };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (json !== undefined) headers['Content-Type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(path, { ...init, headers, body: json === undefined ? undefined : JSON.stringify(json) });
  } catch {
    throw new ApiError(0, 'network_error', 'The service could not be reached');
  }
  const body = (await response.json().catch(() => null)) as
    | { data: T; meta?: Record<string, unknown> }
    | { error: { code: string; message: string; details: unknown } }
    | null;
  if (body && 'error' in body) throw new ApiError(response.status, body.error.code, body.error.message, body.error.details);
  if (!response.ok || !body) throw new ApiError(response.status, 'http_error', `The service answered ${response.status}`);
  return { data: body.data, meta: body.meta ?? {} };
}

/** Fetches a file from our API (with the same credentials as apiFetch) and hands it to the browser as a download. */
export async function downloadFile(path: string, { token, filename }: { token?: string | null; filename: string }) {
  const headers: Record<string, string> = { 'X-Requested-With': 'onelink' };
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(path, { headers });
  if (!response.ok) {
    const body = (await response.json().catch(() => null)) as { error?: { code: string; message: string } } | null;
    throw new ApiError(response.status, body?.error?.code ?? 'http_error', body?.error?.message ?? `The service answered ${response.status}`);
  }
  const url = URL.createObjectURL(await response.blob());
  const link = Object.assign(document.createElement('a'), { href: url, download: filename });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
