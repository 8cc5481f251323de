// Errors with an HTTP status: what routes and middleware throw, and what domain errors
// (errors.ts, thrown by services) become. The error middleware turns them into the envelope.
import { ConflictError, ForbiddenByRuleError, InvalidFieldsError, NotAuthenticatedError, NotFoundError, RateLimitedError, UnprocessableError } from '../errors.ts';

export interface FieldIssue { path: string; message: string; code?: string }

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export const badRequest = (code: string, message: string, details?: unknown) => new HttpError(400, code, message, details);
export const unauthorized = (message = 'Authentication required') => new HttpError(401, 'unauthorized', message);
export const forbidden = (message = 'You do not have permission to do this') => new HttpError(403, 'forbidden', message);
/** Also used for "exists but is not yours", so ids never leak across tenants. */
export const notFound = (what = 'Resource') => new HttpError(404, 'not_found', `${what} not found`);
export const conflict = (code: string, message: string, details?: unknown) => new HttpError(409, code, message, details);

/** At most this many fields are named in a 422; the rest are counted (`details.more`). */
export const maxFieldIssues = 20;
const maxIssueMessage = 200;

/**
 * A 422 naming the bad fields, kept small whatever the request: the first `maxFieldIssues`
 * fields with short messages, and how many more there were. A large array of bad items
 * thus answers in a few KB, not one issue (listing every allowed value) per element.
 */
export function invalid(message: string, fields: FieldIssue[]) {
  const seen = new Set<string>();
  const listed: FieldIssue[] = [];
  for (const field of fields) {
    // One issue per field: its first is the one to fix (a malformed date need not also be out of range).
    if (seen.has(field.path)) continue;
    seen.add(field.path);
    if (listed.length < maxFieldIssues) {
      const short = field.message.length > maxIssueMessage ? `${field.message.slice(0, maxIssueMessage - 1)}…` : field.message;
      listed.push({ ...field, path: field.path.slice(0, 300), message: short });
    }
  }
  const more = fields.length - listed.length;
  return new HttpError(422, 'validation_failed', message, more > 0 ? { fields: listed, more } : { fields: listed });
}

/**
 * The HTTP answer to a domain error (errors.ts): services name fields, requests carry them in
 * the body, so an invalid field `currency` is reported at `body.currency`. Undefined for
 * anything that is not a domain error.
 */
export function httpErrorFrom(err: unknown): HttpError | undefined {
  if (err instanceof InvalidFieldsError) {
    return invalid(err.message, err.fields.map(({ field, ...rest }) => ({ path: field ? `body.${field}` : 'body', ...rest })));
  }
  if (err instanceof NotFoundError) return notFound(err.what);
  if (err instanceof ConflictError) return conflict(err.code, err.message, err.details);
  if (err instanceof UnprocessableError) return new HttpError(422, err.code, err.message, err.details);
  if (err instanceof ForbiddenByRuleError) return new HttpError(403, err.code, err.message);
  if (err instanceof RateLimitedError) return new HttpError(429, 'rate_limited', err.message);
  if (err instanceof NotAuthenticatedError) return unauthorized(err.message);
  return undefined;
}
