// Vendor users and their sign-in: staff invite a vendor's owner (and may add technicians), the owner
// invites and manages technicians, anyone asks for a sign-in code and exchanges it (or the link) for
// a long session on that device, and every person lists and revokes their own sessions.
import type { Request } from 'express';
import { z } from 'zod';
import { clearSessionCookie, setSessionCookie } from '../auth/session-cookie.ts';
import type { RequestContext } from '../context.ts';
import { ForbiddenByRuleError, NotFoundError } from '../errors.ts';
import { sendData } from '../http/envelope.ts';
import { pageQuery } from '../http/pagination.ts';
import { defineRoute } from '../http/registry.ts';
import { text } from '../http/schemas.ts';
import type { Services } from '../services.ts';
import { consumeMagicLink, type Device } from './service.ts';
import { exchangeVendorCode, requestVendorSignIn, sendSignIn, type SignInDeps, type SignInIdentity } from './vendor-sign-in.ts';
import {
  inviteVendorUser,
  listMySessions,
  listVendorUserSessions,
  listVendorUsers,
  revokeAllMySessions,
  revokeMySession,
  revokeVendorUserSession,
  setVendorUserActive,
} from './vendor-users.ts';

const accountId = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).describe('The Onelink account id (in the portal address the vendor was sent)');
const email = z.email().max(320);
const phone = text({ min: 1, max: 40 });
const person = { name: text({ min: 1, max: 200 }), email: email.optional(), phone: phone.optional() };
const reachable = (v: { email?: string; phone?: string }) => v.email !== undefined || v.phone !== undefined;
const reachableIssue = { message: 'Give an e-mail address or a phone number to send sign-in codes to', path: ['email'] };

/** Exactly one of e-mail and phone: the one the person was invited with. */
const oneAddress = <T extends { email?: string; phone?: string }>(v: T) => (v.email === undefined) !== (v.phone === undefined);
const oneAddressIssue = { message: 'Give either your e-mail address or your phone number', path: ['email'] };

const vendorUserParams = z.object({ vendorId: z.uuid(), portalUserId: z.uuid() });
const teamUserParams = z.object({ portalUserId: z.uuid() });

function deviceOf(req: Request): Device {
  return { userAgent: req.get('user-agent') ?? null, ip: req.ip ?? null };
}

function identityOf(body: { account: number; email?: string; phone?: string }): SignInIdentity {
  return body.email !== undefined ? { accountId: body.account, email: body.email } : { accountId: body.account, phone: body.phone! };
}

/** The owner's own vendor; staff have none here (they manage vendor users under /vendors). */
function ownVendor(ctx: RequestContext): string | null {
  return ctx.vendorId ?? null;
}

