// Portal users register the browsers that should receive web push: the portal asks for the VAPID
// public key, subscribes with the browser's push manager, and hands the subscription here.
import { isIP } from 'node:net';
import { z } from 'zod';
import type { RequestContext } from '../context.ts';
import { write } from '../db/tenant.ts';
import { ForbiddenByRuleError, InvalidFieldsError, NotFoundError } from '../errors.ts';
import { sendData } from '../http/envelope.ts';
import { invalid } from '../http/errors.ts';
import { defineRoute } from '../http/registry.ts';
import { text } from '../http/schemas.ts';
import { subscriptionKeysProblem } from './channels/push.ts';

const maxEndpoint = 2000;

/**
 * Where a browser's push service takes messages. Onelink will POST to it later, so it must be a
 * public https address: push services are named hosts, never IP literals or local names.
 */
const endpoint = text({ min: 1, max: maxEndpoint })
  .pipe(z.url({ protocol: /^https$/, error: 'must be an https URL (the endpoint of the browser’s push subscription)' }))
  .refine((value) => {
    if (!URL.canParse(value)) return true; // the URL check above reports it
    const host = new URL(value).hostname.replace(/^\[|\]$/g, '').toLowerCase();
    return isIP(host) === 0 && host.includes('.') && !/(^|\.)(localhost|local|internal|localdomain)$/.test(host);
  }, 'must be the push service of a browser (a public host name, not an address or a local name)');

const base64Key = (max: number) => z.string().min(1).max(max).regex(/^[A-Za-z0-9_-]+={0,2}$/, 'must be URL-safe base64');

const subscriptionBody = z.object({
  endpoint,
  keys: z.object({ p256dh: base64Key(100), auth: base64Key(40) }),
  user_agent: text({ max: 500 }).optional(),
});

const endpointOnly = z.object({ endpoint: endpoint.optional() });

const subscriptionResponse = z.object({ id: z.uuid(), endpoint: z.string(), created_at: z.string() });

/** Only a portal user has browsers that Onelink pushes to; staff are told in the bell and by e-mail. */
function portalUserOf(ctx: RequestContext): string {
  if (ctx.actor.type !== 'portal_user') {
    throw new ForbiddenByRuleError('portal_users_only', 'Web push subscriptions belong to portal users; staff are notified in Onelink and by e-mail');
  }
  return ctx.actor.id;
}

/** The key is resolved once at start-up (resolveVapidKeys in vapid.ts). */
export function pushRoutes(vapidPublicKey: string) {
  return [
    defineRoute({
      method: 'get',
      path: '/push/public-key',
      summary: 'The VAPID public key to subscribe a browser to web push with (applicationServerKey)',
      tags: ['notifications'],
      access: { permission: 'me:read', capability: null },
      response: z.object({ public_key: z.string() }),
      handler: ({ res }) => sendData(res, { public_key: vapidPublicKey }),
    }),
    defineRoute({
      method: 'post',
      path: '/push/subscriptions',
      summary: 'Register this browser for web push (portal users; the same endpoint registered again moves to the caller)',
      tags: ['notifications'],
      access: { permission: 'me:read', capability: null },
      body: subscriptionBody,
      response: subscriptionResponse,
      successStatus: 201,
      handler: async ({ ctx, body, req, res }) => {
        const portalUserId = portalUserOf(ctx);
        const problem = subscriptionKeysProblem(body.keys);
        if (problem) throw new InvalidFieldsError('The push subscription keys are not valid', [{ field: `keys.${problem.field}`, message: problem.message, code: 'invalid_key' }]);
        const userAgent = body.user_agent ?? req.get('user-agent')?.slice(0, 500) ?? null;
        // Tied to the session it came with: signing that session out stops pushes to this browser.
        const sessionId = ctx.sessionId ?? null;
        const row = await write(ctx, async (trx, audit) => {
          const [saved] = await trx('push_subscriptions')
            .insert({ account_id: ctx.accountId, portal_user_id: portalUserId, session_id: sessionId, endpoint: body.endpoint, p256dh: body.keys.p256dh, auth: body.keys.auth, user_agent: userAgent })
            .onConflict(['account_id', 'endpoint'])
            .merge({ portal_user_id: portalUserId, session_id: sessionId, p256dh: body.keys.p256dh, auth: body.keys.auth, user_agent: userAgent, last_success_at: null })
            .returning(['id', 'endpoint', 'created_at']);
          audit.bookkeeping('push_subscriptions');
          return saved as { id: string; endpoint: string; created_at: Date };
        });
        sendData(res, row, {}, 201);
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/push/subscriptions',
      summary: 'Stop web push to a browser of the caller (endpoint in the body or the query)',
      tags: ['notifications'],
      access: { permission: 'me:read', capability: null },
      query: endpointOnly,
      body: endpointOnly,
      response: z.object({ deleted: z.boolean() }),
      handler: async ({ ctx, query, body, res }) => {
        const portalUserId = portalUserOf(ctx);
        const target = body.endpoint ?? query.endpoint;
        if (!target) throw invalid('Say which subscription to remove', [{ path: 'body.endpoint', message: 'is required (in the body or the query)', code: 'required' }]);
        await write(ctx, async (trx, audit) => {
          // Only the caller's own: another portal user's endpoint is as unknown as a made-up one.
          const deleted = await trx('push_subscriptions').where({ account_id: ctx.accountId, endpoint: target, portal_user_id: portalUserId }).delete();
          if (!deleted) throw new NotFoundError('Push subscription');
          audit.bookkeeping('push_subscriptions');
        });
        sendData(res, { deleted: true });
      },
    }),
  ];
}
