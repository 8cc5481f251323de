// Calls to a Chatwoot installation's REST API. For now: the profile endpoint that proves who
// an access token belongs to. The token travels as `Api-Access-Token` (hyphens: proxies such as
// nginx drop headers with underscores by default; Chatwoot accepts both spellings).
import { z } from 'zod';

export class ChatwootError extends Error {
  constructor(
    readonly kind: 'unauthorized' | 'unreachable' | 'bad_response',
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

const profileSchema = z.object({
  id: z.number().int(),
  name: z.string().nullish(),
  available_name: z.string().nullish(),
  email: z.string().nullish(),
  accounts: z
    .array(
      z.object({
        id: z.number().int(),
        name: z.string().nullish(),
        role: z.enum(['administrator', 'agent']),
        status: z.string().nullish(),
      }),
    )
    .default([]),
});
export type ChatwootProfile = z.infer<typeof profileSchema>;

export interface ChatwootClientOptions { baseUrl: string; token: string; timeoutMs: number }

export async function fetchProfile({ baseUrl, token, timeoutMs }: ChatwootClientOptions): Promise<ChatwootProfile> {
  let response: Response;
  try {
    response = await fetch(`${baseUrl}/api/v1/profile`, {
      headers: { 'Api-Access-Token': token, Accept: 'application/json' },
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'error',
    });
  } catch (err) {
    throw new ChatwootError('unreachable', `Chatwoot at ${baseUrl} could not be reached: ${(err as Error).message}`);
  }
  if (response.status === 401 || response.status === 403) {
    throw new ChatwootError('unauthorized', 'Chatwoot did not accept this access token', response.status);
  }
  if (!response.ok) throw new ChatwootError('unreachable', `Chatwoot answered ${response.status}`, response.status);
  const parsed = profileSchema.safeParse(await response.json().catch(() => null));
  if (!parsed.success) throw new ChatwootError('bad_response', 'Chatwoot answered with an unexpected profile shape');
  return parsed.data;
}

/** Canonical form of an installation's address: scheme, host, port and path, no trailing slash. */
export function normaliseBaseUrl(input: string): string {
  const url = new URL(input);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('Chatwoot URL must be http(s)');
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}
