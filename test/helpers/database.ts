// Each test file gets its own database, cloned from the migrated template: files run in
// parallel and never see each other's rows.
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import pg from 'pg';
import { inject } from 'vitest';
import { createKnex } from '../../extension/db/knex.ts';

export const testSchema = 'onelink';

export interface TestDatabase { url: string; name: string; knex: Knex; drop(): Promise<void> }

async function withAdmin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: inject('pgAdminUrl') });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `onelink_test_${randomBytes(5).toString('hex')}`;
  const template = inject('templateDatabase');
  const url = new URL(inject('pgAppUrl'));
  const owner = decodeURIComponent(url.username);
  await withAdmin(async (client) => {
    // Two clones starting at the same instant can see each other as "using" the template.
    for (let attempt = 1; ; attempt++) {
      try {
        await client.query(`create database ${name} owner ${client.escapeIdentifier(owner)} template ${template}`);
        return;
      } catch (err) {
        if (attempt >= 20 || !/being accessed by other users/.test((err as Error).message)) throw err;
        await new Promise((r) => setTimeout(r, 50 * attempt));
      }
    }
  });
  url.pathname = `/${name}`;
  const knex = createKnex({ url: url.toString(), schema: testSchema });
  return {
    url: url.toString(),
    name,
    knex,
    async drop() {
      await knex.destroy();
      await withAdmin((client) => client.query(`drop database if exists ${name} with (force)`));
    },
  };
}
