// Migrations are the .ts files in migrations/, loaded by our own source so the same code
// path runs under the CLI, the server and vitest (knex's own file loader cannot load .ts).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Knex } from 'knex';

// The built server (dist/server/server.mjs, extension/cli/build-server.ts) carries them compiled
// beside it, under the same names: dist/server/migrations/*.mjs. All its code shares that one file's URL.
const built = import.meta.url.endsWith('.mjs');
export const migrationsDir = fileURLToPath(new URL(built ? './migrations/' : '../../migrations/', import.meta.url));
const migrationFile = built ? /^\d{12}_[a-z0-9_]+\.mjs$/ : /^\d{12}_[a-z0-9_]+\.ts$/;

interface MigrationModule { up(knex: Knex): Promise<void>; down(knex: Knex): Promise<void>; config?: Knex.MigratorConfig }

const migrationSource: Knex.MigrationSource<string> = {
  async getMigrations() {
    return fs
      .readdirSync(migrationsDir)
      .filter((file) => migrationFile.test(file))
      .sort();
  },
  getMigrationName(file) {
    return file.replace(/\.(ts|mjs)$/, '');
  },
  async getMigration(file) {
    return (await import(pathToFileURL(path.join(migrationsDir, file)).href)) as MigrationModule;
  },
};

function migratorConfig(schema: string): Knex.MigratorConfig {
  return { migrationSource, schemaName: schema, tableName: 'knex_migrations' };
}

// Two replicas starting together must not both migrate: serialise on an advisory lock.
async function withMigrationLock<T>(knex: Knex, schema: string, work: () => Promise<T>): Promise<T> {
  const conn = await knex.client.acquireConnection();
  const key = `onelink_migrations:${schema}`;
  try {
    await conn.query('select pg_advisory_lock(hashtext($1))', [key]);
    await knex.raw('create schema if not exists ??', [schema]);
    return await work();
  } finally {
    await conn.query('select pg_advisory_unlock(hashtext($1))', [key]).catch(() => {});
    await knex.client.releaseConnection(conn);
  }
}

export async function migrateLatest(knex: Knex, schema: string): Promise<string[]> {
  return withMigrationLock(knex, schema, async () => {
    const [, applied] = (await knex.migrate.latest(migratorConfig(schema))) as [number, string[]];
    return applied;
  });
}

/** Rolls back the last batch, or every migration with `all`. */
export async function migrateRollback(knex: Knex, schema: string, all = false): Promise<string[]> {
  return withMigrationLock(knex, schema, async () => {
    const [, reverted] = (await knex.migrate.rollback(migratorConfig(schema), all)) as [number, string[]];
    return reverted;
  });
}

export async function migrationStatus(knex: Knex, schema: string): Promise<{ applied: string[]; pending: string[] }> {
  const exists = await knex.schema.withSchema(schema).hasTable('knex_migrations');
  const all = (await migrationSource.getMigrations([])).map((f) => migrationSource.getMigrationName(f));
  if (!exists) return { applied: [], pending: all };
  const rows: Array<{ name: string }> = await knex.withSchema(schema).table('knex_migrations').select('name').orderBy('id');
  const applied = rows.map((r) => r.name);
  return { applied, pending: all.filter((name) => !applied.includes(name)) };
}
