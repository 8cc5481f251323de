// The figures table: aligned plain text for the terminal, Markdown for test-results/faults.md.
import type { ScenarioRow } from './types.ts';

const columns = ['scenario', 'load', 'acknowledged', 'processed', 'lost', 'duplicated', '5xx', 'recovery', 'notes', 'result'] as const;

function cells(row: ScenarioRow): string[] {
  return [
    row.scenario,
    row.load,
    String(row.acknowledged),
    String(row.processed),
    String(row.lost),
    String(row.duplicated),
    String(row.serverErrors),
    row.recoverySeconds === null ? '–' : `${row.recoverySeconds.toFixed(1)} s`,
    row.notes,
    row.passed ? 'pass' : 'FAIL',
  ];
}

/** Numbers right-aligned, words left-aligned, two spaces between columns. */
export function plainTable(rows: ScenarioRow[]): string {
  const lines = [[...columns], ...rows.map(cells)];
  const widths = columns.map((_, i) => Math.max(...lines.map((line) => line[i]!.length)));
  const numeric = new Set([2, 3, 4, 5, 6, 7]);
  return lines
    .map((line) => line.map((cell, i) => (numeric.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd())
    .join('\n');
}

export function markdownTable(rows: ScenarioRow[]): string {
  const escape = (cell: string) => cell.replace(/\|/g, '\\|');
  return [
    `| ${columns.join(' | ')} |`,
    `| ${columns.map((_, i) => (i >= 2 && i <= 7 ? '---:' : '---')).join(' | ')} |`,
    ...rows.map((row) => `| ${cells(row).map(escape).join(' | ')} |`),
  ].join('\n');
}
