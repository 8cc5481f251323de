// The vendor's technician on a job: the vendor's owner (or dispatch) gives a job the vendor holds
// to one of the vendor's people, and a technician sees only the jobs given to them.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('jobs', (t) => {
    t.uuid('technician_id');
    t.foreign(['account_id', 'technician_id']).references(['account_id', 'id']).inTable('portal_users');
  });
  await knex.raw(`create index jobs_technician on jobs (account_id, technician_id, status) where technician_id is not null`);
  // A technician only ever holds a job their vendor holds (the service checks who; this, that there is a vendor).
  await knex.raw(`alter table jobs add constraint jobs_technician_needs_vendor check (technician_id is null or vendor_id is not null)`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`alter table jobs drop constraint jobs_technician_needs_vendor`);
  await knex.raw('drop index if exists jobs_technician');
  await knex.schema.alterTable('jobs', (t) => {
    t.dropForeign(['account_id', 'technician_id']);
    t.dropColumn('technician_id');
  });
}
