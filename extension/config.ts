// The one place the environment is read. Everything else receives a typed Config.
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const port = z.coerce.number().int().min(1).max(65535);

const configSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: port.default(4000),
  HOST: z.string().min(1).default('0.0.0.0'),
  PUBLIC_URL: z.url({ protocol: /^https?$/ }).optional(),
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\/.+/).optional(),
  LOG_LEVEL: z.enum(logLevels).default('info'),
  ONELINK_DB_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/).default('onelink'),
  ONELINK_DB_POOL_MAX: z.coerce.number().int().min(2).max(200).default(10),
  ONELINK_DATA_DIR: z.string().min(1).default('.data'),
  ONELINK_EMBEDDED_PG_PORT: port.default(54329),
  ONELINK_BODY_LIMIT_KB: z.coerce.number().int().min(1).max(102_400).default(1024),
  ONELINK_SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).max(300_000).default(10_000),
  ONELINK_ENCRYPTION_KEY: z
    .string()
    .refine((v) => Buffer.from(v, 'base64').length === 32)
    .optional(),
  ONELINK_SESSION_TTL_HOURS: z.coerce.number().int().min(1).max(24 * 365).default(24 * 30),
  ONELINK_REVERIFY_MINUTES: z.coerce.number().int().min(1).max(24 * 60).default(15),
  ONELINK_CHATWOOT_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
  ONELINK_CHATWOOT_SYNC_MINUTES: z.coerce.number().int().min(0).max(60).default(15),
  ONELINK_CHATWOOT_REQUESTS_PER_MINUTE: z.coerce.number().int().min(1).max(100_000).default(1200),
  ONELINK_SIGN_IN_ATTEMPTS_PER_MINUTE: z.coerce.number().int().min(1).max(100_000).default(20),
  ONELINK_VENDOR_MESSAGES_PER_MINUTE: z.coerce.number().int().min(1).max(100_000).default(30),
  ONELINK_WORKER: z.enum(['true', 'false', 'only']).default('true'),
  ONELINK_FILES_DIR: z.string().min(1).optional(),
  ONELINK_UPLOAD_MAX_MB: z.coerce.number().int().min(1).max(1024).default(25),
  ONELINK_UPLOAD_MAX_BYTES: z.coerce.number().int().min(1024).max(1024 * 1024 * 1024).optional(),
  ONELINK_UPLOAD_OPEN_MAX_BYTES: z.coerce.number().int().min(1024 * 1024).max(1024 ** 4).default(2 * 1024 ** 3),
  ONELINK_TWILIO_API_URL: z.url({ protocol: /^https?$/ }).default('https://api.twilio.com'),
  SMTP_URL: z.url({ protocol: /^smtps?$/ }).optional(),
  ONELINK_EMAIL_FROM: z.string().min(3).max(320).optional(),
  ONELINK_VAPID_PUBLIC_KEY: z.string().regex(/^[A-Za-z0-9_-]{80,100}$/).optional(),
  ONELINK_VAPID_PRIVATE_KEY: z.string().regex(/^[A-Za-z0-9_-]{40,50}$/).optional(),
  ONELINK_VAPID_SUBJECT: z.string().regex(/^(mailto:|https:\/\/)\S+$/).optional(),
  ONELINK_S3_BUCKET: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/).optional(),
  ONELINK_S3_REGION: z.string().regex(/^[a-z0-9-]{1,40}$/).default('us-east-1'),
  ONELINK_S3_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
  ONELINK_S3_ACCESS_KEY_ID: z.string().min(1).max(256).optional(),
  ONELINK_S3_SECRET_ACCESS_KEY: z.string().min(1).max(256).optional(),
  ONELINK_S3_FORCE_PATH_STYLE: z.enum(['true', 'false']).default('false').transform((v) => v === 'true'),
  ONELINK_S3_PREFIX: z.string().regex(/^([A-Za-z0-9_-]+\/)*$/).default(''),
  ONELINK_RETAIN_DELIVERIES_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
  ONELINK_RETAIN_RECORDINGS_DAYS: z.coerce.number().int().min(1).max(3650).default(365),
  ONELINK_RETAIN_NOTIFICATIONS_DAYS: z.coerce.number().int().min(1).max(3650).default(90),
  ONELINK_RETAIN_SESSIONS_DAYS: z.coerce.number().int().min(1).max(3650).default(7),
});

