// A person erased on request (extension/privacy): their tasks stay, without them.
import type { Knex } from 'knex';
import { erasedMark, scrubbedColumn } from '../../privacy/person.ts';

/** Unlinks `taskIds` from the contact, scrubs the person's strings from titles and clears descriptions; returns how many. */
export async function deIdentifyTasks(trx: Knex.Transaction, accountId: number, taskIds: string[], personal: readonly string[]): Promise<number> {
  if (!taskIds.length) return 0;
  return trx('tasks')
    .where({ account_id: accountId })
    .whereIn('id', taskIds)
    .update({
      chatwoot_contact_id: null,
      title: trx.raw(`coalesce(nullif(btrim(?), ''), ?)`, [scrubbedColumn(trx, 'title', personal), erasedMark]),
      description: null,
      version: trx.raw('version + 1'),
      updated_at: trx.fn.now(),
    });
}
