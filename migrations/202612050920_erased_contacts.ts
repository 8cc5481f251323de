// Contacts erased on request (extension/privacy/service.ts). Chatwoot sends no delete events and
// keeps sending what it knows about a contact, so the erasure leaves a tombstone: the webhook
// processor and the sync skip a tombstoned contact instead of caching it again.
//
//   erased_contacts   account, the Chatwoot contact id, when and by whom it was erased
//
// Nothing else about the person is kept here: the row says only that an id was erased.
import type { Knex } from 'knex';

const currentAccount = `nullif(current_setting('onelink.account_id', true), '')::bigint`;

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('erased_contacts', (t) => {
    t.bigInteger('account_id').notNullable().references('account_id').inTable('accounts').onDelete('cascade');
    t.bigInteger('chatwoot_contact_id').notNullable();
    t.timestamp('erased_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    // Who asked: an admin (user), a service token, or the command line (system).
    t.text('erased_by_type').notNullable();
    t.text('erased_by_id').notNullable();
    t.primary(['account_id', 'chatwoot_contact_id']);
  });
  await knex.raw(`alter table erased_contacts enable row level security, force row level security`);
  await knex.raw(`create policy tenant_isolation on erased_contacts using (account_id = ${currentAccount}) with check (account_id = ${currentAccount})`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('erased_contacts');
}
