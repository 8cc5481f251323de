// The people of a vendor: one or more owners, invited by staff, who run the vendor's team, and the
// technicians the owner invites. Staff see and manage every vendor's users; an owner sees their own
// vendor's users and manages its technicians (other owners are staff's to manage). Deactivating a
// user signs them out everywhere. Every person can list and revoke their own sessions; an owner
// does it for their technicians and staff for any vendor user.
import type { Knex } from 'knex';
import { accountPhoneCountry } from '../accounts/service.ts';
import type { RequestContext } from '../context.ts';
import { read, write } from '../db/tenant.ts';
import { ConflictError, ForbiddenByRuleError, NotFoundError, RateLimitedError } from '../errors.ts';
import { paginate } from '../http/pagination.ts';
import type { SendResult } from '../notifications/channels/types.ts';
import { normalisePhone, type PortalUserRow } from './service.ts';
import { createSignIn, sendSignIn, type PendingSignIn, type SignInDeps } from './vendor-sign-in.ts';

export type VendorRole = 'owner' | 'technician';

const listed = ['id', 'vendor_id', 'vendor_role', 'name', 'email', 'phone', 'active', 'created_at'] as const;

/**
 * Invitations a vendor's owner may send in a day: each one sends an e-mail or an SMS on the
 * account's behalf, so a taken-over owner session cannot turn the portal into a message cannon.
 * Staff invite without this cap.
 */
export const ownerInvitationsPerDay = 20;

export interface NewVendorUser { name: string; email?: string | null; phone?: string | null; role: VendorRole }

/** Who is asking: staff (any vendor of the account) or the vendor's owner (technicians only). */
type Manager = { by: 'staff' } | { by: 'owner' };

export function managerOf(ctx: RequestContext): Manager {
  return ctx.vendorId ? { by: 'owner' } : { by: 'staff' };
}

async function vendorExists(trx: Knex.Transaction, ctx: RequestContext, vendorId: string) {
  const vendor = await trx('vendors').where({ account_id: ctx.accountId, id: vendorId }).whereNull('deleted_at').first('id');
  if (!vendor) throw new NotFoundError('Vendor');
}

/** The vendor user `userId` of `vendorId`, which this manager may act on. */
async function managedUser(trx: Knex.Transaction, ctx: RequestContext, vendorId: string, userId: string, manager: Manager) {
  const user = await trx<PortalUserRow>('portal_users').where({ account_id: ctx.accountId, id: userId, kind: 'vendor', vendor_id: vendorId }).first();
  if (!user) throw new NotFoundError('Vendor user');
  if (manager.by === 'owner' && user.vendor_role !== 'technician') {
    throw new ForbiddenByRuleError('owner_managed_by_staff', 'An owner manages technicians; owners are managed by staff');
  }
  return user;
}

/**
 * Adds a user to a vendor and sends them a sign-in code and link (by e-mail when they have an
 * address, else by SMS). The answer says whether the message went out.
 */
export async function inviteVendorUser(ctx: RequestContext, deps: SignInDeps, vendorId: string, input: NewVendorUser, ip: string | null) {
  const phone = input.phone ? normalisePhone(input.phone, 'phone', await accountPhoneCountry(ctx.db, ctx.accountId)) : null;
  const channel = input.email ? 'email' : 'sms';
  let created: { user: PortalUserRow; pending: Omit<PendingSignIn, 'accountName'> | null };
  try {
    created = await write(ctx, async (trx, audit) => {
      await vendorExists(trx, ctx, vendorId);
      if (ctx.vendorId) await withinOwnerInvitationCap(trx, ctx, vendorId);
      const [user] = await trx<PortalUserRow>('portal_users')
        .insert({ account_id: ctx.accountId, kind: 'vendor', vendor_id: vendorId, vendor_role: input.role, name: input.name, email: input.email ?? null, phone })
        .returning('*');
      await audit({ action: 'portal_user.invited', resourceType: 'portal_user', resourceId: user!.id, after: pick(user!) });
      return { user: user!, pending: await createSignIn(trx, deps, user!, channel, ip) };
    });
  } catch (err) {
    if ((err as { code?: string }).code === '23505') {
      throw new ConflictError('vendor_user_exists', 'A vendor user with this e-mail address or phone number already exists in this account');
    }
    throw err;
  }
  const account = await deps.db('accounts').where({ account_id: ctx.accountId }).first('name');
  const sent: SendResult = created.pending
    ? await sendSignIn(deps, { ...created.pending, accountName: account.name as string })
    : { outcome: 'failed', reason: 'too many sign-in messages for this user; ask again later' };
  return {
    ...pick(created.user),
    invitation: { channel, sent: sent.outcome === 'sent', ...(sent.outcome === 'sent' ? {} : { reason: sent.reason }) },
  };
}

