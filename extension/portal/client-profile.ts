// A client's own details in the portal: their name, e-mail and phone. A change is saved on the
// portal account at once and passed on to their Chatwoot contact through the write-back outbox
// (kind 'contact'), so agents see the new address; the profile says whether that went through.
// Chatwoot refusing the change (a 422, e.g. the address belongs to another contact) is final and
// shown to the client; an unreachable Chatwoot is retried by the outbox.
import type { Knex } from 'knex';
import { accountPhoneCountry } from '../accounts/service.ts';
import { ChatwootError, type ChatwootTarget } from '../chatwoot/client.ts';
import { chatwootApi, done } from '../chatwoot/sdk.ts';
import type { RequestContext } from '../context.ts';
import { read, write } from '../db/tenant.ts';
import { NotFoundError, invalidField } from '../errors.ts';
import { normalisePhone, type PortalUserRow } from './service.ts';

export interface ContactUpdateItem { kind: 'contact'; contactId: number; changes: { name?: string; email?: string | null; phone_number?: string | null } }

/** Queues a change of a Chatwoot contact, inside the caller's transaction (no conversation: it is the contact's). */
export async function queueContactUpdate(trx: Knex.Transaction, ctx: RequestContext, item: ContactUpdateItem): Promise<void> {
  if (!Object.keys(item.changes).length) return;
  await trx('chatwoot_outbox').insert({ account_id: ctx.accountId, kind: item.kind, chatwoot_conversation_id: null, payload: JSON.stringify(item) });
}

/** What Chatwoot said when it refused, as the client may read it. */
function refusal(detail: string | undefined): string {
  if (!detail) return 'no reason given';
  try {
    const body = JSON.parse(detail) as { message?: unknown; error?: unknown; errors?: unknown };
    const said = body.message ?? body.error ?? body.errors;
    if (typeof said === 'string') return said;
    if (Array.isArray(said)) return said.map(String).join('; ');
  } catch {
    // not JSON: the text as is
  }
  return detail.slice(0, 200);
}

const refusedPrefix = 'Chatwoot refused the change: ';

/**
 * Puts the change on the Chatwoot contact. Chatwoot's contact update takes no null: a removed
 * e-mail or phone is sent empty, which Chatwoot stores as none. Throws ChatwootError like the other
 * deliveries; a refusal (4xx) is final and carries Chatwoot's reason.
 */
export async function deliverContactUpdate(_ctx: RequestContext, target: ChatwootTarget, chatwootAccountId: number, item: ContactUpdateItem): Promise<void> {
  const { name, email, phone_number } = item.changes;
  const body = {
    ...(name !== undefined ? { name } : {}),
    ...(email !== undefined ? { email: email ?? '' } : {}),
    ...(phone_number !== undefined ? { phone_number: phone_number ?? '' } : {}),
  };
  if (!Object.keys(body).length) return;
  try {
    await done(
      chatwootApi(target).PUT('/api/v1/accounts/{account_id}/contacts/{id}', { params: { path: { account_id: chatwootAccountId, id: item.contactId } }, body }),
      'PUT contact',
    );
  } catch (err) {
    if (err instanceof ChatwootError && err.kind === 'bad_response' && err.status && err.status >= 400 && err.status < 500) {
      const reason = err.status === 404 ? 'the contact no longer exists in Chatwoot' : refusal(err.detail);
      throw new ChatwootError('bad_response', `${refusedPrefix}${reason}`, err.status, { cause: err });
    }
    throw err;
  }
}

/** Records, on the client's portal account, that their change could not reach Chatwoot (the outbox row keeps the error for the profile). */
export async function contactUpdateFailed(ctx: RequestContext, item: ContactUpdateItem, message: string): Promise<void> {
  await write(ctx, async (trx, audit) => {
    const user = await trx<PortalUserRow>('portal_users').where({ account_id: ctx.accountId, kind: 'client', chatwoot_contact_id: item.contactId }).first('id');
    if (!user) return audit.nothingChanged();
    await audit({
      action: 'portal_user.contact_sync_failed',
      resourceType: 'portal_user',
      resourceId: user.id,
      after: { chatwoot_contact_id: item.contactId, fields: Object.keys(item.changes), reason: message.slice(0, 300) },
    });
  });
}

// --- the profile ---

export type ContactSync = { status: 'synced' | 'pending' | 'failed'; error?: string };

