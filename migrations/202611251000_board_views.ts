// Boards: saved views (a named set of filters, personal or shared with the account) and what the
// pipeline board needs to follow changes without reloading: deals found by when they changed,
// and card ranks compared byte by byte, as fractional indexing assumes (a database created with
// a linguistic locale would otherwise sort "Zz" after "a0" and scramble the columns).
import type { Knex } from 'knex';

const currentAccount = `nullif(current_setting('onelink.account_id', true), '')::bigint`;

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('saved_views', (t) => {
    t.bigInteger('account_id').notNullable().references('account_id').inTable('accounts').onDelete('cascade');
    t.uuid('id').notNullable().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('board').notNullable();
    t.text('name').notNullable();
    t.jsonb('filters').notNullable().defaultTo('{}');
    t.boolean('shared').notNullable().defaultTo(false);
    t.uuid('owner_id').notNullable();
    t.timestamps(true, true);
    t.primary(['account_id', 'id']);
    t.foreign(['account_id', 'owner_id']).references(['account_id', 'id']).inTable('users').onDelete('cascade');
    t.check(`board in ('pipeline', 'dispatch')`);
    t.check(`char_length(name) between 1 and 80`);
  });
  await knex.raw(`create unique index saved_views_name on saved_views (account_id, board, owner_id, lower(name))`);
  await knex.raw(`alter table saved_views enable row level security, force row level security`);
  await knex.raw(`create policy tenant_isolation on saved_views using (account_id = ${currentAccount}) with check (account_id = ${currentAccount})`);

  await knex.raw(`create index deals_changed on deals (account_id, updated_at)`);
  await knex.raw(`alter table deals alter column rank type text collate "C"`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`alter table deals alter column rank type text collate "default"`);
  await knex.raw(`drop index if exists deals_changed`);
  await knex.schema.dropTableIfExists('saved_views');
}
