// CRM core: pipelines and ordered stages, deals with append-only stage history and notes,
// tasks with reminders, per-account human numbers (D-311), and the cache of Chatwoot
// contacts that search reads. Every key and index leads with account_id.
import type { Knex } from 'knex';

const currentAccount = `nullif(current_setting('onelink.account_id', true), '')::bigint`;
const tenantTables = ['account_counters', 'pipelines', 'stages', 'deals', 'deal_stage_totals', 'deal_stage_events', 'deal_notes', 'tasks', 'task_reminders', 'chatwoot_contacts'];

export async function up(knex: Knex): Promise<void> {
  const account = (t: Knex.CreateTableBuilder) =>
    t.bigInteger('account_id').notNullable().references('account_id').inTable('accounts').onDelete('cascade');

  await knex.schema.createTable('account_counters', (t) => {
    account(t);
    t.text('name').notNullable();
    t.bigInteger('value').notNullable();
    t.primary(['account_id', 'name']);
  });

  await knex.schema.createTable('pipelines', (t) => {
    account(t);
    t.uuid('id').notNullable().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('name').notNullable();
    t.integer('position').notNullable().defaultTo(0);
    t.timestamp('archived_at', { useTz: true });
    t.timestamps(true, true);
    t.primary(['account_id', 'id']);
  });

  await knex.schema.createTable('stages', (t) => {
    account(t);
    t.uuid('id').notNullable().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('pipeline_id').notNullable();
    t.text('name').notNullable();
    t.integer('position').notNullable();
    t.integer('win_probability').notNullable().defaultTo(0);
    t.text('kind').notNullable().defaultTo('open');
    t.timestamp('archived_at', { useTz: true });
    t.timestamps(true, true);
    t.primary(['account_id', 'id']);
    t.foreign(['account_id', 'pipeline_id']).references(['account_id', 'id']).inTable('pipelines').onDelete('cascade');
    t.index(['account_id', 'pipeline_id', 'position']);
    t.check(`kind in ('open', 'won', 'lost')`);
    t.check(`win_probability between 0 and 100`);
  });

  await knex.schema.createTable('deals', (t) => {
    account(t);
    t.uuid('id').notNullable().defaultTo(knex.raw('gen_random_uuid()'));
    t.integer('number').notNullable();
    t.text('title').notNullable();
    t.text('status').notNullable().defaultTo('open');
    t.text('lost_reason');
    t.uuid('pipeline_id').notNullable();
    t.uuid('stage_id').notNullable();
    t.text('rank').notNullable(); // fractional index: moving one card rewrites one row
    t.bigInteger('amount_minor');
    t.specificType('currency', 'char(3)');
    t.uuid('owner_id');
    t.integer('chatwoot_contact_id');
    t.integer('chatwoot_company_id');
    t.integer('chatwoot_conversation_id');
    t.date('expected_close_date');
    t.jsonb('custom_fields').notNullable().defaultTo('{}');
    t.integer('version').notNullable().defaultTo(1);
    t.text('created_by_type').notNullable();
    t.text('created_by_id').notNullable();
    t.timestamp('stage_entered_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('last_activity_at', { useTz: true });
    t.timestamps(true, true);
    t.timestamp('deleted_at', { useTz: true });
    t.primary(['account_id', 'id']);
    t.unique(['account_id', 'number']);
    t.foreign(['account_id', 'pipeline_id']).references(['account_id', 'id']).inTable('pipelines');
    t.foreign(['account_id', 'stage_id']).references(['account_id', 'id']).inTable('stages');
    t.foreign(['account_id', 'owner_id']).references(['account_id', 'id']).inTable('users');
    t.check(`status in ('open', 'won', 'lost')`);
    t.check(`amount_minor is null or amount_minor >= 0`);
    t.check(`(amount_minor is null) = (currency is null)`);
  });
  await knex.raw(`create index deals_board on deals (account_id, stage_id, rank, id) where deleted_at is null`);
  await knex.raw(`create index deals_pipeline on deals (account_id, pipeline_id, stage_id) include (amount_minor, currency, status, owner_id) where deleted_at is null`);
  await knex.raw(`create index deals_contact on deals (account_id, chatwoot_contact_id) where deleted_at is null`);
  await knex.raw(`create index deals_conversation on deals (account_id, chatwoot_conversation_id) where deleted_at is null`);
  await knex.raw(`create index deals_owner on deals (account_id, owner_id, status) where deleted_at is null`);
  // Search: words (and word prefixes) through full text, substrings and typos through trigrams,
  // in ONE index per table, so the planner never reads a whole account through the wrong one.
  await knex.raw(`alter table deals add column search_vector tsvector generated always as (to_tsvector('simple', title)) stored`);
  await knex.raw(`create index deals_search on deals using gin (account_id, search_vector, title gin_trgm_ops) where deleted_at is null`);

  // Count and amount per stage and currency, kept by a trigger, so an unfiltered board reads a
  // handful of rows instead of aggregating every deal of the pipeline.
  await knex.schema.createTable('deal_stage_totals', (t) => {
    account(t);
    t.uuid('stage_id').notNullable();
    t.text('currency').notNullable(); // '' for deals without an amount
    t.bigInteger('deal_count').notNullable();
    t.bigInteger('amount_minor').notNullable();
    t.primary(['account_id', 'stage_id', 'currency']);
  });
  await knex.raw(`
    create function deal_stage_totals_apply(a bigint, s uuid, cur text, n bigint, amount bigint) returns void language sql as $$
      insert into deal_stage_totals as t (account_id, stage_id, currency, deal_count, amount_minor)
      values (a, s, coalesce(cur, ''), n, coalesce(amount, 0) * n)
      on conflict (account_id, stage_id, currency)
      do update set deal_count = t.deal_count + excluded.deal_count, amount_minor = t.amount_minor + excluded.amount_minor
    $$;
    create function deals_maintain_stage_totals() returns trigger language plpgsql as $$
    begin
      if tg_op in ('UPDATE', 'DELETE') and old.deleted_at is null then
        perform deal_stage_totals_apply(old.account_id, old.stage_id, old.currency, -1, old.amount_minor);
      end if;
      if tg_op in ('INSERT', 'UPDATE') and new.deleted_at is null then
        perform deal_stage_totals_apply(new.account_id, new.stage_id, new.currency, 1, new.amount_minor);
      end if;
      return null;
    end $$;
    create trigger deals_stage_totals after insert or delete or update of stage_id, currency, amount_minor, deleted_at on deals
      for each row execute function deals_maintain_stage_totals();
  `);

  await knex.schema.createTable('deal_stage_events', (t) => {
    account(t);
    t.specificType('id', 'bigint generated always as identity').notNullable();
    t.uuid('deal_id').notNullable();
    t.uuid('from_stage_id');
    t.uuid('to_stage_id').notNullable();
    t.text('from_status');
    t.text('to_status').notNullable();
    t.text('actor_type').notNullable();
    t.text('actor_id').notNullable();
    t.timestamp('occurred_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['account_id', 'id']);
    t.index(['account_id', 'deal_id', 'occurred_at']);
    t.foreign(['account_id', 'deal_id']).references(['account_id', 'id']).inTable('deals');
  });

  await knex.schema.createTable('deal_notes', (t) => {
    account(t);
    t.uuid('id').notNullable().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('deal_id').notNullable();
    t.text('author_type').notNullable();
    t.text('author_id').notNullable();
    t.text('body').notNullable();
    t.timestamps(true, true);
    t.timestamp('deleted_at', { useTz: true });
    t.primary(['account_id', 'id']);
    t.index(['account_id', 'deal_id', 'created_at']);
    t.foreign(['account_id', 'deal_id']).references(['account_id', 'id']).inTable('deals');
  });

  await knex.schema.createTable('tasks', (t) => {
    account(t);
    t.uuid('id').notNullable().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('title').notNullable();
    t.text('description');
    t.text('status').notNullable().defaultTo('open');
    t.text('priority').notNullable().defaultTo('normal');
    t.timestamp('due_at', { useTz: true });
    t.uuid('assignee_id');
    t.integer('chatwoot_team_id');
    t.integer('chatwoot_contact_id');
    t.uuid('deal_id');
    t.uuid('job_id'); // jobs arrive with the dispatch module
    t.integer('chatwoot_conversation_id');
    t.timestamp('completed_at', { useTz: true });
    t.integer('version').notNullable().defaultTo(1);
    t.text('created_by_type').notNullable();
    t.text('created_by_id').notNullable();
    t.timestamps(true, true);
    t.timestamp('deleted_at', { useTz: true });
    t.primary(['account_id', 'id']);
    t.foreign(['account_id', 'assignee_id']).references(['account_id', 'id']).inTable('users');
    t.foreign(['account_id', 'deal_id']).references(['account_id', 'id']).inTable('deals');
    t.check(`status in ('open', 'in_progress', 'done', 'canceled')`);
    t.check(`priority in ('low', 'normal', 'high', 'urgent')`);
  });
  await knex.raw(`create index tasks_assignee on tasks (account_id, assignee_id, due_at) where deleted_at is null and status in ('open', 'in_progress')`);
  await knex.raw(`create index tasks_due on tasks (account_id, due_at) where deleted_at is null and status in ('open', 'in_progress')`);
  await knex.raw(`create index tasks_deal on tasks (account_id, deal_id) where deleted_at is null`);
  await knex.raw(`create index tasks_contact on tasks (account_id, chatwoot_contact_id) where deleted_at is null`);
  await knex.raw(`create index tasks_conversation on tasks (account_id, chatwoot_conversation_id) where deleted_at is null`);
  await knex.raw(`alter table tasks add column search_vector tsvector generated always as (to_tsvector('simple', title)) stored`);
  await knex.raw(`create index tasks_search on tasks using gin (account_id, search_vector, title gin_trgm_ops) where deleted_at is null`);

  // One row per task, threshold and due date: the reminder event is emitted exactly once.
  await knex.schema.createTable('task_reminders', (t) => {
    account(t);
    t.uuid('task_id').notNullable();
    t.text('threshold').notNullable();
    t.timestamp('due_at', { useTz: true }).notNullable();
    t.timestamp('emitted_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['account_id', 'task_id', 'threshold', 'due_at']);
    t.foreign(['account_id', 'task_id']).references(['account_id', 'id']).inTable('tasks');
    t.check(`threshold in ('due_soon', 'overdue')`);
  });

  // What we show of Chatwoot contacts (name, phone, email), refreshed from Chatwoot.
  await knex.schema.createTable('chatwoot_contacts', (t) => {
    account(t);
    t.integer('chatwoot_contact_id').notNullable();
    t.text('name');
    t.specificType('email', 'citext');
    t.text('phone_e164');
    t.integer('chatwoot_company_id');
    t.timestamp('synced_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['account_id', 'chatwoot_contact_id']);
  });
  // A phone number is findable by its full digits and by its last 7 and 10 digits, as people type them.
  await knex.raw(`alter table chatwoot_contacts add column search_vector tsvector generated always as (
    to_tsvector('simple', coalesce(name, '') || ' ' || coalesce(email::text, '') || ' ' ||
      coalesce(regexp_replace(phone_e164, '\\D', '', 'g'), '') || ' ' || coalesce(right(regexp_replace(phone_e164, '\\D', '', 'g'), 10), '') || ' ' ||
      coalesce(right(regexp_replace(phone_e164, '\\D', '', 'g'), 7), ''))) stored`);
  await knex.raw(`create index chatwoot_contacts_search on chatwoot_contacts using gin (account_id, search_vector, (coalesce(name, '') || ' ' || coalesce(email::text, '') || ' ' || coalesce(phone_e164, '')) gin_trgm_ops)`);

  for (const table of tenantTables) {
    await knex.raw(`alter table ?? enable row level security, force row level security`, [table]);
    await knex.raw(`create policy tenant_isolation on ?? using (account_id = ${currentAccount}) with check (account_id = ${currentAccount})`, [table]);
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const table of [...tenantTables].reverse()) await knex.schema.dropTableIfExists(table);
  await knex.raw('drop function if exists deals_maintain_stage_totals(); drop function if exists deal_stage_totals_apply(bigint, uuid, text, bigint, bigint)');
}
