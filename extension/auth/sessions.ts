// Agent sign-in with a Chatwoot access token, our sessions, and turning a bearer token into a
// RequestContext. The dashboard-app appContext is never an input here: identity comes only from
// a token Chatwoot itself vouched for, re-checked every few minutes.
import type { Knex } from 'knex';
import { callerContext, ensureAccount, setupContext, type AccountRow } from '../accounts/service.ts';
import { ChatwootError, fetchProfile, type ChatwootProfile } from '../chatwoot/client.ts';
import { findInstallation, type Installation } from '../chatwoot/installations.ts';
import type { RequestContext } from '../context.ts';
import { read, write } from '../db/tenant.ts';
import { HttpError, unauthorized } from '../http/errors.ts';
import { portalContext } from '../portal/service.ts';
import { appRequestHeaderValue } from './session-cookie.ts';
import type { Sealer } from '../security/crypto.ts';
import { agentRoles } from './permissions.ts';
import { issueToken, parseToken } from './tokens.ts';

export interface AuthSettings {
  db: Knex;
  sealer: Sealer;
  sessionTtlHours: number;
  reverifyMinutes: number;
  chatwootTimeoutMs: number;
}

export interface UserRow {
  account_id: number;
  id: string;
  chatwoot_user_id: number;
  name: string;
  email: string | null;
  chatwoot_role: 'administrator' | 'agent';
  granted_roles: string[];
  active: boolean;
  updated_at?: Date;
}

/** After this long without a successful re-verification, a Chatwoot outage stops being tolerated. */
const reverifyGraceMinutes = 60;

const signInFailed = (code: string, message: string, status = 401) => new HttpError(status, code, message);

function displayName(profile: ChatwootProfile) {
  return profile.available_name || profile.name || profile.email || `Chatwoot user ${profile.id}`;
}

/** Upserts the agent for this account from what Chatwoot says; audits creation and role changes. */
async function syncUser(ctx: RequestContext, profile: ChatwootProfile, role: 'administrator' | 'agent'): Promise<UserRow> {
  return write(ctx, async (trx, audit) => {
    const before = await trx<UserRow>('users').where({ account_id: ctx.accountId, chatwoot_user_id: profile.id }).first();
    const fields = { name: displayName(profile), email: profile.email ?? null, chatwoot_role: role, active: true, last_verified_at: trx.fn.now() };
    const [after] = before
      ? await trx<UserRow>('users').where({ account_id: ctx.accountId, id: before.id }).update({ ...fields, updated_at: trx.fn.now() }).returning('*')
      : await trx<UserRow>('users').insert({ account_id: ctx.accountId, chatwoot_user_id: profile.id, ...fields }).returning('*');
    const tracked = (row?: UserRow) => row && { name: row.name, email: row.email, chatwoot_role: row.chatwoot_role, active: row.active };
    await audit({
      action: before ? 'user.verified' : 'user.created',
      resourceType: 'user',
      resourceId: after!.id,
      before: tracked(before) ?? null,
      after: tracked(after)!,
    });
    return after!;
  });
}

export interface SignInInput { accessToken: string; chatwootUrl?: string; chatwootAccountId?: number; requestId: string | null }

export async function signInWithChatwoot(settings: AuthSettings, input: SignInInput) {
  const installation = await findInstallation(settings.db, input.chatwootUrl);
  if (!installation) {
    throw signInFailed('unknown_installation', 'This Chatwoot is not connected to Onelink; an administrator must run the installer first', 404);
  }
  let profile: ChatwootProfile;
  try {
    profile = await fetchProfile({ baseUrl: installation.base_url, token: input.accessToken, timeoutMs: settings.chatwootTimeoutMs });
  } catch (err) {
    if (err instanceof ChatwootError && err.kind === 'unauthorized') {
      throw signInFailed('invalid_chatwoot_token', 'Chatwoot did not accept this access token');
    }
    throw signInFailed('chatwoot_unreachable', 'Chatwoot could not be reached to check the access token; try again shortly', 503);
  }
  const memberships = profile.accounts;
  const membership =
    input.chatwootAccountId !== undefined ? memberships.find((a) => a.id === input.chatwootAccountId) : memberships.length === 1 ? memberships[0] : undefined;
  if (!membership) {
    if (input.chatwootAccountId === undefined && memberships.length > 1) {
      throw new HttpError(422, 'account_required', 'You belong to several Chatwoot accounts: say which one', {
        accounts: memberships.map((a) => ({ id: a.id, name: a.name })),
      });
    }
    throw signInFailed('not_a_member', 'This Chatwoot user is not a member of that account', 403);
  }

  const account = await ensureAccount(settings.db, installation.id, { id: membership.id, name: membership.name ?? `Account ${membership.id}` }, input.requestId);
  const user = await syncUser(setupContext(settings.db, account.account_id, input.requestId), profile, membership.role);
  const { token, hash } = issueToken('session', account.account_id);
  const expiresAt = new Date(Date.now() + settings.sessionTtlHours * 3600_000);
  const userCtx = contextFor(settings.db, account, user, input.requestId);
  await write(userCtx, async (trx, audit) => {
    const [session] = await trx('sessions')
      .insert({
        account_id: account.account_id,
        subject_type: 'user',
        subject_id: user.id,
        token_hash: hash,
        chatwoot_token_sealed: settings.sealer.seal(input.accessToken),
        expires_at: expiresAt,
      })
      .returning(['id']);
    await audit({ action: 'session.created', resourceType: 'session', resourceId: session.id, after: { method: 'chatwoot_token', expires_at: expiresAt } });
  });
  return { token, expiresAt, account, user, installation };
}