export function vendorUserRoutes(services: Services) {
  const deps = (): SignInDeps => ({
    db: services.db,
    sealer: services.sealer,
    senders: services.notifications.senders,
    publicUrl: services.config.PUBLIC_URL,
    sessionTtlHours: services.config.ONELINK_SESSION_TTL_HOURS,
  });
  const staff = { permission: 'vendors:manage', capability: 'portal.vendor' } as const;
  const owner = { permission: 'vendor_team:manage', capability: 'portal.vendor' } as const;
  const signInLimit = services.config.ONELINK_SIGN_IN_ATTEMPTS_PER_MINUTE;

  return [
    // --- staff ---
    defineRoute({
      method: 'get',
      path: '/vendors/:vendorId/users',
      summary: "A vendor's portal users: its owners and technicians",
      tags: ['portal'],
      access: staff,
      params: z.object({ vendorId: z.uuid() }),
      query: pageQuery,
      handler: async ({ ctx, params, query, res }) => {
        const page = await listVendorUsers(ctx, params.vendorId, query);
        sendData(res, page.items, { next_cursor: page.nextCursor });
      },
    }),
    defineRoute({
      method: 'post',
      path: '/vendors/:vendorId/users',
      summary: 'Invite a vendor user (usually the owner): the account is created and a sign-in code and link are sent',
      tags: ['portal'],
      access: staff,
      params: z.object({ vendorId: z.uuid() }),
      body: z.object({ ...person, role: z.enum(['owner', 'technician']).default('owner') }).refine(reachable, reachableIssue),
      handler: async ({ ctx, params, body, req, res }) => sendData(res, await inviteVendorUser(ctx, deps(), params.vendorId, body, req.ip ?? null), {}, 201),
    }),
    defineRoute({
      method: 'put',
      path: '/vendors/:vendorId/users/:portalUserId/active',
      summary: 'Activate or deactivate a vendor user (deactivating signs them out everywhere)',
      tags: ['portal'],
      access: staff,
      params: vendorUserParams,
      body: z.object({ active: z.boolean() }),
      handler: async ({ ctx, params, body, res }) => sendData(res, await setVendorUserActive(ctx, params.vendorId, params.portalUserId, body.active)),
    }),
    defineRoute({
      method: 'get',
      path: '/vendors/:vendorId/users/:portalUserId/sessions',
      summary: "A vendor user's open sessions (device, last use, expiry)",
      tags: ['portal'],
      access: staff,
      params: vendorUserParams,
      handler: async ({ ctx, params, res }) => sendData(res, await listVendorUserSessions(ctx, params.vendorId, params.portalUserId)),
    }),
    defineRoute({
      method: 'delete',
      path: '/vendors/:vendorId/users/:portalUserId/sessions/:sessionId',
      summary: "Sign a vendor user's session out",
      tags: ['portal'],
      access: staff,
      params: vendorUserParams.extend({ sessionId: z.uuid() }),
      successStatus: 200,
      handler: async ({ ctx, params, res }) => sendData(res, await revokeVendorUserSession(ctx, params.vendorId, params.portalUserId, params.sessionId)),
    }),

    // --- the vendor's owner ---
    defineRoute({
      method: 'get',
      path: '/portal/vendor/users',
      summary: "Your vendor's portal users (owners and technicians)",
      tags: ['portal'],
      access: owner,
      query: pageQuery,
      handler: async ({ ctx, query, res }) => {
        const page = await listVendorUsers(ctx, ownVendor(ctx), query);
        sendData(res, page.items, { next_cursor: page.nextCursor });
      },
    }),
    defineRoute({
      method: 'post',
      path: '/portal/vendor/users',
      summary: 'Invite a technician to your vendor: the account is created and a sign-in code and link are sent',
      tags: ['portal'],
      access: owner,
      body: z.object(person).refine(reachable, reachableIssue),
      handler: async ({ ctx, body, req, res }) => {
        const vendorId = ownVendor(ctx);
        if (!vendorId) throw new ForbiddenByRuleError('vendor_owners_only', "Only a vendor's owner invites technicians here; staff use /vendors/{vendorId}/users");
        sendData(res, await inviteVendorUser(ctx, deps(), vendorId, { ...body, role: 'technician' }, req.ip ?? null), {}, 201);
      },
    }),
    defineRoute({
      method: 'put',
      path: '/portal/vendor/users/:portalUserId/active',
      summary: 'Activate or deactivate one of your technicians (deactivating signs them out everywhere)',
      tags: ['portal'],
      access: owner,
      params: teamUserParams,
      body: z.object({ active: z.boolean() }),
      handler: async ({ ctx, params, body, res }) => {
        const vendorId = ownVendor(ctx);
        if (!vendorId) throw new NotFoundError('Vendor user');
        sendData(res, await setVendorUserActive(ctx, vendorId, params.portalUserId, body.active));
      },
    }),
    defineRoute({
      method: 'get',
      path: '/portal/vendor/users/:portalUserId/sessions',
      summary: "One of your technicians' open sessions",
      tags: ['portal'],
      access: owner,
      params: teamUserParams,
      handler: async ({ ctx, params, res }) => {
        const vendorId = ownVendor(ctx);
        if (!vendorId) throw new NotFoundError('Vendor user');
        sendData(res, await listVendorUserSessions(ctx, vendorId, params.portalUserId));
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/portal/vendor/users/:portalUserId/sessions/:sessionId',
      summary: "Sign one of your technicians' sessions out",
      tags: ['portal'],
      access: owner,
      params: teamUserParams.extend({ sessionId: z.uuid() }),
      successStatus: 200,
      handler: async ({ ctx, params, res }) => {
        const vendorId = ownVendor(ctx);
        if (!vendorId) throw new NotFoundError('Vendor user');
        sendData(res, await revokeVendorUserSession(ctx, vendorId, params.portalUserId, params.sessionId));
      },
    }),

    // --- signing in ---
    defineRoute({
      method: 'post',
      path: '/portal/vendor/sign-in',
      summary: 'Ask for a sign-in code and link (sent by e-mail or SMS); always 202, whether or not the person exists',
      tags: ['portal'],
      access: { public: true },
      rateLimitPerMinute: signInLimit,
      successStatus: 202,
      body: z.object({ account: accountId, email: email.optional(), phone: phone.optional() }).refine(oneAddress, oneAddressIssue),
      handler: async ({ body, req, res }) => {
        const pending = await requestVendorSignIn(deps(), identityOf(body), deviceOf(req), String(req.id));
        // Sent after the answer, so the answer's timing says as little as its content.
        if (pending) {
          void sendSignIn(deps(), pending)
            .then((result) => {
              if (result.outcome !== 'sent') req.log.warn({ portalUserId: pending.user.id, channel: pending.channel, outcome: result.outcome, reason: result.reason }, 'sign-in message not sent');
            })
            .catch((err: unknown) => req.log.error({ err, portalUserId: pending.user.id }, 'sign-in message failed'));
        }
        sendData(res, { accepted: true, message: 'If this address belongs to an active vendor user, a code and a link are on their way; both work once, for 10 minutes' }, {}, 202);
      },
    }),
    defineRoute({
      method: 'post',
      path: '/portal/vendor/sessions',
      summary: 'Exchange a sign-in code (with the e-mail or phone it was sent to) or a sign-in link token for a session on this device',
      tags: ['portal'],
      access: { public: true },
      rateLimitPerMinute: signInLimit,
      body: z
        .object({
          token: z.string().min(10).max(200).optional(),
          account: accountId.optional(),
          email: email.optional(),
          phone: phone.optional(),
          code: z.string().regex(/^\d{6}$/, 'the 6-digit code from the message').optional(),
        })
        .superRefine((v, issues) => {
          if (v.token !== undefined) {
            if (v.code !== undefined) issues.addIssue({ code: 'custom', message: 'Give a link token or a code, not both', path: ['code'] });
            return;
          }
          if (v.code === undefined) issues.addIssue({ code: 'custom', message: 'Give the 6-digit code (or the link token)', path: ['code'] });
          if (v.account === undefined) issues.addIssue({ code: 'custom', message: 'Give the account the code was sent for', path: ['account'] });
          if (!oneAddress(v)) issues.addIssue({ code: 'custom', ...oneAddressIssue });
        }),
      handler: async ({ body, req, res }) => {
        const device = deviceOf(req);
        const session =
          body.token !== undefined
            ? await consumeMagicLink(services.db, body.token, services.config.ONELINK_SESSION_TTL_HOURS, String(req.id), { kind: 'vendor', device })
            : await exchangeVendorCode(deps(), { ...identityOf({ account: body.account!, email: body.email, phone: body.phone }), code: body.code! }, device, String(req.id));
        setSessionCookie(res, session.token, session.expiresAt);
        const user = session.portalUser;
        sendData(res, { token: session.token, expires_at: session.expiresAt, portal_user: { id: user.id, kind: user.kind, name: user.name, vendor_id: user.vendor_id, vendor_role: user.vendor_role } }, {}, 201);
      },
    }),

    // --- my sessions ---
    defineRoute({
      method: 'get',
      path: '/portal/sessions',
      summary: 'Your open sessions (device, last use, expiry); the one of this request is marked current',
      tags: ['portal'],
      access: { permission: 'me:read', capability: null },
      handler: async ({ ctx, res }) => sendData(res, await listMySessions(ctx)),
    }),
    defineRoute({
      method: 'delete',
      path: '/portal/sessions',
      summary: 'Sign out everywhere: every one of your sessions, this one included',
      tags: ['portal'],
      access: { permission: 'me:read', capability: null },
      successStatus: 200,
      handler: async ({ ctx, res }) => {
        const result = await revokeAllMySessions(ctx);
        clearSessionCookie(res);
        sendData(res, { revoked: result.revoked });
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/portal/sessions/:sessionId',
      summary: 'Sign one of your sessions out (this one too, if you name it)',
      tags: ['portal'],
      access: { permission: 'me:read', capability: null },
      params: z.object({ sessionId: z.uuid() }),
      successStatus: 200,
      handler: async ({ ctx, params, res }) => {
        const result = await revokeMySession(ctx, params.sessionId);
        if (result.current) clearSessionCookie(res);
        sendData(res, result);
      },
    }),
  ];
}
