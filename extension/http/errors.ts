// The small set of errors services throw; the error middleware maps them to the envelope.
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
