// Chatwoot installations we are connected to: address, sealed administrator token, webhook secrets.
import type { Knex } from 'knex';
import { randomToken, type Sealer } from '../security/crypto.ts';
import { fetchProfile, normaliseBaseUrl } from './client.ts';

export interface Installation { id: string; base_url: string; api_token_sealed: string; webhook_path_token: string }

export class InstallationError extends Error {}

/** Verifies the token is an administrator's on that Chatwoot, then stores (or updates) the installation. */
export async function registerInstallation(
  db: Knex,
  sealer: Sealer,
  input: { chatwootUrl: string; apiToken: string; timeoutMs: number },
): Promise<Installation & { administratorOf: number[] }> {
  const baseUrl = normaliseBaseUrl(input.chatwootUrl);
  const profile = await fetchProfile({ baseUrl, token: input.apiToken, timeoutMs: input.timeoutMs });
  const administratorOf = profile.accounts.filter((a) => a.role === 'administrator').map((a) => a.id);
  if (administratorOf.length === 0) {
    throw new InstallationError('This access token belongs to a Chatwoot user who is not an administrator of any account.');
  }
  const [row] = await db('installations')
    .insert({ base_url: baseUrl, api_token_sealed: sealer.seal(input.apiToken), webhook_path_token: randomToken(24) })
    .onConflict('base_url')
    .merge({ api_token_sealed: sealer.seal(input.apiToken), updated_at: db.fn.now() })
    .returning(['id', 'base_url', 'api_token_sealed', 'webhook_path_token']);
  return { ...(row as Installation), administratorOf };
}

export async function listInstallations(db: Knex): Promise<Installation[]> {
  return db('installations').select('id', 'base_url', 'api_token_sealed', 'webhook_path_token').orderBy('created_at');
}

/** The installation at `chatwootUrl`, or the only one when none is named. */
export async function findInstallation(db: Knex, chatwootUrl: string | undefined): Promise<Installation | undefined> {
  if (chatwootUrl) {
    let baseUrl: string;
    try {
      baseUrl = normaliseBaseUrl(chatwootUrl);
    } catch {
      return undefined;
    }
    return db('installations').where({ base_url: baseUrl }).first();
  }
  const all = await db('installations').select('*').limit(2);
  return all.length === 1 ? all[0] : undefined;
}
