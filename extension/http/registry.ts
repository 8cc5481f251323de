// Every API route is declared here as data: method, path, zod schemas, who may call it, and the
// handler. Express routing, authentication, the permission and capability checks, input
// validation and the OpenAPI document all derive from these declarations: a route that does not
// say which permission and which capability it needs cannot be registered.
import express, { type Request, type RequestHandler, type Response } from 'express';
import { rateLimit } from 'express-rate-limit';
import { z } from 'zod';
import type { Permission } from '../auth/permissions.ts';
import type { Capability } from '../capabilities/profiles.ts';
import type { RequestContext } from '../context.ts';
import { sendError } from './envelope.ts';
import type { RateLimitStores } from './rate-limit-store.ts';
import { HttpError, forbidden, invalid, maxFieldIssues, type FieldIssue } from './errors.ts';
import { badCharactersMessage, findBadText } from './schemas.ts';

export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

/**
 * Who may call a route: anyone (`public`), or a signed-in caller holding `permission` in an
 * account where `capability` is enabled (`null` when the route belongs to no optional capability).
 */
export type Access = { public: true } | { permission: Permission; capability: Capability | null };

export interface RouteInput<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  req: Request;
  res: Response;
  /** The caller's context; reading it in a public route is a programming error. */
  ctx: RequestContext;
}

export interface RouteDefinition<P extends z.ZodType = z.ZodType, Q extends z.ZodType = z.ZodType, B extends z.ZodType = z.ZodType> {
  method: Method;
  /** Express-style path under `prefix`, e.g. `/deals/:dealId`. */
  path: string;
  /** Mount point; everything is under /api/v1 except probes such as /health. */
  prefix?: '/api/v1' | '';
  /** For answers that are not the JSON envelope (e.g. the HTML API reference). */
  produces?: 'text/html' | 'text/csv' | 'text/event-stream';
  summary: string;
  tags: string[];
  access: Access;
  /** Requests per minute per client address, for unauthenticated entry points. */
  rateLimitPerMinute?: number;
  /** Count only refused requests (4xx/5xx) against the limit: for webhooks, whose senders are busy but rarely wrong. */
  rateLimitFailuresOnly?: boolean;
  /** The handler gets the body as raw bytes (webhooks verify signatures over them). */
  rawBody?: boolean;
  /** The route also takes multipart/form-data, which its handler reads from `req` (its `body` is then undefined); `body` describes the JSON form. */
  multipart?: boolean;
  params?: P;
  query?: Q;
  body?: B;
  /** Schema of `data` in a 2xx answer (documentation only). */
  response?: z.ZodType;
  successStatus?: number;
  handler: (input: RouteInput<z.output<P>, z.output<Q>, z.output<B>>) => Promise<void> | void;
}

export type AnyRoute = RouteDefinition<z.ZodType, z.ZodType, z.ZodType>;

export function isPublic(access: Access): access is { public: true } {
  return 'public' in access && access.public === true;
}

export function defineRoute<P extends z.ZodType = z.ZodObject, Q extends z.ZodType = z.ZodObject, B extends z.ZodType = z.ZodObject>(
  route: RouteDefinition<P, Q, B>,
): AnyRoute {
  const access = route.access as Partial<{ public: boolean; permission: unknown; capability: unknown }> | undefined;
  const declared = access && (access.public === true || (typeof access.permission === 'string' && access.capability !== undefined));
  if (!declared) {
    throw new Error(`Route ${route.method.toUpperCase()} ${route.path} must declare access: { public: true } or { permission, capability }`);
  }
  return route as unknown as AnyRoute;
}

/**
 * Strings Postgres cannot take (NUL, lone surrogates) anywhere in params, query or a JSON body,
 * keys included, as 422 issues: checked for every route before its own schemas, so no route can
 * forget it and no such string reaches a query, a jsonb column or a log.
 */
function badTextIssues(inputs: Array<[string, unknown]>): FieldIssue[] {
  const paths: string[] = [];
  for (const [where, value] of inputs) findBadText(value, where, maxFieldIssues, paths);
  return paths.map((path) => ({ path, message: badCharactersMessage, code: 'invalid_characters' }));
}

/** A request that carries a body (a length above zero, or chunked). */
const hasBody = (req: Request) => req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;

