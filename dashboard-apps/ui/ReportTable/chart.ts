// The bars of a table's chart: one per row, the charted column's value, read as the table reads it.
import type { Bar } from '../BarChart/BarChart.vue';
import { chartValue, formatFigure } from './format.ts';
import type { FigureTable } from './types.ts';

export function barsOf(table: FigureTable): Bar[] {
  const column = table.columns.find((c) => c.key === table.chart?.column);
  if (!column) return [];
  return table.rows.map((row) => ({
    key: row.key,
    label: row.label,
    value: chartValue(row.cells[column.key]),
    display: formatFigure(row.cells[column.key], row.kind ?? column.kind, row.cells.currency),
    clickable: !!row.drill?.[column.key],
  }));
}

/** How the value axis reads for the charted column. */
export function tickFormatOf(table: FigureTable): (value: number) => string {
  const kind = table.columns.find((c) => c.key === table.chart?.column)?.kind ?? 'number';
  return (value) => formatFigure(value, kind === 'money' ? 'number' : kind);
}

/** Whether the charted column counts things (whole-number ticks). */
export const countsIn = (table: FigureTable) => table.columns.find((c) => c.key === table.chart?.column)?.kind === 'count';
