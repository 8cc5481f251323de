// Process entry: config → database (embedded unless DATABASE_URL) → migrations → HTTP → graceful shutdown.
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import type { Knex } from 'knex';
import { createApp } from './app.ts';
import { ConfigError, loadConfig, loadDotEnv, type Config } from './config.ts';
import { startEmbeddedPostgres, EmbeddedPostgresError, type EmbeddedPostgres } from './db/embedded-postgres.ts';
import { createKnex } from './db/knex.ts';
import { closeServer } from './http/close-server.ts';
import { leakproofSql, markSearchOperatorsLeakproof, searchOperatorsNotLeakproof } from './db/leakproof.ts';
import { migrateLatest } from './db/migrations.ts';
import { createLogger, type Logger } from './logger.ts';
import { startQueue } from './queue/index.ts';
import { chatwootQueueWork } from './chatwoot/queue.ts';
import { callsQueueWork } from './modules/calls/queue.ts';
import { jobsQueueWork } from './modules/jobs/queue.ts';
import { offersQueueWork } from './modules/offers/queue.ts';
import { tasksQueueWork } from './modules/tasks/queue.ts';
import { startOutboxWorker, type OutboxWorker } from './chatwoot/outbox-worker.ts';
import { createChannels, type Channels } from './notifications/channels/index.ts';
import { notificationsQueueWork } from './notifications/queue.ts';
import { retentionDays, retentionQueueWork } from './modules/system/retention.ts';
import { resolveVapidKeys, type VapidKeys } from './notifications/vapid.ts';
import { startNotificationWorker, type NotificationWorker } from './notifications/worker.ts';
import { chatwootDeliverySource } from '../webhooks/chatwoot/process.ts';
import { twilioDeliverySource } from '../webhooks/twilio/process.ts';
import { webhookQueueWork } from '../webhooks/queue.ts';
import { startDeliveryWorker, type DeliveryWorker } from '../webhooks/worker.ts';
import type PgBoss from 'pg-boss';
import { createSealer, createUrlSigner, resolveEncryptionKey, type Sealer, type UrlSigner } from './security/crypto.ts';
import { endAllStreams } from './events/routes.ts';
import { noScanner, type Services } from './services.ts';
import { createFileStorage, describeFileStorage } from './storage/index.ts';

/** Prints one line to stderr and exits 1: for problems the operator must fix. */
function fail(message: string): never {
  process.stderr.write(`onelink: ${message}\n`);
  process.exit(1);
}

