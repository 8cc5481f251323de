// Agents known in an account (synced from Chatwoot at sign-in) and the roles admins grant here.
import type { RequestContext } from '../context.ts';
import { read, write } from '../db/tenant.ts';
import { ConflictError, NotFoundError } from '../errors.ts';
import { agentRoles } from './permissions.ts';
import type { UserRow } from './sessions.ts';

const listed = ['id', 'chatwoot_user_id', 'name', 'email', 'chatwoot_role', 'granted_roles', 'active', 'last_verified_at', 'created_at'] as const;

export function presentUser<T extends Pick<UserRow, 'chatwoot_role' | 'granted_roles'>>(row: T) {
  return { ...row, roles: agentRoles(row.chatwoot_role, row.granted_roles) };
}

export async function listUsers(ctx: RequestContext) {
  const rows: UserRow[] = await read(ctx, (trx) => trx('users').where({ account_id: ctx.accountId }).select([...listed]).orderBy('name'));
  return rows.map(presentUser);
}

/** Who can own deals and be assigned tasks: the account's active agents, names only. */
export async function listTeammates(ctx: RequestContext) {
  return read(ctx, (trx) => trx('users').where({ account_id: ctx.accountId, active: true }).orderBy('name').select('id', 'name', 'chatwoot_user_id'));
}

/** Grants or withdraws the dispatcher role. Admins are admins in Chatwoot and need no grant. */
export async function setDispatcher(ctx: RequestContext, userId: string, granted: boolean) {
  return write(ctx, async (trx, audit) => {
    const before = await trx<UserRow>('users').where({ account_id: ctx.accountId, id: userId }).first();
    if (!before) throw new NotFoundError('User');
    if (before.chatwoot_role === 'administrator') {
      throw new ConflictError('already_admin', 'Administrators can already do everything a dispatcher can');
    }
    const roles = granted ? [...new Set([...before.granted_roles, 'dispatcher'])] : before.granted_roles.filter((r) => r !== 'dispatcher');
    const [after]: UserRow[] = await trx('users')
      .where({ account_id: ctx.accountId, id: userId })
      .update({ granted_roles: roles, updated_at: trx.fn.now() })
      .returning([...listed]);
    await audit({ action: 'user.roles_changed', resourceType: 'user', resourceId: userId, before: { granted_roles: before.granted_roles }, after: { granted_roles: roles } });
    return presentUser(after!);
  });
}
