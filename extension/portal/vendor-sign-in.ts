// Portal users (vendor people and clients) sign in without a password: they give their e-mail
// address or phone number, and we send a 6-digit code with a single-use link (e-mail or SMS,
// through the notification channels' senders, not through the notification outbox). Both live 10
// minutes (a client's 15) and die together. The code is
// sealed at rest (a 6-digit hash would fall to a million guesses); five wrong codes kill it. A
// request never says whether the person exists, and at most five are honoured per user per 15
// minutes (the rest change nothing); the routes also limit each client address.
import { randomInt } from 'node:crypto';
import type { Knex } from 'knex';
import { accountPhoneCountry, setupContext, type AccountRow } from '../accounts/service.ts';
import { issueToken } from '../auth/tokens.ts';
import { write } from '../db/tenant.ts';
import { NotAuthenticatedError } from '../errors.ts';
import type { EventName } from '../notifications/catalogue.ts';
import type { ChannelSenders, OutgoingDelivery, SendResult } from '../notifications/channels/types.ts';
import { safeEqual, type Sealer } from '../security/crypto.ts';
import { magicLinkMinutes, magicLinksPerWindow, maxCodeAttempts, normalisePhone, openPortalSession, type Device, type PortalUserRow } from './service.ts';

export const signInCodeMinutes = 10;
export { maxCodeAttempts };

export type PortalKind = PortalUserRow['kind'];

/** How long a code and its link live: vendors' 10 minutes; clients' links are the portal's usual 15. */
export function signInMinutes(kind: PortalKind) {
  return kind === 'client' ? magicLinkMinutes : signInCodeMinutes;
}

export interface SignInDeps {
  db: Knex;
  sealer: Sealer;
  senders: Pick<ChannelSenders, 'email' | 'sms'>;
  publicUrl: string;
  sessionTtlHours: number;
}

/** Who asks to sign in: the account (its id, in the portal's address) and the e-mail or phone they were invited with. */
export type SignInIdentity = { accountId: number } & ({ email: string; phone?: undefined } | { phone: string; email?: undefined });

export interface PendingSignIn {
  user: PortalUserRow;
  accountName: string;
  channel: 'email' | 'sms';
  linkId: string;
  code: string;
  token: string;
  expiresAt: Date;
}

/** Not a catalogue event: a sign-in message is sent straight away, never through the outbox. */
const signInEvent = 'portal.sign_in' as EventName;

export function signInUrl(publicUrl: string, token: string, kind: PortalKind = 'vendor') {
  // In the fragment, so the token never reaches a server log or a Referer header.
  return `${publicUrl}/portal/${kind}/sign-in#token=${token}`;
}

/** The message with the code and the link, as the e-mail or SMS sender takes it. */
export function signInDelivery(pending: PendingSignIn, publicUrl: string): OutgoingDelivery {
  const { user, channel } = pending;
  const portal = user.kind === 'client' ? `${pending.accountName}'s client portal` : 'the vendor portal';
  return {
    id: pending.linkId,
    accountId: user.account_id,
    event: signInEvent,
    channel,
    recipient: { kind: user.kind === 'client' ? 'contact' : 'vendor', id: user.id, name: user.name },
    address: channel === 'email' ? user.email : user.phone,
    message: {
      title: `${pending.code} is your sign-in code for ${pending.accountName}`,
      body: `Enter the code in ${portal}, or open the link. Either works once, for ${signInMinutes(user.kind)} minutes.\n\nIf you did not ask to sign in, ignore this message.`,
      url: signInUrl(publicUrl, pending.token, user.kind),
      link: null,
    },
    attempts: 0,
    untracked: true,
  };
}

export async function sendSignIn(deps: Pick<SignInDeps, 'senders' | 'publicUrl'>, pending: PendingSignIn): Promise<SendResult> {
  return deps.senders[pending.channel].send(signInDelivery(pending, deps.publicUrl));
}

/**
 * The active portal user of `kind` with this address. A vendor's address is unique in the account;
 * clients' are not (a family may share one), so the one who signed in last (else the newest) is taken.
 */
async function findPortalUser(trx: Knex.Transaction, kind: PortalKind, identity: SignInIdentity) {
  const [column, value] = identity.email !== undefined ? ['u.email', identity.email] : ['u.phone', identity.phone];
  return trx('portal_users as u')
    .where('u.account_id', identity.accountId)
    .andWhere('u.kind', kind)
    .andWhere('u.active', true)
    .andWhere(column, value)
    .orderByRaw(
      `(select max(s.last_used_at) from sessions s where s.account_id = u.account_id and s.subject_type = 'portal_user' and s.subject_id = u.id) desc nulls last, u.created_at desc`,
    )
    .first<PortalUserRow | undefined>('u.*');
}

/** A national number is read in the account's country, as everywhere else. */
async function normalised(db: Knex, identity: SignInIdentity): Promise<SignInIdentity> {
  if (identity.phone === undefined) return identity;
  return { accountId: identity.accountId, phone: normalisePhone(identity.phone, 'phone', await accountPhoneCountry(db, identity.accountId)) };
}

/**
 * Creates a code and link for `user` inside the caller's transaction, unless the user already had
 * their share for the window (then null: nothing is sent).
 */
