// What the portal's job actions need besides the action log: when work on a job started (the
// device's time for a start queued offline), and a fingerprint of each action's request, so the same
// action id sent with a different body is told apart from a replay.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('jobs', (t) => {
    t.timestamp('started_at', { useTz: true });
  });
  await knex.schema.alterTable('portal_actions', (t) => {
    t.text('request_hash');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('portal_actions', (t) => t.dropColumn('request_hash'));
  await knex.schema.alterTable('jobs', (t) => t.dropColumn('started_at'));
}
