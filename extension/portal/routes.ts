// Staff manage client portal accounts and hand out sign-in links; clients exchange a link for a session.
import { z } from 'zod';
import { sendData } from '../http/envelope.ts';
import { pageQuery } from '../http/pagination.ts';
import { defineRoute } from '../http/registry.ts';
import { chatwootId, chatwootIdParam, text } from '../http/schemas.ts';
import { setSessionCookie } from '../auth/session-cookie.ts';
import type { Services } from '../services.ts';
import { consumeMagicLink, createClientPortalUser, issueMagicLink, listClientPortalUsers, setPortalUserActive } from './service.ts';
import { vendorJobRoutes } from './vendor-jobs.ts';
import { vendorUserRoutes } from './vendor-routes.ts';
import { vendorBusinessRoutes } from './vendor-business.ts';

const portalUserParams = z.object({ portalUserId: z.uuid() });

export function portalRoutes(services: Services) {
  return [
    defineRoute({
      method: 'get',
      path: '/portal/clients',
      summary: "Client portal accounts (each bound to one Chatwoot contact); chatwoot_contact_id gives that contact's",
      tags: ['portal'],
      access: { permission: 'portal:manage', capability: 'portal.client' },
      query: pageQuery.extend({ chatwoot_contact_id: chatwootIdParam.optional() }),
      handler: async ({ ctx, query, res }) => {
        const page = await listClientPortalUsers(ctx, query);
        sendData(res, page.items, { next_cursor: page.nextCursor });
      },
    }),
    defineRoute({
      method: 'post',
      path: '/portal/clients',
      summary: 'Give a Chatwoot contact a client portal account',
      tags: ['portal'],
      access: { permission: 'portal:manage', capability: 'portal.client' },
      body: z.object({
        chatwoot_contact_id: chatwootId,
        name: text({ min: 1, max: 200 }),
        email: z.email().optional(),
        phone: text({ max: 40 }).optional(),
      }),
      handler: async ({ ctx, body, res }) => sendData(res, await createClientPortalUser(ctx, body), {}, 201),
    }),
    defineRoute({
      method: 'put',
      path: '/portal/clients/:portalUserId/active',
      summary: 'Activate or deactivate a client portal account (deactivating signs it out)',
      tags: ['portal'],
      access: { permission: 'portal:manage', capability: 'portal.client' },
      params: portalUserParams,
      body: z.object({ active: z.boolean() }),
      handler: async ({ ctx, params, body, res }) => sendData(res, await setPortalUserActive(ctx, params.portalUserId, body.active)),
    }),
    defineRoute({
      method: 'post',
      path: '/portal/clients/:portalUserId/magic-links',
      summary: 'Create a single-use sign-in link (15 minutes) to send to the client; shown once',
      tags: ['portal'],
      access: { permission: 'portal:manage', capability: 'portal.client' },
      params: portalUserParams,
      handler: async ({ ctx, params, res }) => sendData(res, await issueMagicLink(ctx, params.portalUserId, services.config.PUBLIC_URL), {}, 201),
    }),
    defineRoute({
      method: 'post',
      path: '/portal/sessions',
      summary: 'Exchange a sign-in link token for a portal session',
      tags: ['portal'],
      access: { public: true },
      rateLimitPerMinute: services.config.ONELINK_SIGN_IN_ATTEMPTS_PER_MINUTE,
      body: z.object({ token: z.string().min(10).max(200) }),
      handler: async ({ body, req, res }) => {
        const session = await consumeMagicLink(services.db, body.token, services.config.ONELINK_SESSION_TTL_HOURS, String(req.id), {
          device: { userAgent: req.get('user-agent') ?? null, ip: req.ip ?? null },
        });
        setSessionCookie(res, session.token, session.expiresAt);
        sendData(res, { token: session.token, expires_at: session.expiresAt, portal_user: { id: session.portalUser.id, kind: session.portalUser.kind, name: session.portalUser.name } }, {}, 201);
      },
    }),
    ...vendorUserRoutes(services),
    ...vendorJobRoutes(services),
    ...vendorBusinessRoutes(services),
  ];
}
