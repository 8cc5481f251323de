// A report's period: calendar dates in a time zone, turned into the two instants that bound it.
// Postgres does the turning (its tz data, DST included): from = the zone's midnight starting the
// first day, to = the zone's midnight after the last day, so a range never loses or doubles the
// hour a clock change adds or takes.
import type { Knex } from 'knex';
import { z } from 'zod';
import { invalidField } from '../../errors.ts';
import { isoDate, timeZone } from '../../http/schemas.ts';

/** The longest range a report reads (a little over a year, so "last 12 months" fits). */
export const maxRangeDays = 400;

/** The query fields every report takes. */
export const rangeQuery = z.object({
  from: isoDate.describe('First day of the range (in `tz`), e.g. 2026-11-01'),
  to: isoDate.describe('Last day of the range, inclusive (in `tz`)'),
  tz: timeZone
    .optional()
    .describe('IANA time zone the dates (and day, week and month groupings) are in; default UTC'),
});
export type RangeQuery = z.infer<typeof rangeQuery>;

export interface ReportRange {
  /** As asked: the first and last calendar day, inclusive. */
  from: string;
  to: string;
  timeZone: string;
  /** The instants bounding the range: start inclusive, end exclusive. */
  start: Date;
  end: Date;
  /** Calendar days in the range (for per-day rates). */
  days: number;
}

let zones: Promise<Set<string>> | undefined;
/** The zone names Postgres knows, read once (reading pg_timezone_names walks its tz files: too slow per request). */
function postgresZones(trx: Knex.Transaction | Knex): Promise<Set<string>> {
  zones ??= trx
    .raw<{ rows: Array<{ name: string }> }>(`select name from pg_timezone_names`)
    .then(({ rows }) => new Set(rows.map((r) => r.name.toLowerCase())))
    .catch((err: unknown) => {
      zones = undefined;
      throw err;
    });
  return zones;
}

/** The range's bounds, computed by Postgres in the range's time zone. Refuses a backwards or too-long range. */
export async function resolveRange(trx: Knex.Transaction | Knex, query: RangeQuery): Promise<ReportRange> {
  const timeZone = query.tz ?? 'UTC';
  const days = Math.round((Date.parse(`${query.to}T00:00:00Z`) - Date.parse(`${query.from}T00:00:00Z`)) / 86_400_000) + 1;
  if (days < 1) throw invalidField('to', 'must not be before `from`', 'range_backwards');
  if (days > maxRangeDays) throw invalidField('to', `a range covers at most ${maxRangeDays} days`, 'range_too_long');
  // A zone the browser knows but this Postgres does not (tz data of another age) is the caller's to fix.
  if (!(await postgresZones(trx)).has(timeZone.toLowerCase())) throw invalidField('tz', 'is not a time zone this server’s database knows', 'unknown_time_zone');
  const { rows } = await trx.raw<{ rows: Array<{ start: Date; end: Date }> }>(
    `select (?::date)::timestamp at time zone ? as start, (?::date + 1)::timestamp at time zone ? as "end"`,
    [query.from, timeZone, query.to, timeZone],
  );
  return { from: query.from, to: query.to, timeZone, start: rows[0]!.start, end: rows[0]!.end, days };
}

/** The same number of days just before `range` (for "this period vs the previous one"). */
export function previousRange(range: Pick<ReportRange, 'from' | 'days' | 'timeZone'>): RangeQuery {
  const day = (iso: string, delta: number) => new Date(Date.parse(`${iso}T00:00:00Z`) + delta * 86_400_000).toISOString().slice(0, 10);
  return { from: day(range.from, -range.days), to: day(range.from, -1), tz: range.timeZone };
}
