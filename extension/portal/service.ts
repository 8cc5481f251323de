// Portal identities: client users bound to one Chatwoot contact, and their magic-link sign-in:
// single use, 15 minutes, stored hashed, at most five per user per 15 minutes. Vendor users, bound
// to one vendor, are managed in vendor-users.ts and sign in with a code or link (vendor-sign-in.ts).
import type { Knex } from 'knex';
import { phoneHint, toE164, type CountryCode } from '../phones/e164.ts';
import { accountPhoneCountry, callerContext, setupContext, type AccountRow } from '../accounts/service.ts';
import { vendorOwnerPermissions } from '../auth/permissions.ts';
import { issueToken, parseToken } from '../auth/tokens.ts';
import type { RequestContext } from '../context.ts';
import { read, write, type Audit } from '../db/tenant.ts';
import { ConflictError, NotAuthenticatedError, NotFoundError, RateLimitedError, invalidField } from '../errors.ts';
import { paginate } from '../http/pagination.ts';

/** Wrong codes a sign-in survives: the fifth kills the code and the link sent with it. */
export const maxCodeAttempts = 5;

export const magicLinkMinutes = 15;
export const magicLinksPerWindow = 5;

export interface PortalUserRow {
  account_id: number;
  id: string;
  kind: 'vendor' | 'client';
  vendor_id: string | null;
  vendor_role: 'owner' | 'technician' | null;
  chatwoot_contact_id: number | null;
  name: string;
  email: string | null;
  phone: string | null;
  active: boolean;
  created_at: Date;
  updated_at?: Date;
}

const publicFields = ['id', 'kind', 'vendor_id', 'chatwoot_contact_id', 'name', 'email', 'phone', 'active', 'created_at'] as const;

export async function portalContext(db: Knex, account: AccountRow, portalUserId: string, requestId: string | null): Promise<RequestContext | null> {
  const user = await read({ db, accountId: account.account_id }, (trx) =>
    trx<PortalUserRow>('portal_users').where({ account_id: account.account_id, id: portalUserId }).first(),
  );
  if (!user || !user.active) return null;
  if (user.kind === 'vendor') {
    // A vendor switched off (or removed) closes its people's door too.
    const vendor = await read({ db, accountId: account.account_id }, (trx) =>
      trx('vendors').where({ account_id: account.account_id, id: user.vendor_id }).whereNull('deleted_at').first('active'),
    );
    if (!vendor?.active) return null;
  }
  if (user.kind === 'client') return { ...callerContext(db, account, { type: 'portal_user', id: user.id }, ['client'], requestId), contactId: user.chatwoot_contact_id! };
  // An owner also runs the vendor's team; technicians hold the vendor role alone.
  const extra = user.vendor_role === 'owner' ? vendorOwnerPermissions : [];
  return { ...callerContext(db, account, { type: 'portal_user', id: user.id }, ['vendor'], requestId, extra), vendorId: user.vendor_id!, vendorRole: user.vendor_role! };
}

/** The device a session was opened on, as the request showed it (for the list of sessions). */
export interface Device { userAgent: string | null; ip: string | null }

export interface SessionOptions {
  ttlHours: number;
  /** Each use pushes the expiry this far ahead (long-lived sessions on a device); absent: fixed expiry. */
  renewHours?: number;
  device?: Device;
}

/** Opens a portal session for `user` inside the caller's transaction; the audit event names the portal user. */
export async function openPortalSession(
  trx: Knex.Transaction,
  audit: Audit,
  user: PortalUserRow,
  options: SessionOptions,
  how: Record<string, unknown>,
) {
  const session = issueToken('session', user.account_id);
  const expiresAt = new Date(Date.now() + options.ttlHours * 3600_000);
  const [row] = await trx('sessions')
    .insert({
      account_id: user.account_id,
      subject_type: 'portal_user',
      subject_id: user.id,
      token_hash: session.hash,
      expires_at: expiresAt,
      renew_hours: options.renewHours ?? null,
      user_agent: options.device?.userAgent?.slice(0, 500) ?? null,
      ip: options.device?.ip ?? null,
    })
    .returning(['id']);
  await audit({ actor: { type: 'portal_user', id: user.id }, action: 'session.created', resourceType: 'session', resourceId: row.id, after: { ...how, expires_at: expiresAt } });
  return { token: session.token, expiresAt, portalUser: user, sessionId: row.id as string };
}

