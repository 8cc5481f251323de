// npm run migrate            → apply every pending migration
// npm run migrate:rollback   → undo the last batch (add `-- --all` to undo every migration)
// Uses DATABASE_URL, or starts the embedded Postgres in ONELINK_DATA_DIR like the server does.
import path from 'node:path';
import { ConfigError, loadConfig, loadDotEnv } from '../config.ts';
import { startEmbeddedPostgres } from '../db/embedded-postgres.ts';
import { createKnex } from '../db/knex.ts';
import { migrateLatest, migrateRollback, migrationStatus } from '../db/migrations.ts';

async function run() {
  const [command = 'latest', ...flags] = process.argv.slice(2);
  if (!['latest', 'rollback', 'status'].includes(command)) throw new ConfigError(`unknown command "${command}": use latest, rollback or status`);
  loadDotEnv();
  const config = loadConfig();
  const embedded = config.DATABASE_URL
    ? undefined
    : await startEmbeddedPostgres({ dir: path.join(config.dataDir, 'postgres'), port: config.ONELINK_EMBEDDED_PG_PORT, database: 'onelink', attachIfRunning: true });
  const knex = createKnex({ url: config.DATABASE_URL ?? embedded!.url, schema: config.ONELINK_DB_SCHEMA });
  try {
    const schema = config.ONELINK_DB_SCHEMA;
    if (command === 'latest') {
      const applied = await migrateLatest(knex, schema);
      console.log(applied.length ? `Applied ${applied.length}: ${applied.join(', ')}` : 'Already up to date.');
    } else if (command === 'rollback') {
      const reverted = await migrateRollback(knex, schema, flags.includes('--all'));
      console.log(reverted.length ? `Rolled back ${reverted.length}: ${reverted.join(', ')}` : 'Nothing to roll back.');
    }
    const { applied, pending } = await migrationStatus(knex, schema);
    console.log(`Schema "${schema}": ${applied.length} applied, ${pending.length} pending${pending.length ? ` (${pending.join(', ')})` : ''}.`);
  } finally {
    await knex.destroy();
    await embedded?.stop();
  }
}

run().catch((err: unknown) => {
  process.stderr.write(`onelink migrate: ${(err as Error).message}\n`);
  process.exit(1);
});
