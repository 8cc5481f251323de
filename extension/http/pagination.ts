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
  /**
   * What to order by, all in the same direction, the last one unique (e.g. id): column names
   * (`rank`, `deals.number`) or SQL expressions written in code (`coalesce(due_at, 'infinity')`).
   */
  keys: string[];
  direction?: 'asc' | 'desc';
  limit: number;
  cursor?: string;
}

export interface Page<T> { items: T[]; nextCursor: string | null }

const columnName = /^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$/;
/** A key as SQL: a column is quoted; an expression (code, never user input) is used as written. */
const keySql = (key: string) => (columnName.test(key) ? key.split('.').map((part) => `"${part}"`).join('.') : `(${key})`);
const cursorAlias = (index: number) => `__cursor_${index}`;

/**
 * Runs `query` one page at a time, ordered by `keys`, continuing after `cursor`. Each key's value
 * travels in the cursor as Postgres' own text of it, so timestamps keep their microseconds and a
 * page never skips or repeats a row.
 */
export async function paginate<T extends object>(query: Knex.QueryBuilder, { keys, direction = 'asc', limit, cursor }: KeysetOptions): Promise<Page<T>> {
  const sql = keys.map(keySql);
  if (cursor) {
    const after = decodeCursor(cursor, keys.length);
    query.whereRaw(`(${sql.join(', ')}) ${direction === 'asc' ? '>' : '<'} (${keys.map(() => '?').join(', ')})`, after);
  }
  // A query that names no columns means all of them: keep that when adding the cursor's own.
  const namesColumns = (query as unknown as { _statements: Array<{ grouping: string }> })._statements.some((s) => s.grouping === 'columns');
  if (!namesColumns) query.select('*');
  query.select(sql.map((expression, i) => query.client.raw(`(${expression})::text as ??`, [cursorAlias(i)])));
  for (const expression of sql) query.orderByRaw(`${expression} ${direction}`);
  const rows = (await query.limit(limit + 1)) as Array<Record<string, unknown>>;
  const last = rows[limit - 1];
  const nextCursor = rows.length > limit && last ? encodeCursor(keys.map((_, i) => String(last[cursorAlias(i)]))) : null;
  const items = rows.slice(0, limit).map((row) => {
    const item = { ...row };
    keys.forEach((_, i) => delete item[cursorAlias(i)]);
    return item as T;
  });
  return { items, nextCursor };
}
