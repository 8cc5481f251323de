// The real Express app on a test file's own database.
import type { Express } from 'express';
import { createApp } from '../../extension/app.ts';
import { loadConfig, type Config } from '../../extension/config.ts';
import type { AnyRoute } from '../../extension/http/registry.ts';
import { createLogger } from '../../extension/logger.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';

export interface TestApp { app: Express; db: TestDatabase; config: Config; close(): Promise<void> }

export async function createTestApp(options: { extraRoutes?: AnyRoute[]; env?: Record<string, string> } = {}): Promise<TestApp> {
  const db = await createTestDatabase();
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
    DATABASE_URL: db.url,
    PUBLIC_URL: 'http://onelink.test',
    ...options.env,
  });
  const app = createApp({ config, knex: db.knex, logger: createLogger(config), databaseMode: 'external', extraRoutes: options.extraRoutes });
  return { app, db, config, close: () => db.drop() };
}
