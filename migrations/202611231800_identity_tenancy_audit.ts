// Identity and tenancy: Chatwoot installations and accounts, agents, sessions, service tokens,
// portal identities, and the append-only audit trail. Every tenant table leads its keys with
// account_id and is guarded by row-level security as a second wall behind the query scoping.
import type { Knex } from 'knex';

/** Tables whose rows belong to one account; each gets the tenant isolation policy. */
const tenantTables = ['users', 'sessions', 'service_tokens', 'portal_users', 'magic_links', 'audit_events'];

// The request's account is set per transaction with set_config('onelink.account_id', …, true).
// Unset (or reset to '') means no account: every policy then matches nothing.
const currentAccount = `nullif(current_setting('onelink.account_id', true), '')::bigint`;

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('installations', (t) => {
    // One Chatwoot instance; spans accounts, so it is the one table without account_id.
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('base_url').notNullable().unique();
    t.text('api_token_sealed').notNullable();
    t.text('webhook_secret_sealed');
    t.text('webhook_path_token').notNullable().unique();
    t.timestamps(true, true);
  });

  await knex.schema.createTable('accounts', (t) => {
    t.bigIncrements('account_id', { primaryKey: true });
    t.uuid('installation_id').notNullable().references('id').inTable('installations').onDelete('restrict');
    t.integer('chatwoot_account_id').notNullable();
    t.text('name').notNullable();
    t.text('profile').notNullable().defaultTo('generic');
    t.jsonb('capability_overrides').notNullable().defaultTo('{}');
    t.timestamps(true, true);
    t.unique(['installation_id', 'chatwoot_account_id']);
    t.check(`profile in ('generic', 'healthcare', 'construction')`);
  });

  await knex.schema.createTable('users', (t) => {
    t.bigInteger('account_id').notNullable().references('account_id').inTable('accounts').onDelete('cascade');
    t.uuid('id').notNullable().defaultTo(knex.raw('gen_random_uuid()'));
    t.integer('chatwoot_user_id').notNullable();
    t.text('name').notNullable();
    t.specificType('email', 'citext');
    t.text('chatwoot_role').notNullable();
    t.specificType('granted_roles', 'text[]').notNullable().defaultTo('{}');
    t.boolean('active').notNullable().defaultTo(true);
    t.timestamp('last_verified_at', { useTz: true });
    t.timestamps(true, true);
    t.primary(['account_id', 'id']);
    t.unique(['account_id', 'chatwoot_user_id']);
    t.check(`chatwoot_role in ('administrator', 'agent')`);
  });

  await knex.schema.createTable('portal_users', (t) => {
    t.bigInteger('account_id').notNullable().references('account_id').inTable('accounts').onDelete('cascade');
    t.uuid('id').notNullable().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('kind').notNullable();
    t.uuid('vendor_id'); // bound vendor (the vendors table arrives with dispatch)
    t.integer('chatwoot_contact_id'); // bound client contact
    t.text('name').notNullable();
    t.specificType('email', 'citext');
    t.text('phone');
    t.boolean('active').notNullable().defaultTo(true);
    t.timestamps(true, true);
    t.primary(['account_id', 'id']);
    t.check(`(kind = 'vendor' and vendor_id is not null and chatwoot_contact_id is null)
          or (kind = 'client' and chatwoot_contact_id is not null and vendor_id is null)`);
  });
  await knex.raw(`create unique index portal_users_one_per_client on portal_users (account_id, chatwoot_contact_id) where kind = 'client'`);

  await knex.schema.createTable('sessions', (t) => {
    t.bigInteger('account_id').notNullable().references('account_id').inTable('accounts').onDelete('cascade');
    t.uuid('id').notNullable().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('subject_type').notNullable();
    t.uuid('subject_id').notNullable();
    t.binary('token_hash').notNullable();
    t.text('chatwoot_token_sealed'); // agents only: re-verified against Chatwoot
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.timestamp('last_used_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('verified_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('revoked_at', { useTz: true });
    t.text('revoked_reason');
    t.primary(['account_id', 'id']);
    t.unique(['account_id', 'token_hash']);
    t.index(['account_id', 'subject_type', 'subject_id']);
    t.check(`subject_type in ('user', 'portal_user')`);
  });

  await knex.schema.createTable('service_tokens', (t) => {
    t.bigInteger('account_id').notNullable().references('account_id').inTable('accounts').onDelete('cascade');
    t.uuid('id').notNullable().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('name').notNullable();
    t.specificType('scopes', 'text[]').notNullable();
    t.binary('token_hash').notNullable();
    t.text('token_hint').notNullable();
    t.uuid('created_by').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('expires_at', { useTz: true });
    t.timestamp('last_used_at', { useTz: true });
    t.timestamp('revoked_at', { useTz: true });
    t.primary(['account_id', 'id']);
    t.unique(['account_id', 'token_hash']);
  });

  await knex.schema.createTable('magic_links', (t) => {
    t.bigInteger('account_id').notNullable().references('account_id').inTable('accounts').onDelete('cascade');
    t.uuid('id').notNullable().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('portal_user_id').notNullable();
    t.binary('token_hash').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.timestamp('used_at', { useTz: true });
    t.primary(['account_id', 'id']);
    t.unique(['account_id', 'token_hash']);
    t.index(['account_id', 'portal_user_id', 'created_at']);
    t.foreign(['account_id', 'portal_user_id']).references(['account_id', 'id']).inTable('portal_users').onDelete('cascade');
  });

  await knex.schema.createTable('audit_events', (t) => {
    t.bigInteger('account_id').notNullable().references('account_id').inTable('accounts').onDelete('restrict');
    t.specificType('id', 'bigint generated always as identity').notNullable();
    t.timestamp('occurred_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.text('actor_type').notNullable();
    t.text('actor_id').notNullable();
    t.text('action').notNullable();
    t.text('resource_type').notNullable();
    t.text('resource_id');
    t.jsonb('before');
    t.jsonb('after');
    t.text('request_id');
    t.primary(['account_id', 'id']);
    t.index(['account_id', 'resource_type', 'resource_id', 'id']);
    t.index(['account_id', 'actor_type', 'actor_id', 'id']);
    t.index(['account_id', 'action', 'id']);
    t.check(`actor_type in ('user', 'portal_user', 'service', 'system')`);
  });

  // Append-only: the database itself refuses to change or remove history.
  await knex.raw(`
    create function audit_events_refuse_change() returns trigger language plpgsql as $$
    begin
      raise exception 'audit_events is append-only: % refused', tg_op using errcode = 'insufficient_privilege';
    end $$;
    create trigger audit_events_no_update_delete before update or delete on audit_events
      for each row execute function audit_events_refuse_change();
    create trigger audit_events_no_truncate before truncate on audit_events
      for each statement execute function audit_events_refuse_change();
  `);

  for (const table of tenantTables) {
    await knex.raw(`alter table ?? enable row level security, force row level security`, [table]);
    await knex.raw(`create policy tenant_isolation on ?? using (account_id = ${currentAccount}) with check (account_id = ${currentAccount})`, [table]);
  }
  // The account registry is readable without an account (sign-in and webhooks resolve an
  // account from Chatwoot's ids before they know ours); it is only writable as that account.
  await knex.raw(`alter table accounts enable row level security, force row level security`);
  await knex.raw(`create policy accounts_readable on accounts for select using (true)`);
  await knex.raw(`create policy accounts_insert on accounts for insert with check (account_id = ${currentAccount})`);
  await knex.raw(`create policy accounts_update on accounts for update using (account_id = ${currentAccount}) with check (account_id = ${currentAccount})`);
  await knex.raw(`create policy accounts_delete on accounts for delete using (account_id = ${currentAccount})`);
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['audit_events', 'magic_links', 'service_tokens', 'sessions', 'portal_users', 'users', 'accounts', 'installations']) {
    await knex.schema.dropTableIfExists(table);
  }
  await knex.raw('drop function if exists audit_events_refuse_change()');
}
