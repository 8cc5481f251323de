// The client portal: a client's chat with the business lives in Chatwoot (the account's "Client
// portal" API-channel inbox, the client's EXISTING Chatwoot contact given a contact inbox there, one
// conversation per job plus a general one); clients ask for service (jobs with source 'portal' and
// the window they would like); staff share quotes on deals for the client to approve or decline.
//
//   accounts          chatwoot_client_inbox_id, chatwoot_client_inbox_identifier_sealed
//   client_chat_contacts  the client's contact inbox in the client portal inbox (source id sealed)
//   client_threads    one per (client, job) and one general (job_id null) per client
//   client_messages   the portal's view of a thread: what the client sent, agents' public replies
//   jobs              source 'portal', preferred_starts_at / preferred_ends_at, requested_by_portal_user_id
//   deal_quotes       a deal's quote document with amount and currency, shared with the deal's client
//   chatwoot_outbox   kinds 'client_message' and 'contact' (a client's new e-mail or phone, for their Chatwoot contact)
import type { Knex } from 'knex';

const currentAccount = `nullif(current_setting('onelink.account_id', true), '')::bigint`;

async function tenantTable(knex: Knex, table: string) {
  await knex.raw(`alter table ?? enable row level security, force row level security`, [table]);
  await knex.raw(`create policy tenant_isolation on ?? using (account_id = ${currentAccount}) with check (account_id = ${currentAccount})`, [table]);
}

/** The name of a table's check constraint whose definition mentions `column` (created unnamed). */
async function checkOn(knex: Knex, table: string, column: string): Promise<string | undefined> {
  const { rows } = await knex.raw<{ rows: Array<{ conname: string }> }>(
    `select conname from pg_constraint where conrelid = ?::regclass and contype = 'c' and pg_get_constraintdef(oid) like ?`,
    [table, `%${column} = ANY%`],
  );
  return rows[0]?.conname;
}

