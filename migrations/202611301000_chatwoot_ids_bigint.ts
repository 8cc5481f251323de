// Chatwoot's ids are bigint; stored as integer, an id past 2^31 − 1 (which the API accepts up to
// 2^53 − 1) made Postgres refuse the statement. Every column holding a Chatwoot id becomes bigint.
// No view, policy or foreign key uses these columns; their indexes are rebuilt with the table.
import type { Knex } from 'knex';

const chatwootIdColumns: Record<string, string[]> = {
  accounts: ['chatwoot_account_id'],
  users: ['chatwoot_user_id'],
  portal_users: ['chatwoot_contact_id'],
  deals: ['chatwoot_contact_id', 'chatwoot_company_id', 'chatwoot_conversation_id'],
  tasks: ['chatwoot_team_id', 'chatwoot_contact_id', 'chatwoot_conversation_id'],
  chatwoot_contacts: ['chatwoot_contact_id', 'chatwoot_company_id'],
  chatwoot_conversations: ['chatwoot_conversation_id', 'inbox_id', 'assignee_id', 'chatwoot_contact_id'],
  chatwoot_outbox: ['chatwoot_conversation_id', 'chatwoot_message_id'],
  vendors: ['chatwoot_contact_id'],
  vendor_client_links: ['chatwoot_contact_id'],
  jobs: ['chatwoot_contact_id'],
  job_conversations: ['chatwoot_conversation_id'],
  twilio_settings: ['chatwoot_inbox_id', 'callback_team_id'],
  calls: ['chatwoot_contact_id', 'chatwoot_conversation_id'],
};

async function setType(knex: Knex, type: 'bigint' | 'integer') {
  for (const [table, columns] of Object.entries(chatwootIdColumns)) {
    // One statement per table: Postgres rewrites the table (and its indexes) once.
    await knex.raw(`alter table ?? ${columns.map(() => `alter column ?? type ${type}`).join(', ')}`, [table, ...columns]);
  }
}

export async function up(knex: Knex) {
  await setType(knex, 'bigint');
}

/** Back to integer: refused (numeric out of range) while a stored id is past 2^31 − 1. */
export async function down(knex: Knex) {
  await setType(knex, 'integer');
}
