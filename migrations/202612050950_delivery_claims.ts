// Who claimed a webhook delivery, and when: a delivery stuck in 'processing' because its worker
// died (kill -9, a lost machine) is handed out again as soon as that worker's database session is
// gone, instead of five minutes after it arrived — which also could not tell a crash from a long backlog.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('webhook_deliveries', (t) => {
    t.integer('claimed_by'); // the Postgres backend pid of the session that claimed it
    t.timestamp('claimed_at', { useTz: true });
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('webhook_deliveries', (t) => {
    t.dropColumn('claimed_by');
    t.dropColumn('claimed_at');
  });
}
