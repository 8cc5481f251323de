// Messages between a vendor's people and dispatch, one thread per job and person, living in
// Chatwoot: the account's "Vendors" API-channel inbox, each vendor user a contact of it (its source
// id is a credential, kept sealed), each (job, person) a conversation there. vendor_messages is the
// portal's view of the thread: what the vendor sent (queued through the Chatwoot outbox until
// Chatwoot has it) and the agents' public replies (from the account webhook; private notes never).
import type { Knex } from 'knex';

const currentAccount = `nullif(current_setting('onelink.account_id', true), '')::bigint`;

async function tenantTable(knex: Knex, table: string) {
  await knex.raw(`alter table ?? enable row level security, force row level security`, [table]);
  await knex.raw(`create policy tenant_isolation on ?? using (account_id = ${currentAccount}) with check (account_id = ${currentAccount})`, [table]);
}

/** The name of chatwoot_outbox's check on `kind` (created unnamed). */
async function outboxKindCheck(knex: Knex): Promise<string | undefined> {
  const { rows } = await knex.raw<{ rows: Array<{ conname: string }> }>(
    `select conname from pg_constraint where conrelid = 'chatwoot_outbox'::regclass and contype = 'c' and pg_get_constraintdef(oid) like '%kind%'`,
  );
  return rows[0]?.conname;
}

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('accounts', (t) => {
    t.bigInteger('chatwoot_vendor_inbox_id');
    // The inbox identifier names the inbox in Chatwoot's public API (no token): kept sealed.
    t.text('chatwoot_vendor_inbox_identifier_sealed');
  });

  await knex.schema.createTable('vendor_chat_contacts', (t) => {
    t.bigInteger('account_id').notNullable().references('account_id').inTable('accounts').onDelete('cascade');
    t.uuid('portal_user_id').notNullable();
    t.bigInteger('chatwoot_inbox_id').notNullable();
    t.text('source_id_sealed').notNullable();
    t.bigInteger('chatwoot_contact_id');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['account_id', 'portal_user_id', 'chatwoot_inbox_id']);
    t.foreign(['account_id', 'portal_user_id']).references(['account_id', 'id']).inTable('portal_users').onDelete('cascade');
  });
  await tenantTable(knex, 'vendor_chat_contacts');

  await knex.schema.createTable('vendor_threads', (t) => {
    t.bigInteger('account_id').notNullable().references('account_id').inTable('accounts').onDelete('cascade');
    t.uuid('job_id').notNullable();
    t.uuid('portal_user_id').notNullable();
    // Null until the first message opens the conversation (in the account's vendors inbox of the day).
    t.bigInteger('chatwoot_inbox_id');
    t.bigInteger('chatwoot_conversation_id');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['account_id', 'job_id', 'portal_user_id']);
    t.foreign(['account_id', 'job_id']).references(['account_id', 'id']).inTable('jobs').onDelete('cascade');
    t.foreign(['account_id', 'portal_user_id']).references(['account_id', 'id']).inTable('portal_users').onDelete('cascade');
  });
  await knex.raw(`create unique index vendor_threads_conversation on vendor_threads (account_id, chatwoot_conversation_id) where chatwoot_conversation_id is not null`);
  await tenantTable(knex, 'vendor_threads');

  await knex.schema.createTable('vendor_messages', (t) => {
    t.bigInteger('account_id').notNullable().references('account_id').inTable('accounts').onDelete('cascade');
    t.uuid('id').notNullable().defaultTo(knex.raw('gen_random_uuid()'));
    // The id the device gave a vendor's message: sent twice, stored once.
    t.uuid('client_id');
    t.uuid('job_id').notNullable();
    // Whose thread (the vendor user it is with).
    t.uuid('portal_user_id').notNullable();
    t.bigInteger('chatwoot_conversation_id');
    t.bigInteger('chatwoot_message_id');
    t.text('direction').notNullable();
    t.text('author_name').notNullable();
    t.text('content').notNullable();
    t.jsonb('attachments').notNullable().defaultTo(knex.raw(`'[]'::jsonb`));
    t.text('status').notNullable();
    t.text('last_error');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('sent_at', { useTz: true });
    t.primary(['account_id', 'id']);
    t.index(['account_id', 'job_id', 'portal_user_id', 'created_at']);
    t.foreign(['account_id', 'job_id', 'portal_user_id']).references(['account_id', 'job_id', 'portal_user_id']).inTable('vendor_threads').onDelete('cascade');
    t.check(`direction in ('from_vendor', 'from_dispatch')`);
    t.check(`status in ('sending', 'sent', 'failed')`);
    t.check(`(direction = 'from_vendor') = (client_id is not null)`);
  });
  await knex.raw(`create unique index vendor_messages_client_id on vendor_messages (account_id, portal_user_id, client_id) where client_id is not null`);
  await knex.raw(`create unique index vendor_messages_chatwoot_id on vendor_messages (account_id, chatwoot_message_id) where chatwoot_message_id is not null`);
  await tenantTable(knex, 'vendor_messages');

  // A vendor's message rides the Chatwoot outbox; its conversation may not exist yet when queued.
  const check = await outboxKindCheck(knex);
  if (check) await knex.raw(`alter table chatwoot_outbox drop constraint ??`, [check]);
  await knex.raw(`alter table chatwoot_outbox add constraint chatwoot_outbox_kind check (kind in ('note', 'attributes', 'vendor_message'))`);
  await knex.raw(`alter table chatwoot_outbox alter column chatwoot_conversation_id drop not null`);
}

export async function down(knex: Knex): Promise<void> {
  // Row security would hide every row from a statement outside an account: lifted for the clean-up.
  await knex.raw(`alter table chatwoot_outbox no force row level security`);
  await knex('chatwoot_outbox').where({ kind: 'vendor_message' }).del();
  await knex.raw(`alter table chatwoot_outbox force row level security`);
  await knex.raw(`alter table chatwoot_outbox alter column chatwoot_conversation_id set not null`);
  await knex.raw(`alter table chatwoot_outbox drop constraint if exists chatwoot_outbox_kind`);
  await knex.raw(`alter table chatwoot_outbox add constraint chatwoot_outbox_kind check (kind in ('note', 'attributes'))`);
  await knex.schema.dropTableIfExists('vendor_messages');
  await knex.schema.dropTableIfExists('vendor_threads');
  await knex.schema.dropTableIfExists('vendor_chat_contacts');
  await knex.schema.alterTable('accounts', (t) => {
    t.dropColumn('chatwoot_vendor_inbox_identifier_sealed');
    t.dropColumn('chatwoot_vendor_inbox_id');
  });
}