/** E.164, as Chatwoot requires (a national number is read in `country`, the account's); an invalid number is a 422. */
export function normalisePhone(input: string, field = 'phone', country?: CountryCode): string {
  const number = toE164(input, country);
  if (!number) {
    const hint = `Give ${phoneHint}${country ? ` (without a country code it is read as a number of ${country})` : ''}`;
    throw invalidField(field, hint, 'invalid_phone', 'The phone number is not valid');
  }
  return number;
}

export interface NewClientPortalUser { chatwoot_contact_id: number; name: string; email?: string | null; phone?: string | null }

export async function createClientPortalUser(ctx: RequestContext, input: NewClientPortalUser) {
  const phone = input.phone ? normalisePhone(input.phone, 'phone', await accountPhoneCountry(ctx.db, ctx.accountId)) : null;
  try {
    return await write(ctx, async (trx, audit) => {
      const [row] = await trx<PortalUserRow>('portal_users')
        .insert({ account_id: ctx.accountId, kind: 'client', chatwoot_contact_id: input.chatwoot_contact_id, name: input.name, email: input.email ?? null, phone })
        .returning([...publicFields]);
      await audit({ action: 'portal_user.created', resourceType: 'portal_user', resourceId: row!.id, after: { ...row } });
      return row!;
    });
  } catch (err) {
    if ((err as { code?: string }).code === '23505') throw new ConflictError('portal_user_exists', 'This contact already has a portal account');
    throw err;
  }
}

/** Client portal accounts, optionally the one of a Chatwoot contact; each says when its person last used the portal. */
export async function listClientPortalUsers(ctx: RequestContext, page: { limit: number; cursor?: string; chatwoot_contact_id?: number }) {
  return read(ctx, (trx) => {
    const query = trx('portal_users as u').where({ 'u.account_id': ctx.accountId, 'u.kind': 'client' });
    if (page.chatwoot_contact_id !== undefined) query.andWhere('u.chatwoot_contact_id', page.chatwoot_contact_id);
    query.select([
      ...publicFields.map((field) => `u.${field}`),
      trx.raw(`(select max(s.last_used_at) from sessions s where s.account_id = u.account_id and s.subject_type = 'portal_user' and s.subject_id = u.id) as last_seen_at`),
    ]);
    return paginate<PortalUserRow & { last_seen_at: Date | null }>(query, { keys: { 'u.id': 'uuid' }, limit: page.limit, cursor: page.cursor });
  });
}

export async function setPortalUserActive(ctx: RequestContext, portalUserId: string, active: boolean) {
  return write(ctx, async (trx, audit) => {
    const before = await trx<PortalUserRow>('portal_users').where({ account_id: ctx.accountId, id: portalUserId, kind: 'client' }).first();
    if (!before) throw new NotFoundError('Portal user');
    const [after] = await trx<PortalUserRow>('portal_users')
      .where({ account_id: ctx.accountId, id: portalUserId })
      .update({ active, updated_at: trx.fn.now() })
      .returning([...publicFields]);
    if (!active) {
      await trx('sessions')
        .where({ account_id: ctx.accountId, subject_type: 'portal_user', subject_id: portalUserId })
        .whereNull('revoked_at')
        .update({ revoked_at: trx.fn.now(), revoked_reason: 'portal_user_deactivated' });
    }
    await audit({ action: active ? 'portal_user.activated' : 'portal_user.deactivated', resourceType: 'portal_user', resourceId: portalUserId, before: { active: before.active }, after: { active } });
    return after!;
  });
}