async function withinOwnerInvitationCap(trx: Knex.Transaction, ctx: RequestContext, vendorId: string) {
  // Serialises one vendor's invitations, so two at once cannot both pass the count.
  await trx('vendors').where({ account_id: ctx.accountId, id: vendorId }).forUpdate().first('id');
  const [row] = await trx('portal_users')
    .where({ account_id: ctx.accountId, kind: 'vendor', vendor_id: vendorId })
    .andWhere('created_at', '>', trx.raw(`now() - interval '1 day'`))
    .count<{ count: string }[]>('* as count');
  if (Number(row!.count) >= ownerInvitationsPerDay) {
    throw new RateLimitedError(`At most ${ownerInvitationsPerDay} invitations a day from a vendor's owners; ask dispatch to add more people`);
  }
}

function pick(row: PortalUserRow) {
  return Object.fromEntries(listed.map((key) => [key, row[key]])) as Pick<PortalUserRow, (typeof listed)[number]>;
}

/** A vendor's users; `null` (staff asking for a team of their own) lists nothing, but still checks the cursor. */
export async function listVendorUsers(ctx: RequestContext, vendorId: string | null, page: { limit: number; cursor?: string }) {
  return read(ctx, async (trx) => {
    const query = trx('portal_users').where({ account_id: ctx.accountId, kind: 'vendor' });
    if (vendorId) query.andWhere({ vendor_id: vendorId });
    else query.andWhereRaw('false');
    // The cursor is checked first: a tampered one is a 400 whatever the vendor.
    const result = await paginate<PortalUserRow>(query.select([...listed]), { keys: { id: 'uuid' }, limit: page.limit, cursor: page.cursor });
    if (vendorId && managerOf(ctx).by === 'staff') await vendorExists(trx, ctx, vendorId);
    return result;
  });
}

/** Activates or deactivates a vendor user; deactivating revokes every session they have and their pending sign-ins. */
export async function setVendorUserActive(ctx: RequestContext, vendorId: string, userId: string, active: boolean) {
  return write(ctx, async (trx, audit) => {
    const before = await managedUser(trx, ctx, vendorId, userId, managerOf(ctx));
    if (before.active === active) {
      audit.nothingChanged();
      return pick(before);
    }
    const [after] = await trx<PortalUserRow>('portal_users')
      .where({ account_id: ctx.accountId, id: userId })
      .update({ active, updated_at: trx.fn.now() })
      .returning('*');
    let signedOut = 0;
    if (!active) {
      signedOut = (
        await trx('sessions')
          .where({ account_id: ctx.accountId, subject_type: 'portal_user', subject_id: userId })
          .whereNull('revoked_at')
          .update({ revoked_at: trx.fn.now(), revoked_reason: 'portal_user_deactivated' })
          .returning('id')
      ).length;
      await trx('magic_links').where({ account_id: ctx.accountId, portal_user_id: userId }).whereNull('used_at').update({ used_at: trx.fn.now() });
    }
    await audit({
      action: active ? 'portal_user.activated' : 'portal_user.deactivated',
      resourceType: 'portal_user',
      resourceId: userId,
      before: { active: before.active },
      after: { active, ...(active ? {} : { sessions_revoked: signedOut }) },
    });
    return pick(after!);
  });
}

// --- sessions ---

const sessionFields = ['id', 'created_at', 'last_used_at', 'expires_at', 'user_agent', 'ip'] as const;

