// Every report gets the same routes: its figures (JSON, or one table as CSV) and, when its cells have
// records behind them, those records (JSON, or all of them as CSV). All of a request's queries read
// one snapshot.
import { z } from 'zod';
import type { RequestContext } from '../../context.ts';
import { read } from '../../db/tenant.ts';
import { sendData } from '../../http/envelope.ts';
import { defineRoute, type AnyRoute } from '../../http/registry.ts';
import { invalidField } from '../../errors.ts';
import { drillCsv, tableCsv } from './csv.ts';
import { dispatchReport } from './dispatch.ts';
import { funnelReport } from './funnel.ts';
import { overviewReport } from './overview.ts';
import { rangeQuery, resolveRange, type RangeQuery } from './range.ts';
import { unknownDrill, type ReportModule } from './report.ts';
import { responseTimeReport } from './response-time.ts';
import { reportSettingsRoutes } from './settings.ts';
import { scopeOf } from './scope.ts';
import { drillCsvLimit, drillLimit, drillList, report as reportSchema } from './shape.ts';
import { vendorsReport } from './vendors.ts';

export const reports: ReportModule[] = [overviewReport, funnelReport, responseTimeReport, dispatchReport, vendorsReport] as ReportModule[];

const drillQuery = z.object({ drill: z.string().min(1).max(400).describe('A token from a cell’s `drill` in the report') });
const fileDay = (range: { from: string; to: string }) => `${range.from}_${range.to}`;

/** A report's answer, as the JSON route gives it (the bench calls this too). */
export async function figuresOf(module: ReportModule, ctx: RequestContext, query: RangeQuery & Record<string, unknown>) {
  return read(ctx, async (trx) => {
    const range = await resolveRange(trx, query);
    const scope = await scopeOf(trx, ctx);
    const { tables, definitions } = await module.figures({ trx, ctx, range, filters: module.filters.parse(query), scope });
    return {
      report: module.name,
      range: { from: range.from, to: range.to, time_zone: range.timeZone, start: range.start.toISOString(), end: range.end.toISOString() },
      scope: scope.all ? ('account' as const) : ('own' as const),
      tables,
      definitions,
    };
  });
}

export async function rowsOf(module: ReportModule, ctx: RequestContext, query: RangeQuery & { drill: string } & Record<string, unknown>, limit: number) {
  return read(ctx, async (trx) => {
    const range = await resolveRange(trx, query);
    const scope = await scopeOf(trx, ctx);
    if (!module.rows) throw unknownDrill();
    return { range, list: await module.rows({ trx, ctx, range, filters: module.filters.parse(query), scope, drill: query.drill, limit }) };
  });
}

export function reportRoutes(): AnyRoute[] {
  return reports.flatMap((module) => {
    // The report's own filters ride along (typed by the report; the range is what the routes read).
    const query = rangeQuery.extend(module.filters.shape as Record<never, never>);
    const base = `/reports/${module.name}`;
    const figureRoutes = [
      defineRoute({
        method: 'get',
        path: base,
        summary: `${module.title}: ${module.summary}`,
        tags: ['reports'],
        access: module.access,
        query,
        response: reportSchema,
        handler: async ({ ctx, query: q, res }) => sendData(res, await figuresOf(module, ctx, q)),
      }),
      defineRoute({
        method: 'get',
        path: `${base}.csv`,
        summary: `${module.title}, one table of figures as CSV (formula-safe)`,
        tags: ['reports'],
        access: module.access,
        produces: 'text/csv',
        query: query.extend({ table: z.string().min(1).max(64).describe('The table’s id in the report') }),
        handler: async ({ ctx, query: q, res }) => {
          const answer = await figuresOf(module, ctx, q);
          const table = answer.tables.find((t) => t.id === q.table);
          if (!table) throw invalidField('table', `is not a table of this report (${answer.tables.map((t) => t.id).join(', ')})`, 'unknown_table');
          res.setHeader('Content-Disposition', `attachment; filename="${module.name}-${table.id}-${fileDay(answer.range)}.csv"`);
          res.type('text/csv; charset=utf-8').send(tableCsv(table));
        },
      }),
    ];
    if (!module.rows) return figureRoutes;
    return [
      ...figureRoutes,
      defineRoute({
        method: 'get',
        path: `${base}/rows`,
        summary: `${module.title}: the records behind one figure (at most ${drillLimit}; the CSV has them all)`,
        tags: ['reports'],
        access: module.access,
        query: query.extend(drillQuery.shape),
        response: drillList,
        handler: async ({ ctx, query: q, res }) => sendData(res, (await rowsOf(module, ctx, q, drillLimit)).list),
      }),
      defineRoute({
        method: 'get',
        path: `${base}/rows.csv`,
        summary: `${module.title}: the records behind one figure as CSV (formula-safe, at most ${drillCsvLimit})`,
        tags: ['reports'],
        access: module.access,
        produces: 'text/csv',
        query: query.extend(drillQuery.shape),
        handler: async ({ ctx, query: q, res }) => {
          const { range, list } = await rowsOf(module, ctx, q, drillCsvLimit);
          res.setHeader('Content-Disposition', `attachment; filename="${module.name}-rows-${fileDay(range)}.csv"`);
          if (list.truncated) res.setHeader('X-Onelink-Truncated', String(drillCsvLimit));
          res.type('text/csv; charset=utf-8').send(drillCsv(list));
        },
      }),
    ];
  }).concat(reportSettingsRoutes());
}
