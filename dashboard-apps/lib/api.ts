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

export async function apiFetch<T>(path: string, init: RequestInit = {}): Promise<ApiResult<T>> {
  let response: Response;
  try {
    response = await fetch(path, { ...init, headers: { Accept: 'application/json', ...init.headers } });
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
