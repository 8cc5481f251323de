// POST /webhooks/chatwoot/:pathToken — verify, store the raw delivery, acknowledge at once.
// The unguessable path token names the installation (and is all older, unsigned Chatwoot
// versions can offer); when the installation has a webhook secret, the HMAC signature is
// required on top. Each Chatwoot account's webhook has its own secret: a delivery naming an
// account must be signed with that account's secret (one account's secret cannot vouch for
// another's payload, which processing trusts). Nothing is stored before the checks pass, and
// nothing waits on processing.
// A refused delivery is counted (per installation and reason, never its body): Chatwoot does
// not retry, so the counters are the only trace of what was lost.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { sendData, sendError } from '../../extension/http/envelope.ts';
import { defineRoute } from '../../extension/http/registry.ts';
import type { Services } from '../../extension/services.ts';
import { shortLived } from '../cache.ts';
import { deliveryInbox } from '../inbox.ts';
import { deliveryNudger } from '../nudge.ts';
import { payloadAccount } from './account.ts';
import { connectionCheckKey, receiptRecorder } from './receipt-health.ts';
import { verifyChatwootSignature } from './verify.ts';

function dedupeKey(deliveryHeader: string | undefined, body: Buffer, payload: Record<string, unknown> | null) {
  if (deliveryHeader && /^[A-Za-z0-9-]{8,100}$/.test(deliveryHeader)) return `delivery:${deliveryHeader}`;
  const object = payload && typeof payload.id !== 'undefined' ? payload.id : null;
  const version = payload?.updated_at ?? payload?.created_at ?? payload?.timestamp;
  if (payload?.event && object !== null && version !== undefined) return `${String(payload.event)}:${String(object)}:${String(version)}`;
  return `sha256:${createHash('sha256').update(body).digest('hex')}`;
}

/**
 * An installation and its webhook secrets: by Chatwoot account id, and the one kept before secrets
 * were kept per account (`legacy`, null when it is one of the per-account ones). None: unsigned Chatwoot.
 */
type KnownInstallation = { id: string; secrets: string[]; byAccount: Map<number, string>; legacy: string | null } | undefined;

/**
 * The secrets that may sign a payload naming `account`: that account's own; for an account without
 * one, the legacy secret (installations made before secrets were kept per account). A payload
 * naming no account (it cannot be processed for one) may carry any of them.
 */
function secretsFor(installation: NonNullable<KnownInstallation>, account: number | null): string[] {
  if (account === null) return installation.secrets;
  const own = installation.byAccount.get(account);
  if (own !== undefined) return [own];
  return installation.legacy === null ? [] : [installation.legacy];
}

/**
 * Installations by webhook path token, with their secrets opened: every delivery needs one. A
 * signature that fails against the kept secrets asks for a copy at most a second old (the
 * installer may have just stored a new secret): at most one lookup a second per address, however
 * many bad signatures arrive.
 */
function installationCache(services: Services) {
  return shortLived(async (pathToken: string): Promise<KnownInstallation> => {
    const found = await services.db('installations').where({ webhook_path_token: pathToken }).first('id', 'webhook_secret_sealed', 'webhook_secrets_sealed');
    if (!found) return undefined;
    const byAccount = new Map<number, string>();
    for (const [account, sealed] of Object.entries((found.webhook_secrets_sealed ?? {}) as Record<string, string>)) {
      if (/^\d+$/.test(account)) byAccount.set(Number(account), services.sealer.open(sealed) as string);
    }
    const latest = found.webhook_secret_sealed ? (services.sealer.open(found.webhook_secret_sealed as string) as string) : null;
    const legacy = latest !== null && ![...byAccount.values()].includes(latest) ? latest : null;
    const secrets = [...new Set([...(latest === null ? [] : [latest]), ...byAccount.values()])];
    return { id: found.id as string, secrets, byAccount, legacy };
  });
}

