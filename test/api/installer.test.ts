import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkRoundTrip, install, uninstall } from '../../extension/chatwoot/installer.ts';
import type { FakeChatwoot } from '../fakes/chatwoot.ts';
import { chatwootDelivery, contactEvent } from '../fakes/chatwoot-webhooks.ts';
import type { TestApp } from '../helpers/app.ts';
import { freePort } from '../helpers/ports.ts';
import { spawnIn } from '../helpers/processes.ts';
import { useWorld } from '../helpers/world.ts';

const world = useWorld([1]);
let t: TestApp;
let chatwoot: FakeChatwoot;
const publicUrl = 'https://onelink.example.com';

beforeAll(() => {
  ({ t, chatwoot } = world);
  chatwoot.addAgent({ id: 900, name: 'Owner', email: 'owner@example.com', token: 'owner-token', accounts: [{ id: 1, name: 'Acme', role: 'administrator' }] });
  chatwoot.addAgent({ id: 901, name: 'Agent', email: 'agent@example.com', token: 'agent-token', accounts: [{ id: 1, name: 'Acme', role: 'agent' }] });
  // Something of the account's own that uninstall must leave alone.
  chatwoot.webhooks.push({ id: 500, accountId: 1, url: 'https://crm.elsewhere.example/hook', subscriptions: ['message_created'], secret: 'x' });
});

const input = (token = 'owner-token') => ({ chatwootUrl: chatwoot.url, accountId: 1, token, publicUrl, timeoutMs: 2000 });

