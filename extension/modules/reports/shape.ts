// What every report answers with, so one Reports app renders any of them: tables of figures (each
// with an optional chart of one of its columns), the definitions of the figures, and for any cell
// a drill token that lists the records behind it.
import { z } from 'zod';

/**
 * How a cell's value reads: count and number are numbers; percent is a fraction 0..1 (null when
 * nothing to divide by); duration is seconds; money is a decimal string in the row's currency
 * (the row carries a `currency` text cell); datetime is an instant as ISO 8601 text (UTC); text is text.
 */
export const columnKind = z.enum(['text', 'count', 'number', 'percent', 'duration', 'money', 'datetime']);
export type ColumnKind = z.infer<typeof columnKind>;

export const reportColumn = z.object({
  key: z.string(),
  label: z.string(),
  kind: columnKind,
  definition: z.string().optional().describe('Key of the definition (in `definitions`) this figure follows'),
});
export type ReportColumn = z.infer<typeof reportColumn>;

export const cellValue = z.union([z.string(), z.number(), z.null()]);
export type CellValue = z.infer<typeof cellValue>;

export const reportRow = z.object({
  key: z.string().describe('Stable within the table (a stage id, a bucket, a vendor id, …)'),
  label: z.string(),
  cells: z.record(z.string(), cellValue),
  drill: z.record(z.string(), z.string()).optional().describe('Per column key: the `drill` token listing the records behind that cell'),
  kind: columnKind.optional().describe('This row’s kind for every column, where rows of one table differ (the overview mixes counts, rates and durations)'),
  report: z.string().optional().describe('The report this figure comes from (the overview links each figure to it)'),
});
export type ReportRow = z.infer<typeof reportRow>;

export const reportTable = z.object({
  id: z.string(),
  title: z.string(),
  row_heading: z.string().optional().describe('What the rows are (Stage, Vendor, Source, …): the heading of the row labels'),
  columns: z.array(reportColumn).describe('The figures, after the row label'),
  rows: z.array(reportRow),
  chart: z
    .object({ column: z.string().describe('The column charted, one bar per row'), orientation: z.enum(['vertical', 'horizontal']) })
    .optional(),
  empty: z.string().optional().describe('Why the table has no rows, when that needs saying (e.g. no offers sent yet)'),
});
export type ReportTable = z.infer<typeof reportTable>;

export const definition = z.object({ key: z.string(), label: z.string(), text: z.string() });

export const report = z.object({
  report: z.string(),
  range: z.object({ from: z.string(), to: z.string(), time_zone: z.string(), start: z.string(), end: z.string() }),
  scope: z.enum(['account', 'own']).describe('own: the figures of the signed-in agent only (agents without reports:read)'),
  tables: z.array(reportTable),
  definitions: z.array(definition),
});
export type Report = z.infer<typeof report>;

/** The records behind one cell: deals, jobs, conversations, calls or offers, as flat rows. */
export const drillList = z.object({
  title: z.string(),
  columns: z.array(reportColumn),
  rows: z.array(
    z.object({
      id: z.string(),
      kind: z.enum(['deal', 'job', 'conversation', 'call', 'offer', 'vendor']),
      cells: z.record(z.string(), cellValue),
      link: z.string().nullable().describe('Where the record opens: a Chatwoot conversation number, a deal or job reference'),
    }),
  ),
  total: z.number().int(),
  truncated: z.boolean(),
});
export type DrillList = z.infer<typeof drillList>;
export type DrillRecord = DrillList['rows'][number];

/**
 * A drill list from the rows of a query that also selects `count(*) over () as total` (so one
 * statement gives both the first `limit` records and how many there are in all).
 */
export function drillListOf(title: string, columns: ReportColumn[], found: unknown[], toRecord: (row: Record<string, unknown>) => DrillRecord): DrillList {
  const rows = found as Array<Record<string, unknown>>;
  const total = rows.length ? Number(rows[0]!.total) : 0;
  return { title, columns, rows: rows.map(toRecord), total, truncated: total > rows.length };
}

/** At most this many records in a drill-down answer; the CSV holds up to `drillCsvLimit`. */
export const drillLimit = 500;
export const drillCsvLimit = 50_000;
