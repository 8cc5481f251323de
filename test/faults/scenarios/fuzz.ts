// Malformed input under load: the schema-driven fuzz cases of test/api/fuzz.test.ts, run long
// (FAULTS_FUZZ_CASES, default 5,000) through nginx against the replicas while the mixed load runs.
// The fuzzer is an admin of a second account, so "nothing changed" can be checked on rows the
// load never writes: that account's rows are fingerprinted after every case. Checks: no 5xx, every
// refusal in the error envelope, no row changed by a refused request, the session never lost.
import { randomBytes } from 'node:crypto';
import { capabilities } from '../../../extension/capabilities/profiles.ts';
import { createApiFixtures, describeCase, fuzzCases, inErrorEnvelope, operationsOf, randomRunsFor, signOutLast, type AdminCall, type OpenApiDocument } from '../../helpers/fuzz-cases.ts';
import { figures } from '../load.ts';
import type { Cluster, Scenario, ScenarioRow } from '../types.ts';

const totalCases = Number(process.env.FAULTS_FUZZ_CASES ?? 5000);
const seed = Number(process.env.FAULTS_FUZZ_SEED ?? 20261201);
/**
 * The fuzzer's own client address (a documentation range): nginx appends the real one and the
 * service trusts it, so the sign-in attempts it burns count against it alone, not the load.
 */
const fuzzerAddress = '192.0.2.10';
/** Background work may touch the account for a while after an accepted write: wait this long for quiet. */
const settleQuietMs = 600;
const settleMaxMs = 8_000;
/**
 * Moved by requests whatever their outcome: a session's last use, and refused webhook deliveries
 * (counted, never stored, so admins see them failing).
 */
const volatileTables = new Set(['sessions', 'webhook_refusals']);
/**
 * Columns background workers keep moving on rows an earlier, accepted request made (delivery
 * attempts and their outcome, retried with backoff for minutes): left out of those tables' hashes,
 * so a retry is not blamed on the refused case that happens to be next.
 */
