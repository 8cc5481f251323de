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
