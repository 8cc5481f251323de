// Reading Postgres refusals (a unique or foreign-key violation) by their codes and constraints;
// errors.ts (withReferenceFields) turns the foreign-key ones into invalid fields.

export const pgErrorCodes = { uniqueViolation: '23505', foreignKeyViolation: '23503', checkViolation: '23514' } as const;

export function pgErrorCode(err: unknown): string | undefined {
  return (err as { code?: string } | null)?.code;
}

/** The constraint a Postgres error names, e.g. deals_account_id_owner_id_foreign. */
export function pgConstraint(err: unknown): string | undefined {
  return (err as { constraint?: string } | null)?.constraint;
}

/** Postgres codes of a server shutting down or not accepting connections yet, and of a broken connection (class 08). */
const unavailableCodes = new Set(['57P01', '57P02', '57P03', '08000', '08001', '08003', '08004', '08006', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE']);

/**
 * Whether `err` says the database cannot be reached right now (restarting, refusing, the pool timed
 * out waiting for a connection): the request may succeed in a moment, so the answer is a 503, never
 * a 4xx that would make a sender give up on something it should send again.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const { code, name, message } = err as { code?: unknown; name?: unknown; message?: unknown };
  if (typeof code === 'string' && unavailableCodes.has(code)) return true;
  if (name === 'KnexTimeoutError') return true;
  return typeof message === 'string' && /Connection terminated|Client has encountered a connection error/.test(message);
}
