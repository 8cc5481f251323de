// Notifications (extension/notifications): events raised in the transaction of the change that
// caused them, fanned out to recipients and channels by a worker, delivered with retries.
//
//   notification_events        the outbox: one row per event, written by the unit of work
//   notifications              what a recipient sees in-app (bell), one per event and recipient
//   notification_deliveries    one row per event, recipient and channel: status, attempts, reason
//   notification_settings      per account: senders, urgent events, customer opt-in, digest hour
//   notification_preferences   per recipient: event × channel switches, quiet hours, time zone
//   notification_templates     per account: customer message texts (absent: the built-in text)
//   push_subscriptions         web push endpoints of portal users
//   sms_opt_outs               phone numbers that answered STOP (or Twilio said 21610)
//   vendor_document_alerts     which expiry alerts were raised for a vendor document (once each)
// Also: jobs.owner_id, the staff member responsible for a job ("assigned to me").
import type { Knex } from 'knex';

const currentAccount = `nullif(current_setting('onelink.account_id', true), '')::bigint`;
const tables = [
  'notification_events',
  'notifications',
  'notification_deliveries',
  'notification_settings',
  'notification_preferences',
  'notification_templates',
  'push_subscriptions',
  'sms_opt_outs',
  'vendor_document_alerts',
];