const deliveryBookkeeping: Record<string, string[]> = {
  chatwoot_outbox: ['status', 'attempts', 'last_error', 'chatwoot_message_id', 'next_attempt_at', 'attempted_at', 'sent_at'],
  notification_deliveries: ['status', 'reason', 'attempts', 'next_attempt_at', 'provider_id', 'sent_at', 'updated_at'],
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Print = Record<string, string>;

/**
 * A fingerprint of one account's rows (count and a hash of every row, per table), for every table
 * with an account_id. The account is filtered explicitly: the harness may query as a superuser,
 * whom row-level security does not bind.
 */
async function accountFingerprinter(cluster: Cluster, accountId: number) {
  const tables = (
    await cluster.database.query<{ name: string; schema: string }>(
      `select c.relname as name, n.nspname as schema from pg_class c
         join pg_namespace n on n.oid = c.relnamespace
         join pg_attribute a on a.attrelid = c.oid and a.attname = 'account_id' and not a.attisdropped
        where n.nspname = current_schema() and c.relkind in ('r', 'p') order by 1`,
    )
  ).filter((t) => !volatileTables.has(t.name));
  if (!tables.length) throw new Error('no table with an account_id found in the current schema');
  const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;
  const columns = await cluster.database.query<{ table: string; column: string }>(
    `select table_name as table, column_name as column from information_schema.columns
      where table_schema = current_schema() and table_name = any($1) order by ordinal_position`,
    [Object.keys(deliveryBookkeeping)],
  );
  const rowText = (name: string) => {
    const skipped = deliveryBookkeeping[name];
    if (!skipped) return 't::text';
    const kept = columns.filter((c) => c.table === name && !skipped.includes(c.column)).map((c) => `t.${quote(c.column)}`);
    return `row(${kept.join(', ')})::text`;
  };
  const sql = tables
    .map(({ name, schema }) => `select '${name}' as name, count(*)::text || ':' || coalesce(sum(hashtextextended(${rowText(name)}, 0)), 0)::text as print from ${quote(schema)}.${quote(name)} t where t.account_id = $1`)
    .join(' union all ');
  return {
    tables: tables.length,
    async take(): Promise<Print> {
      const rows = await cluster.database.query<{ name: string; print: string }>(sql, [accountId]);
      return Object.fromEntries(rows.map((r) => [r.name, r.print]));
    },
  };
}

const changedTables = (before: Print, after: Print) => Object.keys({ ...before, ...after }).filter((name) => before[name] !== after[name]);

interface Answer { status: number; body: unknown; text: string; fromNginx: boolean }

/** One request through nginx as the fuzzer; `null` when no answer came at all. */
async function sendThrough(baseUrl: string, headers: Record<string, string>, method: string, url: string, contentType: string | null, body?: string): Promise<Answer | null> {
  const all: Record<string, string> = { ...headers, 'X-Forwarded-For': fuzzerAddress };
  if (body !== undefined && contentType) all['Content-Type'] = contentType;
  try {
    // fetch upper-cases only a few methods by itself; Express matches PATCH, not "patch".
    const res = await fetch(`${baseUrl}${url}`, { method: method.toUpperCase(), headers: all, body, signal: AbortSignal.timeout(30_000) });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    // nginx's own refusals (a request line it will not pass on) never reached a replica: no upstream.
    const fromNginx = !res.headers.get('x-upstream') && (res.headers.get('content-type') ?? '').startsWith('text/html');
    return { status: res.status, body: parsed, text, fromNginx };
  } catch {
    return null;
  }
}

/** Makes the objects fuzzed paths point at, as the fuzzing admin through nginx. */
async function fixtures(cluster: Cluster, headers: Record<string, string>, accountId: number) {
  const ids: Record<string, string> = {};
  const call: AdminCall = async (method, path, body) => {
    const answer = await sendThrough(cluster.baseUrl, headers, method, `/api/v1${path}`, 'application/json', body === undefined ? undefined : JSON.stringify(body));
    if (!answer) throw new Error(`fuzz fixture ${method} ${path}: no answer`);
    return answer;
  };
  await createApiFixtures(call, capabilities, ids);
  // Another agent of the fuzzed account, signed in the way the sidebar does, for user ids in paths.
  const chatwootToken = `cw-fuzzed-${randomBytes(8).toString('hex')}`;
  const me = (await call('get', '/me')).body as { data: { account: { chatwoot_account_id?: number } } };
  const chatwootAccountId = me.data.account.chatwoot_account_id;
  if (chatwootAccountId) {
    cluster.chatwoot.addAgent({ id: 900_000 + accountId, name: 'Fuzzed agent', email: `fuzzed-${chatwootToken}@example.com`, token: chatwootToken, accounts: [{ id: chatwootAccountId, name: `Account ${chatwootAccountId}`, role: 'agent' }] });
    const signedIn = await sendThrough(cluster.baseUrl, {}, 'post', '/api/v1/auth/chatwoot', 'application/json', JSON.stringify({ access_token: chatwootToken, chatwoot_url: cluster.chatwoot.url, account_id: chatwootAccountId }));
    const userId = (signedIn?.body as { data?: { user_id?: string } } | undefined)?.data?.user_id;
    if (userId) ids.userId = userId;
  }
  const token = await call('post', '/admin/service-tokens', { name: 'fuzzed token', scopes: ['deals:read'] });
  if (token.status === 201) ids.tokenId = (token.body as { data: { id: string } }).data.id;
  const client = await call('post', '/portal/clients', { chatwoot_contact_id: 9001, name: 'Fuzzed client', email: 'fuzzed-client@example.com' });
  if (client.status === 201) ids.portalUserId = (client.body as { data: { id: string } }).data.id;
  const form = new FormData();
  form.append('file', new Blob([Buffer.from('%PDF-1.4\n%%EOF\n')], { type: 'application/pdf' }), 'a.pdf');
  const upload = await fetch(`${cluster.baseUrl}/api/v1/jobs/${ids.jobId}/artifacts`, { method: 'POST', headers: { ...headers, 'X-Forwarded-For': fuzzerAddress }, body: form });
  if (upload.status === 201) ids.artifactId = ((await upload.json()) as { data: { id: string } }).data.id;
  else await upload.arrayBuffer();
  // Rows the API cannot make (a call, a stored delivery) are written by the harness, as the API test
  // does; where its role may not (row-level security), those paths get random ids (404) instead.
  try {
    const [installation] = await cluster.database.query<{ id: string; webhook_path_token: string }>(
      'select i.id, i.webhook_path_token from installations i join accounts a on a.installation_id = i.id where a.account_id = $1',
      [accountId],
    );
    if (installation) {
      ids.pathToken = installation.webhook_path_token;
      const [call] = await cluster.database.query<{ id: string }>(
        `insert into calls (account_id, call_sid, from_e164, status, started_at) values ($1, $2, '+14155550177', 'missed', now()) returning id`,
        [accountId, `CA${randomBytes(16).toString('hex')}`],
      );
      ids.callId = call!.id;
      const [delivery] = await cluster.database.query<{ id: string }>(
        `insert into webhook_deliveries (installation_id, dedupe_key, account_id, event, headers, body, status)
         values ($1, $2, $3, 'contact_created', '{}', '{}', 'failed') returning id`,
        [installation.id, `fuzz-fixture-${randomBytes(4).toString('hex')}`, accountId],
      );
      ids.deliveryId = delivery!.id;
    }
  } catch {
    // not allowed to write as the harness: fuzz those paths with unknown ids
  }
  return ids;
}

/** Polls the fingerprint until it has not moved for `settleQuietMs` (or `settleMaxMs` passed). */
async function quiet(take: () => Promise<Print>, from: Print): Promise<Print> {
  let last = from;
  let stableSince = Date.now();
  for (const until = Date.now() + settleMaxMs; Date.now() < until; ) {
    await sleep(150);
    const now = await take();
    if (changedTables(last, now).length) {
      last = now;
      stableSince = Date.now();
    } else if (Date.now() - stableSince >= settleQuietMs) break;
  }
  return last;
}

export const fuzzScenario: Scenario = async (cluster, load) => {
  const row = (fields: Partial<ScenarioRow>): ScenarioRow => ({
    scenario: 'fuzz',
    load: '–',
    acknowledged: 0,
    processed: 0,
    lost: 0,
    duplicated: 0,
    serverErrors: 0,
    recoverySeconds: null,
    notes: '',
    passed: false,
    ...fields,
  });
  const fuzzed = cluster.fuzzAccount;
  if (!fuzzed) return row({ notes: 'no second account to fuzz (cluster.fuzzAccount)' });
  const headers = fuzzed.adminHeaders;
  load.reset();
  const began = Date.now();

  const ids = await fixtures(cluster, headers, fuzzed.accountId);
  const docAnswer = await sendThrough(cluster.baseUrl, headers, 'get', '/api/v1/openapi.json', null);
  if (docAnswer?.status !== 200) throw new Error(`the OpenAPI document answered ${docAnswer?.status ?? 'nothing'}`);
  const operations = signOutLast(operationsOf(docAnswer.body as OpenApiDocument));
  const generator = fuzzCases(ids, cluster.chatwoot.url);
  const runs = randomRunsFor(operations, generator, totalCases);
  const prints = await accountFingerprinter(cluster, fuzzed.accountId);

  let before = await quiet(prints.take, await prints.take());
  // The fixtures are rows of this account: a fingerprint that cannot see them proves nothing.
  if (!before.deals || before.deals.startsWith('0:')) throw new Error('the fingerprint sees none of the fuzzed account\'s deals');

  const problems: string[] = [];
  const statuses: Record<string, number> = {};
  let sent = 0;
  let rateLimited = 0;
  const refusedByNginx: string[] = [];
  let fuzzServerErrors = 0;
  let acceptedWrites = 0;
  let changedByRefusals = 0;
  const fuzzStarted = Date.now();
  for (const op of operations) {
    for (const c of generator.casesFor(op, seed, runs)) {
      const r = generator.requestFor(op, c);
      const answer = await sendThrough(cluster.baseUrl, headers, r.method, r.url, r.contentType, r.body);
      sent++;
      if (!answer) {
        problems.push(`no answer: ${describeCase(op, c)}`);
        continue;
      }
      statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
      let after = await prints.take();
      if (answer.status >= 500) {
        fuzzServerErrors++;
        problems.push(`${answer.status} ${describeCase(op, c)} → ${answer.text.slice(0, 200)}`);
      } else if (answer.status >= 300) {
        if (answer.status === 429) rateLimited++;
        if (answer.fromNginx) refusedByNginx.push(`${answer.status} ${describeCase(op, c)}`);
        else if (!inErrorEnvelope(answer.body)) problems.push(`${answer.status} outside the envelope: ${describeCase(op, c)} → ${answer.text.slice(0, 200)}`);
        const changed = changedTables(before, after);
        if (changed.length) changedByRefusals++;
        if (changed.length) problems.push(`${answer.status} yet changed ${changed.join(', ')}: ${describeCase(op, c)}`);
        if (answer.status === 401 && op.guarded) problems.push(`401 (the fuzzing session was lost): ${describeCase(op, c)}`);
      } else if (op.method !== 'get') {
        // An accepted write may set background work going (automation, write-back, notifications):
        // let it finish so its rows are not blamed on the next, refused, case.
        acceptedWrites++;
        after = await quiet(prints.take, after);
      }
      before = after;
    }
  }
  const fuzzSeconds = (Date.now() - fuzzStarted) / 1000;
  const tally = load.tally();
  const effects = await load.settle(90_000);
  if (sent < totalCases) problems.push(`only ${sent} cases sent (wanted ${totalCases})`);
  if (tally.serverErrors) problems.push(`${tally.serverErrors} 5xx answers to the load meanwhile`);
  if (refusedByNginx.length) console.info(`fuzz: nginx itself refused ${refusedByNginx.length} cases, e.g.\n  ${refusedByNginx.slice(0, 5).join('\n  ')}`);
  if (problems.length) console.error(`fuzz problems (${problems.length}):\n  ${problems.slice(0, 40).join('\n  ')}`);
  console.info(`fuzz: ${sent} cases over ${operations.length} operations (seed ${seed}, ${ids.callId ? '' : 'calls and deliveries by random id, '}${prints.tables} tables fingerprinted); statuses ${JSON.stringify(statuses)}`);
  return row({
    load: `${sent} cases over ${fuzzSeconds.toFixed(0)} s, load ${tally.offered} requests`,
    ...figures(tally, effects, fuzzServerErrors),
    notes: [
      `${sent} cases on ${operations.length} operations in ${((Date.now() - began) / 1000).toFixed(0)} s: ${fuzzServerErrors} 5xx`,
      `${problems.length} problems${problems.length ? ` (first: ${problems[0]!.slice(0, 160)})` : ''}`,
      `${rateLimited} rate-limited (429)`,
      refusedByNginx.length ? `${refusedByNginx.length} refused by nginx itself (never reached a replica)` : '',
      `${changedByRefusals} refused cases changed rows (of ${prints.tables} tables; ${acceptedWrites} accepted writes)`,
    ]
      .filter(Boolean)
      .join('; '),
    passed: problems.length === 0 && effects.lost === 0 && effects.duplicated === 0,
  });
};
