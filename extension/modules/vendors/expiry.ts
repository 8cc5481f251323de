// Compliance documents running out: once a document is within 30 days of its expiry, within 7
// days, and once it has expired, the vendors module records an alert (vendor_document_alerts, one
// per document, threshold and expiry date) and an audit event, which tells the dispatchers and the
// vendor (notifications catalogue). A renewed document (a new expiry date) starts over. Only
// approved documents are watched, and not one an approved renewal of the same kind outlasts.
import type { Knex } from 'knex';
import type { Audit } from '../../db/tenant.ts';
import { sumOverAccounts, type AccountPart } from '../system/sweeps.ts';

async function alertsForAccount(trx: Knex.Transaction, accountId: number, audit: Audit, now: Date): Promise<number> {
  // Only the most urgent threshold a document has reached: one added 5 days before it expires
  // raises "7 days", not "30 days" as well.
  const { rows } = await trx.raw<{ rows: Array<{ document_id: string; vendor_id: string; threshold: string; expires_on: string }> }>(
    `with today as (select (?::timestamptz at time zone 'UTC')::date as d),
     reached as (
       select doc.account_id, doc.id, doc.vendor_id, doc.expires_on,
              case when doc.expires_on < today.d then 'expired'
                   when doc.expires_on <= today.d + 7 then '7_days'
                   else '30_days' end as threshold
         from vendor_documents doc
         join vendors v on v.account_id = doc.account_id and v.id = doc.vendor_id
         cross join today
        where doc.account_id = ? and doc.deleted_at is null and doc.expires_on is not null and doc.status = 'approved'
          and v.deleted_at is null and v.active and doc.expires_on <= today.d + 30
          and not exists (
            select 1 from vendor_documents renewal
             where renewal.account_id = doc.account_id and renewal.vendor_id = doc.vendor_id and renewal.id <> doc.id
               and renewal.deleted_at is null and renewal.status = 'approved' and lower(btrim(renewal.kind)) = lower(btrim(doc.kind))
               -- a renewal outlasts it; of two running out the same day, the later-recorded one speaks for both
               and (renewal.expires_on is null or renewal.expires_on > doc.expires_on or (renewal.expires_on = doc.expires_on and renewal.id > doc.id))))
     insert into vendor_document_alerts (account_id, document_id, threshold, expires_on)
     select account_id, id, threshold, expires_on from reached
     on conflict do nothing
     returning document_id, threshold, to_char(expires_on, 'YYYY-MM-DD') as expires_on,
               (select vendor_id from reached where reached.id = document_id) as vendor_id`,
    [now, accountId],
  );
  if (!rows.length) audit.nothingChanged();
  for (const row of rows) {
    await audit({
      action: row.threshold === 'expired' ? 'vendor.document_expired' : 'vendor.document_expiring',
      resourceType: 'vendor_document',
      resourceId: row.document_id,
      after: { vendor_id: row.vendor_id, threshold: row.threshold, expires_on: row.expires_on },
    });
  }
  return rows.length;
}

/** The document expiry sweep over every account (hourly: see notifications/queue.ts). */
export function raiseDocumentAlerts(db: Knex, now = new Date(), forAccount?: AccountPart): Promise<number> {
  return sumOverAccounts(db, { process: 'vendor-document-sweep', describe: 'The document expiry sweep' }, (trx, accountId, audit) => alertsForAccount(trx, accountId, audit, now), forAccount);
}
