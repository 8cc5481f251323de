// The shape of a report as the API sends it (GET /api/v1/reports/<name>): tables of figures, each
// with an optional chart of one column, the definitions of the figures, and drill tokens per cell.
export type FigureKind = 'text' | 'count' | 'number' | 'percent' | 'duration' | 'money' | 'datetime';
export type Cell = string | number | null;

export interface FigureColumn {
  key: string;
  label: string;
  kind: FigureKind;
  /** Key of the definition this figure follows. */
  definition?: string;
}

export interface FigureRow {
  key: string;
  label: string;
  cells: Record<string, Cell>;
  /** Per column key: the token that lists the records behind the cell. */
  drill?: Record<string, string>;
  /** This row's kind for every column (a table whose rows mix counts, rates and durations). */
  kind?: FigureKind;
  /** The report the figure comes from (the overview links each figure to it). */
  report?: string;
}

export interface FigureTable {
  id: string;
  title: string;
  /** What the rows are (Stage, Vendor, …): the heading of the row labels. */
  row_heading?: string;
  columns: FigureColumn[];
  rows: FigureRow[];
  chart?: { column: string; orientation: 'vertical' | 'horizontal' };
  empty?: string;
}

export interface Definition {
  key: string;
  label: string;
  text: string;
}

export interface DrillRecord {
  id: string;
  kind: 'deal' | 'job' | 'conversation' | 'call' | 'offer' | 'vendor';
  cells: Record<string, Cell>;
  link: string | null;
}

export interface DrillList {
  title: string;
  columns: FigureColumn[];
  rows: DrillRecord[];
  total: number;
  truncated: boolean;
}
