// The vendor's own business data from the portal: staff may lock a vendor's hours, area or
// categories against the vendor's edits; compliance documents carry their file and a review
// (pending_review → approved | rejected with a reason). Documents recorded before review existed
// were entered by staff, so they start approved.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('vendors', (t) => {
    t.specificType('locked_fields', 'text[]').notNullable().defaultTo('{}');
  });
  await knex.raw(`alter table vendors add constraint vendors_locked_fields check (locked_fields <@ array['availability', 'area', 'categories']::text[])`);

  await knex.schema.alterTable('vendor_documents', (t) => {
    t.text('storage_key');
    t.text('filename');
    t.text('content_type');
    t.bigInteger('size_bytes');
    t.text('sha256');
    // Rows written without a status are staff's own records (as every row before this migration).
    t.text('status').notNullable().defaultTo('approved');
    t.text('submitted_by_type');
    t.text('submitted_by_id');
    t.text('reviewed_by_type');
    t.text('reviewed_by_id');
    t.timestamp('reviewed_at', { useTz: true });
    t.text('rejection_reason');
  });
  await knex.raw(`alter table vendor_documents add constraint vendor_documents_status check (status in ('pending_review', 'approved', 'rejected'))`);
  await knex.raw(`alter table vendor_documents add constraint vendor_documents_rejection_reason check (status <> 'rejected' or rejection_reason is not null)`);
  await knex.raw(
    `alter table vendor_documents add constraint vendor_documents_file check ((storage_key is null) = (filename is null) and (storage_key is null) = (content_type is null) and (storage_key is null) = (size_bytes is null))`,
  );
  // The review queue: what waits for staff, oldest first.
  await knex.raw(`create index vendor_documents_pending on vendor_documents (account_id, created_at) where status = 'pending_review' and deleted_at is null`);
}

export async function down(knex: Knex): Promise<void> {
  // Without a status every row would count toward compliance: documents never approved go first.
  await knex('vendor_documents').whereNot('status', 'approved').delete();
  await knex.raw('drop index if exists vendor_documents_pending');
  await knex.raw('alter table vendor_documents drop constraint if exists vendor_documents_file');
  await knex.raw('alter table vendor_documents drop constraint if exists vendor_documents_rejection_reason');
  await knex.raw('alter table vendor_documents drop constraint if exists vendor_documents_status');
  await knex.schema.alterTable('vendor_documents', (t) => {
    for (const column of ['storage_key', 'filename', 'content_type', 'size_bytes', 'sha256', 'status', 'submitted_by_type', 'submitted_by_id', 'reviewed_by_type', 'reviewed_by_id', 'reviewed_at', 'rejection_reason']) {
      t.dropColumn(column);
    }
  });
  await knex.raw('alter table vendors drop constraint if exists vendors_locked_fields');
  await knex.schema.alterTable('vendors', (t) => t.dropColumn('locked_fields'));
}
