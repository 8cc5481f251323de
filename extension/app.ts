// Builds the Express app from its parts. The server and the tests both call createApp.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type ErrorRequestHandler, type Express } from 'express';
import { pinoHttp } from 'pino-http';
import { z } from 'zod';
import { auditRoutes } from './audit/routes.ts';
import { authRoutes } from './auth/routes.ts';
import { appRequestHeader, sessionCookie } from './auth/session-cookie.ts';
import { authenticate } from './auth/sessions.ts';
import cookieParser from 'cookie-parser';
import { capabilityRoutes } from './capabilities/routes.ts';
import { eventRoutes } from './events/routes.ts';
import { healthRoutes } from './health/routes.ts';
import { renderApiReference } from './http/api-reference.ts';
import { sendError } from './http/envelope.ts';
import { HttpError, httpErrorFrom } from './http/errors.ts';
import { isDatabaseUnavailable } from './db/errors.ts';
import { buildOpenApi } from './http/openapi.ts';
import { defineRoute, toExpressHandlers, type AnyRoute, type Authenticate, type RateLimits } from './http/registry.ts';
import { postgresRateLimitStores } from './http/rate-limit-store.ts';
import { requestIdFor } from './http/request-id.ts';
import type { Logger } from './logger.ts';
import { dealRoutes } from './modules/deals/routes.ts';
import { pipelineRoutes } from './modules/pipelines/routes.ts';
import { taskRoutes } from './modules/tasks/routes.ts';
import { artifactRoutes } from './modules/artifacts/routes.ts';
import { callRoutes } from './modules/calls/routes.ts';
import { automationRoutes } from './modules/automation/routes.ts';
import { registerAutomation } from './modules/automation/service.ts';
import { jobRoutes } from './modules/jobs/routes.ts';
import { offerRoutes } from './modules/offers/routes.ts';
import { vendorRoutes } from './modules/vendors/routes.ts';
import { viewRoutes } from './modules/views/routes.ts';
import { timelineRoutes } from './modules/timeline/routes.ts';
import { reportRoutes } from './modules/reports/routes.ts';
import { sidebarRoutes } from './modules/sidebar/routes.ts';
import { systemRoutes } from './modules/system/routes.ts';
import { portalRoutes } from './portal/routes.ts';
import { privacyRoutes } from './privacy/routes.ts';
import { notificationRoutes } from './notifications/routes.ts';
import { pushRoutes } from './notifications/push-routes.ts';
import { chatwootWebhookRoutes } from '../webhooks/chatwoot/routes.ts';
import { webhookAdminRoutes } from '../webhooks/chatwoot/admin-routes.ts';
import { twilioWebhookRoutes } from '../webhooks/twilio/routes.ts';
import { vendorMessageRoutes } from './vendor-messages/routes.ts';
import { clientPortalRoutes } from './portal/client-routes.ts';
import { clientMessageRoutes } from './client-messages/routes.ts';
import { clientJobRoutes } from './portal/client-jobs.ts';
import { quoteRoutes } from './modules/quotes/routes.ts';
import { uploadRoutes, uploadsPath } from './uploads/routes.ts';
import type { Services } from './services.ts';

// The repository's root: one folder up from extension/, or two from the built server (dist/server/server.mjs).
export const rootDir = fileURLToPath(new URL(import.meta.url.endsWith('.mjs') ? '../..' : '..', import.meta.url));
export const webDir = path.join(rootDir, 'dist', 'web');
export const version = (JSON.parse(fs.readFileSync(path.join(rootDir, 'package.json'), 'utf8')) as { version: string }).version;

export interface AppDeps {
  services: Services;
  logger: Logger;
  databaseMode: 'embedded' | 'external';
  /** Extra routes (tests use this to exercise the HTTP conventions). */
  extraRoutes?: AnyRoute[];
}

