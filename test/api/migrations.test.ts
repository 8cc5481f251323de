import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateLatest, migrateRollback, migrationStatus } from '../../extension/db/migrations.ts';
import { createTestDatabase, testSchema, type TestDatabase } from '../helpers/database.ts';
import { spawnIn } from '../helpers/processes.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.drop());

async function installedExtensions() {
  const { rows } = await db.knex.raw<{ rows: Array<{ extname: string }> }>(
    `select extname from pg_extension where extname in ('pg_trgm', 'citext', 'pgcrypto', 'btree_gin') order by extname`,
  );
  return rows.map((r) => r.extname);
}

describe('migrations', () => {
  it('roll back to zero and up again', async () => {
    const before = await migrationStatus(db.knex, testSchema);
    expect(before.pending).toEqual([]);
    expect(await installedExtensions()).toEqual(['btree_gin', 'citext', 'pg_trgm', 'pgcrypto']);

    const reverted = await migrateRollback(db.knex, testSchema, true);
    expect(reverted.sort()).toEqual(before.applied.sort());
    expect((await migrationStatus(db.knex, testSchema)).applied).toEqual([]);
    expect(await installedExtensions()).toEqual([]);

    const applied = await migrateLatest(db.knex, testSchema);
    expect(applied).toEqual(before.applied);
    expect(await installedExtensions()).toEqual(['btree_gin', 'citext', 'pg_trgm', 'pgcrypto']);
  });

  it('serialise concurrent runs (two replicas starting together)', async () => {
    await migrateRollback(db.knex, testSchema, true);
    const results = await Promise.all([migrateLatest(db.knex, testSchema), migrateLatest(db.knex, testSchema)]);
    expect(results.flat().sort()).toEqual((await migrationStatus(db.knex, testSchema)).applied.sort());
  });

  it('work through `npm run migrate:rollback -- --all` and `npm run migrate`', { timeout: 60_000 }, async () => {
    const env = { DATABASE_URL: db.url, ONELINK_DB_SCHEMA: testSchema };
    const down = spawnIn('npm', ['run', '--silent', 'migrate:rollback', '--', '--all'], env);
    expect((await down.exited).code).toBe(0);
    expect(down.output()).toMatch(/Rolled back \d+: .*\n.*0 applied/);
    expect((await migrationStatus(db.knex, testSchema)).applied).toEqual([]);

    const up = spawnIn('npm', ['run', '--silent', 'migrate'], env);
    expect((await up.exited).code).toBe(0);
    expect(up.output()).toMatch(/Applied \d+/);
    expect((await migrationStatus(db.knex, testSchema)).pending).toEqual([]);
  });
});