function liveSessions(trx: Knex.Transaction, accountId: number, subject: { type: 'user' | 'portal_user'; id: string }) {
  return trx('sessions')
    .where({ account_id: accountId, subject_type: subject.type, subject_id: subject.id })
    .whereNull('revoked_at')
    .andWhere('expires_at', '>', trx.fn.now());
}

export async function listSessionsOf(trx: Knex.Transaction, ctx: RequestContext, subject: { type: 'user' | 'portal_user'; id: string }) {
  const rows: Array<Record<(typeof sessionFields)[number], unknown>> = await liveSessions(trx, ctx.accountId, subject)
    .select([...sessionFields])
    .orderBy('last_used_at', 'desc');
  return rows.map((row) => ({ ...row, current: row.id === ctx.sessionId }));
}

export async function revokeSessionOf(trx: Knex.Transaction, ctx: RequestContext, subject: { type: 'user' | 'portal_user'; id: string }, sessionId: string, reason: string) {
  const [row] = await liveSessions(trx, ctx.accountId, subject)
    .andWhere({ id: sessionId })
    .update({ revoked_at: trx.fn.now(), revoked_reason: reason })
    .returning('id');
  if (!row) throw new NotFoundError('Session');
}

/** The person behind the request, when it is one (service tokens have no sessions). */
function personOf(ctx: RequestContext) {
  return ctx.actor.type === 'user' || ctx.actor.type === 'portal_user' ? { type: ctx.actor.type, id: ctx.actor.id } : null;
}

export async function listMySessions(ctx: RequestContext) {
  const me = personOf(ctx);
  if (!me) return [];
  return read(ctx, (trx) => listSessionsOf(trx, ctx, me));
}

export async function revokeMySession(ctx: RequestContext, sessionId: string) {
  const me = personOf(ctx);
  if (!me) throw new NotFoundError('Session');
  await write(ctx, async (trx, audit) => {
    await revokeSessionOf(trx, ctx, me, sessionId, 'signed_out');
    await audit({ action: 'session.revoked', resourceType: 'session', resourceId: sessionId, after: { reason: 'signed_out' } });
  });
  return { id: sessionId, revoked: true, current: sessionId === ctx.sessionId };
}

/** Signs the caller out everywhere: every live session of theirs, this one included. */
export async function revokeAllMySessions(ctx: RequestContext) {
  const me = personOf(ctx);
  if (!me) return { revoked: 0, current: false };
  const ids = await write(ctx, async (trx, audit) => {
    const rows: Array<{ id: string }> = await liveSessions(trx, ctx.accountId, me).update({ revoked_at: trx.fn.now(), revoked_reason: 'signed_out_everywhere' }).returning('id');
    if (!rows.length) {
      audit.nothingChanged();
      return [];
    }
    for (const row of rows) await audit({ action: 'session.revoked', resourceType: 'session', resourceId: row.id, after: { reason: 'signed_out_everywhere' } });
    return rows.map((row) => row.id);
  });
  return { revoked: ids.length, current: ctx.sessionId !== undefined && ids.includes(ctx.sessionId) };
}

export async function listVendorUserSessions(ctx: RequestContext, vendorId: string, userId: string) {
  return read(ctx, async (trx) => {
    await managedUser(trx, ctx, vendorId, userId, managerOf(ctx));
    return listSessionsOf(trx, ctx, { type: 'portal_user', id: userId });
  });
}

export async function revokeVendorUserSession(ctx: RequestContext, vendorId: string, userId: string, sessionId: string) {
  await write(ctx, async (trx, audit) => {
    await managedUser(trx, ctx, vendorId, userId, managerOf(ctx));
    const reason = managerOf(ctx).by === 'owner' ? 'revoked_by_owner' : 'revoked_by_staff';
    await revokeSessionOf(trx, ctx, { type: 'portal_user', id: userId }, sessionId, reason);
    await audit({ action: 'session.revoked', resourceType: 'session', resourceId: sessionId, after: { reason, portal_user_id: userId } });
  });
  return { id: sessionId, revoked: true };
}
