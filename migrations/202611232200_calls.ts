// Calls through Twilio: the account's Twilio connection and routing defaults, its numbers (per
// location, with their own forwarding), and the call log — one row per CallSid, built up from
// Twilio's callbacks in whatever order they arrive, linked to the Chatwoot contact and
// conversation the call was threaded into, the call-back task and the job it produced.
import type { Knex } from 'knex';

const currentAccount = `nullif(current_setting('onelink.account_id', true), '')::bigint`;
const tenantTables = ['twilio_settings', 'twilio_numbers', 'calls'];

export async function up(knex: Knex): Promise<void> {
  const account = (t: Knex.CreateTableBuilder) =>
    t.bigInteger('account_id').notNullable().references('account_id').inTable('accounts').onDelete('cascade');

  await knex.schema.createTable('twilio_settings', (t) => {
    account(t);
    t.text('account_sid').notNullable();
    t.text('auth_token_sealed').notNullable();
    // Part of the webhook address; the Twilio signature is checked on top of it.
    t.text('webhook_token').notNullable();
    t.specificType('forward_to', 'text[]').notNullable().defaultTo('{}');
    t.integer('ring_timeout_seconds').notNullable().defaultTo(20);
    t.boolean('voicemail_enabled').notNullable().defaultTo(true);
    t.text('voicemail_greeting');
    t.boolean('transcribe_voicemail').notNullable().defaultTo(true);
    t.integer('chatwoot_inbox_id'); // where call threads live in Chatwoot (an API or phone inbox)
    t.text('create_job_on').notNullable().defaultTo('never');
    t.integer('callback_due_minutes').notNullable().defaultTo(30);
    t.uuid('callback_assignee_id');
    t.integer('callback_team_id');
    t.timestamps(true, true);
    t.primary(['account_id']);
    t.foreign(['account_id', 'callback_assignee_id']).references(['account_id', 'id']).inTable('users');
    t.check(`create_job_on in ('never', 'missed', 'voicemail', 'missed_or_voicemail')`);
    t.check(`ring_timeout_seconds between 5 and 120`);
  });

  await knex.schema.createTable('twilio_numbers', (t) => {
    account(t);
    t.uuid('id').notNullable().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('e164').notNullable();
    t.text('label');
    t.text('location');
    t.specificType('forward_to', 'text[]'); // null: the account's default
    t.integer('ring_timeout_seconds');
    t.timestamps(true, true);
    t.primary(['account_id', 'id']);
    t.unique(['account_id', 'e164']);
  });

  await knex.schema.createTable('calls', (t) => {
    account(t);
    t.uuid('id').notNullable().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('call_sid').notNullable();
    t.text('direction').notNullable().defaultTo('inbound');
    t.text('from_e164');
    t.text('to_e164');
    t.text('status').notNullable().defaultTo('ringing');
    // Facts gathered from callbacks; the status is derived from them, so order does not matter.
    t.text('twilio_final_status'); // completed, busy, no-answer, canceled, failed
    t.boolean('answered').notNullable().defaultTo(false);
    t.boolean('in_progress_seen').notNullable().defaultTo(false);
    t.boolean('dial_seen').notNullable().defaultTo(false); // the forwarded leg's outcome arrived
    t.timestamp('final_seen_at', { useTz: true }); // when the final status was first processed
    t.timestamp('started_at', { useTz: true });
    t.timestamp('ended_at', { useTz: true });
    t.integer('duration_seconds');
    t.text('recording_sid');
    t.text('recording_source'); // RecordVerb (voicemail) or DialVerb/… (call recording)
    t.text('recording_url'); // Twilio's; fetched through us, never shown
    t.integer('recording_duration_seconds');
    t.text('transcript');
    t.text('transcript_status');
    t.text('disposition');
    t.integer('chatwoot_contact_id');
    t.integer('chatwoot_conversation_id');
    t.uuid('job_id');
    t.uuid('callback_task_id');
    // What was already done, so a retried or late callback never does it twice (the links above
    // can be changed by people; these marks cannot).
    t.timestamp('threading_claimed_at', { useTz: true });
    t.timestamp('threaded_at', { useTz: true });
    t.timestamp('callback_created_at', { useTz: true });
    t.timestamp('job_created_at', { useTz: true });
    t.timestamp('summary_noted_at', { useTz: true });
    t.timestamp('recording_noted_at', { useTz: true });
    t.timestamp('transcript_noted_at', { useTz: true });
    t.timestamps(true, true);
    t.primary(['account_id', 'id']);
    t.unique(['account_id', 'call_sid']);
    t.foreign(['account_id', 'job_id']).references(['account_id', 'id']).inTable('jobs');
    t.foreign(['account_id', 'callback_task_id']).references(['account_id', 'id']).inTable('tasks');
    t.check(`direction in ('inbound', 'outbound')`);
    t.check(`status in ('ringing', 'in_progress', 'completed', 'missed', 'voicemail', 'busy', 'failed')`);
    t.check(`disposition is null or disposition in ('booked', 'follow_up', 'quote', 'complaint', 'wrong_number', 'spam', 'other')`);
  });
  await knex.raw(`create index calls_recent on calls (account_id, started_at desc, id desc)`);
  await knex.raw(`create index calls_from on calls (account_id, from_e164, started_at)`);
  await knex.raw(`create index calls_to on calls (account_id, to_e164, started_at)`);
  await knex.raw(`create index calls_contact on calls (account_id, chatwoot_contact_id)`);
  await knex.raw(`create index calls_conversation on calls (account_id, chatwoot_conversation_id)`);
  await knex.raw(`create index calls_job on calls (account_id, job_id) where job_id is not null`);

  for (const table of tenantTables) {
    await knex.raw(`alter table ?? enable row level security, force row level security`, [table]);
    await knex.raw(`create policy tenant_isolation on ?? using (account_id = ${currentAccount}) with check (account_id = ${currentAccount})`, [table]);
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const table of [...tenantTables].reverse()) await knex.schema.dropTableIfExists(table);
}
