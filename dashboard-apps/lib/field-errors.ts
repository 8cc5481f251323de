// A 422's field problems, by field name (the server names them `body.<field>`), for forms that
// show each problem at its field; anything else is one message for the form.
import { ApiError } from './api.ts';

export interface FieldProblem {
  field: string;
  message: string;
  /** The server's code for the rule broken, for forms that word it themselves. */
  code?: string;
}

/** Each field problem of a 422 (none for anything else). */
export function fieldProblems(err: unknown): FieldProblem[] {
  if (!(err instanceof ApiError) || err.status !== 422) return [];
  const fields = (err.details as { fields?: Array<{ path: string; message: string; code?: string }> } | null)?.fields ?? [];
  return fields.map((f) => ({ field: f.path.replace(/^(body|query)\./, ''), message: f.message, code: f.code }));
}

export function fieldErrors(err: unknown): Record<string, string> {
  return Object.fromEntries(fieldProblems(err).map((p) => [p.field, p.message]));
}
