// Which failures of a stored delivery no retry can fix. A delivery is retried with backoff
// because Chatwoot, the network or the database may be away for a while; but when the stored
// body itself is what fails — Postgres refuses one of its values, or it does not parse — the
// tenth attempt fails like the first. Such a delivery is parked at once as `failed`, with the
// reason, for an admin to look at (and replay once the code handles it).
import { ZodError } from 'zod';

/** Thrown by a processor for a delivery it can never process (say, a callback without its call's id). */
export class PermanentFailure extends Error {}

// Not here on purpose: a SyntaxError may as well come from reading an HTML error page a proxy
// sent instead of Chatwoot's JSON, which a retry does fix; parse stored bodies with zod (or throw
// PermanentFailure) to mark them.

/** SQLSTATEs caused by the values sent, not by the database's state. */
function permanentSqlState(code: string) {
  return (
    code.startsWith('22') || // data exception: NUL in text, bad jsonb, number or date out of range…
    code === '23502' || // not_null_violation
    code === '23514' || // check_violation
    code === '54000' // program_limit_exceeded (a value too big for an index row)
  );
}

/** The reason a failure is permanent, or null when a retry may succeed. */
export function permanentFailure(err: unknown): string | null {
  // Follow `cause` a few levels: wrappers keep the original error there.
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const error = e as { name?: string; code?: unknown; message?: string };
    if (e instanceof ZodError || error.name === 'ZodError' || error.name === '$ZodError') return `the stored body does not parse: ${error.message ?? ''}`;
    if (e instanceof PermanentFailure) return error.message ?? 'unprocessable';
    // pg's DatabaseError carries the five-character SQLSTATE in `code` (node's own errors use names like ECONNRESET).
    if (typeof error.code === 'string' && /^[0-9A-Z]{5}$/.test(error.code) && permanentSqlState(error.code)) {
      return `the database refuses a value (${error.code}): ${error.message ?? ''}`;
    }
  }
  return null;
}

export const isPermanentFailure = (err: unknown) => permanentFailure(err) !== null;
