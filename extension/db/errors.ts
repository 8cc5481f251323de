// Postgres refusals turned into precise 4xx answers.
import { invalid, type FieldIssue } from '../http/errors.ts';

export const pgErrorCodes = { uniqueViolation: '23505', foreignKeyViolation: '23503', checkViolation: '23514' } as const;

export function pgErrorCode(err: unknown): string | undefined {
  return (err as { code?: string } | null)?.code;
}

/** The constraint a Postgres error names, e.g. deals_account_id_owner_id_foreign. */
export function pgConstraint(err: unknown): string | undefined {
  return (err as { constraint?: string } | null)?.constraint;
}

/**
 * Runs `work`; a foreign-key refusal whose constraint names one of `columns` becomes a 422 for
 * that field (e.g. an owner who is not an agent of this account).
 */
export async function withReferenceErrors<T>(work: () => Promise<T>, columns: Record<string, FieldIssue>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (pgErrorCode(err) === pgErrorCodes.foreignKeyViolation) {
      const column = Object.keys(columns).find((c) => pgConstraint(err)?.includes(c));
      if (column) throw invalid(columns[column]!.message, [columns[column]!]);
    }
    throw err;
  }
}