function listen(server: Server, config: Config) {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.PORT, config.HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

async function main() {
  let config: Config;
  try {
    loadDotEnv();
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
  const logger: Logger = createLogger(config);

  let embedded: EmbeddedPostgres | undefined;
  let embeddedStarting: Promise<unknown> | undefined;
  let knex: Knex | undefined;
  let server: Server | undefined;
  let queue: PgBoss | undefined;
  let outboxWorker: OutboxWorker | undefined;
  let deliveryWorker: DeliveryWorker | undefined;
  let notificationWorker: NotificationWorker | undefined;
  let channels: Channels | undefined;
  let stopBackground: (() => void) | undefined;
  let shuttingDown: Promise<void> | undefined;

  const shutdown = (reason: string, exitCode = 0) => {
    shuttingDown ??= (async () => {
      logger.info({ reason }, 'shutting down');
      endAllStreams(); // event streams never finish by themselves: end them so the drain does not wait
      if (server) await closeServer(server, config.ONELINK_SHUTDOWN_TIMEOUT_MS);
      stopBackground?.();
      await outboxWorker?.stop();
      await deliveryWorker?.stop();
      await notificationWorker?.stop();
      channels?.close();
      await queue?.stop({ graceful: true, wait: true, timeout: config.ONELINK_SHUTDOWN_TIMEOUT_MS }).catch((err: unknown) => logger.error({ err }, 'stopping the queue failed'));
      await knex?.destroy().catch((err: unknown) => logger.error({ err }, 'closing the pool failed'));
      // A signal during start-up must still stop the Postgres that is coming up.
      await embeddedStarting?.catch(() => undefined);
      await embedded?.stop();
      logger.info('stopped');
      logger.flush?.();
      process.exit(exitCode);
    })();
    return shuttingDown;
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('uncaughtException', (err) => {
    logger.fatal({ err }, 'uncaught exception');
    void shutdown('uncaughtException', 1);
  });
  process.on('unhandledRejection', (err) => {
    logger.fatal({ err }, 'unhandled rejection');
    void shutdown('unhandledRejection', 1);
  });

  let databaseUrl = config.DATABASE_URL;
  if (!databaseUrl) {
    const dir = path.join(config.dataDir, 'postgres');
    const starting = startEmbeddedPostgres({
      dir,
      port: config.ONELINK_EMBEDDED_PG_PORT,
      database: 'onelink',
      onLog: (line) => logger.debug({ postgres: line }),
    }).then((started) => (embedded = started));
    embeddedStarting = starting;
    try {
      await starting;
    } catch (err) {
      if (err instanceof EmbeddedPostgresError) fail(err.message);
      throw err;
    }
    if (shuttingDown) return;
    databaseUrl = embedded!.url;
    logger.info({ dir, port: config.ONELINK_EMBEDDED_PG_PORT }, 'embedded Postgres started');
  }

  knex = createKnex({ url: databaseUrl, schema: config.ONELINK_DB_SCHEMA, poolMax: config.ONELINK_DB_POOL_MAX });
  try {
    const applied = await migrateLatest(knex, config.ONELINK_DB_SCHEMA);
    logger.info({ applied, schema: config.ONELINK_DB_SCHEMA }, applied.length ? 'migrations applied' : 'schema up to date');
  } catch (err) {
    await knex.destroy();
    await embedded?.stop();
    fail(`database not usable: ${(err as Error).message}`);
  }

  let sealer: Sealer;
  let urlSigner: UrlSigner;
  let vapid: VapidKeys;
  try {
    const key = resolveEncryptionKey(config.ONELINK_ENCRYPTION_KEY, config.dataDir, Boolean(embedded));
    sealer = createSealer(key);
    urlSigner = createUrlSigner(key);
    vapid = resolveVapidKeys(config, Boolean(embedded));
  } catch (err) {
    await knex.destroy();
    await embedded?.stop();
    fail((err as Error).message);
  }
  await warnIfRowSecurityBypassed(knex, logger);
  if (embedded) {
    const superuserUrl = new URL(embedded.adminUrl);
    superuserUrl.pathname = '/onelink';
    await markSearchOperatorsLeakproof(superuserUrl.toString());
  } else {
    const missing = await searchOperatorsNotLeakproof(knex);
    if (missing.length) {
      logger.warn({ sql: leakproofSql }, 'search and text filters cannot use their indexes under row-level security until a superuser runs the SQL in this line once (see README, "Your own Postgres")');
    }
  }
  // What the calls workflow needs besides the queue (Twilio callbacks, settling checks).
  const calls = { db: knex, sealer, urlSigner, chatwootTimeoutMs: config.ONELINK_CHATWOOT_TIMEOUT_MS, publicUrl: config.PUBLIC_URL };
  try {
    queue = await startQueue({
      url: databaseUrl,
      schema: config.ONELINK_DB_SCHEMA,
      logger,
      work: config.ONELINK_WORKER,
      // Each module's queue work: its queues, retries, schedules and handlers.
      modules: [
        ...tasksQueueWork(knex),
        ...jobsQueueWork(knex),
        ...offersQueueWork(knex),
        ...chatwootQueueWork({
          db: knex,
          sealer,
          timeoutMs: config.ONELINK_CHATWOOT_TIMEOUT_MS,
          everyMinutes: config.ONELINK_CHATWOOT_SYNC_MINUTES,
          requestsPerMinute: config.ONELINK_CHATWOOT_REQUESTS_PER_MINUTE,
        }),
        ...webhookQueueWork(knex, calls),
        ...callsQueueWork(calls),
        ...notificationsQueueWork(knex),
        ...retentionQueueWork({ db: knex, sealer, twilioApiUrl: config.ONELINK_TWILIO_API_URL, timeoutMs: config.ONELINK_CHATWOOT_TIMEOUT_MS, days: retentionDays(config) }),
      ],
    });
  } catch (err) {
    await knex.destroy();
    await embedded?.stop();
    fail(`the job queue could not start: ${(err as Error).message}`);
  }
  channels = createChannels({ db: knex, sealer, config, vapid });
  const services: Services = {
    db: knex,
    sealer,
    config,
    auth: {
      db: knex,
      sealer,
      sessionTtlHours: config.ONELINK_SESSION_TTL_HOURS,
      reverifyMinutes: config.ONELINK_REVERIFY_MINUTES,
      chatwootTimeoutMs: config.ONELINK_CHATWOOT_TIMEOUT_MS,
    },
    jobs: { send: (name, data, options) => queue!.send(name, data, options ?? {}) },
    files: createFileStorage(config),
    scanFile: noScanner,
    urlSigner,
    notifications: { senders: channels.senders, vapidPublicKey: vapid.publicKey },
  };
  logger.info(describeFileStorage(config), 'file storage');
  if (config.ONELINK_WORKER) {
    outboxWorker = await startOutboxWorker({ url: databaseUrl, db: knex, sealer, logger, timeoutMs: config.ONELINK_CHATWOOT_TIMEOUT_MS, files: services.files });
    deliveryWorker = await startDeliveryWorker({
      url: databaseUrl,
      db: knex,
      jobs: services.jobs,
      logger,
      sources: [
        chatwootDeliverySource(knex),
        twilioDeliverySource({ ...calls, jobs: services.jobs }),
      ],
    });
    notificationWorker = await startNotificationWorker({ url: databaseUrl, db: knex, logger, senders: channels.senders, fanOut: { publicUrl: config.PUBLIC_URL } });
  }
  const app = createApp({ services, logger, databaseMode: embedded ? 'embedded' : 'external' });
  stopBackground = app.locals.stopBackground as () => void;
  server = createServer(app);
  try {
    await listen(server, config);
  } catch (err) {
    await queue?.stop({ graceful: false, wait: true });
    await knex.destroy();
    await embedded?.stop();
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') fail(`port ${config.PORT} is already in use on ${config.HOST}; set PORT to a free port.`);
    if (code === 'EACCES') fail(`no permission to listen on port ${config.PORT}; set PORT to a port above 1023.`);
    throw err;
  }
  if (shuttingDown) return;
  // Web processes serve the API and pages; a worker-only one (ONELINK_WORKER=only) answers health checks alone.
  const mode = !config.servesApi ? 'worker' : config.ONELINK_WORKER ? 'web and worker' : 'web';
  logger.info({ url: config.PUBLIC_URL, port: config.PORT, mode }, 'onelink is listening');
}

/** Superusers and BYPASSRLS roles are not bound by row-level security: say so loudly. */
async function warnIfRowSecurityBypassed(knex: Knex, logger: Logger) {
  const { rows } = await knex.raw<{ rows: Array<{ bypass: boolean }> }>(
    'select rolsuper or rolbypassrls as bypass from pg_roles where rolname = current_user',
  );
  if (rows[0]?.bypass) {
    logger.warn('DATABASE_URL connects as a superuser or BYPASSRLS role: row-level security is not enforced. Connect as an ordinary role that owns the database.');
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`onelink: failed to start: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
