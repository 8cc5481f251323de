import type { Knex } from 'knex';
import type { RequestContext } from '../../context.ts';
import type { ReportScope } from './report.ts';

/** The account's figures for reports:read; the signed-in person's own otherwise (a token without reports:read reads nothing of its own). */
export async function scopeOf(trx: Knex.Transaction, ctx: RequestContext): Promise<ReportScope> {
  if (ctx.permissions.has('reports:read')) return { all: true };
  if (ctx.actor.type !== 'user') return { all: false };
  const user = await trx('users').where({ account_id: ctx.accountId, id: ctx.actor.id }).first('chatwoot_user_id');
  return { all: false, userId: ctx.actor.id, chatwootUserId: user?.chatwoot_user_id ?? undefined };
}
