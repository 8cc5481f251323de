// Every API route is declared here as data: method, path, zod schemas, who may call it,
// and the handler. Express routing, input validation and the OpenAPI document are all
// derived from the same declarations, so a route cannot be served without being described.
import type { Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import { invalid, type FieldIssue } from './errors.ts';

export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** Who may call a route. Later issues add permission and capability requirements. */
export type Access = { public: true };

export interface RouteInput<P, Q, B> { params: P; query: Q; body: B; req: Request; res: Response }

export interface RouteDefinition<
  P extends z.ZodType = z.ZodType,
  Q extends z.ZodType = z.ZodType,
  B extends z.ZodType = z.ZodType,
> {
  method: Method;
  /** Express-style path under `prefix`, e.g. `/deals/:dealId`. */
  path: string;
  /** Mount point; everything is under /api/v1 except probes such as /health. */
  prefix?: '/api/v1' | '';
  /** For answers that are not the JSON envelope (e.g. the HTML API reference). */
  produces?: 'text/html';
  summary: string;
  tags: string[];
  access: Access;
  params?: P;
  query?: Q;
  body?: B;
  /** Schema of `data` in a 2xx answer (documentation only). */
  response?: z.ZodType;
  successStatus?: number;
  handler: (input: RouteInput<z.output<P>, z.output<Q>, z.output<B>>) => Promise<void> | void;
}

export type AnyRoute = RouteDefinition<z.ZodType, z.ZodType, z.ZodType>;

export function defineRoute<P extends z.ZodType = z.ZodObject, Q extends z.ZodType = z.ZodObject, B extends z.ZodType = z.ZodObject>(
  route: RouteDefinition<P, Q, B>,
): AnyRoute {
  if (!route.access) throw new Error(`Route ${route.method.toUpperCase()} ${route.path} declares no access rule`);
  return route as unknown as AnyRoute;
}

function fieldIssues(where: string, error: z.ZodError): FieldIssue[] {
  return error.issues.map((issue) => ({
    path: [where, ...issue.path.map(String)].join('.'),
    message: issue.message,
    code: issue.code,
  }));
}

/** Parses params, query and body, answering 422 with every failing field at once. */
export function toExpressHandler(route: AnyRoute): RequestHandler {
  return async (req, res) => {
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
    const body = parse('body', route.body, req.body);
    if (issues.length) throw invalid('The request is not valid', issues);
    await route.handler({ params, query, body, req, res });
  };
}
