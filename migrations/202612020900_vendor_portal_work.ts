// What the vendor portal needs to do a job from a phone: photos a template requires (tagged, e.g.
// "after"), files that arrive once however often a flaky connection sends them, and the actions a
// phone queued offline, applied once each with the time they happened on the device.
import type { Knex } from 'knex';

const currentAccount = `nullif(current_setting('onelink.account_id', true), '')::bigint`;

export async function up(knex: Knex): Promise<void> {
  // The photos a template asks for ([{ tag, label, min }]); jobs copy them when created, like the items.
  await knex.schema.alterTable('checklist_templates', (t) => {
    t.jsonb('required_photos').notNullable().defaultTo(knex.raw(`'[]'::jsonb`));
  });
  await knex.schema.alterTable('jobs', (t) => {
    t.jsonb('required_photos').notNullable().defaultTo(knex.raw(`'[]'::jsonb`));
  });

  await knex.schema.alterTable('job_artifacts', (t) => {
    // What the photo shows for the job's requirements ("before", "after"); null: untagged.
    t.text('tag');
    // The id the device gave the file: a file sent twice (a lost answer, a replayed queue) is stored once.
    t.uuid('client_id');
    // When the device took or picked the file, as its clock said.
    t.timestamp('taken_at', { useTz: true });
  });
  await knex.raw(`alter table job_artifacts add constraint job_artifacts_tag_format check (tag is null or tag ~ '^[a-z0-9_-]{1,40}$')`);
  await knex.raw(`create unique index job_artifacts_client_id on job_artifacts (account_id, job_id, client_id) where client_id is not null`);
  await knex.raw(`create index job_artifacts_tag on job_artifacts (account_id, job_id, tag) where tag is not null and deleted_at is null`);

  // One row per action a portal user sent with its own id: a replay answers from here.
  await knex.schema.createTable('portal_actions', (t) => {
    t.bigInteger('account_id').notNullable().references('account_id').inTable('accounts').onDelete('cascade');
    t.uuid('portal_user_id').notNullable();
    t.uuid('id').notNullable();
    t.uuid('job_id');
    t.text('kind').notNullable();
    t.timestamp('device_time', { useTz: true });
    t.boolean('offline').notNullable().defaultTo(false);
    t.timestamp('received_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.text('outcome').notNullable();
    t.integer('status_code').notNullable();
    t.jsonb('response').notNullable();
    t.primary(['account_id', 'portal_user_id', 'id']);
    t.index(['account_id', 'job_id', 'received_at']);
    t.foreign(['account_id', 'portal_user_id']).references(['account_id', 'id']).inTable('portal_users').onDelete('cascade');
    t.check(`outcome in ('applied', 'rejected')`);
  });
  await knex.raw(`alter table portal_actions enable row level security, force row level security`);
  await knex.raw(`create policy tenant_isolation on portal_actions using (account_id = ${currentAccount}) with check (account_id = ${currentAccount})`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('portal_actions');
  await knex.raw('drop index if exists job_artifacts_tag');
  await knex.raw('drop index if exists job_artifacts_client_id');
  await knex.raw('alter table job_artifacts drop constraint if exists job_artifacts_tag_format');
  await knex.schema.alterTable('job_artifacts', (t) => {
    t.dropColumn('taken_at');
    t.dropColumn('client_id');
    t.dropColumn('tag');
  });
  await knex.schema.alterTable('jobs', (t) => t.dropColumn('required_photos'));
  await knex.schema.alterTable('checklist_templates', (t) => t.dropColumn('required_photos'));
}
