// Global set-up for API tests: ONE Postgres per run (embedded in a temp folder, or the server
// at TEST_DATABASE_URL) and a migrated template database that each test file clones.
// Tests connect as an ordinary role that owns its database — never as a superuser, which
// would bypass row-level security.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../extension/db/embedded-postgres.ts';
import { createKnex } from '../../extension/db/knex.ts';
import { markSearchOperatorsLeakproof } from '../../extension/db/leakproof.ts';
import { migrateLatest } from '../../extension/db/migrations.ts';
import { freePort } from '../helpers/ports.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string;
    /** Credentials of the non-superuser role the tests connect as (the database part is replaced). */
    pgAppUrl: string;
    templateDatabase: string;
  }
}

const testSchema = 'onelink';

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export default async function setup(project: TestProject) {
  let embedded: EmbeddedPostgres | undefined;
  let dir: string | undefined;
  let adminUrl = process.env.TEST_DATABASE_URL;
  let appUrl: URL;
  if (!adminUrl) {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onelink-test-pg-'));
    embedded = await startEmbeddedPostgres({ dir: path.join(dir, 'postgres'), port: await freePort(), database: 'onelink' });
    adminUrl = embedded.adminUrl;
    appUrl = new URL(embedded.url);
  } else {
    appUrl = new URL(adminUrl);
    appUrl.username = 'onelink_test';
    appUrl.password = 'onelink_test';
    await withClient(adminUrl, async (client) => {
      const exists = await client.query(`select 1 from pg_roles where rolname = 'onelink_test'`);
      if (!exists.rowCount) await client.query(`create role onelink_test login password 'onelink_test' nosuperuser nobypassrls`);
    });
  }
  const role = decodeURIComponent(appUrl.username);

  const templateDatabase = `onelink_template_${process.pid}`;
  await withClient(adminUrl, async (client) => {
    await client.query(`drop database if exists ${templateDatabase}`);
    await client.query(`create database ${templateDatabase} owner ${client.escapeIdentifier(role)}`);
  });
  appUrl.pathname = `/${templateDatabase}`;
  const knex = createKnex({ url: appUrl.toString(), schema: testSchema });
  await migrateLatest(knex, testSchema);
  await knex.destroy(); // a template must have no open connections while it is cloned
  const superuserUrl = new URL(adminUrl);
  superuserUrl.pathname = `/${templateDatabase}`;
  await markSearchOperatorsLeakproof(superuserUrl.toString());

  project.provide('pgAdminUrl', adminUrl);
  project.provide('pgAppUrl', appUrl.toString());
  project.provide('templateDatabase', templateDatabase);

  return async () => {
    if (embedded) {
      await embedded.stop();
      fs.rmSync(dir!, { recursive: true, force: true });
      return;
    }
    await withClient(adminUrl, (client) => client.query(`drop database if exists ${templateDatabase}`));
  };
}
