// What browser test files share: connecting a fake Chatwoot to the running server the way an
// operator does (the CLI), signing an agent in through the API, and calling the API as them.
import { expect, inject } from 'vitest';
import type { FakeChatwoot } from '../fakes/chatwoot.ts';
import { spawnIn } from '../helpers/processes.ts';

export async function connectChatwoot(chatwoot: FakeChatwoot, adminToken: string) {
  const cli = spawnIn('npm', ['run', '--silent', 'onelink', '--', 'installation', 'add', '--chatwoot-url', chatwoot.url, '--token', adminToken], {
    ONELINK_DATA_DIR: inject('dataDir'),
  });
  const { code } = await cli.exited;
  expect(code, cli.output()).toBe(0);
  return cli.output();
}

/** A session token for a Chatwoot agent, from the sign-in endpoint the apps use. */
export async function signInToken(chatwoot: FakeChatwoot, accessToken: string, accountId: number) {
  const response = await fetch(`${inject('baseUrl')}/api/v1/auth/chatwoot`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ access_token: accessToken, chatwoot_url: chatwoot.url, account_id: accountId }),
  });
  return ((await response.json()) as { data: { token: string } }).data.token;
}

/** Calls the API with a session token; answers `{ status, data, error }`. */
export async function callApi<T = unknown>(token: string, path: string, init: { method?: string; json?: unknown } = {}) {
  const response = await fetch(`${inject('baseUrl')}/api/v1${path}`, {
    method: init.method ?? 'GET',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: init.json === undefined ? undefined : JSON.stringify(init.json),
  });
  const body = (await response.json()) as { data: T; error?: { code: string } };
  return { status: response.status, data: body.data, error: body.error };
}
