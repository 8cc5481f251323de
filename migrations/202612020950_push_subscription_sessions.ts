// A browser's push subscription belongs to the session it was registered in: signing that session
// out (or its expiry, or the person's deactivation) stops pushes to that device. Rows registered
// before this have no session and keep following the person's active flag alone.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('push_subscriptions', (t) => {
    t.uuid('session_id');
    t.foreign(['account_id', 'session_id']).references(['account_id', 'id']).inTable('sessions').onDelete('cascade');
  });
  await knex.raw(`create index push_subscriptions_session on push_subscriptions (account_id, session_id) where session_id is not null`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index if exists push_subscriptions_session');
  await knex.schema.alterTable('push_subscriptions', (t) => {
    t.dropForeign(['account_id', 'session_id']);
    t.dropColumn('session_id');
  });
}