type RawConfig = z.infer<typeof configSchema>;

/** What each variable must be, in words, for the one-line error at start-up. */
const expected: Record<keyof RawConfig, string> = {
  NODE_ENV: 'one of development, production, test',
  PORT: 'a port number between 1 and 65535',
  HOST: 'an interface address to listen on, e.g. 0.0.0.0',
  PUBLIC_URL: 'an absolute http(s) URL such as https://onelink.example.com',
  DATABASE_URL: 'a postgres:// connection URL',
  LOG_LEVEL: `one of ${logLevels.join(', ')}`,
  ONELINK_DB_SCHEMA: 'a lower-case Postgres identifier such as onelink',
  ONELINK_DB_POOL_MAX: 'a whole number from 2 to 200',
  ONELINK_DATA_DIR: 'a directory path',
  ONELINK_EMBEDDED_PG_PORT: 'a port number between 1 and 65535',
  ONELINK_BODY_LIMIT_KB: 'a whole number of kilobytes from 1 to 102400',
  ONELINK_SHUTDOWN_TIMEOUT_MS: 'a whole number of milliseconds from 0 to 300000',
  ONELINK_ENCRYPTION_KEY: '32 random bytes in base64 (generate one with `openssl rand -base64 32`)',
  ONELINK_SESSION_TTL_HOURS: 'a whole number of hours from 1 to 8760',
  ONELINK_REVERIFY_MINUTES: 'a whole number of minutes from 1 to 1440',
  ONELINK_CHATWOOT_TIMEOUT_MS: 'a whole number of milliseconds from 100 to 120000',
  ONELINK_CHATWOOT_SYNC_MINUTES: 'a whole number of minutes from 0 (no scheduled sync) to 60',
  ONELINK_CHATWOOT_REQUESTS_PER_MINUTE: 'a whole number from 1 to 100000 (Chatwoot allows 3000 a minute per IP by default)',
  ONELINK_SIGN_IN_ATTEMPTS_PER_MINUTE: 'a whole number from 1 to 100000',
  ONELINK_VENDOR_MESSAGES_PER_MINUTE: 'a whole number from 1 to 100000',
  ONELINK_WORKER: 'true (serve the API and work the queue), false (serve the API only) or only (work the queue; HTTP answers health checks alone)',
  ONELINK_FILES_DIR: 'a directory path',
  ONELINK_UPLOAD_MAX_MB: 'a whole number of megabytes from 1 to 1024',
  ONELINK_UPLOAD_MAX_BYTES: 'a whole number of bytes from 1024 to 1073741824 (resumable uploads; unset: ONELINK_UPLOAD_MAX_MB)',
  ONELINK_UPLOAD_OPEN_MAX_BYTES: 'a whole number of bytes from 1048576 to 1099511627776 (the sizes of one account’s unfinished resumable uploads together; default 2 GiB)',
  ONELINK_TWILIO_API_URL: 'an absolute http(s) URL (Twilio REST API; change only for tests)',
  SMTP_URL: 'an smtp:// or smtps:// URL such as smtps://user:password@smtp.example.com:465 (unset: e-mail is off)',
  ONELINK_EMAIL_FROM: 'the sender of notification e-mails, e.g. "Onelink <notify@example.com>"',
  ONELINK_VAPID_PUBLIC_KEY: 'the VAPID public key for web push, URL-safe base64 (generate a pair with `npx web-push generate-vapid-keys`)',
  ONELINK_VAPID_PRIVATE_KEY: 'the VAPID private key for web push, URL-safe base64 (set together with the public key)',
  ONELINK_VAPID_SUBJECT: 'a mailto: or https:// contact for push services, e.g. mailto:ops@example.com',
  ONELINK_S3_BUCKET: 'an S3 bucket name (set it to keep files in S3-compatible storage instead of the local disk)',
  ONELINK_S3_REGION: 'an S3 region such as eu-central-1',
  ONELINK_S3_ENDPOINT: 'an absolute http(s) URL of an S3-compatible endpoint (unset: AWS S3 itself)',
  ONELINK_S3_ACCESS_KEY_ID: 'the S3 access key id (unset: the AWS SDK\'s default credential chain)',
  ONELINK_S3_SECRET_ACCESS_KEY: 'the S3 secret access key (set together with the access key id)',
  ONELINK_S3_FORCE_PATH_STYLE: 'true or false (true for most S3-compatible servers such as MinIO)',
  ONELINK_S3_PREFIX: 'a key prefix ending in a slash, such as onelink/ (empty: the bucket\'s root)',
  ONELINK_RETAIN_DELIVERIES_DAYS: 'a whole number of days from 1 to 3650 (processed webhook deliveries; dead ones are kept until replayed or dismissed)',
  ONELINK_RETAIN_RECORDINGS_DAYS: 'a whole number of days from 1 to 3650 (call recordings and transcripts)',
  ONELINK_RETAIN_NOTIFICATIONS_DAYS: 'a whole number of days from 1 to 3650 (sent and failed notification records)',
  ONELINK_RETAIN_SESSIONS_DAYS: 'a whole number of days from 1 to 3650 (ended and expired sign-in sessions)',
};

