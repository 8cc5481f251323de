// Erased contacts stay erased: Chatwoot keeps sending what it knows about a contact (webhooks, the
// sync's pages), and the cache writers drop what they observed of a contact with a tombstone
// (erased_contacts, written by the erasure in service.ts).
import type { Knex } from 'knex';
import type { RequestContext } from '../context.ts';
import { read } from '../db/tenant.ts';

/** The ids among `contactIds` that were erased in the account. */
export async function erasedAmong(trx: Knex.Transaction, accountId: number, contactIds: number[]): Promise<Set<number>> {
  if (!contactIds.length) return new Set();
  const rows = (await trx('erased_contacts').where({ account_id: accountId }).whereIn('chatwoot_contact_id', [...new Set(contactIds)]).pluck('chatwoot_contact_id')) as number[];
  return new Set(rows.map(Number));
}

/** `contacts` without the erased ones, read in the caller's transaction (the sync writes its page there). */
export async function withoutErased<T extends { id: number }>(trx: Knex.Transaction, accountId: number, contacts: T[]): Promise<T[]> {
  const erased = await erasedAmong(trx, accountId, contacts.map((c) => c.id));
  return erased.size ? contacts.filter((c) => !erased.has(c.id)) : contacts;
}

/**
 * The observations of a batch of webhook deliveries without the contacts that were erased (one
 * short read for the batch; conversations and activity stay, they carry no personal data).
 */
export async function dropErasedContacts<T extends { contacts: Array<{ id: number }> }>(ctx: Pick<RequestContext, 'db' | 'accountId'>, batch: T[]): Promise<T[]> {
  const ids = batch.flatMap((o) => o.contacts.map((c) => c.id));
  if (!ids.length) return batch;
  const erased = await read(ctx, (trx) => erasedAmong(trx, ctx.accountId, ids));
  return erased.size ? batch.map((o) => ({ ...o, contacts: o.contacts.filter((c) => !erased.has(c.id)) })) : batch;
}