export function createApp({ services, logger, databaseMode, extraRoutes = [] }: AppDeps): Express {
  const { config, db } = services;
  registerAutomation();
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback, linklocal, uniquelocal');
  app.set('query parser', 'extended');

  app.use(
    pinoHttp({
      logger,
      genReqId: requestIdFor,
      customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info'),
      // Probes and webhooks are high-volume; webhooks leave their own record (webhook_deliveries).
      autoLogging: { ignore: (req) => (req.url?.startsWith('/health/') || req.url?.startsWith('/webhooks/')) ?? false },
    }),
  );
  app.use((_req, res, next) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'strict-origin-when-cross-origin');
    next();
  });

  const health = healthRoutes({ knex: db, schema: config.ONELINK_DB_SCHEMA, version, publicUrl: config.PUBLIC_URL, databaseMode });
  if (!config.servesApi) return healthChecksOnly(app, health, config.ONELINK_BODY_LIMIT_KB);

  const routes: AnyRoute[] = [
    ...health,
    ...authRoutes(services),
    ...capabilityRoutes(),
    ...auditRoutes(),
    ...portalRoutes(services),
    ...notificationRoutes(services),
    ...pushRoutes(services.notifications.vapidPublicKey),
    ...pipelineRoutes(),
    ...dealRoutes(),
    ...taskRoutes(),
    ...jobRoutes(services),
    ...offerRoutes(),
    ...vendorMessageRoutes(services),
    ...clientPortalRoutes(services),
    ...clientMessageRoutes(services),
    ...clientJobRoutes(services),
    ...quoteRoutes(services),
    ...artifactRoutes(services),
    ...vendorRoutes(),
    ...automationRoutes(),
    ...callRoutes(services),
    ...eventRoutes(services),
    ...timelineRoutes(),
    ...sidebarRoutes(),
    ...reportRoutes(),
    ...viewRoutes(),
    ...systemRoutes(),
    ...privacyRoutes(services),
    ...webhookAdminRoutes(services),
    ...chatwootWebhookRoutes(services),
    ...twilioWebhookRoutes(services),
    ...extraRoutes,
  ];
  const openApi = () => buildOpenApi(routes, { version, serverUrl: config.PUBLIC_URL });
  routes.push(
    defineRoute({
      method: 'get',
      path: '/openapi.json',
      summary: 'This API described as an OpenAPI 3.1 document',
      tags: ['meta'],
      access: { public: true },
      response: z.record(z.string(), z.unknown()),
      handler: ({ res }) => {
        res.json(openApi());
      },
    }),
    defineRoute({
      method: 'get',
      path: '/docs',
      summary: 'Human-readable API reference',
      tags: ['meta'],
      access: { public: true },
      produces: 'text/html',
      handler: ({ res }) => {
        res.type('html').send(renderApiReference(openApi()));
      },
    }),
  );

  const api = express.Router();
  api.use(express.json({ limit: `${config.ONELINK_BODY_LIMIT_KB}kb` }));
  api.use(cookieParser());
  const root = express.Router();
  const authenticateRequest = (req: express.Request) =>
    authenticate(
      services.auth,
      { authorization: req.headers.authorization, cookie: req.cookies?.[sessionCookie], requestedWith: req.get(appRequestHeader) },
      String(req.id),
    );
  const rateLimits: RateLimits = { stores: postgresRateLimitStores(db), logger };
  for (const route of routes) {
    (route.prefix === '' ? root : api)[route.method](route.path, ...toExpressHandlers(route, authenticateRequest, config.ONELINK_BODY_LIMIT_KB, rateLimits));
  }
  app.locals.routes = routes;
  // tus reads the raw request body itself: mounted ahead of the API router and its body parser.
  const uploads = uploadRoutes(services, authenticateRequest, { logger });
  app.use(uploadsPath, uploads);
  // Background work the app started (the uploads sweep): the server stops it on shutdown.
  app.locals.stopBackground = () => uploads.stop();
  app.use('/api/v1', api);
  app.use(root);
  app.use('/api', (_req, res) => sendError(res, 404, 'route_not_found', 'No such API route'));

  const frameAncestors = framingPolicy(services);
  app.use(async (req, res, next) => {
    // Our pages are embedded by Chatwoot (dashboard apps): only connected installations may frame them.
    if (req.method === 'GET' && (req.path.endsWith('/') || req.path.endsWith('.html'))) {
      res.setHeader('Content-Security-Policy', await frameAncestors());
    }
    next();
  });
  // The dev host page stands in for Chatwoot; a production server does not offer it.
  if (config.NODE_ENV === 'production') app.use('/dev', (_req, res) => sendError(res, 404, 'route_not_found', 'Not found'));
  app.use(express.static(webDir, { index: 'index.html', maxAge: '1h', setHeaders: noCacheForHtml }));
  // The portals route in the browser (/portal/vendor/jobs/…, /portal/client/jobs/…): any such address that is not a
  // file gets its portal's page (a page, not an API route: middleware, so the API's route list and OpenAPI document
  // stay the API's).
  app.use(async (req, res, next) => {
    const portal = /^\/portal\/(vendor|client)\/[^.]*$/.exec(req.path)?.[1];
    if ((req.method !== 'GET' && req.method !== 'HEAD') || !portal) return next();
    res.setHeader('Content-Security-Policy', await frameAncestors());
    res.sendFile(path.join(webDir, 'portal', portal, 'index.html'), { headers: { 'Cache-Control': 'no-cache' } }, (err) => err && next());
  });
  app.use((_req, res) => sendError(res, 404, 'route_not_found', 'Not found'));
  app.use(errorHandler);
  return app;
}

