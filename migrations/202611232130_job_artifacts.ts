// Photos and documents on jobs. The bytes live in file storage under a key of ours; this row
// says what they are (type sniffed from the content), who may see them and how they scanned.
import type { Knex } from 'knex';

const currentAccount = `nullif(current_setting('onelink.account_id', true), '')::bigint`;

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('job_artifacts', (t) => {
    t.bigInteger('account_id').notNullable().references('account_id').inTable('accounts').onDelete('cascade');
    t.uuid('id').notNullable();
    t.uuid('job_id').notNullable();
    t.text('kind').notNullable();
    t.text('filename').notNullable();
    t.text('content_type').notNullable();
    t.bigInteger('size_bytes').notNullable();
    t.text('sha256').notNullable();
    t.text('storage_key').notNullable();
    t.text('thumbnail_key');
    t.integer('width');
    t.integer('height');
    t.text('visibility').notNullable().defaultTo('internal');
    t.text('scan_status').notNullable();
    t.text('uploaded_by_type').notNullable();
    t.text('uploaded_by_id').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('deleted_at', { useTz: true });
    t.primary(['account_id', 'id']);
    t.index(['account_id', 'job_id', 'created_at']);
    t.foreign(['account_id', 'job_id']).references(['account_id', 'id']).inTable('jobs').onDelete('cascade');
    t.check(`kind in ('photo', 'document')`);
    t.check(`visibility in ('internal', 'client_visible')`);
    t.check(`scan_status in ('clean', 'not_scanned')`);
    t.check(`size_bytes >= 0`);
  });
  await knex.raw(`alter table job_artifacts enable row level security, force row level security`);
  await knex.raw(`create policy tenant_isolation on job_artifacts using (account_id = ${currentAccount}) with check (account_id = ${currentAccount})`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('job_artifacts');
}
