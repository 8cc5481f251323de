// Client portal sign-in, profile and staff invitations.
import type { Request } from 'express';
import { z } from 'zod';
import { setSessionCookie } from '../auth/session-cookie.ts';
import type { RequestContext } from '../context.ts';
import { NotFoundError } from '../errors.ts';
import { sendData } from '../http/envelope.ts';
import { defineRoute } from '../http/registry.ts';
import { chatwootId, text } from '../http/schemas.ts';
import type { Services } from '../services.ts';
import { clientProfile, updateClientProfile } from './client-profile.ts';
import { inviteClient, listClientSessions, revokeClientSession, type InviteDeps } from './client-sign-in.ts';
import { consumeMagicLink, type Device } from './service.ts';
import { exchangeCode, requestSignIn, sendSignIn, type SignInDeps, type SignInIdentity } from './vendor-sign-in.ts';

const accountId = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).describe('The Onelink account id (in the portal address the client was sent)');
const email = z.email().max(320);
const phone = text({ min: 1, max: 40 });
const oneAddress = <T extends { email?: string; phone?: string }>(v: T) => (v.email === undefined) !== (v.phone === undefined);
const oneAddressIssue = { message: 'Give either your e-mail address or your phone number', path: ['email'] };

function deviceOf(req: Request): Device {
  return { userAgent: req.get('user-agent') ?? null, ip: req.ip ?? null };
}

function identityOf(body: { account: number; email?: string; phone?: string }): SignInIdentity {
  return body.email !== undefined ? { accountId: body.account, email: body.email } : { accountId: body.account, phone: body.phone! };
}

/** Client routes answer 404 to anyone who is not a client portal user. */
function asClient(ctx: RequestContext) {
  if (ctx.contactId === undefined || ctx.actor.type !== 'portal_user') throw new NotFoundError('Profile');
}

export function clientPortalRoutes(services: Services) {
  const deps = (): SignInDeps => ({
    db: services.db,
    sealer: services.sealer,
    senders: services.notifications.senders,
    publicUrl: services.config.PUBLIC_URL,
    sessionTtlHours: services.config.ONELINK_SESSION_TTL_HOURS,
  });
  const inviteDeps = (): InviteDeps => ({
    db: services.db,
    sealer: services.sealer,
    senders: services.notifications.senders,
    publicUrl: services.config.PUBLIC_URL,
    chatwootTimeoutMs: services.config.ONELINK_CHATWOOT_TIMEOUT_MS,
  });
  const staff = { permission: 'portal:manage', capability: 'portal.client' } as const;
  const client = { permission: 'client_portal:use', capability: 'portal.client' } as const;
  const signInLimit = services.config.ONELINK_SIGN_IN_ATTEMPTS_PER_MINUTE;
  const clientParams = z.object({ portalUserId: z.uuid() });

  return [
    // --- signing in ---
    defineRoute({
      method: 'post',
      path: '/portal/client/sign-in',
      summary: 'Ask for a sign-in code and link for the client portal (by e-mail or SMS); always 202, whether or not the person exists',
      tags: ['portal'],
      access: { public: true },
      rateLimitPerMinute: signInLimit,
      successStatus: 202,
      body: z.object({ account: accountId, email: email.optional(), phone: phone.optional() }).refine(oneAddress, oneAddressIssue),
      handler: async ({ body, req, res }) => {
        const pending = await requestSignIn(deps(), 'client', identityOf(body), deviceOf(req), String(req.id));
        // Sent after the answer, so the answer's timing says as little as its content.
        if (pending) {
          void sendSignIn(deps(), pending)
            .then((result) => {
              if (result.outcome !== 'sent') req.log.warn({ portalUserId: pending.user.id, channel: pending.channel, outcome: result.outcome, reason: result.reason }, 'sign-in message not sent');
            })
            .catch((err: unknown) => req.log.error({ err, portalUserId: pending.user.id }, 'sign-in message failed'));
        }
        sendData(res, { accepted: true, message: 'If this address belongs to a client of this business, a code and a link are on their way; both work once, for 15 minutes' }, {}, 202);
      },
    }),
    defineRoute({
      method: 'post',
      path: '/portal/client/sessions',
      summary: 'Exchange a sign-in link token, or a code with the e-mail or phone it was sent to, for a client portal session on this device',
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
            ? await consumeMagicLink(services.db, body.token, services.config.ONELINK_SESSION_TTL_HOURS, String(req.id), { kind: 'client', device })
            : await exchangeCode(deps(), 'client', { ...identityOf({ account: body.account!, email: body.email, phone: body.phone }), code: body.code! }, device, String(req.id));
        setSessionCookie(res, session.token, session.expiresAt);
        const user = session.portalUser;
        sendData(res, { token: session.token, expires_at: session.expiresAt, portal_user: { id: user.id, kind: user.kind, name: user.name } }, {}, 201);
      },
    }),

    // --- staff ---
    defineRoute({
      method: 'post',
      path: '/portal/clients/invite',
      summary: "Invite a Chatwoot contact to the client portal: their account is made if they have none and a sign-in link is sent (by default in the contact's conversation)",
      tags: ['portal'],
      access: staff,
      body: z.object({
        chatwoot_contact_id: chatwootId,
        chatwoot_conversation_id: chatwootId.optional(),
        via: z.enum(['conversation', 'email', 'sms']).optional(),
      }),
      handler: async ({ ctx, body, req, res }) => {
        const { portal_user, sent } = await inviteClient(ctx, inviteDeps(), body, req.ip ?? null);
        if (sent.outcome !== 'sent') req.log.warn({ portalUserId: portal_user.id, via: sent.via, outcome: sent.outcome, reason: sent.reason }, 'portal invitation not sent');
        sendData(res, { portal_user, sent }, {}, 201);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/portal/clients/:portalUserId/sessions',
      summary: "A client's open portal sessions (device, last use, expiry)",
      tags: ['portal'],
      access: staff,
      params: clientParams,
      handler: async ({ ctx, params, res }) => sendData(res, await listClientSessions(ctx, params.portalUserId)),
    }),
    defineRoute({
      method: 'delete',
      path: '/portal/clients/:portalUserId/sessions/:sessionId',
      summary: "Sign a client's portal session out",
      tags: ['portal'],
      access: staff,
      params: clientParams.extend({ sessionId: z.uuid() }),
      successStatus: 200,
      handler: async ({ ctx, params, res }) => sendData(res, await revokeClientSession(ctx, params.portalUserId, params.sessionId)),
    }),

    // --- the client ---
    defineRoute({
      method: 'get',
      path: '/portal/client/profile',
      summary: 'Your details (name, e-mail, phone) and whether the last change reached the business',
      tags: ['portal'],
      access: client,
      handler: async ({ ctx, res }) => {
        asClient(ctx);
        sendData(res, await clientProfile(ctx));
      },
    }),
    defineRoute({
      method: 'put',
      path: '/portal/client/profile',
      summary: 'Change your name, e-mail or phone; the business sees the change on your contact',
      tags: ['portal'],
      access: client,
      body: z.object({
        name: text({ min: 1, max: 200 }).optional(),
        email: z.union([email, z.literal(''), z.null()]).optional(),
        phone: z.union([phone, z.literal(''), z.null()]).optional(),
      }),
      handler: async ({ ctx, body, res }) => {
        asClient(ctx);
        sendData(res, await updateClientProfile(ctx, body));
      },
    }),
  ];
}
