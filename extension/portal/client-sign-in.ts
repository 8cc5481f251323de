// Clients get into their portal the way vendor people do (vendor-sign-in.ts: a code and a link by
// e-mail or SMS, never saying whether the person exists), and staff invite them: the client portal
// account is made from the Chatwoot contact and a sign-in link goes out as an outgoing message in
// the client's own Chatwoot conversation (so it reaches them on whatever channel they use), or by
// e-mail or SMS. The link's token lives only in the message: we keep its hash, and neither logs nor
// the audit trail see it. Staff list and revoke a client's sessions.
import type { Knex } from 'knex';
import { accountPhoneCountry } from '../accounts/service.ts';
import { ChatwootError, contactConversations, type ChatwootConversationSummary, type ChatwootTarget } from '../chatwoot/client.ts';
import { chatwootTargetFor } from '../chatwoot/outbox.ts';
import { answer, chatwootApi } from '../chatwoot/sdk.ts';
import type { RequestContext } from '../context.ts';
import { read, write } from '../db/tenant.ts';
import { ConflictError, NotFoundError, invalidField } from '../errors.ts';
import type { EventName } from '../notifications/catalogue.ts';
import type { ChannelSenders, OutgoingDelivery, SendResult } from '../notifications/channels/types.ts';
import type { Sealer } from '../security/crypto.ts';
import { toE164 } from '../phones/e164.ts';
import type { PortalUserRow } from './service.ts';
import { createSignIn, signInDelivery, signInMinutes, signInUrl, type PendingSignIn } from './vendor-sign-in.ts';
import { listSessionsOf, revokeSessionOf } from './vendor-users.ts';

export type InviteVia = 'conversation' | 'email' | 'sms';

export interface InviteDeps {
  db: Knex;
  sealer: Sealer;
  senders: Pick<ChannelSenders, 'email' | 'sms' | 'chatwoot'>;
  publicUrl: string;
  chatwootTimeoutMs: number;
}

export interface InviteInput { chatwoot_contact_id: number; chatwoot_conversation_id?: number; via?: InviteVia }

export interface InviteOutcome { via: InviteVia; outcome: 'sent' | 'failed' | 'not_possible'; reason?: string }

const listed = ['id', 'kind', 'chatwoot_contact_id', 'name', 'email', 'phone', 'active', 'created_at'] as const;

function pick(row: PortalUserRow) {
  return Object.fromEntries(listed.map((key) => [key, row[key]])) as Pick<PortalUserRow, (typeof listed)[number]>;
}

/** Not a catalogue event: the invitation is sent straight away, never through the outbox. */
const inviteEvent = 'portal.invitation' as EventName;

interface ContactDetails { name: string; email: string | null; phone: string | null }

/** The contact as our cache knows it, else as Chatwoot says (null: Chatwoot has no such contact). */
async function contactDetails(ctx: RequestContext, connect: () => Promise<Connection>, contactId: number): Promise<ContactDetails | null> {
  const cached = await read(ctx, (trx) => trx('chatwoot_contacts').where({ account_id: ctx.accountId, chatwoot_contact_id: contactId }).first('name', 'email', 'phone_e164'));
  if (cached) return { name: cached.name ?? '', email: cached.email ?? null, phone: cached.phone_e164 ?? null };
  const { target, chatwootAccountId } = await connect();
  let shown: unknown;
  try {
    shown = await answer(chatwootApi(target).GET('/api/v1/accounts/{account_id}/contacts/{id}', { params: { path: { account_id: chatwootAccountId, id: contactId } } }), 'GET contact');
  } catch (err) {
    if (err instanceof ChatwootError && err.status === 404) return null;
    throw err;
  }
  // Chatwoot answers { payload: contact }; the document shows the contact flat.
  const body = shown as { payload?: Record<string, unknown> } & Record<string, unknown>;
  const contact = (body.payload && typeof body.payload === 'object' ? body.payload : body) as { name?: unknown; email?: unknown; phone_number?: unknown };
  const text = (v: unknown) => (typeof v === 'string' && v.trim() ? v.trim() : null);
  return { name: text(contact.name) ?? '', email: text(contact.email), phone: text(contact.phone_number) };
}

interface Connection { target: ChatwootTarget; chatwootAccountId: number }

