// Postgres error codes we turn into precise 4xx answers.
export const pgErrorCodes = { uniqueViolation: '23505', foreignKeyViolation: '23503', checkViolation: '23514' } as const;

export function pgErrorCode(err: unknown): string | undefined {
  return (err as { code?: string } | null)?.code;
}

/** The constraint a Postgres error names, e.g. deals_account_id_owner_id_foreign. */
export function pgConstraint(err: unknown): string | undefined {
  return (err as { constraint?: string } | null)?.constraint;
}
