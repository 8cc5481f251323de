// The portals' API-channel inboxes in Chatwoot: "Vendors" (vendors' people, one conversation per
// job and person: extension/vendor-messages/) and "Client portal" (clients on their existing
// contacts, a general conversation and one per job: extension/client-messages/). Each is set up
// by the installer, by an admin (POST /chatwoot/vendor-inbox, /chatwoot/client-inbox) or,
// failing both, by the first message. Finds before it creates: the one we stored, else an API
// inbox of that name that posts its events nowhere (one whose webhook_url sends them to someone
// else is not ours to adopt: the portal's messages would reach them too), else a new one; its
// identifier (what the public API names it by, with no token) is kept sealed. One set-up at a
// time per account (the account's row is locked meanwhile), so two first messages at once do not
// make two inboxes.
import type { Knex } from 'knex';
import type { RequestContext } from '../context.ts';
import { write } from '../db/tenant.ts';
import type { Sealer } from '../security/crypto.ts';
import { createApiInbox, listInboxes, type ChatwootInbox, type ChatwootTarget } from './client.ts';

export type PortalInboxKind = 'vendor' | 'client';

/** Per portal: the inbox's name in Chatwoot, the account columns it is stored in, and its audit action. */
const kinds = {
  vendor: { name: 'Vendors', id: 'chatwoot_vendor_inbox_id', identifier: 'chatwoot_vendor_inbox_identifier_sealed', action: 'account.vendor_inbox_set' },
  client: { name: 'Client portal', id: 'chatwoot_client_inbox_id', identifier: 'chatwoot_client_inbox_identifier_sealed', action: 'account.client_inbox_set' },
} as const satisfies Record<PortalInboxKind, { name: string; id: string; identifier: string; action: string }>;

export const vendorInboxName = kinds.vendor.name;
export const clientInboxName = kinds.client.name;

export interface PortalInbox { inboxId: number; identifier: string }
export type VendorInbox = PortalInbox;

const isApiInbox = (inbox: ChatwootInbox): inbox is ChatwootInbox & { inbox_identifier: string } =>
  typeof inbox.inbox_identifier === 'string' && inbox.inbox_identifier.length > 0 && (inbox.channel_type === undefined || inbox.channel_type === 'Channel::Api');
/** An API inbox that forwards nothing: its events go to no webhook of its own. */
const isQuietApiInbox = (inbox: ChatwootInbox) => isApiInbox(inbox) && !inbox.webhook_url;

function fromRow(sealer: Sealer, kind: PortalInboxKind, row: Record<string, unknown> | undefined): PortalInbox | null {
  const columns = kinds[kind];
  const id = row?.[columns.id];
  const identifier = row?.[columns.identifier];
  if (!id || typeof identifier !== 'string' || !identifier) return null;
  return { inboxId: Number(id), identifier: sealer.open(identifier) };
}

/** A portal's inbox we stored for the account, if any. */
export async function storedPortalInbox(db: Knex, sealer: Sealer, accountId: number, kind: PortalInboxKind): Promise<PortalInbox | null> {
  const columns = kinds[kind];
  return fromRow(sealer, kind, await db('accounts').where({ account_id: accountId }).first(columns.id, columns.identifier));
}

/**
 * Finds or creates a portal's inbox in Chatwoot and stores it for the account (the account's
 * administrator token acts). A creation whose answer was lost is found by name on the next run.
 */
export async function ensurePortalInbox(
  ctx: RequestContext,
  sealer: Sealer,
  target: ChatwootTarget,
  chatwootAccountId: number,
  kind: PortalInboxKind,
): Promise<PortalInbox & { outcome: 'existing' | 'found' | 'created' }> {
  const columns = kinds[kind];
  return write(ctx, async (trx, audit) => {
    // Held until this set-up is stored: a second one waits, then finds what the first stored.
    const stored = fromRow(sealer, kind, await trx('accounts').where({ account_id: ctx.accountId }).forUpdate().first(columns.id, columns.identifier));
    const inboxes = await listInboxes(target, chatwootAccountId);
    const kept = stored && inboxes.find((i) => i.id === stored.inboxId && isApiInbox(i));
    if (kept) {
      audit.nothingChanged();
      return { ...stored, identifier: kept.inbox_identifier ?? stored.identifier, outcome: 'existing' as const };
    }
    const named = inboxes.find((i) => i.name === columns.name && isQuietApiInbox(i)) as (ChatwootInbox & { inbox_identifier: string }) | undefined;
    const inbox = named ?? (await createApiInbox(target, chatwootAccountId, columns.name));
    await trx('accounts')
      .where({ account_id: ctx.accountId })
      .update({ [columns.id]: inbox.id, [columns.identifier]: sealer.seal(inbox.inbox_identifier), updated_at: trx.fn.now() });
    await audit({
      action: columns.action,
      resourceType: 'account',
      resourceId: String(ctx.accountId),
      before: stored ? { chatwoot_inbox_id: stored.inboxId } : null,
      after: { chatwoot_inbox_id: inbox.id, how: named ? 'found' : 'created' },
    });
    return { inboxId: inbox.id, identifier: inbox.inbox_identifier, outcome: named ? ('found' as const) : ('created' as const) };
  });
}

/** The vendors inbox we stored for the account, if any. */
export const storedVendorInbox = (db: Knex, sealer: Sealer, accountId: number) => storedPortalInbox(db, sealer, accountId, 'vendor');

/** Finds or creates the vendors inbox (see ensurePortalInbox). */
export const ensureVendorInbox = (ctx: RequestContext, sealer: Sealer, target: ChatwootTarget, chatwootAccountId: number) => ensurePortalInbox(ctx, sealer, target, chatwootAccountId, 'vendor');