describe('the installer', () => {
  it('runs as one command: webhook with its secret, dashboard app, conversation attributes', async () => {
    const cli = spawnIn('npm', ['run', '--silent', 'onelink', '--', 'install', '--chatwoot-url', chatwoot.url, '--account-id', '1', '--token', 'owner-token', '--public-url', publicUrl, '--skip-check'], {
      DATABASE_URL: t.db.url,
      ONELINK_ENCRYPTION_KEY: t.config.ONELINK_ENCRYPTION_KEY!,
    });
    expect((await cli.exited).code, cli.output()).toBe(0);
    expect(cli.output()).toMatch(/Webhook created: https:\/\/onelink\.example\.com\/webhooks\/chatwoot\/\S+ \(signed with its secret\)/);
    expect(cli.output()).toContain('Connection check skipped (--skip-check).');
    const ours = chatwoot.webhooks.filter((h) => h.url.startsWith(publicUrl));
    expect(ours).toHaveLength(1);
    expect(ours[0]!.subscriptions).toContain('contact_updated');
    expect(chatwoot.dashboardApps.map((a) => a.content[0]!.url)).toEqual([`${publicUrl}/apps/sidebar/?chatwoot=${encodeURIComponent(chatwoot.url)}&account=1`]);
    expect(chatwoot.attributeDefinitions.map((d) => d.attribute_key).sort()).toEqual(['onelink_deal', 'onelink_deal_stage', 'onelink_deal_status', 'onelink_job', 'onelink_job_status']);
    expect(chatwoot.takeViolations()).toEqual([]);
  }, 60_000);

  it('stores the webhook secret so Chatwoot’s signed deliveries verify end to end', async () => {
    const hook = chatwoot.webhooks.find((h) => h.url.startsWith(publicUrl))!;
    const path = new URL(hook.url).pathname;
    const signed = chatwootDelivery(contactEvent('contact_created', { id: 4040, name: 'Signed' }), { secret: hook.secret });
    expect((await request(t.app).post(path).set(signed.headers).send(signed.body)).status).toBe(202);
    const unsigned = chatwootDelivery(contactEvent('contact_created', { id: 4041, name: 'Unsigned' }));
    expect((await request(t.app).post(path).set(unsigned.headers).send(unsigned.body)).status).toBe(401);
  });

  it('changes nothing when run again', async () => {
    const before = { hooks: chatwoot.webhooks.length, apps: chatwoot.dashboardApps.length, attributes: chatwoot.attributeDefinitions.length };
    const report = await install(t.db.knex, t.services.sealer, input());
    expect(report).toMatchObject({ webhook: 'existing', dashboardApp: 'existing', attributesCreated: [] });
    expect({ hooks: chatwoot.webhooks.length, apps: chatwoot.dashboardApps.length, attributes: chatwoot.attributeDefinitions.length }).toEqual(before);
  });

  it('adds the events a webhook made by an older version lacks, keeping the others', async () => {
    const hook = chatwoot.webhooks.find((h) => h.url.startsWith(publicUrl))!;
    hook.subscriptions = hook.subscriptions.filter((e) => e !== 'message_updated');
    const report = await install(t.db.knex, t.services.sealer, input());
    expect(report.webhook).toBe('existing');
    expect(chatwoot.webhooks.filter((h) => h.url.startsWith(publicUrl))).toHaveLength(1);
    expect(hook.subscriptions).toContain('message_updated');
    expect(hook.subscriptions).toContain('contact_updated');
    expect(chatwoot.takeViolations()).toEqual([]);
  });

  it('replaces the account page an earlier version registered with the sidebar', async () => {
    const legacy = `${publicUrl}/apps/account/?chatwoot=${encodeURIComponent(chatwoot.url)}&account=1`;
    chatwoot.dashboardApps.push({ id: 900, accountId: 1, title: 'Onelink', content: [{ type: 'frame', url: legacy }] });
    await install(t.db.knex, t.services.sealer, input());
    expect(chatwoot.dashboardApps.map((a) => a.content[0]!.url)).toEqual([`${publicUrl}/apps/sidebar/?chatwoot=${encodeURIComponent(chatwoot.url)}&account=1`]);
  });

  it('says clearly when the token is not an administrator’s or Chatwoot cannot be reached', async () => {
    await expect(install(t.db.knex, t.services.sealer, input('agent-token'))).rejects.toThrow(/not an administrator/);
    await expect(install(t.db.knex, t.services.sealer, { ...input(), chatwootUrl: 'http://127.0.0.1:9' })).rejects.toThrow(/could not be reached/);
    await expect(install(t.db.knex, t.services.sealer, input('no-such-token'))).rejects.toThrow(/did not accept|refused/);
  });

  it('says why Chatwoot could not be reached, once', async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const message = await install(t.db.knex, t.services.sealer, { ...input(), chatwootUrl: closed }).then(
      () => '',
      (err: Error) => err.message,
    );
    expect(message).toBe(`Chatwoot at ${closed} could not be reached (connection refused). Check the URL and that this machine can reach it.`);
    expect(message.match(/could not be reached/g)).toHaveLength(1);
  });

  it('installation list shows the webhook URL registered in Chatwoot, and warns when PUBLIC_URL gives another', async () => {
    const list = async (env: Record<string, string>) => {
      const cli = spawnIn('npm', ['run', '--silent', 'onelink', '--', 'installation', 'list'], { DATABASE_URL: t.db.url, ONELINK_ENCRYPTION_KEY: t.config.ONELINK_ENCRYPTION_KEY!, ...env });
      expect((await cli.exited).code, cli.output()).toBe(0);
      return cli.output();
    };
    const registered = chatwoot.webhooks.find((h) => h.url.startsWith(publicUrl))!.url;
    const moved = await list({ PUBLIC_URL: 'https://moved.example.net' });
    expect(moved).toContain(`webhook registered in Chatwoot: ${registered}`);
    expect(moved).toContain(`warning: PUBLIC_URL now gives https://moved.example.net/webhooks/chatwoot/${registered.split('/').pop()}`);
    // The unsigned delivery refused above (after the signed one was accepted) shows, with its alarm.
    expect(moved).toMatch(/deliveries: last accepted \d\d:\d\d; refused: 1 missing signature \(last \d\d:\d\d\)/);
    expect(moved).toMatch(/warning: deliveries from Chatwoot are failing the signature check since \d\d:\d\d — 1 refused; re-run the installer/);
    const same = await list({ PUBLIC_URL: publicUrl });
    expect(same).toContain(`webhook registered in Chatwoot: ${registered}`);
    expect(same).not.toContain('warning: PUBLIC_URL');
    // Installed before the URL was kept: nothing to show but the truth.
    const { webhook_url } = await t.db.knex('installations').first('webhook_url');
    await t.db.knex('installations').update({ webhook_url: null });
    expect(await list({ PUBLIC_URL: publicUrl })).toContain('webhook registered in Chatwoot: unknown, re-run the installer');
    await t.db.knex('installations').update({ webhook_url });
  }, 60_000);

  it('uninstall removes exactly what install created', async () => {
    const { removed } = await uninstall(t.db.knex, input());
    expect(removed).toHaveLength(7);
    expect(chatwoot.webhooks.map((h) => h.id)).toEqual([500]);
    expect(chatwoot.dashboardApps).toEqual([]);
    expect(chatwoot.attributeDefinitions).toEqual([]);
  });
});

