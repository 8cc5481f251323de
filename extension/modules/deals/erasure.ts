// A person erased on request (extension/privacy): their deals stay for the figures, without them.
import type { Knex } from 'knex';
import { erasedMark, scrubJson, scrubbedColumn } from '../../privacy/person.ts';

/**
 * Unlinks `dealIds` from the contact, replaces the person's strings (`personal`) in titles and custom
 * fields with "[erased]", and deletes the deals' notes (free text about the person). Returns how many
 * notes went.
 */
export async function deIdentifyDeals(trx: Knex.Transaction, accountId: number, dealIds: string[], personal: readonly string[]): Promise<number> {
  if (!dealIds.length) return 0;
  for (const deal of await trx('deals').where({ account_id: accountId }).whereIn('id', dealIds).forUpdate().select('id', 'custom_fields')) {
    await trx('deals')
      .where({ account_id: accountId, id: deal.id })
      .update({
        chatwoot_contact_id: null,
        title: trx.raw(`coalesce(nullif(btrim(?), ''), ?)`, [scrubbedColumn(trx, 'title', personal), erasedMark]),
        custom_fields: JSON.stringify(scrubJson(deal.custom_fields, personal)),
        version: trx.raw('version + 1'),
        updated_at: trx.fn.now(),
      });
  }
  return trx('deal_notes').where({ account_id: accountId }).whereIn('deal_id', dealIds).delete();
}
