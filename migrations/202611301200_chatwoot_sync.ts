// Syncing the Chatwoot caches from Chatwoot's API (a backfill at install, then on a schedule), and
// agents' public replies kept apart from customer activity.
// chatwoot_sync_state: one row per account and phase (contacts, conversations). A full pass
// records the next page to fetch after each page it has written (in the same transaction), so an
// interrupted pass resumes where it stopped; `synced_through` is when the last complete pass
// started: the incremental sync asks Chatwoot for what changed since then.
import type { Knex } from 'knex';

const currentAccount = `nullif(current_setting('onelink.account_id', true), '')::bigint`;

export async function up(knex: Knex): Promise<void> {
  // An agent's (or bot's) last public reply; last_activity_at stays the customer's last message.
  await knex.schema.alterTable('chatwoot_conversations', (t) => {
    t.timestamp('last_reply_at', { useTz: true });
  });

  await knex.schema.createTable('chatwoot_sync_state', (t) => {
    t.bigInteger('account_id').notNullable().references('account_id').inTable('accounts').onDelete('cascade');
    t.text('phase').notNullable();
    /** The full pass in progress: when it started, the next page to fetch, how far it got. */
    t.timestamp('run_started_at', { useTz: true });
    t.integer('next_page');
    t.integer('done').notNullable().defaultTo(0);
    t.integer('total');
    /** When the last complete pass (full or incremental) started, and when the last full one ended. */
    t.timestamp('synced_through', { useTz: true });
    t.timestamp('full_completed_at', { useTz: true });
    t.text('last_error');
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['account_id', 'phase']);
    t.check(`phase in ('contacts', 'conversations')`);
    t.check(`next_page is null or next_page >= 1`);
  });
  await knex.raw(`alter table chatwoot_sync_state enable row level security, force row level security`);
  await knex.raw(`create policy tenant_isolation on chatwoot_sync_state using (account_id = ${currentAccount}) with check (account_id = ${currentAccount})`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('chatwoot_sync_state');
  await knex.schema.alterTable('chatwoot_conversations', (t) => t.dropColumn('last_reply_at'));
}
