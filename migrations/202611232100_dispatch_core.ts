// Dispatch: vendors (categories, service area, weekly availability, time off, compliance
// documents, client relationships), jobs with an append-only event log, job ↔ conversation and
// job ↔ deal links, vendor assignment history, checklists, SLA threshold events, per-account
// dispatch settings and stage/job automation rules with their once-only runs.
// Every key and index leads with account_id; every table has the tenant policy.
import type { Knex } from 'knex';

const currentAccount = `nullif(current_setting('onelink.account_id', true), '')::bigint`;
const tenantTables = [
  'dispatch_settings',
  'vendors',
  'vendor_availability',
  'vendor_time_off',
  'vendor_documents',
  'vendor_client_links',
  'checklist_templates',
  'jobs',
  'job_conversations',
  'job_deals',
  'job_events',
  'job_vendors',
  'job_checklist_items',
  'job_sla_events',
  'automation_rules',
  'automation_runs',
];

export async function up(knex: Knex): Promise<void> {
  const account = (t: Knex.CreateTableBuilder) =>
    t.bigInteger('account_id').notNullable().references('account_id').inTable('accounts').onDelete('cascade');
  const actor = (t: Knex.CreateTableBuilder, prefix: string, nullable = false) => {
    const type = t.text(`${prefix}_type`);
    const id = t.text(`${prefix}_id`);
    if (!nullable) {
      type.notNullable();
      id.notNullable();
    }
  };

  // SLA minutes per priority and the warning window before a breach; one row per account.
  await knex.schema.createTable('dispatch_settings', (t) => {
    account(t);
    t.jsonb('sla_minutes').notNullable();
    t.integer('sla_warning_minutes').notNullable();
    t.timestamps(true, true);
    t.primary(['account_id']);
  });

  await knex.schema.createTable('vendors', (t) => {
    account(t);
    t.uuid('id').notNullable().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('name').notNullable();
    t.integer('chatwoot_contact_id');
    t.specificType('categories', 'text[]').notNullable().defaultTo('{}');
    t.specificType('postal_codes', 'text[]').notNullable().defaultTo('{}');
    t.double('base_lat');
    t.double('base_lng');
    t.double('radius_km');
    t.text('time_zone').notNullable().defaultTo('UTC');
    t.text('rate_summary');
    t.boolean('active').notNullable().defaultTo(true);
    t.jsonb('custom_fields').notNullable().defaultTo('{}');
    t.integer('version').notNullable().defaultTo(1);
    t.timestamps(true, true);
    t.timestamp('deleted_at', { useTz: true });
    t.primary(['account_id', 'id']);
    t.check(`(base_lat is null) = (base_lng is null)`);
    t.check(`base_lat is null or (base_lat between -90 and 90 and base_lng between -180 and 180)`);
    t.check(`radius_km is null or radius_km > 0`);
  });
  // Suggestions start from "active vendors of this account offering this category".
  await knex.raw(`create index vendors_categories on vendors using gin (account_id, categories) where deleted_at is null and active`);
  await knex.raw(`create index vendors_contact on vendors (account_id, chatwoot_contact_id) where deleted_at is null`);
  await knex.raw(`create index vendors_name on vendors (account_id, name, id) where deleted_at is null`);

  // Weekly hours in the vendor's own time zone (ISO weekday 1 = Monday).
  await knex.schema.createTable('vendor_availability', (t) => {
    account(t);
    t.uuid('vendor_id').notNullable();
    t.smallint('weekday').notNullable();
    t.time('starts').notNullable();
    t.time('ends').notNullable();
    t.primary(['account_id', 'vendor_id', 'weekday', 'starts']);
    t.foreign(['account_id', 'vendor_id']).references(['account_id', 'id']).inTable('vendors').onDelete('cascade');
    t.check(`weekday between 1 and 7`);
    t.check(`starts < ends`);
  });

  await knex.schema.createTable('vendor_time_off', (t) => {
    account(t);
    t.uuid('id').notNullable().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('vendor_id').notNullable();
    t.timestamp('starts_at', { useTz: true }).notNullable();
    t.timestamp('ends_at', { useTz: true }).notNullable();
    t.text('reason');
    t.primary(['account_id', 'id']);
    t.index(['account_id', 'vendor_id', 'starts_at']);
    t.foreign(['account_id', 'vendor_id']).references(['account_id', 'id']).inTable('vendors').onDelete('cascade');
    t.check(`starts_at < ends_at`);
  });

  // Insurance, licences, …: each with an expiry; the vendor's compliance state derives from them.
  await knex.schema.createTable('vendor_documents', (t) => {
    account(t);
    t.uuid('id').notNullable().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('vendor_id').notNullable();
    t.text('kind').notNullable();
    t.text('reference');
    t.date('expires_on');
    t.timestamps(true, true);
    t.timestamp('deleted_at', { useTz: true });
    t.primary(['account_id', 'id']);
    t.index(['account_id', 'vendor_id']);
    t.foreign(['account_id', 'vendor_id']).references(['account_id', 'id']).inTable('vendors').onDelete('cascade');
  });

  await knex.schema.createTable('vendor_client_links', (t) => {
    account(t);
    t.uuid('vendor_id').notNullable();
    t.integer('chatwoot_contact_id').notNullable();
    t.text('relation').notNullable();
    t.text('note');
    t.timestamps(true, true);
    t.primary(['account_id', 'vendor_id', 'chatwoot_contact_id']);
    t.index(['account_id', 'chatwoot_contact_id']);
    t.foreign(['account_id', 'vendor_id']).references(['account_id', 'id']).inTable('vendors').onDelete('cascade');
    t.check(`relation in ('preferred', 'approved', 'blocked')`);
  });

  await knex.schema.createTable('checklist_templates', (t) => {
    account(t);
    t.uuid('id').notNullable().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('name').notNullable();
    t.text('service_category'); // null: applies to every category
    t.jsonb('items').notNullable(); // [{ label, required }]
    t.boolean('active').notNullable().defaultTo(true);
    t.timestamps(true, true);
    t.primary(['account_id', 'id']);
    t.index(['account_id', 'service_category']);
  });

  await knex.schema.createTable('jobs', (t) => {
    account(t);
    t.uuid('id').notNullable().defaultTo(knex.raw('gen_random_uuid()'));
    t.integer('number').notNullable();
    t.text('status').notNullable().defaultTo('new');
    t.text('priority').notNullable().defaultTo('normal');
    t.text('source').notNullable().defaultTo('manual');
    t.text('summary').notNullable();
    t.text('notes');
    t.text('service_category');
    t.text('address');
    t.text('postal_code');
    t.double('lat');
    t.double('lng');
    t.timestamp('window_starts_at', { useTz: true });
    t.timestamp('window_ends_at', { useTz: true });
    t.timestamp('sla_due_at', { useTz: true });
    t.boolean('sla_overridden').notNullable().defaultTo(false);
    t.integer('chatwoot_contact_id');
    t.uuid('vendor_id');
    t.jsonb('custom_fields').notNullable().defaultTo('{}');
    t.text('cancel_reason');
    t.text('completion_override_reason');
    t.integer('version').notNullable().defaultTo(1);
    actor(t, 'created_by');
    t.timestamp('status_changed_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('completed_at', { useTz: true });
    t.timestamp('last_activity_at', { useTz: true });
    t.timestamps(true, true);
    t.primary(['account_id', 'id']);
    t.unique(['account_id', 'number']);
    t.foreign(['account_id', 'vendor_id']).references(['account_id', 'id']).inTable('vendors');
    t.check(`status in ('new', 'triaged', 'assigned', 'in_progress', 'pending_review', 'completed', 'canceled')`);
    t.check(`priority in ('low', 'normal', 'high', 'urgent')`);
    t.check(`source in ('call', 'sms', 'chat', 'manual', 'pipeline')`);
    t.check(`(lat is null) = (lng is null)`);
    t.check(`window_starts_at is null or window_ends_at is null or window_starts_at < window_ends_at`);
    t.check(`status not in ('assigned', 'in_progress', 'pending_review') or vendor_id is not null`);
  });
  // The board: one index range per status column, newest first.
  await knex.raw(`create index jobs_board on jobs (account_id, status, created_at desc, id desc)`);
  await knex.raw(`create index jobs_vendor on jobs (account_id, vendor_id, status)`);
  await knex.raw(`create index jobs_contact on jobs (account_id, chatwoot_contact_id)`);
  await knex.raw(`create index jobs_open_sla on jobs (account_id, sla_due_at) where status not in ('completed', 'canceled')`);

  await knex.schema.createTable('job_conversations', (t) => {
    account(t);
    t.uuid('job_id').notNullable();
    t.integer('chatwoot_conversation_id').notNullable();
    t.timestamp('linked_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['account_id', 'job_id', 'chatwoot_conversation_id']);
    t.index(['account_id', 'chatwoot_conversation_id']);
    t.foreign(['account_id', 'job_id']).references(['account_id', 'id']).inTable('jobs').onDelete('cascade');
  });

  await knex.schema.createTable('job_deals', (t) => {
    account(t);
    t.uuid('job_id').notNullable();
    t.uuid('deal_id').notNullable();
    t.timestamp('linked_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['account_id', 'job_id', 'deal_id']);
    t.index(['account_id', 'deal_id']);
    t.foreign(['account_id', 'job_id']).references(['account_id', 'id']).inTable('jobs').onDelete('cascade');
    t.foreign(['account_id', 'deal_id']).references(['account_id', 'id']).inTable('deals');
  });

  // The job's story. Append-only: Postgres refuses updates and deletes.
  await knex.schema.createTable('job_events', (t) => {
    account(t);
    t.specificType('id', 'bigint generated always as identity').notNullable();
    t.uuid('job_id').notNullable();
    t.text('kind').notNullable();
    t.jsonb('data').notNullable().defaultTo('{}');
    actor(t, 'actor');
    t.timestamp('occurred_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['account_id', 'id']);
    t.index(['account_id', 'job_id', 'id']);
    t.foreign(['account_id', 'job_id']).references(['account_id', 'id']).inTable('jobs');
  });
  await knex.raw(`
    create function job_events_refuse_change() returns trigger language plpgsql as $$
    begin
      raise exception 'job_events is append-only: % refused', tg_op using errcode = 'insufficient_privilege';
    end $$;
    create trigger job_events_no_update_delete before update or delete on job_events
      for each row execute function job_events_refuse_change();
  `);

  // Who held the job when, and why it changed hands; the open row is the current assignment.
  await knex.schema.createTable('job_vendors', (t) => {
    account(t);
    t.uuid('id').notNullable().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('job_id').notNullable();
    t.uuid('vendor_id').notNullable();
    t.timestamp('assigned_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    actor(t, 'assigned_by');
    t.text('reason');
    t.text('compliance_override_reason');
    t.jsonb('score');
    t.timestamp('unassigned_at', { useTz: true });
    actor(t, 'unassigned_by', true);
    t.text('unassign_reason');
    t.primary(['account_id', 'id']);
    t.index(['account_id', 'job_id', 'assigned_at']);
    t.index(['account_id', 'vendor_id', 'assigned_at']);
    t.foreign(['account_id', 'job_id']).references(['account_id', 'id']).inTable('jobs').onDelete('cascade');
    t.foreign(['account_id', 'vendor_id']).references(['account_id', 'id']).inTable('vendors');
  });
  await knex.raw(`create unique index job_vendors_current on job_vendors (account_id, job_id) where unassigned_at is null`);

  await knex.schema.createTable('job_checklist_items', (t) => {
    account(t);
    t.uuid('id').notNullable().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('job_id').notNullable();
    t.integer('position').notNullable();
    t.text('label').notNullable();
    t.boolean('required').notNullable().defaultTo(true);
    t.timestamp('done_at', { useTz: true });
    actor(t, 'done_by', true);
    t.primary(['account_id', 'id']);
    t.index(['account_id', 'job_id', 'position']);
    t.foreign(['account_id', 'job_id']).references(['account_id', 'id']).inTable('jobs').onDelete('cascade');
  });

  // One row per job, threshold and due time: each SLA event is emitted exactly once.
  await knex.schema.createTable('job_sla_events', (t) => {
    account(t);
    t.uuid('job_id').notNullable();
    t.text('threshold').notNullable();
    t.timestamp('sla_due_at', { useTz: true }).notNullable();
    t.timestamp('emitted_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['account_id', 'job_id', 'threshold', 'sla_due_at']);
    t.foreign(['account_id', 'job_id']).references(['account_id', 'id']).inTable('jobs').onDelete('cascade');
    t.check(`threshold in ('approaching', 'breached')`);
  });

  await knex.schema.createTable('automation_rules', (t) => {
    account(t);
    t.uuid('id').notNullable().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('name').notNullable();
    t.uuid('pipeline_id').notNullable();
    t.text('trigger').notNullable();
    t.uuid('stage_id'); // for deal_entered_stage
    t.text('action').notNullable();
    t.jsonb('config').notNullable().defaultTo('{}');
    t.boolean('active').notNullable().defaultTo(true);
    actor(t, 'created_by');
    t.timestamps(true, true);
    t.primary(['account_id', 'id']);
    t.index(['account_id', 'pipeline_id', 'trigger']);
    t.foreign(['account_id', 'pipeline_id']).references(['account_id', 'id']).inTable('pipelines').onDelete('cascade');
    t.foreign(['account_id', 'stage_id']).references(['account_id', 'id']).inTable('stages');
    t.check(`trigger in ('deal_entered_stage', 'job_completed')`);
    t.check(`action in ('create_job', 'move_deal', 'create_task')`);
    t.check(`(trigger = 'deal_entered_stage') = (stage_id is not null)`);
  });

  // A rule acts at most once per subject (deal or job): bouncing in and out of a stage does nothing new.
  await knex.schema.createTable('automation_runs', (t) => {
    account(t);
    t.uuid('rule_id').notNullable();
    t.uuid('subject_id').notNullable();
    t.text('result_type');
    t.text('result_id');
    t.timestamp('ran_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['account_id', 'rule_id', 'subject_id']);
    t.foreign(['account_id', 'rule_id']).references(['account_id', 'id']).inTable('automation_rules').onDelete('cascade');
  });

  // Links that were waiting for these tables.
  await knex.schema.alterTable('tasks', (t) => {
    t.foreign(['account_id', 'job_id']).references(['account_id', 'id']).inTable('jobs');
  });
  await knex.raw(`create index tasks_job on tasks (account_id, job_id) where deleted_at is null and job_id is not null`);
  await knex.schema.alterTable('portal_users', (t) => {
    t.foreign(['account_id', 'vendor_id']).references(['account_id', 'id']).inTable('vendors');
  });

  for (const table of tenantTables) {
    await knex.raw(`alter table ?? enable row level security, force row level security`, [table]);
    await knex.raw(`create policy tenant_isolation on ?? using (account_id = ${currentAccount}) with check (account_id = ${currentAccount})`, [table]);
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('portal_users', (t) => t.dropForeign(['account_id', 'vendor_id']));
  await knex.raw('drop index if exists tasks_job');
  await knex.schema.alterTable('tasks', (t) => t.dropForeign(['account_id', 'job_id']));
  for (const table of [...tenantTables].reverse()) await knex.schema.dropTableIfExists(table);
  await knex.raw('drop function if exists job_events_refuse_change()');
}