function contextFor(db: Knex, account: AccountRow, user: UserRow, requestId: string | null): RequestContext {
  return callerContext(db, account, { type: 'user', id: user.id }, agentRoles(user.chatwoot_role, user.granted_roles), requestId);
}

interface SessionJoin {
  id: string;
  subject_type: 'user' | 'portal_user';
  subject_id: string;
  chatwoot_token_sealed: string | null;
  expires_at: Date;
  revoked_at: Date | null;
  verified_at: Date;
  last_used_at: Date;
  /** Renewed on use: each use (at most once a minute) pushes the expiry this many hours ahead. */
  renew_hours: number | null;
}

export interface Credentials {
  authorization?: string;
  cookie?: string;
  requestedWith?: string;
}

/**
 * Resolves the caller from `Authorization: Bearer …`, or from the session cookie when the
 * request also carries our app header. Throws 401 otherwise.
 */
export async function authenticate(settings: AuthSettings, credentials: Credentials, requestId: string | null): Promise<RequestContext> {
  const bearer = /^Bearer\s+(\S+)$/i.exec(credentials.authorization ?? '')?.[1];
  const fromCookie = !bearer && credentials.cookie && credentials.requestedWith === appRequestHeaderValue ? credentials.cookie : undefined;
  const token = bearer ?? fromCookie;
  const parsed = token ? parseToken(token) : null;
  if (!parsed || parsed.kind === 'magicLink' || (fromCookie && parsed.kind !== 'session')) {
    throw unauthorized('Sign in first: send a session or service token as Authorization: Bearer');
  }
  const account = await settings.db<AccountRow>('accounts').where({ account_id: parsed.accountId }).first();
  if (!account) throw unauthorized('This token is not valid');
  if (parsed.kind === 'service') return authenticateServiceToken(settings, account, parsed.hash, requestId);

  // One read for the session and, for agents, their user row.
  const { session, agent } = await read({ db: settings.db, accountId: account.account_id }, async (trx) => {
    const session = (await trx('sessions').where({ account_id: account.account_id, token_hash: parsed.hash }).first()) as SessionJoin | undefined;
    const agent =
      session?.subject_type === 'user'
        ? ((await trx('users').where({ account_id: account.account_id, id: session.subject_id }).first()) as UserRow | undefined)
        : undefined;
    return { session, agent };
  });
  if (!session || session.revoked_at || session.expires_at.getTime() <= Date.now()) {
    throw unauthorized('This session has expired or was signed out; sign in again');
  }
  if (session.subject_type === 'portal_user') {
    const ctx = await portalContext(settings.db, account, session.subject_id, requestId);
    if (!ctx) throw unauthorized('This portal account is no longer active');
    await touchSession(settings.db, account.account_id, session);
    return { ...ctx, sessionId: session.id };
  }

  let user = agent;
  if (!user || !user.active) throw unauthorized('Your access to this account was removed');
  if (Date.now() - session.verified_at.getTime() > settings.reverifyMinutes * 60_000) {
    user = await reverify(settings, account, user, session, requestId);
  }
  await touchSession(settings.db, account.account_id, session);
  return { ...contextFor(settings.db, account, user, requestId), sessionId: session.id };
}

/** Bookkeeping, not a change anyone made: written at most once a minute, not audited. */
async function touchSession(db: Knex, accountId: number, session: Pick<SessionJoin, 'id' | 'last_used_at' | 'renew_hours'>) {
  if (Date.now() - session.last_used_at.getTime() < 60_000) return;
  const renewed = session.renew_hours ? { expires_at: new Date(Date.now() + session.renew_hours * 3600_000) } : {};
  await write(setupContext(db, accountId), async (trx, audit) => {
    await trx('sessions').where({ account_id: accountId, id: session.id }).whereNull('revoked_at').update({ last_used_at: trx.fn.now(), ...renewed });
    audit.bookkeeping('sessions');
  });
}