describe('the installer’s connection check', () => {
  let server: Server;
  let liveUrl: string;
  const live = () => ({ ...input(), publicUrl: liveUrl });
  beforeAll(async () => {
    server = t.app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    liveUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    chatwoot.webhookDelivery = 'signed';
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('proves that Chatwoot’s signed delivery arrives and verifies, and leaves no contact behind', async () => {
    const report = await install(t.db.knex, t.services.sealer, live());
    expect(report.signed).toBe(true);
    const contactsBefore = chatwoot.contacts.length;
    const check = await checkRoundTrip(t.db.knex, { ...live(), waitMs: 10_000, pollMs: 50 }, report);
    expect(check).toMatchObject({ signed: true });
    expect(chatwoot.webhookDeliveries.at(-1)).toMatchObject({ url: report.webhookUrl, event: 'contact_created', status: 202 });
    expect(chatwoot.contacts).toHaveLength(contactsBefore); // the temporary contact is deleted again
    // Its delivery is kept as ignored, never queued for the caches.
    const checks = await t.db.knex('webhook_deliveries').where({ installation_id: report.installationId }).andWhereLike('dedupe_key', 'connection-check:%').select('status', 'body');
    expect(checks).toEqual([{ status: 'ignored', body: '{}' }]);
    expect(await t.db.knex('webhook_deliveries').whereLike('body', '%Onelink connection check%').count({ n: '*' }).first()).toEqual({ n: 0 });
    expect(chatwoot.takeViolations()).toEqual([]);
  });

  it('fails plainly when Chatwoot signs with another secret than the one it returned (chatwoot/chatwoot#13809)', async () => {
    chatwoot.webhookDelivery = 'wrong_secret';
    const report = await install(t.db.knex, t.services.sealer, live());
    const started = Date.now();
    await expect(checkRoundTrip(t.db.knex, { ...live(), waitMs: 10_000, pollMs: 50 }, report)).rejects.toThrow(
      /^Chatwoot's deliveries are failing the signature check: the secret stored here is not the one Chatwoot signs with \(see chatwoot\/chatwoot#13809\)/,
    );
    expect(Date.now() - started).toBeLessThan(5000); // said as soon as the refusal is counted, not at the timeout
  });

  it('says when no delivery arrives in time', async () => {
    chatwoot.webhookDelivery = 'none';
    const report = await install(t.db.knex, t.services.sealer, live());
    await expect(checkRoundTrip(t.db.knex, { ...live(), waitMs: 1500, pollMs: 50 }, report)).rejects.toThrow(
      `No delivery arrived within 2 s: check that Chatwoot can reach ${report.webhookUrl} (Chatwoot 4.14+ refuses private addresses unless SAFE_FETCH_ALLOW_PRIVATE_NETWORK=true)`,
    );
  });

  it('says to start the service first when none is running on the database', async () => {
    chatwoot.webhookDelivery = 'signed';
    const cli = spawnIn('npm', ['run', '--silent', 'onelink', '--', 'install', '--chatwoot-url', chatwoot.url, '--account-id', '1', '--token', 'owner-token', '--public-url', liveUrl], {
      DATABASE_URL: t.db.url,
      ONELINK_ENCRYPTION_KEY: t.config.ONELINK_ENCRYPTION_KEY!,
    });
    expect((await cli.exited).code).toBe(1);
    expect(cli.output()).toContain('no Onelink service is running on this database');
    expect(cli.output()).toContain('Start the service first and run the installer again, or pass --skip-check.');
  }, 60_000);
});

describe('an installation serving two Chatwoot accounts', () => {
  it('keeps each account’s webhook secret, so both accounts’ signed deliveries verify', async () => {
    chatwoot.addAgent({ id: 902, name: 'Both', email: 'both@example.com', token: 'both-token', accounts: [{ id: 1, name: 'Acme', role: 'administrator' }, { id: 2, name: 'Beta', role: 'administrator' }] });
    const one = await install(t.db.knex, t.services.sealer, { ...input('both-token'), accountId: 1 });
    const two = await install(t.db.knex, t.services.sealer, { ...input('both-token'), accountId: 2 });
    expect(two.webhookUrl).toBe(one.webhookUrl); // one address for the installation
    const path = new URL(one.webhookUrl).pathname;
    const hooks = chatwoot.webhooks.filter((h) => h.url === one.webhookUrl);
    expect(hooks.map((h) => h.accountId).sort()).toEqual([1, 2]);
    expect(new Set(hooks.map((h) => h.secret)).size).toBe(2);
    for (const hook of hooks) {
      const signed = chatwootDelivery(contactEvent('contact_created', { id: 7000 + hook.accountId, name: 'Signed' }, { id: hook.accountId, name: 'Account' }), { secret: hook.secret });
      expect((await request(t.app).post(path).set(signed.headers).send(signed.body)).status, `account ${hook.accountId}`).toBe(202);
    }
    const forged = chatwootDelivery(contactEvent('contact_created', { id: 7099, name: 'Forged' }), { secret: 'neither' });
    expect((await request(t.app).post(path).set(forged.headers).send(forged.body)).status).toBe(401);
    await uninstall(t.db.knex, { ...input('both-token'), accountId: 2 });
    const { webhook_secrets_sealed } = await t.db.knex('installations').where({ id: one.installationId }).first('webhook_secrets_sealed');
    expect(Object.keys(webhook_secrets_sealed)).toEqual(['1']);
  });
});
