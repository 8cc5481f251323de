// Domain errors: what a service says when it refuses, in its own words. Services know fields by
// name, not where a request carried them; the HTTP layer (http/errors.ts, httpErrorFrom) turns
// each kind into its status and envelope, e.g. an invalid field `currency` into a 422 naming
// `body.currency`. Other adapters (queue processors, the CLI) may read them just as well.

/** One field that cannot be taken as given: its name in the input, why, and a stable code. */
export interface FieldProblem { field: string; message: string; code?: string }

export abstract class DomainError extends Error {}

/** Input that breaks a rule of the domain (a 422 naming the fields over HTTP). */
export class InvalidFieldsError extends DomainError {
  constructor(
    message: string,
    readonly fields: FieldProblem[],
  ) {
    super(message);
  }
}

/** Shorthand for the usual case of one bad field. */
export const invalidField = (field: string, message: string, code: string, summary = message) => new InvalidFieldsError(summary, [{ field, message, code }]);

/** Input the domain cannot act on as a whole, with a code of its own (a 422 with that code). */
export class UnprocessableError extends DomainError {
  constructor(
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

/** The thing is not there, or not visible to this caller: ids never leak across tenants. */
export class NotFoundError extends DomainError {
  constructor(readonly what = 'Resource') {
    super(`${what} not found`);
  }
}

/** The request clashes with the current state (a stale version, a move the state machine forbids). */
export class ConflictError extends DomainError {
  constructor(
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

/** Too many of something in the rule's window, e.g. sign-in links for one portal user (a 429 over HTTP). */
export class RateLimitedError extends DomainError {}

/** A credential the domain was handed (a sign-in link, a token) proves nothing: unknown, expired or used (a 401 over HTTP). */
export class NotAuthenticatedError extends DomainError {}

/** A rule of the domain forbids this caller the action (not a missing permission: the route checks those). */
export class ForbiddenByRuleError extends DomainError {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const foreignKeyViolation = '23503';

/**
 * Runs `work`; a foreign-key refusal whose constraint names one of `columns` becomes an invalid
 * field (e.g. an owner who is not an agent of this account).
 */
export async function withReferenceFields<T>(work: () => Promise<T>, columns: Record<string, FieldProblem>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    const { code, constraint } = (err ?? {}) as { code?: string; constraint?: string };
    if (code === foreignKeyViolation) {
      const column = Object.keys(columns).find((c) => constraint?.includes(c));
      if (column) throw new InvalidFieldsError(columns[column]!.message, [columns[column]!]);
    }
    throw err;
  }
}
