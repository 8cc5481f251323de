// npm run onelink -- <command>
//   install   --chatwoot-url URL --account-id N --token ADMIN_TOKEN [--public-url URL]   wire Onelink into a Chatwoot account
//   uninstall --chatwoot-url URL --account-id N --token ADMIN_TOKEN [--public-url URL]   remove exactly what install created
//   installation add --chatwoot-url URL --token ADMIN_ACCESS_TOKEN   connect a Chatwoot (verifies the token is an administrator's)
//   installation list                                               list connected Chatwoots
//   sync [--chatwoot-url URL] [--account-id N] [--full]             fill the contact and conversation caches from Chatwoot's API
//   forget-contact --account N --contact M [--yes]                  erase a person (Chatwoot account and contact ids)
//   export-contact --account N --contact M                          print a person's data as JSON
// Uses DATABASE_URL, or the embedded Postgres in ONELINK_DATA_DIR (also while the server is running).
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ChatwootError } from '../chatwoot/client.ts';
import { checkRoundTrip, install, serviceIsConnected, uninstall } from '../chatwoot/installer.ts';
import { describeInstallations, InstallationError, registerInstallation } from '../chatwoot/installations.ts';
import { ConfigError, loadConfig, loadDotEnv } from '../config.ts';
import { startEmbeddedPostgres } from '../db/embedded-postgres.ts';
import { createKnex } from '../db/knex.ts';
import { migrateLatest } from '../db/migrations.ts';
import { createSealer, createUrlSigner, resolveEncryptionKey } from '../security/crypto.ts';
import { syncWithProgress } from '../chatwoot/sync.ts';
import { exportContactCommand, forgetContactCommand } from '../privacy/cli.ts';
import { createFileStorage } from '../storage/index.ts';

const usage = `Usage:
  npm run onelink -- install --chatwoot-url https://chat.example.com --account-id 1 --token <administrator access token> [--public-url https://onelink.example.com] [--skip-check] [--check-timeout 20]
  npm run onelink -- uninstall --chatwoot-url https://chat.example.com --account-id 1 --token <administrator access token> [--public-url …]
  npm run onelink -- installation add --chatwoot-url https://chat.example.com --token <administrator access token>
  npm run onelink -- installation list
  npm run onelink -- sync [--chatwoot-url …] [--account-id 1] [--full] [--requests-per-minute 1200]   (install runs it unless --skip-backfill)
  npm run onelink -- forget-contact --account <Chatwoot account id> --contact <Chatwoot contact id> [--yes] [--chatwoot-url …]   (erase a person; cannot be undone)
  npm run onelink -- export-contact --account <Chatwoot account id> --contact <Chatwoot contact id> [--chatwoot-url …]   (print a person's data as JSON)`;

