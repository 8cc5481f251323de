import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../extension/config.ts';
import { redactedPaths } from '../../extension/logger.ts';

describe('configuration', () => {
  it('boots with no variables at all (embedded database, port 4000)', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      PORT: 4000,
      PUBLIC_URL: 'http://localhost:4000',
      ONELINK_DB_SCHEMA: 'onelink',
      LOG_LEVEL: 'info',
    });
    expect(config.DATABASE_URL).toBeUndefined();
    expect(config.dataDir).toMatch(/\.data$/);
  });

  it('treats empty values as unset and strips a trailing slash from PUBLIC_URL', () => {
    const config = loadConfig({ PORT: '', PUBLIC_URL: 'https://onelink.example.com/' });
    expect(config.PORT).toBe(4000);
    expect(config.PUBLIC_URL).toBe('https://onelink.example.com');
  });

  it.each([
    [{ PORT: '70000' }, 'Invalid configuration: PORT must be a port number between 1 and 65535 (got "70000").'],
    [{ LOG_LEVEL: 'loud' }, 'Invalid configuration: LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent (got "loud").'],
    [{ PUBLIC_URL: 'onelink.example.com' }, 'Invalid configuration: PUBLIC_URL must be an absolute http(s) URL such as https://onelink.example.com (got "onelink.example.com").'],
    [{ ONELINK_DB_SCHEMA: 'Bad-Name' }, 'Invalid configuration: ONELINK_DB_SCHEMA must be a lower-case Postgres identifier such as onelink (got "Bad-Name").'],
  ])('rejects %o with one clear line', (env, message) => {
    expect(() => loadConfig(env)).toThrow(new ConfigError(message));
  });

  it('never echoes a bad DATABASE_URL, which may hold a password', () => {
    expect(() => loadConfig({ DATABASE_URL: 'mysql://root:s3cret@db/app' })).toThrow(
      'Invalid configuration: DATABASE_URL must be a postgres:// connection URL (value hidden).',
    );
  });
});

describe('logging', () => {
  it('redacts credentials in request headers and secret fields', () => {
    let written = '';
    const sink = new Writable({
      write(chunk, _enc, done) {
        written += chunk.toString();
        done();
      },
    });
    const logger = pino({ redact: { paths: redactedPaths, censor: '[redacted]' } }, sink);
    logger.info({
      req: { headers: { authorization: 'Bearer abc123', cookie: 'sid=xyz', 'api-access-token': 'tok-1', 'x-chatwoot-signature': 'sha256=ff' } },
      installation: { token: 'tok-2', secret: 'whsec', password: 'pw' },
    });
    for (const secret of ['abc123', 'sid=xyz', 'tok-1', 'tok-2', 'whsec', '"pw"', 'sha256=ff']) expect(written).not.toContain(secret);
    expect(written).toContain('[redacted]');
  });
});
