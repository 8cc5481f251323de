// Chatwoot installations we are connected to: address, sealed administrator token, webhook secrets.
import type { Knex } from 'knex';
import { randomToken, type Sealer } from '../security/crypto.ts';
import { receiptHealth, unknownAddressRefusals, type ReceiptHealth } from '../../webhooks/chatwoot/receipt-health.ts';
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

/** "10:02" today, "2026-11-28 10:02" another day, in this machine's time zone. */
function clock(iso: string, now = new Date()): string {
  const date = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, '0');
  const time = `${pad(date.getHours())}:${pad(date.getMinutes())}`;
  return date.toDateString() === now.toDateString() ? time : `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${time}`;
}

/** The one-line alarm for a failing installation, by what is failing. */
export function failingSentence(failing: NonNullable<ReceiptHealth['failing']>): string {
  const tail = `since ${clock(failing.since)} — ${failing.refused} refused`;
  if (failing.reason === 'invalid_signature' || failing.reason === 'missing_signature') return `deliveries from Chatwoot are failing the signature check ${tail}; re-run the installer`;
  if (failing.reason === 'stale_timestamp') return `deliveries from Chatwoot are refused as stale (clocks more than 5 minutes apart) ${tail}; set both servers' clocks right`;
  return `deliveries from Chatwoot could not be stored ${tail}`;
}

/**
 * What `installation list` prints: each installation with the webhook URL actually registered in
 * Chatwoot (warning when PUBLIC_URL would now give another), its last accepted delivery and its
 * refused deliveries; then deliveries to addresses no installation owns.
 */
export async function describeInstallations(db: Knex, publicUrl: string): Promise<string[]> {
  const rows = await listInstallations(db);
  if (!rows.length) return ['No Chatwoot is connected yet.'];
  const lines: string[] = [];
  for (const row of rows) {
    const health = (await receiptHealth(db, row.id))!;
    const expected = `${publicUrl.replace(/\/+$/, '')}/webhooks/chatwoot/${row.webhook_path_token}`;
    lines.push(`${row.id}  ${row.base_url}`);
    if (!health.webhook_url) {
      lines.push(`  webhook registered in Chatwoot: unknown, re-run the installer (PUBLIC_URL gives ${expected})`);
    } else {
      lines.push(`  webhook registered in Chatwoot: ${health.webhook_url}${health.webhook_registered_at ? ` (since ${clock(health.webhook_registered_at)})` : ''}`);
      if (health.webhook_url !== expected) {
        lines.push(`  warning: PUBLIC_URL now gives ${expected}; Chatwoot still delivers to the registered URL. Re-run the installer if Onelink has moved.`);
      }
    }
    const refused = health.refusals.map((r) => `${r.refused} ${r.reason.replace(/_/g, ' ')} (last ${clock(r.last_refused_at)})`);
    lines.push(`  deliveries: last accepted ${health.last_accepted_at ? clock(health.last_accepted_at) : 'never'}; refused: ${refused.join(', ') || 'none'}`);
    if (health.failing) lines.push(`  warning: ${failingSentence(health.failing)}`);
  }
  const unknown = await unknownAddressRefusals(db);
  if (unknown) lines.push(`Deliveries to webhook addresses no installation owns: ${unknown.refused} (first ${clock(unknown.first_refused_at)}, last ${clock(unknown.last_refused_at)}) — a webhook left in Chatwoot from an earlier installation, or probing.`);
  return lines;
}
