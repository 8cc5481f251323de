// The admin's overview: the five figures that matter, this period against the one of the same
// length just before it (the Reports app and the admin panel ask for this week so far, Monday to
// today, so it reads against the same days of last week). Each comes from its own
// report's headline function, so it follows that report's definition and scope; a figure the caller
// may not see (capability off, or no reports:read for dispatch) is left out.
import { z } from 'zod';
import type { Knex } from 'knex';
import { definitionsOf, type DefinitionKey } from './definitions.ts';
import { dispatchHeadlines } from './dispatch.ts';
import { funnelHeadlines } from './funnel.ts';
import { previousRange, resolveRange } from './range.ts';
import type { ReportArgs, ReportModule } from './report.ts';
import { responseHeadlines } from './response-time.ts';
import type { ColumnKind, ReportRow } from './shape.ts';

const filters = z.object({});
type Args = ReportArgs<z.infer<typeof filters>>;

interface Figure {
  key: DefinitionKey;
  report: string;
  kind: Extract<ColumnKind, 'count' | 'percent' | 'duration'>;
}

/** The headline figures of one period, by key (absent when the caller may not see them). */
async function headlines(args: Args): Promise<Map<string, number | null>> {
  const { ctx, scope } = args;
  const noFilters = args as ReportArgs<Record<string, never>>;
  const seen = new Map<string, number | null>();
  if (ctx.capabilities.has('crm.deals')) {
    const deals = await funnelHeadlines(noFilters);
    seen.set('deals_won', deals.dealsWon).set('win_rate', deals.winRate);
  }
  seen.set('first_response', (await responseHeadlines(noFilters)).medianFirstResponse);
  if (ctx.capabilities.has('dispatch.jobs') && scope.all) {
    const jobs = await dispatchHeadlines(noFilters);
    seen.set('jobs_completed', jobs.jobsCompleted).set('sla_met', jobs.slaMet);
  }
  return seen;
}

const figures: Figure[] = [
  { key: 'deals_won', report: 'funnel', kind: 'count' },
  { key: 'win_rate', report: 'funnel', kind: 'percent' },
  { key: 'first_response', report: 'response-time', kind: 'duration' },
  { key: 'jobs_completed', report: 'dispatch', kind: 'count' },
  { key: 'sla_met', report: 'dispatch', kind: 'percent' },
];

export async function overviewFigures(args: Args) {
  const previous = await resolveRange(args.trx as Knex.Transaction, previousRange(args.range));
  const [now, before] = [await headlines(args), await headlines({ ...args, range: previous })];
  const shown = figures.filter((f) => now.has(f.key));
  const definitionsShown = definitionsOf([...shown.map((f) => f.key), 'overview_change']);
  const rows: ReportRow[] = shown.map((f) => {
    const thisPeriod = now.get(f.key) ?? null;
    const lastPeriod = before.get(f.key) ?? null;
    return {
      key: f.key,
      label: definitionsShown.find((d) => d.key === f.key)!.label,
      kind: f.kind,
      report: f.report,
      cells: { this_week: thisPeriod, last_week: lastPeriod, change: thisPeriod === null || lastPeriod === null ? null : thisPeriod - lastPeriod },
    };
  });
  return {
    tables: [
      {
        id: 'headlines',
        title: 'This week',
        row_heading: 'Figure',
        columns: [
          { key: 'this_week', label: 'This week', kind: 'number' as const },
          { key: 'last_week', label: 'Last week', kind: 'number' as const },
          { key: 'change', label: 'Change', kind: 'number' as const, definition: 'overview_change' },
        ],
        rows,
      },
    ],
    definitions: definitionsShown,
  };
}

export const overviewReport: ReportModule<typeof filters> = {
  name: 'overview',
  title: 'Overview',
  summary: 'the five figures that matter for the range (the Reports app and the admin panel send this week so far, Monday to today) against the same number of days just before it; each row names the report it comes from',
  access: { permission: 'reports:own', capability: null },
  filters,
  figures: overviewFigures,
};
