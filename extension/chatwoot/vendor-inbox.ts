// The account's "Vendors" inbox in Chatwoot: an API-channel inbox whose contacts are the vendors'
// people, one conversation per job and person (extension/vendor-messages/). Set up by the
// installer, by an admin (POST /chatwoot/vendor-inbox) or, failing both, by the first vendor
// message. Finds before it creates: the one we stored, else an API inbox named "Vendors" that
// posts its events nowhere (one whose webhook_url sends them to someone else is not ours to
// adopt: the vendors' messages would reach them too), else a new one; its identifier (what the
// public API names it by, with no token) is kept sealed. One set-up at a time per account (the
// account's row is locked meanwhile), so two first messages at once do not make two inboxes.
import type { Knex } from 'knex';
import type { RequestContext } from '../context.ts';
import { write } from '../db/tenant.ts';
import type { Sealer } from '../security/crypto.ts';
import { createApiInbox, listInboxes, type ChatwootInbox, type ChatwootTarget } from './client.ts';

export const vendorInboxName = 'Vendors';

export interface VendorInbox { inboxId: number; identifier: string }

const isApiInbox = (inbox: ChatwootInbox): inbox is ChatwootInbox & { inbox_identifier: string } =>
  typeof inbox.inbox_identifier === 'string' && inbox.inbox_identifier.length > 0 && (inbox.channel_type === undefined || inbox.channel_type === 'Channel::Api');
/** An API inbox that forwards nothing: its events go to no webhook of its own. */
const isQuietApiInbox = (inbox: ChatwootInbox) => isApiInbox(inbox) && !inbox.webhook_url;

/** The vendors inbox we stored for the account, if any. */
export async function storedVendorInbox(db: Knex, sealer: Sealer, accountId: number): Promise<VendorInbox | null> {
  const row = await db('accounts').where({ account_id: accountId }).first('chatwoot_vendor_inbox_id', 'chatwoot_vendor_inbox_identifier_sealed');
  if (!row?.chatwoot_vendor_inbox_id || !row.chatwoot_vendor_inbox_identifier_sealed) return null;
  return { inboxId: Number(row.chatwoot_vendor_inbox_id), identifier: sealer.open(row.chatwoot_vendor_inbox_identifier_sealed) };
}

/**
 * Finds or creates the vendors inbox in Chatwoot and stores it for the account (the account's
 * administrator token acts). A creation whose answer was lost is found by name on the next run.
 */
export async function ensureVendorInbox(
  ctx: RequestContext,
  sealer: Sealer,
  target: ChatwootTarget,
  chatwootAccountId: number,
): Promise<VendorInbox & { outcome: 'existing' | 'found' | 'created' }> {
  return write(ctx, async (trx, audit) => {
    // Held until this set-up is stored: a second one waits, then finds what the first stored.
    const row = await trx('accounts').where({ account_id: ctx.accountId }).forUpdate().first('chatwoot_vendor_inbox_id', 'chatwoot_vendor_inbox_identifier_sealed');
    const stored: VendorInbox | null =
      row?.chatwoot_vendor_inbox_id && row.chatwoot_vendor_inbox_identifier_sealed ? { inboxId: Number(row.chatwoot_vendor_inbox_id), identifier: sealer.open(row.chatwoot_vendor_inbox_identifier_sealed) } : null;
    const inboxes = await listInboxes(target, chatwootAccountId);
    const kept = stored && inboxes.find((i) => i.id === stored.inboxId && isApiInbox(i));
    if (kept) {
      audit.nothingChanged();
      return { ...stored, identifier: kept.inbox_identifier ?? stored.identifier, outcome: 'existing' as const };
    }
    const named = inboxes.find((i) => i.name === vendorInboxName && isQuietApiInbox(i)) as (ChatwootInbox & { inbox_identifier: string }) | undefined;
    const inbox = named ?? (await createApiInbox(target, chatwootAccountId, vendorInboxName));
    await trx('accounts')
      .where({ account_id: ctx.accountId })
      .update({ chatwoot_vendor_inbox_id: inbox.id, chatwoot_vendor_inbox_identifier_sealed: sealer.seal(inbox.inbox_identifier), updated_at: trx.fn.now() });
    await audit({
      action: 'account.vendor_inbox_set',
      resourceType: 'account',
      resourceId: String(ctx.accountId),
      before: stored ? { chatwoot_inbox_id: stored.inboxId } : null,
      after: { chatwoot_inbox_id: inbox.id, how: named ? 'found' : 'created' },
    });
    return { inboxId: inbox.id, identifier: inbox.inbox_identifier, outcome: named ? ('found' as const) : ('created' as const) };
  });
}