/** The conversation to write in: the one staff named (it must be the contact's), else the contact's latest outside the portals' own inboxes. */
async function conversationFor(ctx: RequestContext, connection: Connection, contactId: number, named: number | undefined): Promise<number | null> {
  const all = await contactConversations(connection.target, connection.chatwootAccountId, contactId);
  if (named !== undefined) {
    if (!all.some((c) => c.id === named)) throw invalidField('chatwoot_conversation_id', "Name one of this contact's conversations", 'not_contacts_conversation', "This conversation is not the contact's");
    return named;
  }
  const portals = await read(ctx, (trx) => trx('accounts').where({ account_id: ctx.accountId }).first('chatwoot_client_inbox_id', 'chatwoot_vendor_inbox_id'));
  const excluded = new Set([portals?.chatwoot_client_inbox_id, portals?.chatwoot_vendor_inbox_id].filter((v) => v != null).map(Number));
  const latest = (c: ChatwootConversationSummary) => c.last_activity_at ?? 0;
  const candidates = all.filter((c) => !excluded.has(Number(c.inbox_id)));
  candidates.sort((a, b) => latest(b) - latest(a) || b.id - a.id);
  return candidates[0]?.id ?? null;
}

/** Chatwoot's refusal or silence, in words staff can act on. */
function chatwootTrouble(err: unknown): string {
  if (err instanceof ChatwootError) {
    if (err.kind === 'unauthorized') return 'Chatwoot refused the token Onelink acts with: reinstall or reconnect the account';
    if (err.kind === 'unreachable' || err.kind === 'outcome_unknown') return 'Chatwoot could not be reached; try again in a moment';
    return `Chatwoot refused the request (${err.status ?? 'no status'})`;
  }
  return 'Chatwoot could not be reached; try again in a moment';
}

function outcomeOf(via: InviteVia, result: SendResult): InviteOutcome {
  if (result.outcome === 'sent') return { via, outcome: 'sent' };
  return { via, outcome: 'failed', reason: result.reason };
}

/** The invitation as an outgoing message on the client's conversation: the link only (a code means nothing there). */
function conversationMessage(pending: PendingSignIn, publicUrl: string, conversationId: number): OutgoingDelivery {
  const url = signInUrl(publicUrl, pending.token, 'client');
  const text = `${pending.accountName} invites you to your client portal: message us, follow your jobs and see what we share.\n\nSign in with this link (it works once, within ${signInMinutes('client')} minutes): ${url}\n\nWhen it has expired, ask for a new one on the sign-in page with your e-mail address or phone number.`;
  return {
    id: pending.linkId,
    accountId: pending.user.account_id,
    event: inviteEvent,
    channel: 'chatwoot',
    recipient: { kind: 'contact', id: pending.user.id, name: pending.user.name },
    address: String(conversationId),
    message: { title: `${pending.accountName}: your client portal`, body: text, url, link: null, customerText: text },
    attempts: 0,
    untracked: true,
  };
}

/**
 * Invites a Chatwoot contact to the client portal: makes their portal account if they have none,
 * issues a sign-in link and sends it. The answer says honestly whether it went out.
 */