/**
 * A worker-only process (ONELINK_WORKER=only) listens for its container's health checks alone:
 * /health/live and /health/ready; everything else is a 404. It serves no API and no pages, so it
 * needs no built web assets, opens no event streams and keeps no uploads.
 */
function healthChecksOnly(app: Express, health: AnyRoute[], bodyLimitKb: number): Express {
  const probes = health.filter((route) => route.prefix === '');
  const noCaller: Authenticate = async () => {
    throw new HttpError(401, 'unauthorized', 'Authentication required');
  };
  for (const route of probes) app[route.method](route.path, ...toExpressHandlers(route, noCaller, bodyLimitKb));
  app.locals.routes = probes;
  app.locals.stopBackground = () => undefined;
  app.use((_req, res) => sendError(res, 404, 'route_not_found', 'Not found'));
  app.use(errorHandler);
  return app;
}

/** CSP for our pages, naming the connected Chatwoot origins allowed to frame them (read per page load). */
function framingPolicy({ db }: Services) {
  return async () => {
    const rows: Array<{ base_url: string }> = await db('installations').select('base_url').catch(() => []);
    const origins = [...new Set(rows.map((r) => new URL(r.base_url).origin))];
    return [
      "default-src 'self'",
      // Agents' attachments in the vendor portal's threads are Chatwoot's own links.
      `img-src 'self' data: blob: ${origins.join(' ')}`.trim(),
      "style-src 'self' 'unsafe-inline'",
      "connect-src 'self'",
      "object-src 'none'",
      "base-uri 'self'",
      `frame-ancestors 'self' ${origins.join(' ')}`.trim(),
    ].join('; ');
  };
}

function noCacheForHtml(res: express.Response, file: string) {
  // HTML names its hashed assets, so it must be revalidated to pick up a new build.
  // The service worker script likewise: a stale one would keep serving an old portal.
  if (file.endsWith('.html') || file.endsWith(`${path.sep}sw.js`)) res.setHeader('Cache-Control', 'no-cache');
}

const errorHandler: ErrorRequestHandler = (err, req, res, _next) => {
  if (res.headersSent) {
    req.log.error({ err }, 'error after response started');
    res.end();
    return;
  }
  // Services throw domain errors (errors.ts); their HTTP answer is decided here.
  const known = err instanceof HttpError ? err : httpErrorFrom(err);
  if (known) {
    sendError(res, known.status, known.code, known.message, known.details);
    return;
  }
  // Errors raised by body-parser carry a `type` and an HTTP status.
  const bodyError = err as { type?: string; status?: number; limit?: number };
  switch (bodyError.type) {
    case 'entity.parse.failed':
      sendError(res, 400, 'malformed_json', 'The request body is not valid JSON');
      return;
    case 'entity.too.large':
      sendError(res, 413, 'payload_too_large', `The request body is larger than ${bodyError.limit} bytes`);
      return;
    case 'encoding.unsupported':
    case 'charset.unsupported':
      sendError(res, 415, 'unsupported_encoding', 'The request body encoding is not supported');
      return;
  }
  if (typeof bodyError.status === 'number' && bodyError.status >= 400 && bodyError.status < 500) {
    sendError(res, bodyError.status, 'bad_request', 'The request could not be processed');
    return;
  }
  if (isDatabaseUnavailable(err)) {
    req.log.error({ err }, 'database unavailable');
    res.setHeader('Retry-After', '5');
    sendError(res, 503, 'database_unavailable', 'The database cannot be reached right now; try again in a few seconds');
    return;
  }
  req.log.error({ err }, 'unhandled error');
  sendError(res, 500, 'internal_error', 'Something went wrong on our side; the request id identifies it in the logs');
};