export function chatwootWebhookRoutes(services: Services) {
  const findInstallation = installationCache(services);
  const nudge = deliveryNudger(services.db);
  const storeDelivery = deliveryInbox(services.db);
  const receipts = receiptRecorder(services.db);
  return [
    defineRoute({
      method: 'post',
      prefix: '',
      path: '/webhooks/chatwoot/:pathToken',
      summary: 'Chatwoot account webhook (signed with X-Chatwoot-Signature when the installation has a secret)',
      tags: ['webhooks'],
      access: { public: true },
      rawBody: true,
      // Any address is answered (and an unknown one counted): a malformed one is just as unknown.
      params: z.object({ pathToken: z.string().min(1).max(200) }),
      successStatus: 202,
      handler: async ({ params, req, res }) => {
        let installation = params.pathToken.length >= 16 && params.pathToken.length <= 100 ? await findInstallation(params.pathToken) : undefined;
        if (!installation) {
          receipts.refused(null, 'unknown_address');
          sendError(res, 404, 'not_found', 'Unknown webhook address');
          return;
        }
        const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        let payload: Record<string, unknown> | null = null;
        try {
          const parsed: unknown = JSON.parse(body.toString('utf8'));
          payload = parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : null;
        } catch {
          payload = null; // verified but unparseable: kept as failed, for inspection
        }
        if (installation.secrets.length) {
          const headers = { timestamp: req.get('x-chatwoot-timestamp'), signature: req.get('x-chatwoot-signature') };
          // Only the named account's secret counts (read before the signature is checked, but trusted only once it holds).
          // The reading is the one processing uses (./account.ts), so what is verified is what is written.
          const named = payloadAccount(payload);
          if (named.kind === 'unreadable' && installation.byAccount.size) {
            // With a secret per account, no secret can vouch for a payload whose account is unclear.
            receipts.refused(installation.id, 'invalid_signature');
            sendError(res, 401, 'invalid_signature', "The webhook payload's account cannot be read, so no account's secret can vouch for it");
            return;
          }
          const account = named.kind === 'account' ? named.id : null;
          const verify = (secrets: string[]) => {
            // An account with no secret of its own here is not one this installation signs for.
            if (!secrets.length) return { ok: false, code: headers.timestamp && headers.signature ? 'invalid_signature' : 'missing_signature' } as const;
            let result = verifyChatwootSignature(secrets[0]!, headers, body);
            for (const other of secrets.slice(1)) if (!result.ok && result.code === 'invalid_signature') result = verifyChatwootSignature(other, headers, body);
            return result;
          };
          let check = verify(secretsFor(installation, account));
          if (!check.ok && check.code === 'invalid_signature') {
            const fresh = await findInstallation(params.pathToken, { maxAgeMs: 1000 });
            if (fresh?.secrets.some((s) => !installation!.secrets.includes(s))) {
              installation = fresh;
              check = verify(secretsFor(fresh, account));
            }
          }
          if (check.ok && account !== null && !installation.byAccount.has(account)) {
            // Passed with the legacy secret: the account may have got its own since this copy was
            // kept, and then only that one counts. A verified delivery is stored anyway: one read more.
            const fresh = await findInstallation(params.pathToken, { maxAgeMs: 0 });
            if (fresh?.byAccount.has(account)) {
              installation = fresh;
              check = verify(secretsFor(fresh, account));
            }
          }
          if (!check.ok) {
            receipts.refused(installation.id, check.code);
            sendError(res, 401, check.code, 'The webhook signature is missing, stale or wrong');
            return;
          }
        }
        if (body.includes(0)) {
          receipts.refused(installation.id, 'invalid_body');
          sendError(res, 400, 'invalid_body', 'The request body contains NUL bytes');
          return;
        }
        receipts.accepted(installation.id);
        const checkKey = connectionCheckKey(payload);
        if (checkKey) {
          // The installer's round-trip check: proof for the installer, nothing for the caches.
          const [stored] = await services
            .db('webhook_deliveries')
            .insert({ installation_id: installation.id, source: 'chatwoot', dedupe_key: checkKey, event: String(payload!.event).slice(0, 100), headers: {}, body: '{}', status: 'ignored', last_error: 'Onelink connection check' })
            .onConflict(['installation_id', 'source', 'dedupe_key'])
            .ignore()
            .returning(['id', 'status']);
          sendData(res, stored ? { delivery_id: stored.id, status: stored.status } : { duplicate: true }, {}, stored ? 202 : 200);
          return;
        }
        const headers = Object.fromEntries(
          ['x-chatwoot-delivery', 'x-chatwoot-timestamp', 'x-chatwoot-signature', 'user-agent', 'content-type'].map((h) => [h, req.get(h) ?? null]),
        );
        const row = await storeDelivery({
          installationId: installation.id,
          source: 'chatwoot',
          dedupeKey: dedupeKey(req.get('x-chatwoot-delivery'), body, payload),
          event: typeof payload?.event === 'string' ? payload.event.slice(0, 100) : null,
          headers,
          body: body.toString('utf8'),
          status: payload ? 'received' : 'failed',
          lastError: payload ? null : 'the body is not a JSON object',
        });
        if (!row) {
          sendData(res, { duplicate: true }, {}, 200);
          return;
        }
        if (row.status === 'received') nudge();
        sendData(res, { delivery_id: row.id, status: row.status }, {}, 202);
      },
    }),
  ];
}
