// What a report is to the routes: its filters, who may read it, its figures and the records behind
// any of them. Each report (funnel.ts, response-time.ts, dispatch.ts, vendors.ts, overview.ts)
// exports one of these; routes.ts gives every report the same routes.
import type { Knex } from 'knex';
import type { z } from 'zod';
import type { RequestContext } from '../../context.ts';
import { invalidField } from '../../errors.ts';
import type { Access } from '../../http/registry.ts';
import type { ReportRange } from './range.ts';
import type { Definition } from './definitions.ts';
import type { DrillList, ReportTable } from './shape.ts';

/**
 * Whose figures: the whole account (reports:read), or only the signed-in agent's own (reports:own:
 * deals they own, conversations they answered first). Every query of a report applies it.
 */
export interface ReportScope {
  all: boolean;
  /** Our user id and their Chatwoot user id, when the scope is one person's. */
  userId?: string;
  chatwootUserId?: number;
}

export interface ReportArgs<F> {
  trx: Knex.Transaction;
  ctx: RequestContext;
  range: ReportRange;
  filters: F;
  scope: ReportScope;
}

export interface ReportModule<F extends z.ZodObject = z.ZodObject> {
  /** The URL segment: /reports/<name>. */
  name: string;
  title: string;
  /** One line for the API reference. */
  summary: string;
  access: Access & { permission: 'reports:read' | 'reports:own' };
  /** Query fields beyond the range (owner, pipeline, source, …). */
  filters: F;
  figures(args: ReportArgs<z.infer<F>>): Promise<{ tables: ReportTable[]; definitions: Definition[] }>;
  /**
   * The records behind a cell; `drill` is a token the figures handed out. At most `limit` rows (and
   * `total`). A report whose cells are other reports' figures (the overview) has none.
   */
  rows?(args: ReportArgs<z.infer<F>> & { drill: string; limit: number }): Promise<DrillList>;
}

/** The answer to a drill token a report did not hand out (or that names something else). */
export const unknownDrill = () => invalidField('drill', 'is not a drill-down this report knows; take it from a cell of the report', 'unknown_drill');

/** A drill token from parts (report-specific; `:` separated, each part URI-safe). */
export const drillToken = (...parts: Array<string | number>) => parts.map((p) => encodeURIComponent(String(p))).join(':');
/** A drill token's parts; a token that does not even decode is one no report handed out. */
export function drillParts(token: string): string[] {
  try {
    return token.split(':').map((p) => decodeURIComponent(p));
  } catch {
    throw unknownDrill();
  }
}
