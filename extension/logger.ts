// pino logger with secrets redacted wherever they may appear.
import pino from 'pino';
import type { Config } from './config.ts';

export const redactedPaths = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["api-access-token"]',
  'req.headers.api_access_token',
  'req.headers["x-twilio-signature"]',
  'req.headers["x-chatwoot-signature"]',
  'res.headers["set-cookie"]',
  '*.password',
  '*.token',
  '*.secret',
  '*.accessToken',
  '*.access_token',
  '*.api_access_token',
  '*.databaseUrl',
  '*.DATABASE_URL',
];

export type Logger = pino.Logger;

export function createLogger(config: Pick<Config, 'LOG_LEVEL' | 'NODE_ENV'>): Logger {
  return pino({
    level: config.LOG_LEVEL,
    base: { service: 'onelink' },
    redact: { paths: redactedPaths, censor: '[redacted]' },
  });
}
