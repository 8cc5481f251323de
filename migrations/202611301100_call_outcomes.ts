// Call outcomes that callbacks can prove: `unknown` (only status callbacks came, and a completed
// call says nothing about who answered) and `recorded` (the whole call was recorded; it may hold
// a conversation or a voicemail). One fact: whether Onelink's own TwiML routed the call, which is
// what makes "nobody answered" certain. And the outcome the conversation was told, so that one
// later facts change (a voicemail reported after the call was logged) is told once more.
import type { Knex } from 'knex';

const statuses = (list: string[]) => list.map((s) => `'${s}'`).join(', ');
const before = ['ringing', 'in_progress', 'completed', 'missed', 'voicemail', 'busy', 'failed'];
const after = [...before, 'unknown', 'recorded'];

/** The status check the calls table was created with (named by knex, so found by its text). */
async function dropStatusCheck(knex: Knex) {
  const { rows } = await knex.raw<{ rows: Array<{ conname: string }> }>(
    `select conname from pg_constraint where conrelid = 'calls'::regclass and contype = 'c' and pg_get_constraintdef(oid) like '%''in_progress''%'`,
  );
  for (const { conname } of rows) await knex.raw(`alter table calls drop constraint ??`, [conname]);
}

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`alter table calls add column routed_by_onelink boolean not null default false`);
  await knex.raw(`alter table calls add column outcome_noted text`);
  await dropStatusCheck(knex);
  await knex.raw(`alter table calls add constraint calls_status_valid check (status in (${statuses(after)}))`);
}

export async function down(knex: Knex): Promise<void> {
  // The older code knew no such outcomes: it called them missed. Row security is lifted for the
  // table's owner only while this runs (it would hide every row outside an account's session).
  await knex.raw(`alter table calls no force row level security`);
  await knex.raw(`update calls set status = 'missed' where status in ('unknown', 'recorded')`);
  await knex.raw(`alter table calls force row level security`);
  await dropStatusCheck(knex);
  await knex.raw(`alter table calls add constraint calls_status_valid check (status in (${statuses(before)}))`);
  await knex.raw(`alter table calls drop column routed_by_onelink, drop column outcome_noted`);
}
