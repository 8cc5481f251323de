// Server-sent events for the apps: `POST /events/token` (signed in) hands out a one-hour stream
// token — EventSource cannot send our CSRF header, so the stream cannot use the session cookie —
// and `GET /events/stream?token=` sends `change` whenever the account changes.
import type { Response } from 'express';
import { z } from 'zod';
import { sendData, sendError } from '../http/envelope.ts';
import { defineRoute } from '../http/registry.ts';
import type { Services } from '../services.ts';
import { changeFeed } from './changes.ts';

const tokenMinutes = 60;
const heartbeatMs = 25_000;
const open = new Set<Response>();

/** Ends every open stream (on shutdown, so a drain does not wait for them); clients reconnect elsewhere. */
export function endAllStreams() {
  for (const res of open) res.end();
  open.clear();
}

export function eventRoutes(services: Services) {
  const connection = (services.db.client.config as { connection: { connectionString: string } }).connection.connectionString;
  const feed = changeFeed(connection);
  return [
    defineRoute({
      method: 'post',
      path: '/events/token',
      summary: 'A one-hour token for the account’s change stream',
      tags: ['events'],
      access: { permission: 'me:read', capability: null },
      handler: ({ ctx, res }) => {
        const expires = new Date(Date.now() + tokenMinutes * 60_000);
        sendData(res, { token: services.urlSigner.sign({ k: 'events', a: ctx.accountId }, expires), expires_at: expires }, {}, 201);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/events/stream',
      summary: 'Server-sent events: `change` whenever something in the account changes (refresh what you show)',
      tags: ['events'],
      access: { public: true },
      rateLimitPerMinute: 120,
      produces: 'text/event-stream',
      query: z.object({ token: z.string().min(10).max(1000) }),
      handler: ({ query, req, res }) => {
        const claims = services.urlSigner.verify(query.token);
        if (!claims || claims.k !== 'events' || typeof claims.a !== 'number') {
          sendError(res, 401, 'unauthorized', 'This stream token is invalid or has expired');
          return;
        }
        res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache, no-transform', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
        res.write('retry: 5000\nevent: ready\ndata: {}\n\n');
        open.add(res);
        const unsubscribe = feed.subscribe(claims.a, () => res.write('event: change\ndata: {}\n\n'));
        const heartbeat = setInterval(() => res.write(': still here\n\n'), heartbeatMs);
        const expiry = setTimeout(() => res.end(), Math.max(0, Number(claims.exp) * 1000 - Date.now()));
        req.on('close', () => {
          unsubscribe();
          clearInterval(heartbeat);
          clearTimeout(expiry);
          open.delete(res);
        });
      },
    }),
  ];
}