function clientOf(ctx: RequestContext) {
  if (ctx.actor.type !== 'portal_user' || ctx.contactId === undefined) throw new NotFoundError('Profile');
  return { portalUserId: ctx.actor.id, contactId: ctx.contactId };
}

/** The state of the latest change passed on for this contact. */
async function contactSync(trx: Knex.Transaction, ctx: RequestContext, contactId: number): Promise<ContactSync> {
  const latest = await trx('chatwoot_outbox')
    .where({ account_id: ctx.accountId, kind: 'contact' })
    .andWhereRaw(`(payload->>'contactId')::bigint = ?`, [contactId])
    .orderBy('created_at', 'desc')
    .first('status', 'last_error');
  if (!latest || latest.status === 'sent') return { status: 'synced' };
  if (latest.status === 'pending') return { status: 'pending' };
  const said = typeof latest.last_error === 'string' && latest.last_error.startsWith(refusedPrefix) ? latest.last_error.slice(refusedPrefix.length) : null;
  return { status: 'failed', error: said ? `Your details were not passed on: ${said}` : 'Your details could not be passed on to us; save them again later' };
}

function present(user: Pick<PortalUserRow, 'name' | 'email' | 'phone'>, sync: ContactSync) {
  return { name: user.name, email: user.email, phone: user.phone, contact_sync: sync };
}

export async function clientProfile(ctx: RequestContext) {
  const { portalUserId, contactId } = clientOf(ctx);
  return read(ctx, async (trx) => {
    const user = await trx<PortalUserRow>('portal_users').where({ account_id: ctx.accountId, id: portalUserId, kind: 'client' }).first('name', 'email', 'phone');
    if (!user) throw new NotFoundError('Profile');
    return present(user, await contactSync(trx, ctx, contactId));
  });
}

export interface ProfileChanges { name?: string; email?: string | null; phone?: string | null }

/** Saves the client's changes and queues them for their Chatwoot contact; unchanged fields are not sent. */
export async function updateClientProfile(ctx: RequestContext, input: ProfileChanges) {
  const { portalUserId, contactId } = clientOf(ctx);
  const phone = input.phone ? normalisePhone(input.phone, 'phone', await accountPhoneCountry(ctx.db, ctx.accountId)) : input.phone === undefined ? undefined : null;
  const email = input.email === undefined ? undefined : input.email ? input.email.trim() : null;
  return write(ctx, async (trx, audit) => {
    const before = await trx<PortalUserRow>('portal_users').where({ account_id: ctx.accountId, id: portalUserId, kind: 'client' }).forUpdate().first();
    if (!before) throw new NotFoundError('Profile');
    const changes: ContactUpdateItem['changes'] = {};
    if (input.name !== undefined && input.name !== before.name) changes.name = input.name;
    if (email !== undefined && (email ?? '').toLowerCase() !== (before.email ?? '').toLowerCase()) changes.email = email;
    if (phone !== undefined && phone !== before.phone) changes.phone_number = phone;
    const nextEmail = 'email' in changes ? changes.email : before.email;
    const nextPhone = 'phone_number' in changes ? changes.phone_number : before.phone;
    if (!nextEmail && !nextPhone) throw invalidField(input.email === null || input.email === '' ? 'email' : 'phone', 'Keep an e-mail address or a phone number: sign-in codes are sent there', 'required', 'Keep an e-mail address or a phone number to sign in with');
    if (!Object.keys(changes).length) {
      audit.nothingChanged();
      return present(before, await contactSync(trx, ctx, contactId));
    }
    const [after] = await trx<PortalUserRow>('portal_users')
      .where({ account_id: ctx.accountId, id: portalUserId })
      .update({
        ...(changes.name !== undefined ? { name: changes.name } : {}),
        ...('email' in changes ? { email: changes.email } : {}),
        ...('phone_number' in changes ? { phone: changes.phone_number } : {}),
        updated_at: trx.fn.now(),
      })
      .returning(['name', 'email', 'phone']);
    await queueContactUpdate(trx, ctx, { kind: 'contact', contactId, changes });
    await audit({
      action: 'portal_user.profile_updated',
      resourceType: 'portal_user',
      resourceId: portalUserId,
      before: { name: before.name, email: before.email, phone: before.phone },
      after: { ...after },
    });
    return present(after!, { status: 'pending' });
  });
}
