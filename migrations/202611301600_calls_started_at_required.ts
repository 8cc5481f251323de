// Every call has a start: the call log pages on (started_at, id), and a row without one would hand
// out a cursor the next page cannot use. Callbacks always set it; this makes the rule the
// database's own. A row that somehow lacks it takes its first recorded time.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  // Forced row security binds the owner too; this one statement spans every account.
  await knex.raw(`alter table calls no force row level security`);
  await knex.raw(`update calls set started_at = created_at where started_at is null`);
  await knex.raw(`alter table calls force row level security`);
  await knex.raw(`alter table calls alter column started_at set default now(), alter column started_at set not null`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`alter table calls alter column started_at drop not null, alter column started_at drop default`);
}
