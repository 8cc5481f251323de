// Keyset pagination with an opaque cursor: stable under inserts, fast at any depth
// because it seeks on an index instead of counting past an OFFSET.
import type { Knex } from 'knex';
import { z } from 'zod';
import { badRequest } from './errors.ts';
import { hasBadCharacters } from './schemas.ts';

export const maxPageSize = 200;

/** Query parameters every list route accepts. */
export const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(maxPageSize).default(50).describe(`Page size, 1 to ${maxPageSize}`),
  cursor: z.string().max(1024).optional().describe('Opaque cursor from the previous page’s meta.next_cursor'),
});

export function encodeCursor(values: unknown[]): string {
  return Buffer.from(JSON.stringify(values)).toString('base64url');
}

/** The Postgres type of a keyset key: what each value a cursor carries for it must be. */
export type KeyType = 'timestamptz' | 'uuid' | 'integer' | 'bigint' | 'text';

const uuidText = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// Postgres' own text of a timestamptz (DateStyle ISO), as the cursor was written with it.
const timestamptzText = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(\.\d{1,6})?[+-]\d{2}(:\d{2}){0,2}$/;
const integerRange = { integer: [-(2n ** 31n), 2n ** 31n - 1n], bigint: [-(2n ** 63n), 2n ** 63n - 1n] } as const;

function isTimestamptzText(value: string) {
  if (value === 'infinity' || value === '-infinity') return true;
  const parts = timestamptzText.exec(value);
  if (!parts) return false;
  const [year, month, day, hour, minute, second] = parts.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  // The day must exist (no 30 February) and the clock must be a real one.
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day && hour < 24 && minute < 60 && second < 60;
}

/** Whether `value`, read from a cursor, is something Postgres will take as `type` (so no SQL error). */
function fitsKeyType(value: unknown, type: KeyType): boolean {
  if (typeof value !== 'string' || value.length > 256 || hasBadCharacters(value)) return false;
  switch (type) {
    case 'uuid':
      return uuidText.test(value);
    case 'timestamptz':
      return isTimestamptzText(value);
    case 'integer':
    case 'bigint': {
      if (!/^-?\d{1,19}$/.test(value)) return false;
      const [min, max] = integerRange[type];
      const n = BigInt(value);
      return n >= min && n <= max;
    }
    case 'text':
      return true;
  }
}

/** The key values a cursor carries, each checked against its key's type; 400 invalid_cursor otherwise. */
export function decodeCursor(cursor: string, types: KeyType[]): string[] {
  try {
    const values: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(values) && values.length === types.length && values.every((v, i) => fitsKeyType(v, types[i]!))) {
      return values as string[];
    }
  } catch {
    // fall through to the error below
  }
  throw badRequest('invalid_cursor', 'The cursor is not valid for this list; start again without it');
}

export interface KeysetOptions {
  /**
   * What to order by, in this order, all in the same direction, the last one unique (e.g. id),
   * each with its Postgres type: column names (`rank`, `deals.number`) or SQL expressions written
   * in code (`coalesce(due_at, 'infinity')`). A cursor's values are checked against the types.
   */
  keys: Record<string, KeyType>;
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
export async function paginate<T extends object>(query: Knex.QueryBuilder, { keys: keyTypes, direction = 'asc', limit, cursor }: KeysetOptions): Promise<Page<T>> {
  const keys = Object.keys(keyTypes);
  const types = Object.values(keyTypes);
  const sql = keys.map(keySql);
  if (cursor) {
    const after = decodeCursor(cursor, types);
    query.whereRaw(`(${sql.join(', ')}) ${direction === 'asc' ? '>' : '<'} (${types.map((type) => `?::${type}`).join(', ')})`, after);
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
