// POST /webhooks/chatwoot/:pathToken — verify, store the raw delivery, acknowledge at once.
// The unguessable path token names the installation (and is all older, unsigned Chatwoot
// versions can offer); when the installation has a webhook secret, the HMAC signature is
// required on top. Nothing is stored before the checks pass, and nothing waits on processing.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { sendData, sendError } from '../../extension/http/envelope.ts';
import { defineRoute } from '../../extension/http/registry.ts';
import { queues } from '../../extension/queue/names.ts';
import type { Services } from '../../extension/services.ts';
import { verifyChatwootSignature } from './verify.ts';

function dedupeKey(deliveryHeader: string | undefined, body: Buffer, payload: Record<string, unknown> | null) {
  if (deliveryHeader && /^[A-Za-z0-9-]{8,100}$/.test(deliveryHeader)) return `delivery:${deliveryHeader}`;
  const object = payload && typeof payload.id !== 'undefined' ? payload.id : null;
  const version = payload?.updated_at ?? payload?.created_at ?? payload?.timestamp;
  if (payload?.event && object !== null && version !== undefined) return `${String(payload.event)}:${String(object)}:${String(version)}`;
  return `sha256:${createHash('sha256').update(body).digest('hex')}`;
}

export function chatwootWebhookRoutes(services: Services) {
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
        const installation = await services.db('installations').where({ webhook_path_token: params.pathToken }).first('id', 'webhook_secret_sealed');
        if (!installation) {
          sendError(res, 404, 'not_found', 'Unknown webhook address');
          return;
        }
        const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        if (installation.webhook_secret_sealed) {
          const check = verifyChatwootSignature(
            services.sealer.open(installation.webhook_secret_sealed),
            { timestamp: req.get('x-chatwoot-timestamp'), signature: req.get('x-chatwoot-signature') },
            body,
          );
          if (!check.ok) {
            sendError(res, 401, check.code, 'The webhook signature is missing, stale or wrong');
            return;
          }
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
        const [row] = await services
          .db('webhook_deliveries')
          .insert({
            installation_id: installation.id,
            dedupe_key: dedupeKey(req.get('x-chatwoot-delivery'), body, payload),
            event: typeof payload?.event === 'string' ? payload.event.slice(0, 100) : null,
            headers,
            body: body.toString('utf8'),
            status: payload ? 'received' : 'failed',
            last_error: payload ? null : 'the body is not a JSON object',
          })
          .onConflict(['installation_id', 'source', 'dedupe_key'])
          .ignore()
          .returning(['id', 'status']);
        if (!row) {
          sendData(res, { duplicate: true }, {}, 200);
          return;
        }
        // After the commit above; if this send is lost, the stalled-delivery sweep enqueues it.
        if (row.status === 'received') await services.jobs.send(queues.chatwootDelivery, { deliveryId: row.id }).catch(() => undefined);
        sendData(res, { delivery_id: row.id, status: row.status }, {}, 202);
      },
    }),
  ];
}
