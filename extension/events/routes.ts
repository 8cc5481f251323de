// Server-sent events for the apps: `POST /events/token` (signed in) hands out a one-hour stream
// token — EventSource cannot send our CSRF header, so the stream cannot use the session cookie —
// and `GET /events/stream?token=` sends `change` whenever the account changes. A portal user's
// token also names the person, and their stream also sends `portal` with that person's own
// events (portal-feed.ts) — never anyone else's.
import type { Response } from 'express';
import { z } from 'zod';
import { sendData, sendError } from '../http/envelope.ts';
import { read } from '../db/tenant.ts';
import { defineRoute } from '../http/registry.ts';
import type { Services } from '../services.ts';
import { changeFeed } from './changes.ts';

const tokenMinutes = 60;
const heartbeatMs = 25_000;
const recheckMs = 5 * 60_000;
const open = new Set<Response>();

/** Ends every open stream (on shutdown, so a drain does not wait for them); clients reconnect elsewhere. */
export function endAllStreams() {
  for (const res of open) res.end();
  open.clear();
}

/** Whether the portal user's session behind a stream token is still live and the person still active. */
async function stillSignedIn(services: Services, person: { accountId: number; portalUserId: string; sessionId: string | number | undefined }) {
  if (typeof person.sessionId !== 'string') return false;
  const row = await read({ db: services.db, accountId: person.accountId }, (trx) =>
    trx('sessions as s')
      .join('portal_users as u', (j) => j.on('u.account_id', 's.account_id').andOn('u.id', 's.subject_id'))
      .where({ 's.account_id': person.accountId, 's.id': person.sessionId, 's.subject_type': 'portal_user', 's.subject_id': person.portalUserId, 'u.active': true })
      .whereNull('s.revoked_at')
      .where('s.expires_at', '>', trx.fn.now())
      .first('s.id'),
  );
  return Boolean(row);
}

export function eventRoutes(services: Services) {
  const connection = (services.db.client.config as { connection: { connectionString: string } }).connection.connectionString;
  const feed = changeFeed(connection);
  // A stream that can no longer hear anything ends, so its page reconnects (and refetches).
  feed.onLost(endAllStreams);
  return [
    defineRoute({
      method: 'post',
      path: '/events/token',
      summary: 'A one-hour token for the account’s change stream (for a portal user, also their own events)',
      tags: ['events'],
      access: { permission: 'me:read', capability: null },
      handler: ({ ctx, res }) => {
        const expires = new Date(Date.now() + tokenMinutes * 60_000);
        // The person is named only for portal users: staff streams carry account changes alone.
        const claims: Record<string, string | number> = { k: 'events', a: ctx.accountId };
        if (ctx.actor.type === 'portal_user') {
          claims.p = ctx.actor.id;
          // The stream lives no longer than the session: signed out (or everywhere), it stops.
          if (ctx.sessionId) claims.s = ctx.sessionId;
        }
        sendData(res, { token: services.urlSigner.sign(claims, expires), expires_at: expires }, {}, 201);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/events/stream',
      summary: 'Server-sent events: `change` whenever something in the account changes (refresh what you show); for a portal user also `portal` with their own events',
      tags: ['events'],
      access: { public: true },
      rateLimitPerMinute: 120,
      produces: 'text/event-stream',
      query: z.object({ token: z.string().min(10).max(1000) }),
      handler: async ({ query, req, res }) => {
        const claims = services.urlSigner.verify(query.token);
        if (!claims || claims.k !== 'events' || typeof claims.a !== 'number') {
          sendError(res, 401, 'unauthorized', 'This stream token is invalid or has expired');
          return;
        }
        const person = typeof claims.p === 'string' ? { accountId: claims.a, portalUserId: claims.p, sessionId: claims.s } : null;
        if (person && !(await stillSignedIn(services, person))) {
          sendError(res, 401, 'unauthorized', 'This portal session was signed out; sign in again');
          return;
        }
        res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache, no-transform', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
        res.write('retry: 5000\nevent: ready\ndata: {}\n\n');
        open.add(res);
        const unsubscribeChanges = feed.subscribe(claims.a, () => res.write('event: change\ndata: {}\n\n'));
        const unsubscribePortal =
          typeof claims.p === 'string' ? feed.subscribePortal(claims.a, claims.p, (event) => res.write(`event: portal\ndata: ${JSON.stringify(event)}\n\n`)) : () => undefined;
        const heartbeat = setInterval(() => res.write(': still here\n\n'), heartbeatMs);
        // A person signed out elsewhere (or switched off) stops hearing within minutes; the page's
        // reconnect then meets the 401 above.
        const recheck = person
          ? setInterval(() => void stillSignedIn(services, person).then((yes) => yes || res.end(), () => undefined), recheckMs)
          : undefined;
        const expiry = setTimeout(() => res.end(), Math.max(0, Number(claims.exp) * 1000 - Date.now()));
        req.on('close', () => {
          unsubscribeChanges();
          unsubscribePortal();
          clearInterval(heartbeat);
          clearInterval(recheck);
          clearTimeout(expiry);
          open.delete(res);
        });
      },
    }),
  ];
}
