// Builds the Express app from its parts. The server and the tests both call createApp.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type ErrorRequestHandler, type Express } from 'express';
import type { Knex } from 'knex';
import { pinoHttp } from 'pino-http';
import { z } from 'zod';
import type { Config } from './config.ts';
import { healthRoutes } from './health/routes.ts';
import { renderApiReference } from './http/api-reference.ts';
import { sendError } from './http/envelope.ts';
import { HttpError } from './http/errors.ts';
import { buildOpenApi } from './http/openapi.ts';
import { defineRoute, toExpressHandler, type AnyRoute } from './http/registry.ts';
import { requestIdFor } from './http/request-id.ts';
import type { Logger } from './logger.ts';

export const rootDir = fileURLToPath(new URL('..', import.meta.url));
export const webDir = path.join(rootDir, 'dist', 'web');
export const version = (JSON.parse(fs.readFileSync(path.join(rootDir, 'package.json'), 'utf8')) as { version: string }).version;

export interface AppDeps {
  config: Config;
  knex: Knex;
  logger: Logger;
  databaseMode: 'embedded' | 'external';
  /** Extra routes (tests use this to exercise the HTTP conventions). */
  extraRoutes?: AnyRoute[];
}

export function createApp({ config, knex, logger, databaseMode, extraRoutes = [] }: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback, linklocal, uniquelocal');
  app.set('query parser', 'extended');

  app.use(
    pinoHttp({
      logger,
      genReqId: requestIdFor,
      customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info'),
      autoLogging: { ignore: (req) => req.url?.startsWith('/health/') ?? false },
    }),
  );
  app.use((_req, res, next) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'strict-origin-when-cross-origin');
    next();
  });

  const routes: AnyRoute[] = [...healthRoutes({ knex, schema: config.ONELINK_DB_SCHEMA, version, publicUrl: config.PUBLIC_URL, databaseMode }), ...extraRoutes];
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
  const root = express.Router();
  for (const route of routes) {
    (route.prefix === '' ? root : api)[route.method](route.path, toExpressHandler(route));
  }
  app.use('/api/v1', api);
  app.use(root);
  app.use('/api', (_req, res) => sendError(res, 404, 'route_not_found', 'No such API route'));

  app.use(express.static(webDir, { index: 'index.html', maxAge: '1h', setHeaders: noCacheForHtml }));
  app.use((_req, res) => sendError(res, 404, 'route_not_found', 'Not found'));
  app.use(errorHandler);
  return app;
}

function noCacheForHtml(res: express.Response, file: string) {
  // HTML names its hashed assets, so it must be revalidated to pick up a new build.
  if (file.endsWith('.html')) res.setHeader('Cache-Control', 'no-cache');
}

const errorHandler: ErrorRequestHandler = (err, req, res, _next) => {
  if (res.headersSent) {
    req.log.error({ err }, 'error after response started');
    res.end();
    return;
  }
  if (err instanceof HttpError) {
    sendError(res, err.status, err.code, err.message, err.details);
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
  req.log.error({ err }, 'unhandled error');
  sendError(res, 500, 'internal_error', 'Something went wrong on our side; the request id identifies it in the logs');
};
