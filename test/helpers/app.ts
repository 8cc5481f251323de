// The real Express app on a test file's own database.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Express } from 'express';
import { createApp } from '../../extension/app.ts';
import { loadConfig, type Config } from '../../extension/config.ts';
import type { AnyRoute } from '../../extension/http/registry.ts';
import { createLogger } from '../../extension/logger.ts';
import { createSealer, createUrlSigner } from '../../extension/security/crypto.ts';
import { noScanner, type Services } from '../../extension/services.ts';
import { createFileStorage } from '../../extension/storage/index.ts';
import { createChannels } from '../../extension/notifications/channels/index.ts';
import webpush from 'web-push';
import { createTestDatabase, type TestDatabase } from './database.ts';
import { startS3, type TestS3 } from './s3.ts';

export interface TestApp { app: Express; db: TestDatabase; config: Config; services: Services; sentJobs: Array<{ queue: string; data: object }>; s3: TestS3 | null; close(): Promise<void> }

/** A job sender that only records what would have been queued (files that need a real queue start one). */
export function recordingJobs() {
  const sent: Array<{ queue: string; data: object }> = [];
  return { sent, jobs: { send: async (queue: string, data: object) => void sent.push({ queue, data }) } };
}

export function testServices(db: TestDatabase['knex'], config: Config, jobs: Services['jobs'] = recordingJobs().jobs): Services {
  const key = Buffer.from(config.ONELINK_ENCRYPTION_KEY!, 'base64');
  const sealer = createSealer(key);
  const vapid = { ...webpush.generateVAPIDKeys(), subject: 'mailto:tests@onelink.test' };
  const channels = createChannels({ db, sealer, config, vapid });
  return {
    db,
    sealer,
    config,
    auth: {
      db,
      sealer,
      sessionTtlHours: config.ONELINK_SESSION_TTL_HOURS,
      reverifyMinutes: config.ONELINK_REVERIFY_MINUTES,
      chatwootTimeoutMs: config.ONELINK_CHATWOOT_TIMEOUT_MS,
    },
    jobs,
    files: createFileStorage(config),
    scanFile: noScanner,
    urlSigner: createUrlSigner(key),
    notifications: { senders: channels.senders, vapidPublicKey: vapid.publicKey },
  };
}

/**
 * `storage: 's3'` keeps the app's files in a real S3-compatible server started for it (the
 * default when ONELINK_TEST_STORAGE=s3, as `npm run test:s3` sets); otherwise a temporary folder.
 */
export async function createTestApp(options: { extraRoutes?: AnyRoute[]; env?: Record<string, string>; storage?: 'local' | 's3' } = {}): Promise<TestApp> {
  const db = await createTestDatabase();
  const s3 = (options.storage ?? (process.env.ONELINK_TEST_STORAGE === 's3' ? 's3' : 'local')) === 's3' ? await startS3() : null;
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
    DATABASE_URL: db.url,
    PUBLIC_URL: 'http://onelink.test',
    ONELINK_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    ONELINK_CHATWOOT_TIMEOUT_MS: '2000',
    ONELINK_SIGN_IN_ATTEMPTS_PER_MINUTE: '10000',
    ONELINK_VENDOR_MESSAGES_PER_MINUTE: '10000',
    ONELINK_FILES_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'onelink-files-')),
    ...s3?.env,
    ...options.env,
  });
  const recorder = recordingJobs();
  const services = testServices(db.knex, config, recorder.jobs);
  const app = createApp({ services, logger: createLogger(config), databaseMode: 'external', extraRoutes: options.extraRoutes });
  return { app, db, config, services, sentJobs: recorder.sent, s3, close: async () => {
      await db.drop();
      await s3?.close();
      fs.rmSync(config.filesDir, { recursive: true, force: true });
    } };
}
