// Keyset pagination with an opaque cursor: stable under inserts, fast at any depth
// because it seeks on an index instead of counting past an OFFSET.
import type { Knex } from 'knex';
import { z } from 'zod';
import { badRequest } from './errors.ts';

export const maxPageSize = 200;

/** Query parameters every list route accepts. */
export const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(maxPageSize).default(50).describe(`Page size, 1 to ${maxPageSize}`),
  cursor: z.string().max(1024).optional().describe('Opaque cursor from the previous page’s meta.next_cursor'),
});

export function encodeCursor(values: unknown[]): string {
  return Buffer.from(JSON.stringify(values)).toString('base64url');
}

export function decodeCursor(cursor: string, length: number): Array<string | number> {
  try {
    const values: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      Array.isArray(values) &&
      values.length === length &&
      values.every((v) => typeof v === 'string' || typeof v === 'number')
    ) {
      return values as Array<string | number>;
    }
  } catch {
    // fall through to the error below
  }
  throw badRequest('invalid_cursor', 'The cursor is not valid for this list; start again without it');
}

export interface KeysetOptions {
  /** Columns to order by, all in the same direction, the last one unique (e.g. id). */
  keys: string[];
  direction?: 'asc' | 'desc';
  limit: number;
  cursor?: string;
  /** Row property holding each key's value, when it differs from the column name. */
  keyOf?: (row: Record<string, unknown>, key: string) => unknown;
}

export interface Page<T> { items: T[]; nextCursor: string | null }

/** Runs `query` one page at a time, ordered by `keys`, continuing after `cursor`. */
export async function paginate<T extends object>(
  query: Knex.QueryBuilder,
  { keys, direction = 'asc', limit, cursor, keyOf = (row, key) => row[key.split('.').pop()!] }: KeysetOptions,
): Promise<Page<T>> {
  if (cursor) {
    const after = decodeCursor(cursor, keys.length);
    const columns = keys.map(() => '??').join(', ');
    const values = keys.map(() => '?').join(', ');
    query.whereRaw(`(${columns}) ${direction === 'asc' ? '>' : '<'} (${values})`, [...keys, ...after]);
  }
  for (const key of keys) query.orderBy(key, direction);
  const rows = (await query.limit(limit + 1)) as T[];
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  const nextCursor =
    rows.length > limit && last ? encodeCursor(keys.map((key) => normaliseKey(keyOf(last as Record<string, unknown>, key)))) : null;
  return { items, nextCursor };
}

function normaliseKey(value: unknown): string | number {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'number' || typeof value === 'string') return value;
  return String(value);
}
