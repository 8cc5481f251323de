// Fields an account defines for itself, next to those its field packs bring: a list of
// definitions on the account row, read with the account on every request (like its capability
// overrides), so validating a deal's or a job's custom fields needs no extra query.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`alter table accounts add column field_definitions jsonb not null default '[]'`);
  await knex.raw(`alter table accounts add constraint accounts_field_definitions_is_list check (jsonb_typeof(field_definitions) = 'array')`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`alter table accounts drop column field_definitions`);
}
