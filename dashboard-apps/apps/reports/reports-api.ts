// The Reports app's calls. Every report answers the same shape at /api/v1/reports/<name> (and its
// CSV, and but for the overview its rows and rows CSV, beside it); only each report's filters differ,
// which the server types.
import { api, downloadFile, unwrap, type paths } from '../../lib/api.ts';

export const reportNames = ['overview', 'funnel', 'response-time', 'dispatch', 'vendors'] as const;
export type ReportName = (typeof reportNames)[number];
export const isReportName = (value: unknown): value is ReportName => reportNames.includes(value as ReportName);

type Json<P extends keyof paths> = paths[P] extends { get: { responses: { 200: { content: { 'application/json': { data: infer D } } } } } } ? D : never;
export type ReportAnswer = Json<'/api/v1/reports/overview'>;
export type DrillAnswer = Json<'/api/v1/reports/funnel/rows'>;

/** The range, the zone and the report's own filters (only those it has; empty ones are left out). */
export type ReportQuery = { from: string; to: string; tz: string } & Record<string, string>;

const search = (query: Record<string, string>) => new URLSearchParams(Object.entries(query).filter(([, v]) => v !== '')).toString();

export async function fetchReport(name: ReportName, query: ReportQuery): Promise<ReportAnswer> {
  // One path stands for all five (same answer); the query carries what this report reads.
  const path = `/api/v1/reports/${name}` as '/api/v1/reports/overview';
  return (await unwrap<ReportAnswer>(api.GET(path, { params: { query } }))).data;
}

/** The records behind a figure (the overview hands out no drills: its figures link to their reports). */
export async function fetchRows(name: ReportName, query: ReportQuery, drill: string): Promise<DrillAnswer> {
  // One path stands for all four (same answer).
  const path = `/api/v1/reports/${name}/rows` as '/api/v1/reports/funnel/rows';
  return (await unwrap<DrillAnswer>(api.GET(path, { params: { query: { ...query, drill } } }))).data;
}

/** One table of figures as CSV (the server makes it formula-safe). */
export const downloadTableCsv = (name: ReportName, query: ReportQuery, table: string) =>
  downloadFile(`/api/v1/reports/${name}.csv?${search({ ...query, table })}`, { filename: `${name}-${table}-${query.from}_${query.to}.csv` });

/** Every record behind a figure as CSV. */
export const downloadRowsCsv = (name: ReportName, query: ReportQuery, drill: string) =>
  downloadFile(`/api/v1/reports/${name}/rows.csv?${search({ ...query, drill })}`, { filename: `${name}-rows-${query.from}_${query.to}.csv` });
