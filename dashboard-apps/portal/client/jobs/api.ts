// The client jobs API from the portal: reads through the shared call(); a request with photos is a
// multipart form sent with the same headers and envelope handling.
import { ApiError, call, requestTimeoutMs } from '../../shared/http.ts';
import type { ClientJob, ClientJobSummary, ServiceOptions } from './types.ts';

export const loadJobs = async (scope: 'open' | 'past') => (await call<ClientJobSummary[]>('GET', `/portal/client/jobs?scope=${scope}`)).data;
export const loadJob = async (jobId: string) => (await call<ClientJob>('GET', `/portal/client/jobs/${encodeURIComponent(jobId)}`)).data;
export const loadServiceOptions = async () => (await call<ServiceOptions>('GET', '/portal/client/service-options')).data;
export const cancelJob = async (jobId: string, reason?: string) =>
  (await call<ClientJob>('POST', `/portal/client/jobs/${encodeURIComponent(jobId)}/cancel`, reason ? { reason } : {})).data;

/** The job's conversation (created on first use): its thread id. */
export async function jobThread(jobId: string): Promise<string> {
  const { data } = await call<Array<{ id: string }>>('GET', `/portal/client/threads?job_id=${encodeURIComponent(jobId)}`);
  if (!data[0]) throw new ApiError(404, 'not_found', 'No conversation for this job');
  return data[0].id;
}

export interface RequestBody {
  id: string;
  service_category: string;
  description: string;
  address: string;
  preferred_starts_at: string | null;
  preferred_ends_at: string | null;
}

/** POST /portal/client/requests as a form (fields, then each photo under `photos`). */
export async function sendRequest(body: RequestBody, photos: Array<{ blob: Blob; filename: string }>): Promise<ClientJob> {
  const form = new FormData();
  for (const [key, value] of Object.entries(body)) if (value) form.append(key, value);
  for (const photo of photos) form.append('photos', new File([photo.blob], photo.filename, { type: photo.blob.type || 'image/jpeg' }));
  const abort = new AbortController();
  // Photos on a slow line take longer than a plain request.
  const timer = setTimeout(() => abort.abort(), requestTimeoutMs * 4);
  let response: Response;
  let payload: { data?: ClientJob; error?: { code: string; message: string; details?: unknown } } | null;
  try {
    try {
      response = await fetch('/api/v1/portal/client/requests', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'X-Requested-With': 'onelink', Accept: 'application/json' },
        body: form,
        signal: abort.signal,
      });
    } catch {
      throw new ApiError(0, abort.signal.aborted ? 'timeout' : 'network_error', abort.signal.aborted ? 'The service did not answer in time' : 'No connection');
    }
    payload = (await response.json().catch(() => null)) as typeof payload;
  } finally {
    clearTimeout(timer);
  }
  if (!response.ok || !payload?.data) {
    throw new ApiError(response.status, payload?.error?.code ?? 'http_error', payload?.error?.message ?? `The service answered ${response.status}`, payload?.error?.details ?? null);
  }
  return payload.data;
}