export async function createSignIn(
  trx: Knex.Transaction,
  deps: Pick<SignInDeps, 'sealer'>,
  user: PortalUserRow,
  channel: 'email' | 'sms',
  requestedIp: string | null,
  options: { withCode?: boolean } = {},
): Promise<Omit<PendingSignIn, 'accountName'> | null> {
  // One request per person at a time: without the lock, parallel requests would each count fewer
  // than the limit and all create a code (and every live code is a target for guesses).
  await trx('portal_users').where({ account_id: user.account_id, id: user.id }).forUpdate().first('id');
  const recent = await trx('magic_links')
    .where({ account_id: user.account_id, portal_user_id: user.id })
    .andWhere('created_at', '>', trx.raw(`now() - interval '${magicLinkMinutes} minutes'`))
    .count<{ count: number }[]>('* as count');
  if (Number(recent[0]!.count) >= magicLinksPerWindow) return null;
  // A link alone (sent in a conversation) carries no code: a code nobody was told is only a target.
  const withCode = options.withCode ?? true;
  const code = withCode ? String(randomInt(0, 1_000_000)).padStart(6, '0') : '';
  const { token, hash } = issueToken('magicLink', user.account_id);
  const expiresAt = new Date(Date.now() + signInMinutes(user.kind) * 60_000);
  const [link] = await trx('magic_links')
    .insert({
      account_id: user.account_id,
      portal_user_id: user.id,
      token_hash: hash,
      code_sealed: withCode ? deps.sealer.seal(code) : null,
      channel: withCode ? channel : null,
      requested_ip: requestedIp,
      expires_at: expiresAt,
    })
    .returning(['id']);
  return { user, channel, linkId: link.id, code, token, expiresAt };
}

async function accountName(db: Knex, accountId: number) {
  const account = await db<AccountRow>('accounts').where({ account_id: accountId }).first('name');
  return account?.name ?? null;
}

/**
 * A sign-in request. Returns what to send, or null when nothing is to be sent (no such active
 * portal user of `kind`, or their requests for the window are used up); the caller answers the same either way.
 */
export async function requestSignIn(deps: SignInDeps, kind: PortalKind, input: SignInIdentity, device: Device, requestId: string | null): Promise<PendingSignIn | null> {
  const name = await accountName(deps.db, input.accountId);
  if (name === null) return null;
  const identity = await normalised(deps.db, input);
  const channel = identity.email !== undefined ? 'email' : 'sms';
  const pending = await write(setupContext(deps.db, identity.accountId, requestId), async (trx, audit) => {
    const user = await findPortalUser(trx, kind, identity);
    const created = user ? await createSignIn(trx, deps, user, channel, device.ip) : null;
    if (!created) {
      audit.nothingChanged();
      return null;
    }
    // Anyone may ask in someone's name: recorded by Onelink about the user, not as the user.
    await audit({
      action: 'sign_in.requested',
      resourceType: 'portal_user',
      resourceId: created.user.id,
      after: { magic_link_id: created.linkId, channel, expires_at: created.expiresAt, ip: device.ip },
    });
    return created;
  });
  return pending && { ...pending, accountName: name };
}

const codeRefused = () => new NotAuthenticatedError('This code is wrong, expired or already used; ask for a new one');

/**
 * Exchanges a code for a session. A wrong code counts against every pending code of that user (so
 * asking for several codes buys no extra guesses); the fifth wrong one kills them. The count is
 * committed before the refusal is answered.
 */
export async function exchangeCode(deps: SignInDeps, kind: PortalKind, input: SignInIdentity & { code: string }, device: Device, requestId: string | null) {
  if ((await accountName(deps.db, input.accountId)) === null) throw codeRefused();
  const identity = await normalised(deps.db, input);
  const outcome = await write(setupContext(deps.db, identity.accountId, requestId), async (trx, audit) => {
    const user = await findPortalUser(trx, kind, identity);
    if (!user) {
      audit.nothingChanged();
      return null;
    }
    const pending: Array<{ id: string; code_sealed: string; attempts: number }> = await trx('magic_links')
      .where({ account_id: user.account_id, portal_user_id: user.id })
      .whereNull('used_at')
      .whereNotNull('code_sealed')
      .andWhere('expires_at', '>', trx.fn.now())
      .andWhere('attempts', '<', maxCodeAttempts)
      .forUpdate()
      .select('id', 'code_sealed', 'attempts');
    const match = pending.find((row) => safeEqual(deps.sealer.open(row.code_sealed), input.code));
    if (!match) {
      if (pending.length === 0) {
        audit.nothingChanged();
        return null;
      }
      await trx('magic_links')
        .where({ account_id: user.account_id })
        .whereIn('id', pending.map((row) => row.id))
        .increment('attempts', 1);
      const left = maxCodeAttempts - 1 - Math.max(...pending.map((row) => row.attempts));
      await audit({
        action: 'sign_in.code_refused',
        resourceType: 'portal_user',
        resourceId: user.id,
        after: { attempts_left: Math.max(left, 0), ip: device.ip },
      });
      return null;
    }
    // Signed in: this code, its link and the user's other pending ones are spent.
    await trx('magic_links').where({ account_id: user.account_id, portal_user_id: user.id }).whereNull('used_at').update({ used_at: trx.fn.now() });
    return openPortalSession(trx, audit, user, { ttlHours: deps.sessionTtlHours, renewHours: deps.sessionTtlHours, device }, { method: 'code', magic_link_id: match.id });
  });
  if (!outcome) throw codeRefused();
  return outcome;
}

export function requestVendorSignIn(deps: SignInDeps, input: SignInIdentity, device: Device, requestId: string | null) {
  return requestSignIn(deps, 'vendor', input, device, requestId);
}

export function exchangeVendorCode(deps: SignInDeps, input: SignInIdentity & { code: string }, device: Device, requestId: string | null) {
  return exchangeCode(deps, 'vendor', input, device, requestId);
}
