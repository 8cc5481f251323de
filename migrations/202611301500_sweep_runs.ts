// What the scheduled sweeps did (SLA, task reminders, Chatwoot sync, stalled deliveries, outbox…),
// shown to admins by GET /api/v1/admin/system and written by modules/system/sweeps.ts.
// sweep_runs: one row per sweep, about the sweep as a whole; it holds no account's data (an error
// raised outside any account's part is kept here; admins see that it happened, not its text).
// sweep_account_failures: one row per sweep and account whose part of a run ever failed, with the
// last error; tenant data like any other (row-level security), so an admin sees only their account's.
import type { Knex } from 'knex';

const currentAccount = `nullif(current_setting('onelink.account_id', true), '')::bigint`;

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('sweep_runs', (t) => {
    t.text('sweep').primary();
    t.timestamp('last_run_at', { useTz: true }).notNullable();
    t.timestamp('last_finished_at', { useTz: true });
    t.timestamp('last_success_at', { useTz: true });
    t.text('last_error');
    t.timestamp('last_error_at', { useTz: true });
    t.integer('runs').notNullable().defaultTo(0);
    t.integer('failures').notNullable().defaultTo(0);
    t.integer('consecutive_failures').notNullable().defaultTo(0);
    /** Account parts that failed, over all runs (their errors are in sweep_account_failures). */
    t.integer('account_failures').notNullable().defaultTo(0);
    /** The accounts whose part of the last finished run failed (ids only; an admin sees whether theirs is among them). */
    t.specificType('last_failed_accounts', 'bigint[]').notNullable().defaultTo('{}');
  });

  await knex.schema.createTable('sweep_account_failures', (t) => {
    t.bigInteger('account_id').notNullable().references('account_id').inTable('accounts').onDelete('cascade');
    t.text('sweep').notNullable();
    t.text('last_error').notNullable();
    t.timestamp('last_error_at', { useTz: true }).notNullable();
    t.integer('failures').notNullable().defaultTo(0);
    t.primary(['account_id', 'sweep']);
  });
  await knex.raw(`alter table sweep_account_failures enable row level security, force row level security`);
  await knex.raw(`create policy tenant_isolation on sweep_account_failures using (account_id = ${currentAccount}) with check (account_id = ${currentAccount})`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('sweep_account_failures');
  await knex.schema.dropTableIfExists('sweep_runs');
}