export type Config = Omit<RawConfig, 'PUBLIC_URL' | 'ONELINK_WORKER'> & {
  PUBLIC_URL: string;
  /** This process works the queue and the workers (ONELINK_WORKER true or only). */
  ONELINK_WORKER: boolean;
  /** This process serves the API and the web pages (ONELINK_WORKER true or false); a worker-only one answers health checks alone. */
  servesApi: boolean;
  /** Absolute path of ONELINK_DATA_DIR. */
  dataDir: string;
  /** Absolute path where uploaded files are kept (ONELINK_FILES_DIR, else <data dir>/files). */
  filesDir: string;
};

export class ConfigError extends Error {}

/** Reads ./.env when there is one; variables already set in the environment win. */
export function loadDotEnv(file = path.resolve('.env')) {
  if (fs.existsSync(file)) process.loadEnvFile(file);
}

/** Parses the environment; throws ConfigError with one line naming the first bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Empty strings mean "not set", as in most .env tooling.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = configSchema.safeParse(present);
  if (!parsed.success) {
    const name = String(parsed.error.issues[0]!.path[0]) as keyof RawConfig;
    const value = present[name];
    const shown = /DATABASE_URL|SMTP_URL|SECRET|TOKEN|KEY|PASSWORD/.test(name) ? 'value hidden' : `got "${value}"`;
    throw new ConfigError(`Invalid configuration: ${name} must be ${expected[name]} (${shown}).`);
  }
  const raw = parsed.data;
  // One S3 key without the other would silently fall back to the SDK's own credential chain.
  if (!raw.ONELINK_S3_ACCESS_KEY_ID !== !raw.ONELINK_S3_SECRET_ACCESS_KEY) {
    const [missing, set] = raw.ONELINK_S3_ACCESS_KEY_ID ? ['ONELINK_S3_SECRET_ACCESS_KEY', 'ONELINK_S3_ACCESS_KEY_ID'] : ['ONELINK_S3_ACCESS_KEY_ID', 'ONELINK_S3_SECRET_ACCESS_KEY'];
    throw new ConfigError(`Invalid configuration: ${missing} must be set together with ${set} (only ${set} is set).`);
  }
  return {
    ...raw,
    PUBLIC_URL: (raw.PUBLIC_URL ?? `http://localhost:${raw.PORT}`).replace(/\/+$/, ''),
    ONELINK_WORKER: raw.ONELINK_WORKER !== 'false',
    servesApi: raw.ONELINK_WORKER !== 'only',
    dataDir: path.resolve(raw.ONELINK_DATA_DIR),
    filesDir: path.resolve(raw.ONELINK_FILES_DIR ?? path.join(raw.ONELINK_DATA_DIR, 'files')),
  };
}
