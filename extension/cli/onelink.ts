// npm run onelink -- <command>
//   installation add --chatwoot-url URL --token ADMIN_ACCESS_TOKEN   connect a Chatwoot (verifies the token is an administrator's)
//   installation list                                               list connected Chatwoots
// Uses DATABASE_URL, or the embedded Postgres in ONELINK_DATA_DIR (also while the server is running).
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ChatwootError } from '../chatwoot/client.ts';
import { InstallationError, listInstallations, registerInstallation } from '../chatwoot/installations.ts';
import { ConfigError, loadConfig, loadDotEnv } from '../config.ts';
import { startEmbeddedPostgres } from '../db/embedded-postgres.ts';
import { createKnex } from '../db/knex.ts';
import { migrateLatest } from '../db/migrations.ts';
import { createSealer, resolveEncryptionKey } from '../security/crypto.ts';

const usage = `Usage:
  npm run onelink -- installation add --chatwoot-url https://chat.example.com --token <administrator access token>
  npm run onelink -- installation list`;

async function run() {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { 'chatwoot-url': { type: 'string' }, token: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  const [noun, verb] = positionals;
  if (values.help || noun !== 'installation' || !['add', 'list'].includes(verb ?? '')) {
    console.log(usage);
    process.exit(values.help ? 0 : 2);
  }
  loadDotEnv();
  const config = loadConfig();
  const embedded = config.DATABASE_URL
    ? undefined
    : await startEmbeddedPostgres({ dir: path.join(config.dataDir, 'postgres'), port: config.ONELINK_EMBEDDED_PG_PORT, database: 'onelink', attachIfRunning: true });
  const db = createKnex({ url: config.DATABASE_URL ?? embedded!.url, schema: config.ONELINK_DB_SCHEMA });
  try {
    await migrateLatest(db, config.ONELINK_DB_SCHEMA);
    if (verb === 'list') {
      const rows = await listInstallations(db);
      if (!rows.length) console.log('No Chatwoot is connected yet.');
      for (const row of rows) console.log(`${row.id}  ${row.base_url}  webhook: ${config.PUBLIC_URL}/webhooks/chatwoot/${row.webhook_path_token}`);
      return;
    }
    if (!values['chatwoot-url'] || !values.token) throw new ConfigError(`--chatwoot-url and --token are required\n${usage}`);
    const sealer = createSealer(resolveEncryptionKey(config.ONELINK_ENCRYPTION_KEY, config.dataDir, Boolean(embedded)));
    const installation = await registerInstallation(db, sealer, {
      chatwootUrl: values['chatwoot-url'],
      apiToken: values.token,
      timeoutMs: config.ONELINK_CHATWOOT_TIMEOUT_MS,
    });
    console.log(`Connected ${installation.base_url} (administrator of account${installation.administratorOf.length > 1 ? 's' : ''} ${installation.administratorOf.join(', ')}).`);
    console.log(`Agents can now sign in to Onelink with their Chatwoot access token.`);
    console.log(`Webhook URL for this Chatwoot: ${config.PUBLIC_URL}/webhooks/chatwoot/${installation.webhook_path_token}`);
  } finally {
    await db.destroy();
    await embedded?.stop();
  }
}

run().catch((err: unknown) => {
  const known = err instanceof ConfigError || err instanceof InstallationError || err instanceof ChatwootError || err instanceof TypeError;
  process.stderr.write(`onelink: ${known ? (err as Error).message : (err as Error).stack}\n`);
  process.exit(1);
});