export async function up(knex: Knex): Promise<void> {
  const account = (t: Knex.CreateTableBuilder) => t.bigInteger('account_id').notNullable().references('account_id').inTable('accounts').onDelete('cascade');
  const recipient = (t: Knex.CreateTableBuilder) => {
    t.text('recipient_kind').notNullable();
    t.text('recipient_id').notNullable();
    t.check(`recipient_kind in ('user', 'vendor', 'contact')`);
  };

  await knex.schema.createTable('notification_events', (t) => {
    account(t);
    t.bigIncrements('id', { primaryKey: false });
    t.text('event').notNullable();
    t.text('resource_type').notNullable();
    t.text('resource_id').notNullable();
    t.jsonb('data').notNullable().defaultTo('{}');
    t.text('actor_type');
    t.text('actor_id');
    // A replayed cause (a sweep run twice, a redelivered webhook) raises the same key: one event.
    t.text('dedupe_key').notNullable();
    t.timestamp('occurred_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('fanned_out_at', { useTz: true });
    t.integer('attempts').notNullable().defaultTo(0);
    t.text('last_error');
    t.primary(['account_id', 'id']);
    t.unique(['account_id', 'dedupe_key']);
  });
  await knex.raw(`create index notification_events_pending on notification_events (account_id, id) where fanned_out_at is null`);

  await knex.schema.createTable('notifications', (t) => {
    account(t);
    t.uuid('id').notNullable().defaultTo(knex.raw('gen_random_uuid()'));
    t.bigInteger('event_id').notNullable();
    t.text('event').notNullable();
    recipient(t);
    t.text('title').notNullable();
    t.text('body').notNullable();
    t.text('resource_type');
    t.text('resource_id');
    t.boolean('urgent').notNullable().defaultTo(false);
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('read_at', { useTz: true });
    t.primary(['account_id', 'id']);
    t.unique(['account_id', 'event_id', 'recipient_kind', 'recipient_id']);
  });
  await knex.raw(`create index notifications_inbox on notifications (account_id, recipient_kind, recipient_id, created_at desc, id desc)`);
  await knex.raw(`create index notifications_unread on notifications (account_id, recipient_kind, recipient_id) where read_at is null`);

  await knex.schema.createTable('notification_deliveries', (t) => {
    account(t);
    t.uuid('id').notNullable().defaultTo(knex.raw('gen_random_uuid()'));
    t.bigInteger('event_id').notNullable();
    t.text('event').notNullable();
    recipient(t);
    t.text('recipient_name');
    t.text('channel').notNullable();
    t.text('address'); // e-mail address, E.164 number, Chatwoot conversation id; null for push
    t.jsonb('message').notNullable(); // { title, body, link, … } rendered at fan-out
    t.text('status').notNullable().defaultTo('pending');
    t.text('reason');
    t.integer('attempts').notNullable().defaultTo(0);
    t.timestamp('next_attempt_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    // Place in the recipient's chain (null: a channel of its own). A later channel of the chain waits
    // 'held' and is released only when the one before could not reach the recipient.
    t.smallint('chain_position');
    t.boolean('unless_read').notNullable().defaultTo(false); // an escalation: skipped once the in-app notification is read
    t.text('provider_id'); // Twilio message SID, Chatwoot message id, SMTP message id
    t.uuid('resend_of');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('sent_at', { useTz: true });
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['account_id', 'id']);
    t.check(`channel in ('email', 'sms', 'push', 'chatwoot')`);
    t.check(`status in ('held', 'pending', 'sent', 'delivered', 'failed', 'skipped', 'opted_out')`);
  });
  // Exactly one delivery per event, recipient and channel (a resend is a new row that names the original).
  await knex.raw(`create unique index notification_deliveries_once on notification_deliveries (account_id, event_id, recipient_kind, recipient_id, channel) where resend_of is null`);
  await knex.raw(`create index notification_deliveries_due on notification_deliveries (account_id, next_attempt_at) where status = 'pending'`);
  await knex.raw(`create index notification_deliveries_log on notification_deliveries (account_id, created_at desc, id desc)`);
  await knex.raw(`create index notification_deliveries_provider on notification_deliveries (account_id, channel, provider_id) where provider_id is not null`);

  await knex.schema.createTable('notification_settings', (t) => {
    account(t);
    t.specificType('email_reply_to', 'citext');
    t.text('sms_from'); // E.164 sender number…
    t.text('sms_messaging_service_sid'); // …or a Messaging Service (wins when both are set)
    t.specificType('urgent_events', 'text[]').notNullable().defaultTo('{}'); // may break quiet hours
    t.specificType('customer_events', 'text[]').notNullable().defaultTo('{}'); // customer notifications are opt-in
    t.jsonb('defaults').notNullable().defaultTo('{}'); // { event: { channel: boolean } } over the built-in defaults
    t.smallint('digest_hour').notNullable().defaultTo(8);
    t.text('time_zone').notNullable().defaultTo('UTC');
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['account_id']);
    t.check('digest_hour between 0 and 23');
  });

  await knex.schema.createTable('notification_preferences', (t) => {
    account(t);
    recipient(t);
    t.jsonb('channels').notNullable().defaultTo('{}'); // { event: { channel: boolean } }
    t.time('quiet_start');
    t.time('quiet_end');
    t.text('time_zone');
    t.boolean('digest').notNullable().defaultTo(true);
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['account_id', 'recipient_kind', 'recipient_id']);
    t.check('(quiet_start is null) = (quiet_end is null)');
  });

  await knex.schema.createTable('notification_templates', (t) => {
    account(t);
    t.text('event').notNullable();
    t.text('locale').notNullable();
    t.text('body').notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['account_id', 'event', 'locale']);
  });

  await knex.schema.createTable('push_subscriptions', (t) => {
    account(t);
    t.uuid('id').notNullable().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('portal_user_id').notNullable();
    t.text('endpoint').notNullable();
    t.text('p256dh').notNullable();
    t.text('auth').notNullable();
    t.text('user_agent');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('last_success_at', { useTz: true });
    t.primary(['account_id', 'id']);
    t.unique(['account_id', 'endpoint']);
    t.index(['account_id', 'portal_user_id']);
    t.foreign(['account_id', 'portal_user_id']).references(['account_id', 'id']).inTable('portal_users').onDelete('cascade');
  });

  await knex.schema.createTable('sms_opt_outs', (t) => {
    account(t);
    t.text('phone_e164').notNullable();
    t.text('source').notNullable();
    t.timestamp('opted_out_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['account_id', 'phone_e164']);
    t.check(`source in ('keyword', 'twilio_21610')`);
  });

  await knex.schema.createTable('vendor_document_alerts', (t) => {
    account(t);
    t.uuid('document_id').notNullable();
    t.text('threshold').notNullable();
    t.date('expires_on').notNullable();
    t.timestamp('raised_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['account_id', 'document_id', 'threshold', 'expires_on']);
    t.check(`threshold in ('30_days', '7_days', 'expired')`);
  });

  for (const table of tables) {
    await knex.raw(`alter table ?? enable row level security, force row level security`, [table]);
    await knex.raw(`create policy tenant_isolation on ?? using (account_id = ${currentAccount}) with check (account_id = ${currentAccount})`, [table]);
  }

  await knex.schema.alterTable('jobs', (t) => {
    t.uuid('owner_id');
    t.foreign(['account_id', 'owner_id']).references(['account_id', 'id']).inTable('users');
  });
  await knex.raw(`create index jobs_owner on jobs (account_id, owner_id) where owner_id is not null`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index if exists jobs_owner');
  await knex.schema.alterTable('jobs', (t) => {
    t.dropForeign(['account_id', 'owner_id']);
    t.dropColumn('owner_id');
  });
  for (const table of [...tables].reverse()) await knex.schema.dropTableIfExists(table);
}
