// A 422's field problems, by field name (the server names them `body.<field>`), for forms that
// show each problem at its field; anything else is one message for the form.
import { ApiError } from './api.ts';

export function fieldErrors(err: unknown): Record<string, string> {
  if (!(err instanceof ApiError) || err.status !== 422) return {};
  const fields = (err.details as { fields?: Array<{ path: string; message: string }> } | null)?.fields ?? [];
  return Object.fromEntries(fields.map((f) => [f.path.replace(/^(body|query)\./, ''), f.message]));
}
