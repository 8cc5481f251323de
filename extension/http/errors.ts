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
export const invalid = (message: string, fields: FieldIssue[]) => new HttpError(422, 'validation_failed', message, { fields });
