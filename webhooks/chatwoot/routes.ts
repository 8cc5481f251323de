// POST /webhooks/chatwoot/:pathToken — verify, store the raw delivery, acknowledge at once.
// The unguessable path token names the installation (and is all older, unsigned Chatwoot
// versions can offer); when the installation has a webhook secret, the HMAC signature is
// required on top. Nothing is stored before the checks pass, and nothing waits on processing.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { sendData, sendError } from '../../extension/http/envelope.ts';
import { defineRoute } from '../../extension/http/registry.ts';
import type { Services } from '../../extension/services.ts';
import { shortLived } from '../cache.ts';
import { deliveryInbox } from '../inbox.ts';
import { deliveryNudger } from '../nudge.ts';
import { verifyChatwootSignature } from './verify.ts';

function dedupeKey(deliveryHeader: string | undefined, body: Buffer, payload: Record<string, unknown> | null) {
  if (deliveryHeader && /^[A-Za-z0-9-]{8,100}$/.test(deliveryHeader)) return `delivery:${deliveryHeader}`;
  const object = payload && typeof payload.id !== 'undefined' ? payload.id : null;
  const version = payload?.updated_at ?? payload?.created_at ?? payload?.timestamp;
  if (payload?.event && object !== null && version !== undefined) return `${String(payload.event)}:${String(object)}:${String(version)}`;
  return `sha256:${createHash('sha256').update(body).digest('hex')}`;
}

/** Installations by webhook path token, with their secret opened: every delivery needs one. */
function installationCache(services: Services) {
  return shortLived(async (pathToken: string) => {
    const found = await services.db('installations').where({ webhook_path_token: pathToken }).first('id', 'webhook_secret_sealed');
    return found && { id: found.id as string, secret: found.webhook_secret_sealed ? (services.sealer.open(found.webhook_secret_sealed) as string) : null };
  });
}

export function chatwootWebhookRoutes(services: Services) {
  const findInstallation = installationCache(services);
  const nudge = deliveryNudger(services.db);
  const storeDelivery = deliveryInbox(services.db);
  return [
    defineRoute({
      method: 'post',
      prefix: '',
      path: '/webhooks/chatwoot/:pathToken',
      summary: 'Chatwoot account webhook (signed with X-Chatwoot-Signature when the installation has a secret)',
      tags: ['webhooks'],
      access: { public: true },
      rawBody: true,
      params: z.object({ pathToken: z.string().min(16).max(100) }),
      successStatus: 202,
      handler: async ({ params, req, res }) => {
        const installation = await findInstallation(params.pathToken);
        if (!installation) {
          sendError(res, 404, 'not_found', 'Unknown webhook address');
          return;
        }
        const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        if (installation.secret) {
          const check = verifyChatwootSignature(
            installation.secret,
            { timestamp: req.get('x-chatwoot-timestamp'), signature: req.get('x-chatwoot-signature') },
            body,
          );
          if (!check.ok) {
            sendError(res, 401, check.code, 'The webhook signature is missing, stale or wrong');
            return;
          }
        }
        if (body.includes(0)) {
          sendError(res, 400, 'invalid_body', 'The request body contains NUL bytes');
          return;
        }
        let payload: Record<string, unknown> | null = null;
        try {
          const parsed: unknown = JSON.parse(body.toString('utf8'));
          payload = parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : null;
        } catch {
          payload = null; // verified but unparseable: kept as failed, for inspection
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