/** Asks Chatwoot again whether this agent still belongs to the account, and with which role. */
async function reverify(settings: AuthSettings, account: AccountRow, user: UserRow, session: SessionJoin, requestId: string | null): Promise<UserRow> {
  const installation = await settings.db<Installation>('installations').where({ id: account.installation_id }).first();
  let profile: ChatwootProfile;
  try {
    profile = await fetchProfile({
      baseUrl: installation!.base_url,
      token: settings.sealer.open(session.chatwoot_token_sealed!),
      timeoutMs: settings.chatwootTimeoutMs,
    });
  } catch (err) {
    if (err instanceof ChatwootError && err.kind === 'unauthorized') {
      await revokeSessions(settings.db, account.account_id, user.id, 'chatwoot_token_rejected', requestId, { deactivate: false, sessionId: session.id });
      throw unauthorized('Chatwoot no longer accepts your access token; sign in again');
    }
    if (Date.now() - session.verified_at.getTime() < reverifyGraceMinutes * 60_000) return user; // a short Chatwoot outage
    throw new HttpError(503, 'chatwoot_unreachable', 'Your access cannot be confirmed with Chatwoot right now; try again shortly');
  }
  const membership = profile.accounts.find((a) => a.id === account.chatwoot_account_id);
  if (!membership) {
    await revokeSessions(settings.db, account.account_id, user.id, 'removed_from_account', requestId, { deactivate: true });
    throw unauthorized('Your access to this account was removed in Chatwoot');
  }
  const synced = await syncUser(setupContext(settings.db, account.account_id, requestId), profile, membership.role);
  await write(setupContext(settings.db, account.account_id, requestId), async (trx, audit) => {
    await trx('sessions').where({ account_id: account.account_id, id: session.id }).update({ verified_at: trx.fn.now() });
    audit.bookkeeping('sessions'); // the membership check itself; a changed role is audited by syncUser
  });
  return synced;
}

async function revokeSessions(
  db: Knex,
  accountId: number,
  userId: string,
  reason: string,
  requestId: string | null,
  options: { deactivate: boolean; sessionId?: string },
) {
  await write(setupContext(db, accountId, requestId), async (trx, audit) => {
    const query = trx('sessions').where({ account_id: accountId, subject_type: 'user', subject_id: userId }).whereNull('revoked_at');
    if (options.sessionId) query.andWhere({ id: options.sessionId });
    const revoked = await query.update({ revoked_at: trx.fn.now(), revoked_reason: reason }).returning('id');
    if (options.deactivate) {
      await trx('users').where({ account_id: accountId, id: userId }).update({ active: false, updated_at: trx.fn.now() });
      await audit({ action: 'user.deactivated', resourceType: 'user', resourceId: userId, before: { active: true }, after: { active: false, reason } });
    }
    await audit({ action: 'session.revoked', resourceType: 'user', resourceId: userId, after: { reason, sessions: revoked.length } });
  });
}

/** Signs the current session out. */
export async function signOut(ctx: RequestContext) {
  if (!ctx.sessionId) return;
  await write(ctx, async (trx, audit) => {
    await trx('sessions')
      .where({ account_id: ctx.accountId, id: ctx.sessionId })
      .whereNull('revoked_at')
      .update({ revoked_at: trx.fn.now(), revoked_reason: 'signed_out' });
    await audit({ action: 'session.revoked', resourceType: 'session', resourceId: ctx.sessionId!, after: { reason: 'signed_out' } });
  });
}

async function authenticateServiceToken(settings: AuthSettings, account: AccountRow, hash: Buffer, requestId: string | null): Promise<RequestContext> {
  const row = await read({ db: settings.db, accountId: account.account_id }, (trx) =>
    trx('service_tokens').where({ account_id: account.account_id, token_hash: hash }).first(),
  );
  if (!row || row.revoked_at || (row.expires_at && row.expires_at.getTime() <= Date.now())) {
    throw unauthorized('This service token is not valid, expired or was revoked');
  }
  if (!row.last_used_at || Date.now() - row.last_used_at.getTime() > 60_000) {
    await write(setupContext(settings.db, account.account_id, requestId), async (trx, audit) => {
      await trx('service_tokens').where({ account_id: account.account_id, id: row.id }).update({ last_used_at: trx.fn.now() });
      audit.bookkeeping('service_tokens');
    });
  }
  return callerContext(settings.db, account, { type: 'service', id: row.id }, ['service'], requestId, row.scopes);
}
