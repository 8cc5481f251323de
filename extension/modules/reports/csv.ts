// CSV of figures and of drill-down rows. Formula-safe: a cell a spreadsheet would read as a formula
// (it starts with = + - @, a tab or a carriage return) gets a leading apostrophe, so a deal title or
// a lost reason a customer typed can never run in the accountant's spreadsheet. Numbers stay numbers.
import { stringify } from 'csv-stringify/sync';
import type { CellValue, DrillList, ReportColumn, ReportTable } from './shape.ts';

export function safeCell(value: CellValue | Date | undefined): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return String(value);
  const text = value instanceof Date ? value.toISOString() : value;
  return /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
}

const headerOf = (columns: ReportColumn[]) => columns.map((c) => (c.kind === 'duration' ? `${c.label} (seconds)` : c.kind === 'percent' ? `${c.label} (fraction)` : c.label));

/** One table of figures: the row label, then each column. */
export function tableCsv(table: ReportTable): string {
  const rowHeading = table.row_heading ?? 'Row';
  const lines = table.rows.map((row) => [safeCell(row.label), ...table.columns.map((c) => safeCell(row.cells[c.key]))]);
  return stringify([[rowHeading, ...headerOf(table.columns)].map((h) => safeCell(h)), ...lines]);
}

/** The records behind a cell. */
export function drillCsv(list: DrillList): string {
  const lines = list.rows.map((row) => [row.id, ...list.columns.map((c) => safeCell(row.cells[c.key]))]);
  return stringify([['id', ...headerOf(list.columns)].map((h) => safeCell(h)), ...lines]);
}
