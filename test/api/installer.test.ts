import request from 'supertest';
import { beforeAll, describe, expect, it } from 'vitest';
import { install, uninstall } from '../../extension/chatwoot/installer.ts';
import type { FakeChatwoot } from '../fakes/chatwoot.ts';
import { chatwootDelivery, contactEvent } from '../fakes/chatwoot-webhooks.ts';
import type { TestApp } from '../helpers/app.ts';
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
    const cli = spawnIn('npm', ['run', '--silent', 'onelink', '--', 'install', '--chatwoot-url', chatwoot.url, '--account-id', '1', '--token', 'owner-token', '--public-url', publicUrl], {
      DATABASE_URL: t.db.url,
      ONELINK_ENCRYPTION_KEY: t.config.ONELINK_ENCRYPTION_KEY!,
    });
    expect((await cli.exited).code, cli.output()).toBe(0);
    expect(cli.output()).toMatch(/Webhook created: https:\/\/onelink\.example\.com\/webhooks\/chatwoot\/\S+ \(signed with its secret\)/);
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

  it('uninstall removes exactly what install created', async () => {
    const { removed } = await uninstall(t.db.knex, input());
    expect(removed).toHaveLength(7);
    expect(chatwoot.webhooks.map((h) => h.id)).toEqual([500]);
    expect(chatwoot.dashboardApps).toEqual([]);
    expect(chatwoot.attributeDefinitions).toEqual([]);
  });
});
