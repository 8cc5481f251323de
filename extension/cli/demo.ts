// npm run demo: try Onelink without a Chatwoot. Starts a local Chatwoot STAND-IN (the same fake the
// tests use: it answers Chatwoot's API as Chatwoot's own OpenAPI document describes, and nothing
// more), starts the service on an embedded database of its own, connects the two with the real
// installer, seeds a small account through the public API, and prints where to look and how to sign
// in. Both servers listen on 127.0.0.1 only, and the command refuses to run in production mode:
// the stand-in accepts the tokens printed below, so it must never face a network.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startFakeChatwoot, type FakeChatwoot } from '../../test/fakes/chatwoot.ts';
import { repoRoot, spawnIn, spawnServer, waitForReady, type Spawned } from '../../test/helpers/processes.ts';
import { ensureBuild } from './ensure-build.ts';

const chatwootAccount = { id: 1, name: 'Brightwater Home Services (demo)' };
const admin = { id: 1, name: 'Alex Morgan', email: 'alex@demo.invalid', token: 'demo-admin-token', role: 'administrator' as const };
const agent = { id: 2, name: 'Sam Rivera', email: 'sam@demo.invalid', token: 'demo-agent-token', role: 'agent' as const };

// The dev host page shows conversations 101 and 102 with contacts 501 and 502; the rest fill the boards.
const people = [
  { id: 501, name: 'Ada Lovelace', phone: '+442079460958', email: 'ada@example.com', conversation: 101, message: 'Hi, the radiator in the hall is leaking since this morning.' },
  { id: 502, name: 'Grace Hopper', phone: '+14155550123', email: 'grace@example.com', conversation: 102, message: 'We would like a quote for replacing the kitchen windows.' },
  { id: 503, name: 'Katherine Johnson', phone: '+15105550177', email: 'katherine@example.com', conversation: 103, message: 'Our boiler makes a banging noise at night.' },
  { id: 504, name: 'Alan Turing', phone: '+447700900123', email: 'alan@example.com', conversation: 104, message: 'Can you service the air conditioning before summer?' },
  { id: 505, name: 'Hedy Lamarr', phone: '+13105550142', email: 'hedy@example.com', conversation: 105, message: 'The garage door opener stopped working.' },
];

function usage(): never {
  console.log('Usage: npm run demo [-- --port 4100]');
  process.exit(0);
}

function refuseProduction() {
  if (process.env.NODE_ENV === 'production') {
    process.stderr.write('onelink demo: refused with NODE_ENV=production. The demo runs a Chatwoot stand-in that accepts printed tokens; it is for trying Onelink on this machine only.\n');
    process.exit(1);
  }
}

function seedChatwoot(chatwoot: FakeChatwoot) {
  for (const person of [admin, agent]) {
    chatwoot.addAgent({ id: person.id, name: person.name, email: person.email, token: person.token, accounts: [{ ...chatwootAccount, role: person.role }] });
  }
  const createdAt = Math.floor(Date.now() / 1000) - 3600;
  for (const [i, person] of people.entries()) {
    chatwoot.contacts.push({ id: person.id, accountId: chatwootAccount.id, name: person.name, phone_number: person.phone, email: person.email });
    const conversation = chatwoot.addConversation(chatwootAccount.id, person.conversation);
    Object.assign(conversation, { contactId: person.id, status: 'open' });
    conversation.messages.push({ id: person.conversation * 100, content: person.message, private: false, message_type: 'incoming', content_attributes: {}, created_at: createdAt + i * 60 });
  }
}

