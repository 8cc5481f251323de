// The Chatwoot webhook inbox and the cache of Chatwoot conversations.
// webhook_deliveries is kept per installation: a delivery is verified and stored before its
// account is known (the account id is inside the payload, which may even fail to parse), so it
// cannot sit behind the account policy; every read of it names the account or the installation.
import type { Knex } from 'knex';

const currentAccount = `nullif(current_setting('onelink.account_id', true), '')::bigint`;

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('webhook_deliveries', (t) => {
    t.uuid('installation_id').notNullable().references('id').inTable('installations').onDelete('cascade');
    t.uuid('id').notNullable().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('source').notNullable().defaultTo('chatwoot');
    t.text('dedupe_key').notNullable();
    t.bigInteger('account_id'); // ours, once resolved from the payload
    t.text('event');
    t.jsonb('headers').notNullable();
    t.text('body').notNullable(); // raw, exactly as signed
    t.text('status').notNullable().defaultTo('received');
    t.integer('attempts').notNullable().defaultTo(0);
    t.text('last_error');
    t.timestamp('received_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('processed_at', { useTz: true });
    t.primary(['installation_id', 'id']);
    t.unique(['installation_id', 'source', 'dedupe_key']);
    t.check(`status in ('received', 'processing', 'processed', 'ignored', 'retrying', 'failed', 'dead')`);
  });
  await knex.raw(`create index webhook_deliveries_pending on webhook_deliveries (received_at) where status in ('received', 'retrying')`);
  // Partial: a delivery learns its account only when processed, so receipt adds no entry here.
  await knex.raw(`create index webhook_deliveries_account on webhook_deliveries (account_id, status, received_at) where account_id is not null`);

  await knex.schema.createTable('chatwoot_conversations', (t) => {
    t.bigInteger('account_id').notNullable().references('account_id').inTable('accounts').onDelete('cascade');
    t.integer('chatwoot_conversation_id').notNullable(); // the display id agents see
    t.integer('inbox_id');
    t.text('status');
    t.integer('assignee_id');
    t.integer('chatwoot_contact_id');
    t.specificType('labels', 'text[]').notNullable().defaultTo('{}');
    t.timestamp('last_activity_at', { useTz: true });
    t.timestamp('source_updated_at', { useTz: true });
    t.timestamp('synced_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['account_id', 'chatwoot_conversation_id']);
    t.index(['account_id', 'chatwoot_contact_id']);
  });
  await knex.raw(`alter table chatwoot_conversations enable row level security, force row level security`);
  await knex.raw(`create policy tenant_isolation on chatwoot_conversations using (account_id = ${currentAccount}) with check (account_id = ${currentAccount})`);
  await knex.schema.alterTable('chatwoot_contacts', (t) => {
    t.timestamp('source_updated_at', { useTz: true });
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('chatwoot_contacts', (t) => t.dropColumn('source_updated_at'));
  await knex.schema.dropTableIfExists('chatwoot_conversations');
  await knex.schema.dropTableIfExists('webhook_deliveries');
}
