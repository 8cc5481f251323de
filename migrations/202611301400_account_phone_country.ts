// The country an account's phone numbers are read in when they carry no country code
// ("(510) 555-0177"): chosen by an admin, else taken from the Chatwoot account's locale when
// Onelink learns it, else US (see accounts/service.ts). On the account row, read with it.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`alter table accounts add column default_phone_country text`);
  await knex.raw(`alter table accounts add column chatwoot_locale text`);
  await knex.raw(`alter table accounts add constraint accounts_default_phone_country_format check (default_phone_country ~ '^[A-Z]{2}$')`);
  await knex.raw(`alter table accounts add constraint accounts_chatwoot_locale_format check (chatwoot_locale ~ '^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})*$')`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`alter table accounts drop column chatwoot_locale`);
  await knex.raw(`alter table accounts drop column default_phone_country`);
}