/** Calls the running service's API as one signed-in person; throws with the answer on a refusal. */
function apiAs(baseUrl: string, token: string) {
  return async <T = { id: string }>(method: string, route: string, json?: unknown): Promise<T> => {
    const response = await fetch(`${baseUrl}/api/v1${route}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: json === undefined ? undefined : JSON.stringify(json),
    });
    const body = (await response.json()) as { data: T; error?: unknown };
    if (!response.ok) throw new Error(`${method} ${route} answered ${response.status}: ${JSON.stringify(body.error)}`);
    return body.data;
  };
}

async function signIn(baseUrl: string, chatwootToken: string) {
  const response = await fetch(`${baseUrl}/api/v1/auth/chatwoot`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ access_token: chatwootToken, account_id: chatwootAccount.id }),
  });
  if (!response.ok) throw new Error(`signing in the demo admin failed (${response.status}): ${await response.text()}`);
  return ((await response.json()) as { data: { token: string } }).data.token;
}

/** A small but lived-in account: vendors, deals across the pipeline, jobs in several states, tasks. */
async function seedOnelink(baseUrl: string, adminSession: string) {
  const api = apiAs(baseUrl, adminSession);
  await api('PATCH', '/admin/capabilities', { profile: 'construction' });
  const vendors = [];
  for (const vendor of [
    { name: 'Rapid Plumbing Ltd', categories: ['plumbing'] },
    { name: 'Volt Electricians', categories: ['electrical'] },
    { name: 'Cool Air HVAC', categories: ['hvac'] },
  ]) {
    const created = await api('POST', '/vendors', vendor);
    await api('POST', `/vendors/${created.id}/documents`, { kind: 'insurance', expires_on: `${new Date().getUTCFullYear() + 1}-06-30` });
    vendors.push(created);
  }
  const [pipeline] = await api<Array<{ id: string; stages: Array<{ id: string; kind: string }> }>>('GET', '/pipelines');
  const openStages = pipeline!.stages.filter((s) => s.kind === 'open');
  const deals = [
    { person: people[1]!, title: 'Kitchen windows replacement', amount_minor: 480_000, stage: 1 },
    { person: people[3]!, title: 'Yearly air-conditioning service', amount_minor: 35_000, stage: 0 },
    { person: people[4]!, title: 'Garage door opener', amount_minor: 60_000, stage: 2 },
    { person: people[0]!, title: 'Bathroom refit', amount_minor: 920_000, stage: 0 },
  ];
  for (const deal of deals) {
    const created = await api<{ id: string; version: number }>('POST', '/deals', {
      title: deal.title,
      pipeline_id: pipeline!.id,
      amount_minor: deal.amount_minor,
      currency: 'USD',
      chatwoot_contact_id: deal.person.id,
      chatwoot_conversation_id: deal.person.conversation,
    });
    const stage = openStages[Math.min(deal.stage, openStages.length - 1)]!;
    if (deal.stage > 0) await api('POST', `/deals/${created.id}/move`, { stage_id: stage.id, version: created.version });
  }
  const leak = await api('POST', '/jobs', {
    summary: 'Leaking radiator in the hall',
    priority: 'high',
    service_category: 'plumbing',
    chatwoot_contact_id: people[0]!.id,
    conversation_ids: [people[0]!.conversation],
  });
  await api('POST', `/jobs/${leak.id}/status`, { status: 'triaged' });
  await api('POST', `/jobs/${leak.id}/assignment`, { vendor_id: vendors[0]!.id });
  await api('POST', '/jobs', {
    summary: 'Boiler banging at night',
    priority: 'normal',
    service_category: 'plumbing',
    chatwoot_contact_id: people[2]!.id,
    conversation_ids: [people[2]!.conversation],
  });
  await api('POST', '/tasks', { title: 'Call back about the window measurements', chatwoot_contact_id: people[1]!.id, chatwoot_conversation_id: people[1]!.conversation, due_at: new Date(Date.now() + 2 * 3600_000).toISOString() });
}

async function main() {
  const { values } = parseArgs({ options: { port: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) usage();
  refuseProduction();
  const port = Number(values.port ?? process.env.ONELINK_DEMO_PORT ?? 4100);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`--port must be a port number, not ${values.port}`);
  const baseUrl = `http://127.0.0.1:${port}`;
  // The demo's data lives apart from `npm start`'s and starts afresh every time.
  const dataDir = process.env.ONELINK_DEMO_DATA_DIR ?? path.join(repoRoot, '.data', 'demo');
  fs.rmSync(dataDir, { recursive: true, force: true });

  console.log('Building the web pages (first run only)…');
  await ensureBuild();
  const chatwoot = await startFakeChatwoot();
  seedChatwoot(chatwoot);
  const env = {
    NODE_ENV: 'development',
    HOST: '127.0.0.1',
    PORT: String(port),
    PUBLIC_URL: baseUrl,
    ONELINK_DATA_DIR: dataDir,
    ONELINK_EMBEDDED_PG_PORT: process.env.ONELINK_DEMO_PG_PORT ?? '54339',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
  };
  let server: Spawned | undefined;
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    if (server && server.child.exitCode === null) {
      server.child.kill('SIGTERM');
      await server.exited;
    }
    await chatwoot.close();
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));

  try {
    server = spawnServer(env);
    server.child.stdout!.pipe(process.stdout);
    server.child.stderr!.pipe(process.stderr);
    void server.exited.then(({ code }) => {
      if (!stopping) {
        process.stderr.write(`onelink demo: the service stopped (exit ${code}).\n`);
        void stop(1);
      }
    });
    await waitForReady(baseUrl, server, 120_000);
    const installer = spawnIn('npm', ['run', '--silent', 'onelink', '--', 'install', '--chatwoot-url', chatwoot.url, '--account-id', String(chatwootAccount.id), '--token', admin.token, '--public-url', baseUrl], env);
    const { code } = await installer.exited;
    if (code !== 0) throw new Error(`the installer failed:\n${installer.output()}`);
    await seedOnelink(baseUrl, await signIn(baseUrl, admin.token));
  } catch (err) {
    process.stderr.write(`onelink demo: ${(err as Error).message}\n`);
    await stop(1);
    return;
  }

  // The stand-in serves the conversation view, as Chatwoot would, and frames the sidebar from the
  // service: the sidebar then hears the stand-in's origin and signs in against the stand-in.
  const appQuery = `?chatwoot=${encodeURIComponent(chatwoot.url)}&account=${chatwootAccount.id}`;
  const conversationView = `${chatwoot.url}/dev/chatwoot-host/?app=${encodeURIComponent(`${baseUrl}/apps/sidebar/${appQuery}`)}`;
  console.log(`
  Onelink demo is running — on this machine only (127.0.0.1).

  Chatwoot here is a STAND-IN, not Chatwoot: a local fake at ${chatwoot.url} that answers
  Chatwoot's API as its OpenAPI document describes, so the apps have something to talk to.
  Connect a real Chatwoot with "npm run onelink -- install" (see the README) when you have one.

  Open the stand-in's conversation view, with Onelink's sidebar in it:
    ${conversationView}
  Sign in there with a Chatwoot access token:
    ${admin.token}   (${admin.name}, administrator)
    ${agent.token}   (${agent.name}, agent)
  Boards:  ${baseUrl}/apps/pipeline/${appQuery}
           ${baseUrl}/apps/dispatch/${appQuery}
  Admin:   ${baseUrl}/apps/admin/${appQuery}
  Reports: ${baseUrl}/apps/reports/${appQuery}
  API reference: ${baseUrl}/api/v1/docs

  Data is kept in .data/demo and starts afresh on every "npm run demo". Ctrl-C stops everything.
`);
}

main().catch((err: unknown) => {
  process.stderr.write(`onelink demo: ${(err as Error).stack}\n`);
  process.exit(1);
});
