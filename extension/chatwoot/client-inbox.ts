// The account's "Client portal" inbox in Chatwoot: an API-channel inbox where clients' portal
// messages arrive on their existing contacts (extension/client-messages/). Set up like the
// Vendors inbox (vendor-inbox.ts holds the one set-up both use).
import type { Knex } from 'knex';
import type { RequestContext } from '../context.ts';
import type { Sealer } from '../security/crypto.ts';
import type { ChatwootTarget } from './client.ts';
import { ensurePortalInbox, storedPortalInbox, type PortalInbox } from './vendor-inbox.ts';

export { clientInboxName } from './vendor-inbox.ts';
export type ClientInbox = PortalInbox;

/** The client portal inbox we stored for the account, if any. */
export const storedClientInbox = (db: Knex, sealer: Sealer, accountId: number) => storedPortalInbox(db, sealer, accountId, 'client');

/** Finds or creates the client portal inbox and stores it for the account. */
export const ensureClientInbox = (ctx: RequestContext, sealer: Sealer, target: ChatwootTarget, chatwootAccountId: number) => ensurePortalInbox(ctx, sealer, target, chatwootAccountId, 'client');
