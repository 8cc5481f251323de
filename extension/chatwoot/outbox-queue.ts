// Queueing write-backs for Chatwoot, inside the transaction of the change they report (the worker
// that delivers them is outbox.ts). Apart from the delivery so that modules queueing a write-back
// do not import everything the delivery imports.
import type { Knex } from 'knex';
import type { RequestContext } from '../context.ts';
import type { VendorMessageItem } from '../vendor-messages/deliver.ts';

export interface NoteItem { kind: 'note'; content: string }
export interface AttributesItem { kind: 'attributes'; attributes: Record<string, string | number | null> }

/** Queues write-backs for a conversation, inside the caller's transaction. */
export async function queueWriteBack(trx: Knex.Transaction, ctx: Pick<RequestContext, 'accountId'>, conversationId: number | null, items: Array<NoteItem | AttributesItem>) {
  if (!conversationId || !items.length) return;
  await trx('chatwoot_outbox').insert(
    items.map((item) => ({ account_id: ctx.accountId, kind: item.kind, chatwoot_conversation_id: conversationId, payload: JSON.stringify(item) })),
  );
}

/**
 * Queues a vendor's message for Chatwoot (its conversation may not exist yet: the delivery opens
 * it), inside the transaction that stored the message. See vendor-messages/deliver.ts.
 */
export async function queueVendorMessage(trx: Knex.Transaction, ctx: Pick<RequestContext, 'accountId'>, messageId: string) {
  const item: VendorMessageItem = { kind: 'vendor_message', messageId };
  await trx('chatwoot_outbox').insert({ account_id: ctx.accountId, kind: item.kind, chatwoot_conversation_id: null, payload: JSON.stringify(item) });
}

