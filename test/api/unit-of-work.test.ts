// The unit of work (extension/db/tenant.ts): write() announces a change once its transaction has
// committed — never before, never after a rollback, never for bookkeeping — and the system context
// carries the account's capabilities but no role and no permission.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { changeChannel } from '../../extension/events/changes.ts';
import { read, systemContext, write } from '../../extension/db/tenant.ts';
import { apiAs } from '../helpers/api.ts';
import type { TestApp } from '../helpers/app.ts';
import { signInAgent, type SignedIn } from '../helpers/identity.ts';
import { useWorld } from '../helpers/world.ts';

const world = useWorld([1]);
let t: TestApp;
let admin: SignedIn;
let listener: pg.Client;
const heard: Array<{ at: number; payload: string | undefined }> = [];

beforeAll(async () => {
  t = world.t;
  admin = await signInAgent(t, world.chatwoot, 1, 'administrator');
  expect((await apiAs(t, admin.token).patch('/admin/capabilities', { profile: 'construction' })).status).toBe(200);
  listener = new pg.Client({ connectionString: t.db.url });
  await listener.connect();
  listener.on('notification', (message) => heard.push({ at: Date.now(), payload: message.payload }));
  await listener.query(`listen ${changeChannel}`);
});
afterAll(() => listener.end());

const settle = () => new Promise((resolve) => setTimeout(resolve, 500));
const auditCount = async (action: string) =>
  Number((await read({ db: t.db.knex, accountId: admin.accountId }, (trx) => trx('audit_events').where({ account_id: admin.accountId, action }).count<Array<{ n: string }>>('* as n')))[0]!.n);

describe('write()', () => {
  it('announces an audited change only once it has committed', async () => {
    const ctx = await systemContext(t.db.knex, admin.accountId, 'unit-of-work-test');
    await settle();
    heard.length = 0;
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let committedAt = 0;
    const running = write(ctx, async (_trx, audit) => {
      await audit({ action: 'test.changed', resourceType: 'test', resourceId: 1 });
      await held; // the transaction stays open
    }).then(() => (committedAt = Date.now()));
    await settle();
    expect(heard).toEqual([]); // nothing is announced while the transaction is open
    release();
    await running;
    await expect.poll(() => heard.length, { timeout: 2_000 }).toBe(1);
    expect(heard[0]!.payload).toBe(String(admin.accountId));
    expect(heard[0]!.at).toBeGreaterThanOrEqual(committedAt);
  });

  it('announces a change whose trail is kept elsewhere, and not bookkeeping or a change that turned out to be none', async () => {
    const ctx = await systemContext(t.db.knex, admin.accountId, 'unit-of-work-test');
    await settle();
    heard.length = 0;
    await write(ctx, async (_trx, audit) => audit.bookkeeping('sessions'));
    await write(ctx, async (_trx, audit) => audit.nothingChanged());
    await settle();
    expect(heard).toEqual([]);
    await write(ctx, async (_trx, audit) => audit.recordedElsewhere('webhook_deliveries'));
    await expect.poll(() => heard.length, { timeout: 2_000 }).toBe(1);
  });

  it('announces nothing and keeps nothing when the work fails or names no trail', async () => {
    const ctx = await systemContext(t.db.knex, admin.accountId, 'unit-of-work-test');
    await settle();
    heard.length = 0;
    await expect(
      write(ctx, async (_trx, audit) => {
        await audit({ action: 'test.rolled_back', resourceType: 'test', resourceId: 2 });
        throw new Error('the work failed');
      }),
    ).rejects.toThrow('the work failed');
    await expect(write(ctx, async (trx) => void (await trx('audit_events').select('id').limit(1)))).rejects.toThrow(/without recording an audit event or naming its trail/);
    await settle();
    expect(heard).toEqual([]);
    expect(await auditCount('test.rolled_back')).toBe(0);
  });
});

describe('systemContext()', () => {
  it('acts as the named process with the account’s capabilities and no role or permission', async () => {
    const ctx = await systemContext(t.db.knex, admin.accountId, 'sla-sweep');
    expect(ctx).toMatchObject({ accountId: admin.accountId, actor: { type: 'system', id: 'sla-sweep' }, roles: [], requestId: null });
    expect([...ctx.permissions]).toEqual([]);
    expect(ctx.capabilities.has('dispatch.jobs')).toBe(true); // the construction profile
    await write(ctx, (_trx, audit) => audit({ action: 'test.by_system', resourceType: 'test', resourceId: 3 }));
    const row = await read(ctx, (trx) => trx('audit_events').where({ account_id: admin.accountId, action: 'test.by_system' }).first('actor_type', 'actor_id'));
    expect(row).toEqual({ actor_type: 'system', actor_id: 'sla-sweep' });
    await expect(systemContext(t.db.knex, 987_654, 'sla-sweep')).rejects.toThrow('No account 987654');
  });
});
