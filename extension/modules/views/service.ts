// Saved views: a board's filters under a name, so "My open deals over $5k" is one click away.
// A view is its owner's; shared, everyone in the account sees it (only the owner or an admin
// changes it). Filters are kept exactly as the board's address takes them, checked against the
// board's own filter schema first, so a saved view can never hold a filter the board refuses.
import type { Knex } from 'knex';
import type { z } from 'zod';
import type { RequestContext } from '../../context.ts';
import { read, write } from '../../db/tenant.ts';
import { pgErrorCodes } from '../../db/errors.ts';
import { ConflictError, ForbiddenByRuleError, InvalidFieldsError, NotFoundError } from '../../errors.ts';
import type { Capability } from '../../capabilities/profiles.ts';

export const boards = ['pipeline', 'dispatch'] as const;
export type Board = (typeof boards)[number];

export interface ViewInput { board: Board; name: string; filters: Record<string, unknown>; shared?: boolean }

const columns = ['id', 'board', 'name', 'filters', 'shared', 'owner_id', 'created_at', 'updated_at'];
/** What each board needs switched on: a view of a board the account cannot see is refused. */
const boardCapability: Record<Board, Capability> = { pipeline: 'crm.deals', dispatch: 'dispatch.jobs' };

function requireBoard(ctx: RequestContext, board: Board) {
  if (ctx.actor.type !== 'user') throw new ForbiddenByRuleError('forbidden', 'Saved views belong to signed-in people');
  const capability = boardCapability[board];
  if (!ctx.capabilities.has(capability)) throw new ForbiddenByRuleError('capability_disabled', `${capability} is switched off for this account`);
}

function checkFilters(schema: z.ZodType, filters: Record<string, unknown>) {
  const parsed = schema.safeParse(filters);
  if (!parsed.success) {
    throw new InvalidFieldsError(
      'Those filters do not fit this board',
      parsed.error.issues.map((issue) => ({ field: ['filters', ...issue.path.map(String)].join('.'), message: issue.message, code: issue.code })),
    );
  }
}

const ownerOnly = () => new ForbiddenByRuleError('forbidden', 'Only the owner of this view, or an admin, may change it');
const nameTaken = () => new ConflictError('view_name_taken', 'You already have a view of this board with that name');
const present = (ctx: RequestContext, row: Record<string, unknown>) => ({ ...row, mine: row.owner_id === ctx.actor.id });

export async function listViews(ctx: RequestContext, board: Board) {
  requireBoard(ctx, board);
  const rows = await read(ctx, (trx) =>
    trx('saved_views')
      .where({ account_id: ctx.accountId, board })
      .andWhere((q) => q.where('owner_id', ctx.actor.id).orWhere('shared', true))
      .orderByRaw('lower(name), id')
      .select(columns),
  );
  return rows.map((row) => present(ctx, row));
}

export async function createView(ctx: RequestContext, input: ViewInput, schema: z.ZodType) {
  requireBoard(ctx, input.board);
  checkFilters(schema, input.filters);
  return write(ctx, async (trx, audit) => {
    try {
      const [row] = await trx('saved_views')
        .insert({ account_id: ctx.accountId, board: input.board, name: input.name, filters: JSON.stringify(input.filters), shared: input.shared ?? false, owner_id: ctx.actor.id })
        .returning(columns);
      await audit({ action: 'saved_view.created', resourceType: 'saved_view', resourceId: row.id, after: { ...row } });
      return present(ctx, row);
    } catch (err) {
      if ((err as { code?: string }).code === pgErrorCodes.uniqueViolation) throw nameTaken();
      throw err;
    }
  });
}

/** The view, if the caller may see it; changing it also needs ownership (or admin). */
async function visibleView(trx: Knex.Transaction, ctx: RequestContext, viewId: string) {
  const row = await trx('saved_views').where({ account_id: ctx.accountId, id: viewId }).forUpdate().first(columns);
  if (!row || (!row.shared && row.owner_id !== ctx.actor.id)) throw new NotFoundError('Saved view');
  if (row.owner_id !== ctx.actor.id && !ctx.roles.includes('admin')) throw ownerOnly();
  requireBoard(ctx, row.board);
  return row;
}

export async function updateView(ctx: RequestContext, viewId: string, patch: Partial<Omit<ViewInput, 'board'>>, schemaOf: (board: Board) => z.ZodType) {
  return write(ctx, async (trx, audit) => {
    const before = await visibleView(trx, ctx, viewId);
    if (patch.filters) checkFilters(schemaOf(before.board), patch.filters);
    try {
      const [after] = await trx('saved_views')
        .where({ account_id: ctx.accountId, id: viewId })
        .update({ ...patch, ...(patch.filters ? { filters: JSON.stringify(patch.filters) } : {}), updated_at: trx.fn.now() })
        .returning(columns);
      await audit({ action: 'saved_view.updated', resourceType: 'saved_view', resourceId: viewId, before: { ...before }, after: { ...after } });
      return present(ctx, after);
    } catch (err) {
      if ((err as { code?: string }).code === pgErrorCodes.uniqueViolation) throw nameTaken();
      throw err;
    }
  });
}

export async function deleteView(ctx: RequestContext, viewId: string) {
  return write(ctx, async (trx, audit) => {
    const before = await visibleView(trx, ctx, viewId);
    await trx('saved_views').where({ account_id: ctx.accountId, id: viewId }).delete();
    await audit({ action: 'saved_view.deleted', resourceType: 'saved_view', resourceId: viewId, before: { ...before } });
    return { id: viewId, deleted: true };
  });
}
