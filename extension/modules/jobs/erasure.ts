// A person erased on request (extension/privacy): their jobs stay for the figures, without them.
import type { Knex } from 'knex';
import { erasedMark, scrubJson, scrubbedColumn } from '../../privacy/person.ts';

/**
 * Unlinks `jobIds` from the contact and its portal user, clears where and what the person told
 * (address, postal code, position, notes), and replaces their strings (`personal`) in summaries and
 * custom fields with "[erased]".
 */
export async function deIdentifyJobs(trx: Knex.Transaction, accountId: number, jobIds: string[], personal: readonly string[]): Promise<void> {
  if (!jobIds.length) return;
  for (const job of await trx('jobs').where({ account_id: accountId }).whereIn('id', jobIds).forUpdate().select('id', 'custom_fields')) {
    await trx('jobs')
      .where({ account_id: accountId, id: job.id })
      .update({
        chatwoot_contact_id: null,
        summary: trx.raw(`coalesce(nullif(btrim(?), ''), ?)`, [scrubbedColumn(trx, 'summary', personal), erasedMark]),
        notes: null,
        address: null,
        postal_code: null,
        lat: null,
        lng: null,
        requested_by_portal_user_id: null,
        custom_fields: JSON.stringify(scrubJson(job.custom_fields, personal)),
        version: trx.raw('version + 1'),
        updated_at: trx.fn.now(),
      });
  }
}

/** Jobs requested through the erased person's portal users no longer name who asked. */
export async function forgetJobRequesters(trx: Knex.Transaction, accountId: number, portalUserIds: string[]): Promise<void> {
  if (!portalUserIds.length) return;
  await trx('jobs').where({ account_id: accountId }).whereIn('requested_by_portal_user_id', portalUserIds).update({ requested_by_portal_user_id: null });
}
