// Chatwoot never retries a webhook, so a delivery we refuse is gone. Refusals are counted here
// (never their bodies) so admins can see "failing since 10:02 — 57 refused", next to when the
// installation last accepted one and the webhook URL the installer actually registered; and each
// account's webhook secret is kept, not only the last one installed.
// Like webhook_deliveries and installations, these rows belong to an installation, not to an
// account: a refusal is decided before (or without) any account being known. A refusal at an
// address no installation owns is counted under installation_id null, with no other detail.
import type { Knex } from 'knex';

const refusalReasons = ['invalid_signature', 'missing_signature', 'stale_timestamp', 'unknown_address', 'invalid_body'] as const;

/** One key per installation (or none), source and reason; null folds into one row. */
const refusalKey = `(coalesce(installation_id, '00000000-0000-0000-0000-000000000000'::uuid)), source, reason`;

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('installations', (t) => {
    t.text('webhook_url'); // as registered in Chatwoot by the installer (null: installed before it was kept)
    t.timestamp('webhook_registered_at', { useTz: true });
    t.timestamp('webhook_last_accepted_at', { useTz: true }); // last delivery that passed every check
    // Chatwoot gives each account's webhook its own secret, while one installation (one address)
    // serves every account: the secrets by Chatwoot account id, sealed. webhook_secret_sealed stays
    // the latest one (and the only one of installations made before).
    t.jsonb('webhook_secrets_sealed').notNullable().defaultTo('{}');
  });
  await knex.schema.createTable('webhook_refusals', (t) => {
    t.uuid('installation_id').references('id').inTable('installations').onDelete('cascade');
    t.text('source').notNullable().defaultTo('chatwoot');
    t.text('reason').notNullable();
    t.bigInteger('refused').notNullable(); // all time
    t.timestamp('first_refused_at', { useTz: true }).notNullable();
    t.timestamp('last_refused_at', { useTz: true }).notNullable();
    // The current run: refusals since the installation last accepted a delivery.
    t.bigInteger('streak').notNullable();
    t.timestamp('streak_started_at', { useTz: true }).notNullable();
    t.check(`reason in (${refusalReasons.map((r) => `'${r}'`).join(', ')})`);
    t.check(`refused >= streak and streak > 0`);
  });
  await knex.raw(`create unique index webhook_refusals_key on webhook_refusals (${refusalKey})`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('webhook_refusals');
  await knex.schema.alterTable('installations', (t) => {
    t.dropColumn('webhook_url');
    t.dropColumn('webhook_registered_at');
    t.dropColumn('webhook_last_accepted_at');
    t.dropColumn('webhook_secrets_sealed');
  });
}