/** Staff create a sign-in link to hand to the client (by SMS, email or copy); the token is shown once. */
export async function issueMagicLink(ctx: RequestContext, portalUserId: string, publicUrl: string) {
  return write(ctx, async (trx, audit) => {
    const user = await trx<PortalUserRow>('portal_users').where({ account_id: ctx.accountId, id: portalUserId, kind: 'client' }).first();
    if (!user) throw new NotFoundError('Portal user');
    if (!user.active) throw new ConflictError('portal_user_inactive', 'This portal account is deactivated');
    const recent = await trx('magic_links')
      .where({ account_id: ctx.accountId, portal_user_id: portalUserId })
      .andWhere('created_at', '>', trx.raw(`now() - interval '${magicLinkMinutes} minutes'`))
      .count<{ count: number }[]>('* as count');
    if (recent[0]!.count >= magicLinksPerWindow) {
      throw new RateLimitedError(`At most ${magicLinksPerWindow} sign-in links per ${magicLinkMinutes} minutes for one portal user`);
    }
    const { token, hash } = issueToken('magicLink', ctx.accountId);
    const expiresAt = new Date(Date.now() + magicLinkMinutes * 60_000);
    const [link] = await trx('magic_links')
      .insert({ account_id: ctx.accountId, portal_user_id: portalUserId, token_hash: hash, expires_at: expiresAt })
      .returning(['id']);
    await audit({ action: 'magic_link.issued', resourceType: 'portal_user', resourceId: portalUserId, after: { magic_link_id: link.id, expires_at: expiresAt } });
    // In the fragment, so the token never reaches a server log or a Referer header.
    return { token, url: `${publicUrl}/portal/client/sign-in#token=${token}`, expires_at: expiresAt };
  });
}

/**
 * Exchanges a magic link for a portal session. Single use: a second exchange fails, and the user's
 * other pending links and codes die with it. `kind` limits the exchange to one kind of portal user.
 * Sessions are renewed on use (a long session on that device).
 */
export async function consumeMagicLink(
  db: Knex,
  token: string,
  sessionTtlHours: number,
  requestId: string | null,
  options: { kind?: PortalUserRow['kind']; device?: Device } = {},
) {
  const parsed = parseToken(token);
  const expired = () => new NotAuthenticatedError('This sign-in link is invalid, expired or already used; ask for a new one');
  if (!parsed || parsed.kind !== 'magicLink') throw expired();
  const account = await db<AccountRow>('accounts').where({ account_id: parsed.accountId }).first();
  if (!account) throw expired();
  // Onelink opens the session; the audit event names the portal user who signed in.
  return write(setupContext(db, account.account_id, requestId), async (trx, audit) => {
    const [link] = await trx('magic_links')
      .where({ account_id: account.account_id, token_hash: parsed.hash })
      .whereNull('used_at')
      .andWhere('expires_at', '>', trx.fn.now())
      // Five wrong codes kill the code and the link sent with it (clients' links carry no code: 0).
      .andWhere('attempts', '<', maxCodeAttempts)
      .update({ used_at: trx.fn.now() })
      .returning(['id', 'portal_user_id']);
    if (!link) throw expired();
    const user = await trx<PortalUserRow>('portal_users').where({ account_id: account.account_id, id: link.portal_user_id, active: true }).first();
    // A refused exchange rolls back, so the link of another kind of user stays usable where it belongs.
    if (!user || (options.kind && user.kind !== options.kind)) throw expired();
    // The code sent with the link dies with it, and so do the user's other pending links and codes.
    await trx('magic_links').where({ account_id: account.account_id, portal_user_id: user.id }).whereNull('used_at').update({ used_at: trx.fn.now() });
    return openPortalSession(trx, audit, user, { ttlHours: sessionTtlHours, renewHours: sessionTtlHours, device: options.device }, { method: 'magic_link', magic_link_id: link.id });
  });
}
