// npm run bench:backfill — the backfill of an existing Chatwoot: 50,000 contacts served by the
// fake Chatwoot over HTTP (15 a page, as Chatwoot pages them; every request and answer checked
// against Chatwoot's OpenAPI document) into the embedded Postgres. Figures, in the same run:
//   baseline: reading every page and writing nothing (what fetching alone costs here);
//   backfill: the full pass, rate limit lifted (elapsed, contacts/s, requests, ratio to baseline);
//   re-run: the same pass again, which must change nothing;
//   and what Chatwoot's rate limit makes of it at the default pace.
// BENCH_CONTACTS changes the count (default 50,000). Target: the backfill under 2 minutes.
import { ensureAccount } from '../../extension/accounts/service.ts';
import { registerInstallation } from '../../extension/chatwoot/installations.ts';
import { listContacts } from '../../extension/chatwoot/client.ts';
import { accountsToSync, defaultRequestsPerMinute, rateLimiter, syncAccounts } from '../../extension/chatwoot/sync.ts';
import { withAccountForTests as withAccount } from '../../extension/db/tenant.ts';
import { createSealer } from '../../extension/security/crypto.ts';
import { startFakeChatwoot } from '../fakes/chatwoot.ts';
import { benchDatabase } from './harness.ts';

const contacts = Number(process.env.BENCH_CONTACTS ?? 50_000);
const targetSeconds = 120;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

const bench = await benchDatabase();
const chatwoot = await startFakeChatwoot();
try {
  const { db } = bench;
  const sealer = createSealer(Buffer.alloc(32, 7));
  chatwoot.addAgent({ id: 1, name: 'Admin', email: 'admin@example.com', token: 'bench-admin', accounts: [{ id: 1, name: 'Account 1', role: 'administrator' }] });
  const installation = await registerInstallation(db, sealer, { chatwootUrl: chatwoot.url, apiToken: 'bench-admin', timeoutMs: 10_000 });
  const account = await ensureAccount(db, installation.id, { id: 1, name: 'Account 1' }, null);
  chatwoot.seedContacts(1, contacts, (i) => ({ name: `Contact ${i} ${['Ada', 'Grace', 'Hedy', 'Lise', 'Emmy'][i % 5]}`, email: i % 3 === 0 ? `c${i}@example.com` : null }));

  // Baseline: the same pages read one after another over the same HTTP, nothing written.
  let started = performance.now();
  let baselineRequests = 0;
  const target = { baseUrl: chatwoot.url, token: 'bench-admin', timeoutMs: 10_000 };
  for (let page = 1; ; page++) {
    baselineRequests++;
    const { items } = await listContacts(target, 1, { sort: '-last_activity_at', page });
    if (items.length < 15) break;
  }
  const baselineSeconds = (performance.now() - started) / 1000;

  const accounts = await accountsToSync(db, { chatwootAccountId: 1 });
  let limiter = rateLimiter(Infinity);
  const requestsBefore = chatwoot.requests.length;
  started = performance.now();
  const run = await syncAccounts(db, sealer, accounts, { mode: 'full', timeoutMs: 10_000, limiter });
  const backfillSeconds = (performance.now() - started) / 1000;
  if (run.failures.length) throw run.failures[0]!.error;
  const httpRequests = chatwoot.requests.length - requestsBefore;
  const cached = await withAccount(db, account.account_id, { readOnly: true }, (trx) => trx('chatwoot_contacts').count<Array<{ count: string }>>('* as count'));

  limiter = rateLimiter(Infinity);
  started = performance.now();
  const rerun = await syncAccounts(db, sealer, accounts, { mode: 'full', timeoutMs: 10_000, limiter });
  const rerunSeconds = (performance.now() - started) / 1000;
  const rewritten = rerun.reports[0]!.phases.reduce((n, p) => n + p.written, 0);

  const pages = Math.ceil(contacts / 15);
  console.log(`\nBackfill of ${fmt(contacts)} Chatwoot contacts (fake Chatwoot over HTTP, 15 a page) into the embedded Postgres`);
  console.table([
    { run: 'baseline: read every page, write nothing', seconds: baselineSeconds.toFixed(1), 'contacts/s': fmt(contacts / baselineSeconds), requests: fmt(baselineRequests), 'x baseline': '1.0' },
    {
      run: 'backfill (rate limit lifted)',
      seconds: backfillSeconds.toFixed(1),
      'contacts/s': fmt(contacts / backfillSeconds),
      requests: fmt(httpRequests),
      'x baseline': (backfillSeconds / baselineSeconds).toFixed(2),
    },
    { run: 're-run (changes nothing)', seconds: rerunSeconds.toFixed(1), 'contacts/s': fmt(contacts / rerunSeconds), requests: fmt(limiter.requests), 'x baseline': (rerunSeconds / baselineSeconds).toFixed(2) },
  ]);
  console.log(`cached contacts: ${fmt(Number(cached[0]!.count))}; rows changed by the re-run: ${rewritten}`);
  console.log(`target: backfill < ${targetSeconds} s — ${backfillSeconds < targetSeconds ? 'met' : 'NOT met'}`);
  console.log(
    `at the default pace of ${fmt(defaultRequestsPerMinute)} requests a minute (Chatwoot allows 3,000 per IP), the ${fmt(pages)} pages take at least ${(pages / defaultRequestsPerMinute).toFixed(1)} min; ` +
      `ONELINK_CHATWOOT_REQUESTS_PER_MINUTE or --requests-per-minute raises it.`,
  );
  if (chatwoot.takeViolations().length) throw new Error('the backfill broke Chatwoot’s API contract');
} finally {
  await chatwoot.close();
  await bench.close();
}
