// Sign-in, the boot payload (/me), and the admin routes for people and tokens.
import { z } from 'zod';
import { sendData } from '../http/envelope.ts';
import { defineRoute } from '../http/registry.ts';
import { chatwootId, text, timestamp } from '../http/schemas.ts';
import type { Services } from '../services.ts';
import { bootPayload } from './boot.ts';
import { serviceScopes, type Permission } from './permissions.ts';
import { createServiceToken, listServiceTokens, revokeServiceToken } from './service-tokens.ts';
import { clearSessionCookie, setSessionCookie } from './session-cookie.ts';
import { signInWithChatwoot, signOut } from './sessions.ts';
import { listTeammates, listUsers, setDispatcher } from './users.ts';

const uuidParam = (name: string) => z.object({ [name]: z.uuid() });

export function authRoutes(services: Services) {
  return [
    defineRoute({
      method: 'post',
      path: '/auth/chatwoot',
      summary: 'Sign in as a Chatwoot agent with your Chatwoot access token (Profile settings → Access Token)',
      tags: ['auth'],
      access: { public: true },
      rateLimitPerMinute: services.config.ONELINK_SIGN_IN_ATTEMPTS_PER_MINUTE,
      body: z.object({
        access_token: z.string().min(8).max(512),
        chatwoot_url: z.url().optional().describe('Your Chatwoot address; optional when only one Chatwoot is connected'),
        account_id: chatwootId.optional().describe('Chatwoot account id; optional when you belong to one account'),
      }),
      response: z.object({ token: z.string(), expires_at: z.string(), account_id: z.number(), user_id: z.string() }),
      handler: async ({ body, req, res }) => {
        const result = await signInWithChatwoot(services.auth, {
          accessToken: body.access_token,
          chatwootUrl: body.chatwoot_url,
          chatwootAccountId: body.account_id,
          requestId: String(req.id),
        });
        setSessionCookie(res, result.token, result.expiresAt);
        sendData(res, { token: result.token, expires_at: result.expiresAt, account_id: result.account.account_id, user_id: result.user.id }, {}, 201);
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/auth/session',
      summary: 'Sign out: revoke the session token used for this request',
      tags: ['auth'],
      access: { permission: 'me:read', capability: null },
      successStatus: 200,
      handler: async ({ ctx, res }) => {
        if (ctx.actor.type === 'service') {
          sendData(res, { signed_out: false, reason: 'Service tokens are revoked by an admin' });
          return;
        }
        await signOut(ctx);
        clearSessionCookie(res);
        sendData(res, { signed_out: true });
      },
    }),
    defineRoute({
      method: 'get',
      path: '/me',
      summary: 'Boot payload: who you are, your account, role, permissions, capabilities and fields',
      tags: ['auth'],
      access: { permission: 'me:read', capability: null },
      handler: async ({ ctx, res }) => sendData(res, await bootPayload(ctx)),
    }),
    defineRoute({
      method: 'get',
      path: '/teammates',
      summary: 'The account’s active agents (id and name), to pick a deal owner or a task assignee',
      tags: ['auth'],
      access: { permission: 'deals:read', capability: null },
      handler: async ({ ctx, res }) => sendData(res, await listTeammates(ctx)),
    }),
    defineRoute({
      method: 'get',
      path: '/admin/users',
      summary: 'Agents known in this account, with their roles',
      tags: ['admin'],
      access: { permission: 'admin:roles', capability: null },
      handler: async ({ ctx, res }) => sendData(res, await listUsers(ctx)),
    }),
    defineRoute({
      method: 'put',
      path: '/admin/users/:userId/dispatcher',
      summary: 'Grant (true) or withdraw (false) the dispatcher role',
      tags: ['admin'],
      access: { permission: 'admin:roles', capability: null },
      params: uuidParam('userId'),
      body: z.object({ granted: z.boolean() }),
      handler: async ({ ctx, params, body, res }) => sendData(res, await setDispatcher(ctx, params.userId as string, body.granted)),
    }),
    defineRoute({
      method: 'get',
      path: '/admin/service-tokens',
      summary: 'Service tokens of this account (never the secret)',
      tags: ['admin'],
      access: { permission: 'admin:tokens', capability: null },
      handler: async ({ ctx, res }) => sendData(res, await listServiceTokens(ctx)),
    }),
    defineRoute({
      method: 'post',
      path: '/admin/service-tokens',
      summary: 'Create a scoped service token; the token is in this answer only',
      tags: ['admin'],
      access: { permission: 'admin:tokens', capability: null },
      body: z.object({
        name: text({ min: 1, max: 100 }),
        scopes: z.array(z.enum(serviceScopes as [Permission, ...Permission[]])).min(1),
        expires_at: timestamp.refine((d) => d.getTime() > Date.now(), 'must be in the future').optional(),
      }),
      handler: async ({ ctx, body, res }) => sendData(res, await createServiceToken(ctx, body), {}, 201),
    }),
    defineRoute({
      method: 'delete',
      path: '/admin/service-tokens/:tokenId',
      summary: 'Revoke a service token',
      tags: ['admin'],
      access: { permission: 'admin:tokens', capability: null },
      params: uuidParam('tokenId'),
      successStatus: 200,
      handler: async ({ ctx, params, res }) => sendData(res, await revokeServiceToken(ctx, params.tokenId as string)),
    }),
  ];
}