function fieldIssues(where: string, error: z.ZodError): FieldIssue[] {
  return error.issues.map((issue) => ({
    path: [where, ...issue.path.map(String)].join('.'),
    message: issue.message,
    code: issue.code,
  }));
}

export type Authenticate = (req: Request) => Promise<RequestContext>;

/** Where rate-limited routes keep their counts (shared by every replica) and where store failures are logged. */
export interface RateLimits {
  stores: RateLimitStores;
  logger: { warn(fields: object, message?: string): void; error(fields: object, message?: string): void };
}

/**
 * Express handlers for a route, in order: rate limit, authentication, permission, capability,
 * then the media type (415), NUL and lone surrogates anywhere (422), validation of params, query and
 * body (422 naming the failing fields, at most 20), then the handler.
 */
export function toExpressHandlers(route: AnyRoute, authenticate: Authenticate, bodyLimitKb: number, rateLimits?: RateLimits): RequestHandler[] {
  const handlers: RequestHandler[] = [];
  if (route.rawBody) handlers.push(express.raw({ type: () => true, limit: `${bodyLimitKb}kb` }));
  if (route.rateLimitPerMinute) {
    // Counted in Postgres so that replicas share one limit; an in-memory count would allow N× behind N replicas.
    if (!rateLimits) throw new Error(`Route ${route.method.toUpperCase()} ${route.path} is rate limited: pass the shared rate-limit stores`);
    const { logger } = rateLimits;
    handlers.push(
      rateLimit({
        windowMs: 60_000,
        limit: route.rateLimitPerMinute,
        skipSuccessfulRequests: route.rateLimitFailuresOnly ?? false,
        standardHeaders: 'draft-8',
        legacyHeaders: false,
        // Each entry point counts on its own: the limiter is named by method and full path.
        store: rateLimits.stores(`${route.method.toUpperCase()} ${route.prefix ?? '/api/v1'}${route.path}`),
        // Postgres down: let the request through; it needs the database too and answers its usual 5xx (rate-limit-store.ts).
        passOnStoreError: true,
        logger: { warn: (err, message) => logger.warn({ err }, message), error: (err, message) => logger.error({ err }, message) },
        handler: (_req, res) => sendError(res, 429, 'rate_limited', 'Too many attempts; wait a minute and try again'),
      }),
    );
  }
  handlers.push(async (req, res) => {
    let ctx: RequestContext | undefined;
    if (!isPublic(route.access)) {
      ctx = await authenticate(req);
      if (!ctx.permissions.has(route.access.permission)) {
        throw forbidden(`This needs the ${route.access.permission} permission, which your role does not have`);
      }
      if (route.access.capability && !ctx.capabilities.has(route.access.capability)) {
        throw new HttpError(403, 'capability_disabled', `${route.access.capability} is switched off for this account`);
      }
    }
    // A JSON route given another type would see no body at all and could "succeed" doing nothing.
    const multipart = Boolean(route.multipart && req.is('multipart/form-data'));
    if (route.body && !route.rawBody && !multipart && hasBody(req) && !req.is('application/json')) {
      throw new HttpError(415, 'unsupported_media_type', 'Send this request body as JSON (Content-Type: application/json)');
    }
    const badText = badTextIssues([
      ['params', req.params],
      ['query', req.query],
      ...(route.rawBody ? [] : ([['body', req.body]] as Array<[string, unknown]>)),
    ]);
    if (badText.length) throw invalid('The request contains characters that cannot be stored', badText);
    const issues: FieldIssue[] = [];
    const parse = (where: string, schema: z.ZodType | undefined, value: unknown) => {
      if (!schema) return undefined;
      const result = schema.safeParse(value ?? {});
      if (result.success) return result.data;
      issues.push(...fieldIssues(where, result.error));
      return undefined;
    };
    const params = parse('params', route.params, req.params);
    const query = parse('query', route.query, req.query);
    const body = route.rawBody ? req.body : multipart ? undefined : parse('body', route.body, req.body);
    if (issues.length) throw invalid('The request is not valid', issues);
    await route.handler({
      params,
      query,
      body,
      req,
      res,
      get ctx(): RequestContext {
        if (!ctx) throw new Error(`Public route ${route.path} has no caller context`);
        return ctx;
      },
    });
  });
  return handlers;
}
