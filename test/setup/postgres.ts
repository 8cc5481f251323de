// Global set-up for API tests: ONE Postgres per run (embedded in a temp folder, or the server
// at TEST_DATABASE_URL) and a migrated template database that each test file clones.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../extension/db/embedded-postgres.ts';
import { createKnex } from '../../extension/db/knex.ts';
import { migrateLatest } from '../../extension/db/migrations.ts';
import { freePort } from '../helpers/ports.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string;
    templateDatabase: string;
  }
}

export const testSchema = 'onelink';

export default async function setup(project: TestProject) {
  let embedded: EmbeddedPostgres | undefined;
  let dir: string | undefined;
  let adminUrl = process.env.TEST_DATABASE_URL;
  if (!adminUrl) {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onelink-test-pg-'));
    embedded = await startEmbeddedPostgres({ dir: path.join(dir, 'postgres'), port: await freePort(), database: 'postgres' });
    adminUrl = embedded.adminUrl;
  }

  const templateDatabase = `onelink_template_${process.pid}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`drop database if exists ${templateDatabase}`);
  await admin.query(`create database ${templateDatabase}`);
  await admin.end();

  const templateUrl = new URL(adminUrl);
  templateUrl.pathname = `/${templateDatabase}`;
  const knex = createKnex({ url: templateUrl.toString(), schema: testSchema });
  await migrateLatest(knex, testSchema);
  await knex.destroy(); // a template must have no open connections while it is cloned

  project.provide('pgAdminUrl', adminUrl);
  project.provide('templateDatabase', templateDatabase);

  return async () => {
    if (embedded) {
      await embedded.stop();
      fs.rmSync(dir!, { recursive: true, force: true });
      return;
    }
    const cleanup = new pg.Client({ connectionString: adminUrl });
    await cleanup.connect();
    await cleanup.query(`drop database if exists ${templateDatabase}`);
    await cleanup.end();
  };
}
