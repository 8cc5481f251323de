// Speed to first response: what the message webhooks tell about each conversation's first customer
// message and the first agent reply after it, and the account's business hours for the report.
//
//   chatwoot_conversations  first_customer_message_at, first_reply_at, first_reply_agent_id (Chatwoot user id),
//                           replies_before_customer (agent replies seen before the first customer message,
//                           kept so that a late-arriving earlier customer message still finds its reply)
//   report_settings         per account: the time zone and weekly opening hours the report counts in, and
//                           derived from the hours (a generated column, so always the current ones) the
//                           open seconds of the week before each minute, so a span's business seconds are
//                           a few array look-ups per row (report_open_minutes)
import type { Knex } from 'knex';

const currentAccount = `nullif(current_setting('onelink.account_id', true), '')::bigint`;

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('chatwoot_conversations', (t) => {
    t.timestamp('first_customer_message_at', { useTz: true });
    t.timestamp('first_reply_at', { useTz: true });
    t.bigInteger('first_reply_agent_id');
    t.jsonb('replies_before_customer').notNullable().defaultTo('[]');
  });
  // The report's range scan: an account's conversations by when the customer first wrote, with
  // everything the report reads of them (an index-only scan).
  await knex.raw(
    `create index chatwoot_conversations_first_message on chatwoot_conversations (account_id, first_customer_message_at)
       include (first_reply_at, first_reply_agent_id, inbox_id, chatwoot_conversation_id, chatwoot_contact_id) where first_customer_message_at is not null`,
  );

  // The report asks each conversation's deals what became of them: answered from the index alone.
  await knex.raw(
    `create index deals_conversation_status on deals (account_id, chatwoot_conversation_id) include (status)
       where deleted_at is null and chatwoot_conversation_id is not null`,
  );

  // Open seconds of a weekly schedule before each minute of the week, from Monday 00:00 local:
  // element k + 1 for minute k (0 .. 10080), so the last is the week's total. Hours are whole
  // minutes, so within a minute the clock is either open or closed throughout.
  await knex.raw(`
    create function report_open_minutes(hours jsonb) returns double precision[] language sql immutable parallel safe as $$
      with intervals as (
        select (h.day - 1) * 1440 + extract(epoch from h.opens::interval) / 60 as opens,
               (h.day - 1) * 1440 + extract(epoch from h.closes::interval) / 60 as closes
          from jsonb_to_recordset(hours) as h(day int, opens text, closes text)
      ), minutes as (
        select m, (exists (select 1 from intervals i where m >= i.opens and m < i.closes))::int as open
          from generate_series(0, 10080) m
      )
      select array_agg((60 * (sum_open - open))::double precision order by m)
        from (select m, open, sum(open) over (order by m) as sum_open from minutes) cumulative
    $$`);

  await knex.schema.createTable('report_settings', (t) => {
    t.bigInteger('account_id').notNullable().references('account_id').inTable('accounts').onDelete('cascade');
    t.text('time_zone').notNullable().defaultTo('UTC');
    // [{ day: 1..7 (ISO, Monday = 1), opens: 'HH:MM', closes: 'HH:MM' | '24:00' }]
    t.jsonb('business_hours').notNullable().defaultTo('[]');
    t.timestamps(true, true);
    t.primary(['account_id']);
  });
  await knex.raw(`alter table report_settings add column open_before_minute double precision[] generated always as (report_open_minutes(business_hours)) stored`);
  await knex.raw(`alter table report_settings enable row level security, force row level security`);
  await knex.raw(`create policy tenant_isolation on report_settings using (account_id = ${currentAccount}) with check (account_id = ${currentAccount})`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('report_settings');
  await knex.raw(`drop function if exists report_open_minutes(jsonb)`);
  await knex.raw(`drop index if exists deals_conversation_status`);
  await knex.raw(`drop index if exists chatwoot_conversations_first_message`);
  await knex.schema.alterTable('chatwoot_conversations', (t) => {
    t.dropColumn('replies_before_customer');
    t.dropColumn('first_reply_agent_id');
    t.dropColumn('first_reply_at');
    t.dropColumn('first_customer_message_at');
  });
}