async function run() {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      'chatwoot-url': { type: 'string' },
      token: { type: 'string' },
      'account-id': { type: 'string' },
      'public-url': { type: 'string' },
      'skip-check': { type: 'boolean' },
      'check-timeout': { type: 'string' },
      'skip-backfill': { type: 'boolean' },
      full: { type: 'boolean' },
      'requests-per-minute': { type: 'string' },
      account: { type: 'string' },
      contact: { type: 'string' },
      yes: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [noun, verb] = positionals;
  const known = (noun === 'installation' && ['add', 'list'].includes(verb ?? '')) || noun === 'install' || noun === 'uninstall' || noun === 'sync' || noun === 'forget-contact' || noun === 'export-contact';
  if (values.help || !known) {
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
    if (noun === 'install' || noun === 'uninstall') {
      const accountId = Number(values['account-id']);
      if (!values['chatwoot-url'] || !values.token || !Number.isInteger(accountId) || accountId < 1) {
        throw new ConfigError(`--chatwoot-url, --account-id and --token are required\n${usage}`);
      }
      const sealer = createSealer(resolveEncryptionKey(config.ONELINK_ENCRYPTION_KEY, config.dataDir, Boolean(embedded)));
      const input = {
        chatwootUrl: values['chatwoot-url'],
        accountId,
        token: values.token,
        publicUrl: (values['public-url'] ?? config.PUBLIC_URL).replace(/\/+$/, ''),
        timeoutMs: config.ONELINK_CHATWOOT_TIMEOUT_MS,
      };
      if (noun === 'uninstall') {
        const { removed } = await uninstall(db, input);
        console.log(removed.length ? `Removed: ${removed.join(', ')}.` : 'Nothing of Onelink was found in that account.');
        return;
      }
      if (/^https?:\/\/(localhost|127\.|10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.)/.test(input.publicUrl)) {
        console.log(`Note: ${input.publicUrl} is a private address. Chatwoot 4.14+ refuses to send webhooks there unless its operator sets SAFE_FETCH_ALLOW_PRIVATE_NETWORK=true.`);
      }
      const report = await install(db, sealer, input);
      console.log(`Webhook ${report.webhook}: ${report.webhookUrl}${report.signed ? ' (signed with its secret)' : ' (no secret from this Chatwoot: the unguessable address authenticates it)'}`);
      console.log(`Dashboard app ${report.dashboardApp}; conversation attributes created: ${report.attributesCreated.join(', ') || 'none (all present)'}.`);
      if (report.vendorInbox !== 'not_needed') console.log(`Vendors inbox (vendor portal messages) ${report.vendorInbox === 'existing' ? 'already set up' : report.vendorInbox}.`);
      if (report.clientInbox !== 'not_needed') console.log(`Client portal inbox (clients' portal messages) ${report.clientInbox === 'existing' ? 'already set up' : report.clientInbox}.`);
      if (report.webhooksReplaced.length) console.log(`Replaced our webhook at the old address: ${report.webhooksReplaced.join(', ')}.`);
      if (values['skip-check']) {
        console.log('Connection check skipped (--skip-check).');
      } else {
        // The round trip needs a running service to receive Chatwoot's delivery.
        if (!(await serviceIsConnected(db))) {
          throw new InstallationError('Installed, but the connection check cannot run: no Onelink service is running on this database, so nothing can receive Chatwoot\'s deliveries. Start the service first and run the installer again, or pass --skip-check.');
        }
        const waitSeconds = Number(values['check-timeout'] ?? 20);
        if (!Number.isFinite(waitSeconds) || waitSeconds <= 0) throw new ConfigError('--check-timeout takes a number of seconds');
        console.log(`Checking the connection: a temporary contact "Onelink connection check …" is created in Chatwoot and removed; waiting up to ${waitSeconds} s for its delivery…`);
        const check = await checkRoundTrip(db, { ...input, waitMs: waitSeconds * 1000 }, report);
        console.log(`Connection check passed: Chatwoot's delivery arrived${check.signed ? ' and its signature verified' : ' (unsigned: this Chatwoot does not sign)'} in ${(check.ms / 1000).toFixed(1)} s.`);
      }
      // Contacts and conversations from before the install, with progress; resumable with `sync`.
      if (!values['skip-backfill']) await syncWithProgress(db, sealer, { chatwootUrl: input.chatwootUrl, chatwootAccountId: accountId }, { mode: 'auto', timeoutMs: input.timeoutMs, requestsPerMinute: config.ONELINK_CHATWOOT_REQUESTS_PER_MINUTE });
      console.log('Agents can now open Onelink in a conversation and sign in with their Chatwoot access token.');
      return;
    }
    if (noun === 'sync') {
      const chatwootAccountId = values['account-id'] === undefined ? undefined : Number(values['account-id']);
      const requestsPerMinute = Number(values['requests-per-minute'] ?? config.ONELINK_CHATWOOT_REQUESTS_PER_MINUTE);
      if (chatwootAccountId !== undefined && (!Number.isInteger(chatwootAccountId) || chatwootAccountId < 1)) throw new ConfigError('--account-id takes a Chatwoot account id (a whole number)');
      if (!Number.isInteger(requestsPerMinute) || requestsPerMinute < 1) throw new ConfigError('--requests-per-minute takes a whole number');
      const sealer = createSealer(resolveEncryptionKey(config.ONELINK_ENCRYPTION_KEY, config.dataDir, Boolean(embedded)));
      const mode = values.full ? 'full' : 'auto';
      if (!(await syncWithProgress(db, sealer, { chatwootUrl: values['chatwoot-url'], chatwootAccountId }, { mode, timeoutMs: config.ONELINK_CHATWOOT_TIMEOUT_MS, requestsPerMinute }))) process.exitCode = 1;
      return;
    }
    if (noun === 'forget-contact' || noun === 'export-contact') {
      const person = { account: values.account, contact: values.contact, chatwootUrl: values['chatwoot-url'], yes: values.yes };
      const key = resolveEncryptionKey(config.ONELINK_ENCRYPTION_KEY, config.dataDir, Boolean(embedded));
      if (noun === 'export-contact') await exportContactCommand({ db, urlSigner: createUrlSigner(key), config }, person);
      else await forgetContactCommand({ db, files: createFileStorage(config), sealer: createSealer(key), config }, person);
      return;
    }
    if (verb === 'list') {
      for (const line of await describeInstallations(db, config.PUBLIC_URL)) console.log(line);
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
