// The write-back outbox: what Onelink must tell Chatwoot (private notes, conversation custom
// attributes), written in the same transaction as the change it reports, delivered by a worker.
// A trigger notifies the worker at commit, so a write-back starts at once; a sweep retries.
import type { Knex } from 'knex';

const currentAccount = `nullif(current_setting('onelink.account_id', true), '')::bigint`;

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('chatwoot_outbox', (t) => {
    t.bigInteger('account_id').notNullable().references('account_id').inTable('accounts').onDelete('cascade');
    t.uuid('id').notNullable().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('kind').notNullable();
    t.integer('chatwoot_conversation_id').notNullable();
    t.jsonb('payload').notNullable();
    t.text('status').notNullable().defaultTo('pending');
    t.integer('attempts').notNullable().defaultTo(0);
    t.text('last_error');
    t.integer('chatwoot_message_id');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('next_attempt_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('attempted_at', { useTz: true });
    t.timestamp('sent_at', { useTz: true });
    t.primary(['account_id', 'id']);
    t.check(`kind in ('note', 'attributes')`);
    t.check(`status in ('pending', 'sent', 'dead')`);
  });
  await knex.raw(`create index chatwoot_outbox_due on chatwoot_outbox (account_id, next_attempt_at) where status = 'pending'`);
  await knex.raw(`alter table chatwoot_outbox enable row level security, force row level security`);
  await knex.raw(`create policy tenant_isolation on chatwoot_outbox using (account_id = ${currentAccount}) with check (account_id = ${currentAccount})`);
  // The administrator token the installer was given for this account: write-backs act with it.
  await knex.schema.alterTable('accounts', (t) => t.text('chatwoot_api_token_sealed'));
  await knex.raw(`
    create function chatwoot_outbox_notify() returns trigger language plpgsql as $$
    begin
      perform pg_notify('onelink_outbox', new.account_id::text);
      return null;
    end $$;
    create trigger chatwoot_outbox_notify after insert on chatwoot_outbox for each row execute function chatwoot_outbox_notify();
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('chatwoot_outbox');
  await knex.schema.alterTable('accounts', (t) => t.dropColumn('chatwoot_api_token_sealed'));
  await knex.raw('drop function if exists chatwoot_outbox_notify()');
}
