// Writes our OpenAPI document (the one /api/v1/openapi.json serves) without a database or a
// configured server: the app is built with placeholder services, which describing routes never
// touches, and the document is asked for once over a loopback port that closes right after.
//   node --import tsx extension/cli/openapi.ts [out.json]     (stdout without a file)
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import knex from 'knex';
import { createApp } from '../app.ts';
import { loadConfig } from '../config.ts';
import { createLogger } from '../logger.ts';
import { createSealer, createUrlSigner } from '../security/crypto.ts';
import { noScanner, type Services } from '../services.ts';
import { localDiskStorage } from '../storage/index.ts';
import webpush from 'web-push';
import { createChannels } from '../notifications/channels/index.ts';

export async function writeOpenApi(): Promise<string> {
  const config = loadConfig({ NODE_ENV: 'production', LOG_LEVEL: 'silent', PUBLIC_URL: process.env.PUBLIC_URL ?? 'https://onelink.invalid' });
  // knex connects on the first query only; describing the routes runs none.
  const db = knex({ client: 'pg', connection: 'postgres://unused@127.0.0.1:1/unused' });
  const key = randomBytes(32);
  const sealer = createSealer(key);
  const vapid = { ...webpush.generateVAPIDKeys(), subject: 'mailto:unused@onelink.invalid' };
  const services: Services = {
    db,
    sealer,
    config,
    auth: { db, sealer, sessionTtlHours: 1, reverifyMinutes: 1, chatwootTimeoutMs: 1000 },
    jobs: { send: async () => undefined },
    files: localDiskStorage(path.join(os.tmpdir(), 'onelink-openapi-unused')),
    scanFile: noScanner,
    urlSigner: createUrlSigner(key),
    notifications: { senders: createChannels({ db, sealer, config, vapid }).senders, vapidPublicKey: vapid.publicKey },
  };
  const app = createApp({ services, logger: createLogger(config), databaseMode: 'external' });
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const response = await fetch(`http://127.0.0.1:${port}/api/v1/openapi.json`);
    if (!response.ok) throw new Error(`the document answered ${response.status}`);
    return `${JSON.stringify(await response.json(), null, 2)}\n`;
  } finally {
    server.close();
    await db.destroy();
  }
}

const [, , out] = process.argv;
const document = await writeOpenApi();
if (out) {
  fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  fs.writeFileSync(out, document);
} else {
  process.stdout.write(document);
}