export async function inviteClient(ctx: RequestContext, deps: InviteDeps, input: InviteInput, ip: string | null) {
  const via: InviteVia = input.via ?? 'conversation';
  let connection: Connection | null = null;
  const connect = async () => (connection ??= await chatwootTargetFor(deps.db, deps.sealer, ctx.accountId, deps.chatwootTimeoutMs));

  // The contact's details are needed only to make their portal account.
  const existing = await read(ctx, (trx) => trx('portal_users').where({ account_id: ctx.accountId, kind: 'client', chatwoot_contact_id: input.chatwoot_contact_id }).first('id'));
  const contact = existing
    ? null
    : await contactDetails(ctx, connect, input.chatwoot_contact_id).catch((err: unknown) => {
        if (err instanceof ChatwootError) throw new ConflictError('chatwoot_unavailable', `The contact is not known here yet, and asking Chatwoot failed: ${chatwootTrouble(err)}`);
        throw err;
      });
  if (!existing && !contact) throw new NotFoundError('Contact');

  // Where it goes, found before anything is written: a wrong conversation is the caller's mistake.
  let conversationId: number | null = null;
  let unsendable: InviteOutcome | null = null;
  if (via === 'conversation') {
    try {
      conversationId = await conversationFor(ctx, await connect(), input.chatwoot_contact_id, input.chatwoot_conversation_id);
      if (conversationId === null) unsendable = { via, outcome: 'not_possible', reason: 'The contact has no conversation to write in; send the link by e-mail or SMS' };
    } catch (err) {
      if (!(err instanceof ChatwootError)) throw err;
      unsendable = { via, outcome: 'failed', reason: chatwootTrouble(err) };
    }
  }

  const country = await accountPhoneCountry(ctx.db, ctx.accountId);
  const invitation = (): Promise<{ user: PortalUserRow; pending: Omit<PendingSignIn, 'accountName'> | null; created: boolean }> =>
    write(ctx, async (trx, audit) => {
      let user = await trx<PortalUserRow>('portal_users').where({ account_id: ctx.accountId, kind: 'client', chatwoot_contact_id: input.chatwoot_contact_id }).first();
      let created = false;
      if (!user) {
        // Removed since we looked (so its contact was not fetched): asked again, it is made afresh.
        if (!contact) throw new ConflictError('portal_user_changed', 'The contact’s portal account changed meanwhile; try again');
        // Chatwoot keeps E.164 already; anything else is left out rather than refused (staff can fix it on the contact).
        const phone = contact.phone ? (toE164(contact.phone, country) ?? null) : null;
        const name = contact.name || contact.email || phone || `Contact ${input.chatwoot_contact_id}`;
        [user] = await trx<PortalUserRow>('portal_users')
          .insert({ account_id: ctx.accountId, kind: 'client', chatwoot_contact_id: input.chatwoot_contact_id, name, email: contact.email, phone })
          .returning('*');
        created = true;
        await audit({ action: 'portal_user.created', resourceType: 'portal_user', resourceId: user!.id, after: pick(user!) });
      }
      if (!user!.active) throw new ConflictError('portal_user_inactive', 'This portal account is deactivated; activate it before inviting');
      const address = via === 'email' ? user!.email : via === 'sms' ? user!.phone : 'conversation';
      let pending: Omit<PendingSignIn, 'accountName'> | null = null;
      if (!unsendable && !address) {
        unsendable = { via, outcome: 'not_possible', reason: via === 'email' ? 'The contact has no e-mail address' : 'The contact has no phone number' };
      }
      if (!unsendable) {
        pending = await createSignIn(trx, deps, user!, via === 'sms' ? 'sms' : 'email', ip, { withCode: via !== 'conversation' });
        if (!pending) unsendable = { via, outcome: 'not_possible', reason: 'Too many sign-in links for this person in the last 15 minutes; try again later' };
      }
      await audit({
        action: 'portal_user.invited',
        resourceType: 'portal_user',
        resourceId: user!.id,
        // Never the link: its id and where it went.
        after: { via, chatwoot_conversation_id: conversationId, magic_link_id: pending?.linkId ?? null, expires_at: pending?.expiresAt ?? null, ...(unsendable ? { not_sent: unsendable.reason } : {}) },
      });
      return { user: user!, pending, created };
    });
  let done: Awaited<ReturnType<typeof invitation>>;
  try {
    done = await invitation();
  } catch (err) {
    // Two invitations of a new client at once: the second finds the account the first made.
    if ((err as { code?: string }).code !== '23505') throw err;
    done = await invitation();
  }
  const { user, pending, created } = done;

  let sent: InviteOutcome;
  if (unsendable || !pending) {
    sent = unsendable ?? { via, outcome: 'not_possible', reason: 'No link was issued' };
  } else {
    const account = await deps.db('accounts').where({ account_id: ctx.accountId }).first('name');
    const full: PendingSignIn = { ...pending, accountName: account.name as string };
    if (via === 'conversation') {
      sent = outcomeOf(via, await deps.senders.chatwoot.send(conversationMessage(full, deps.publicUrl, conversationId!)));
    } else {
      const channel = via === 'sms' ? 'sms' : 'email';
      const why = await deps.senders[channel].unavailable(deps.db, ctx.accountId);
      sent = why ? { via, outcome: 'not_possible', reason: why } : outcomeOf(via, await deps.senders[channel].send(signInDelivery(full, deps.publicUrl)));
    }
  }
  // 'retry' from a sender means it did not go out now: said as failed, with its reason.
  return { portal_user: pick(user), created, sent };
}

async function clientUser(trx: Knex.Transaction, ctx: RequestContext, portalUserId: string) {
  const user = await trx<PortalUserRow>('portal_users').where({ account_id: ctx.accountId, id: portalUserId, kind: 'client' }).first('id');
  if (!user) throw new NotFoundError('Portal user');
}

export async function listClientSessions(ctx: RequestContext, portalUserId: string) {
  return read(ctx, async (trx) => {
    await clientUser(trx, ctx, portalUserId);
    return listSessionsOf(trx, ctx, { type: 'portal_user', id: portalUserId });
  });
}

export async function revokeClientSession(ctx: RequestContext, portalUserId: string, sessionId: string) {
  await write(ctx, async (trx, audit) => {
    await clientUser(trx, ctx, portalUserId);
    await revokeSessionOf(trx, ctx, { type: 'portal_user', id: portalUserId }, sessionId, 'revoked_by_staff');
    await audit({ action: 'session.revoked', resourceType: 'session', resourceId: sessionId, after: { reason: 'revoked_by_staff', portal_user_id: portalUserId } });
  });
  return { id: sessionId, revoked: true };
}