/** Runs `fn` on a table with row security lifted (a statement outside an account sees no rows). */
async function unscoped(knex: Knex, table: string, fn: () => Promise<unknown>) {
  await knex.raw(`alter table ?? no force row level security`, [table]);
  await fn();
  await knex.raw(`alter table ?? force row level security`, [table]);
}

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('accounts', (t) => {
    t.bigInteger('chatwoot_client_inbox_id');
    // Names the inbox in Chatwoot's public API (no token): kept sealed.
    t.text('chatwoot_client_inbox_identifier_sealed');
  });

  await knex.schema.createTable('client_chat_contacts', (t) => {
    t.bigInteger('account_id').notNullable().references('account_id').inTable('accounts').onDelete('cascade');
    t.uuid('portal_user_id').notNullable();
    t.bigInteger('chatwoot_inbox_id').notNullable();
    // The contact inbox's source id (a credential for the public API): sealed.
    t.text('source_id_sealed').notNullable();
    // The client's existing Chatwoot contact the contact inbox was made on.
    t.bigInteger('chatwoot_contact_id').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['account_id', 'portal_user_id', 'chatwoot_inbox_id']);
    t.foreign(['account_id', 'portal_user_id']).references(['account_id', 'id']).inTable('portal_users').onDelete('cascade');
  });
  await tenantTable(knex, 'client_chat_contacts');

  await knex.schema.createTable('client_threads', (t) => {
    t.bigInteger('account_id').notNullable().references('account_id').inTable('accounts').onDelete('cascade');
    t.uuid('id').notNullable().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('portal_user_id').notNullable();
    // Null: the client's general conversation with the business.
    t.uuid('job_id');
    // Null until the first message opens the conversation (in the client portal inbox of the day).
    t.bigInteger('chatwoot_inbox_id');
    t.bigInteger('chatwoot_conversation_id');
    // When the client last read the thread (unread counts; passed on to Chatwoot's last seen).
    t.timestamp('last_read_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['account_id', 'id']);
    t.foreign(['account_id', 'portal_user_id']).references(['account_id', 'id']).inTable('portal_users').onDelete('cascade');
    t.foreign(['account_id', 'job_id']).references(['account_id', 'id']).inTable('jobs').onDelete('cascade');
  });
  await knex.raw(`create unique index client_threads_job on client_threads (account_id, portal_user_id, job_id) where job_id is not null`);
  await knex.raw(`create unique index client_threads_general on client_threads (account_id, portal_user_id) where job_id is null`);
  await knex.raw(`create unique index client_threads_conversation on client_threads (account_id, chatwoot_conversation_id) where chatwoot_conversation_id is not null`);
  await tenantTable(knex, 'client_threads');

  await knex.schema.createTable('client_messages', (t) => {
    t.bigInteger('account_id').notNullable().references('account_id').inTable('accounts').onDelete('cascade');
    t.uuid('id').notNullable().defaultTo(knex.raw('gen_random_uuid()'));
    // The id the device gave a client's message: sent twice, stored once.
    t.uuid('client_id');
    t.uuid('thread_id').notNullable();
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
    t.index(['account_id', 'thread_id', 'created_at']);
    t.foreign(['account_id', 'thread_id']).references(['account_id', 'id']).inTable('client_threads').onDelete('cascade');
    t.foreign(['account_id', 'portal_user_id']).references(['account_id', 'id']).inTable('portal_users').onDelete('cascade');
    t.check(`direction in ('from_client', 'from_agent')`, [], 'client_messages_direction');
    t.check(`status in ('sending', 'sent', 'failed')`, [], 'client_messages_status');
    t.check(`(direction = 'from_client') = (client_id is not null)`, [], 'client_messages_client_id');
  });
  await knex.raw(`create unique index client_messages_client_id on client_messages (account_id, portal_user_id, client_id) where client_id is not null`);
  await knex.raw(`create unique index client_messages_chatwoot_id on client_messages (account_id, chatwoot_message_id) where chatwoot_message_id is not null`);
  await tenantTable(knex, 'client_messages');

  // Jobs a client asks for in the portal; the window they would like (dispatch sets the real one).
  const sourceCheck = await checkOn(knex, 'jobs', 'source');
  if (sourceCheck) await knex.raw(`alter table jobs drop constraint ??`, [sourceCheck]);
  await knex.raw(`alter table jobs add constraint jobs_source check (source in ('call', 'sms', 'chat', 'manual', 'pipeline', 'portal'))`);
  await knex.schema.alterTable('jobs', (t) => {
    t.timestamp('preferred_starts_at', { useTz: true });
    t.timestamp('preferred_ends_at', { useTz: true });
    t.uuid('requested_by_portal_user_id');
    t.check('preferred_starts_at is null or preferred_ends_at is null or preferred_starts_at < preferred_ends_at', [], 'jobs_preferred_window');
  });

  await knex.schema.createTable('deal_quotes', (t) => {
    t.bigInteger('account_id').notNullable().references('account_id').inTable('accounts').onDelete('cascade');
    t.uuid('id').notNullable().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('deal_id').notNullable();
    t.text('title').notNullable();
    t.bigInteger('amount_minor').notNullable();
    t.text('currency').notNullable();
    // The quote document (a PDF or image) in file storage; null: the amount alone.
    t.text('storage_key');
    t.text('filename');
    t.text('content_type');
    t.bigInteger('size_bytes');
    // draft: staff only; shared: the deal's client sees it; approved/declined: the client decided;
    // withdrawn: staff took it back before a decision.
    t.text('status').notNullable().defaultTo('draft');
    t.timestamp('shared_at', { useTz: true });
    t.timestamp('decided_at', { useTz: true });
    t.uuid('decided_by_portal_user_id');
    t.text('decided_ip');
    t.text('decided_user_agent');
    t.text('decision_comment');
    t.integer('version').notNullable().defaultTo(1);
    t.text('created_by_type').notNullable();
    t.text('created_by_id').notNullable();
    t.timestamps(true, true);
    t.primary(['account_id', 'id']);
    t.index(['account_id', 'deal_id', 'created_at']);
    t.foreign(['account_id', 'deal_id']).references(['account_id', 'id']).inTable('deals').onDelete('cascade');
    t.check(`status in ('draft', 'shared', 'approved', 'declined', 'withdrawn')`, [], 'deal_quotes_status');
    t.check('amount_minor >= 0', [], 'deal_quotes_amount');
    t.check(`(status in ('approved', 'declined')) = (decided_at is not null)`, [], 'deal_quotes_decided');
  });
  await tenantTable(knex, 'deal_quotes');

  const outboxCheck = await checkOn(knex, 'chatwoot_outbox', 'kind');
  if (outboxCheck) await knex.raw(`alter table chatwoot_outbox drop constraint ??`, [outboxCheck]);
  await knex.raw(`alter table chatwoot_outbox add constraint chatwoot_outbox_kind check (kind in ('note', 'attributes', 'vendor_message', 'client_message', 'contact'))`);
}

export async function down(knex: Knex): Promise<void> {
  await unscoped(knex, 'chatwoot_outbox', () => knex('chatwoot_outbox').whereIn('kind', ['client_message', 'contact']).del());
  await knex.raw(`alter table chatwoot_outbox drop constraint if exists chatwoot_outbox_kind`);
  await knex.raw(`alter table chatwoot_outbox add constraint chatwoot_outbox_kind check (kind in ('note', 'attributes', 'vendor_message'))`);

  await knex.schema.dropTableIfExists('deal_quotes');

  await knex.schema.alterTable('jobs', (t) => {
    t.dropChecks(['jobs_preferred_window']);
    t.dropColumn('requested_by_portal_user_id');
    t.dropColumn('preferred_ends_at');
    t.dropColumn('preferred_starts_at');
  });
  // Requests from the portal stay jobs; without the portal they count as entered by hand.
  await unscoped(knex, 'jobs', () => knex('jobs').where({ source: 'portal' }).update({ source: 'manual' }));
  await knex.raw(`alter table jobs drop constraint if exists jobs_source`);
  await knex.raw(`alter table jobs add constraint jobs_source check (source in ('call', 'sms', 'chat', 'manual', 'pipeline'))`);

  await knex.schema.dropTableIfExists('client_messages');
  await knex.schema.dropTableIfExists('client_threads');
  await knex.schema.dropTableIfExists('client_chat_contacts');
  await knex.schema.alterTable('accounts', (t) => {
    t.dropColumn('chatwoot_client_inbox_identifier_sealed');
    t.dropColumn('chatwoot_client_inbox_id');
  });
}
