// Job offers: dispatch offers a job to a vendor, who accepts (the job is assigned to them),
// declines with a reason, or lets the answer-by time pass (the offer lapses). At most one offer
// of a job is open at a time. Per account: how long a vendor has to answer, and whether a
// declined or lapsed offer goes on to the next suggested vendor by itself.
//
//   job_offers         one row per offer, with its answer (who, when, why) once it has one
//   dispatch_settings  offer_answer_minutes, offer_next_automatically
import type { Knex } from 'knex';

const currentAccount = `nullif(current_setting('onelink.account_id', true), '')::bigint`;

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('dispatch_settings', (t) => {
    t.integer('offer_answer_minutes').notNullable().defaultTo(15);
    t.boolean('offer_next_automatically').notNullable().defaultTo(false);
    t.check('offer_answer_minutes between 1 and 10080', [], 'dispatch_settings_offer_answer_minutes');
  });

  await knex.schema.createTable('job_offers', (t) => {
    t.bigInteger('account_id').notNullable().references('account_id').inTable('accounts').onDelete('cascade');
    t.uuid('id').notNullable().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('job_id').notNullable();
    t.uuid('vendor_id').notNullable();
    t.text('status').notNullable().defaultTo('open');
    t.timestamp('answer_by', { useTz: true }).notNullable();
    t.text('decline_reason');
    // Staff who offer a vendor whose compliance lapsed say why; acceptance assigns with that reason.
    t.text('compliance_override_reason');
    t.text('offered_by_type').notNullable();
    t.text('offered_by_id').notNullable();
    t.text('answered_by_type');
    t.text('answered_by_id');
    t.timestamp('answered_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['account_id', 'id']);
    t.foreign(['account_id', 'job_id']).references(['account_id', 'id']).inTable('jobs').onDelete('cascade');
    t.foreign(['account_id', 'vendor_id']).references(['account_id', 'id']).inTable('vendors').onDelete('cascade');
    t.check(`status in ('open', 'accepted', 'declined', 'lapsed', 'withdrawn')`);
    t.check(`(status = 'open') = (answered_at is null)`);
    t.check(`status <> 'declined' or decline_reason is not null`);
  });
  // One open offer per job: a second one is refused by the database too, not only by the service.
  await knex.raw(`create unique index job_offers_one_open on job_offers (account_id, job_id) where status = 'open'`);
  await knex.raw(`create index job_offers_of_job on job_offers (account_id, job_id, created_at)`);
  await knex.raw(`create index job_offers_of_vendor on job_offers (account_id, vendor_id, status, answer_by)`);
  // The sweep's question: which open offers are past their answer-by time.
  await knex.raw(`create index job_offers_due on job_offers (account_id, answer_by) where status = 'open'`);

  await knex.raw(`alter table job_offers enable row level security, force row level security`);
  await knex.raw(`create policy tenant_isolation on job_offers using (account_id = ${currentAccount}) with check (account_id = ${currentAccount})`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('job_offers');
  await knex.schema.alterTable('dispatch_settings', (t) => {
    t.dropChecks(['dispatch_settings_offer_answer_minutes']);
    t.dropColumn('offer_answer_minutes');
    t.dropColumn('offer_next_automatically');
  });
}
