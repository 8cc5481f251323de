import request from 'supertest';
import { beforeAll, describe, expect, it } from 'vitest';
import { auditDiff } from '../../extension/audit/writer.ts';
import { setupContext as systemContext } from '../../extension/accounts/service.ts';
import { withAccountForTests as withAccount, write } from '../../extension/db/tenant.ts';
import type { FakeChatwoot } from '../fakes/chatwoot.ts';
import type { TestApp } from '../helpers/app.ts';
import { useWorld } from '../helpers/world.ts';
import { signInAgent, type SignedIn } from '../helpers/identity.ts';

const world = useWorld([1]);
let t: TestApp;
let chatwoot: FakeChatwoot;
let admin: SignedIn;
beforeAll(async () => {
  ({ t, chatwoot } = world);
  admin = await signInAgent(t, chatwoot, 1, 'administrator');
});

describe('audit_events is append-only at the database', () => {
  for (const [what, statement] of [
    ['UPDATE', 'update audit_events set action = action'],
    ['DELETE', 'delete from audit_events'],
    ['TRUNCATE', 'truncate audit_events'],
  ] as const) {
    it(`refuses ${what}, even for the table owner`, async () => {
      await expect(withAccount(t.db.knex, admin.accountId, { readOnly: false }, (trx) => trx.raw(statement))).rejects.toThrow(/append-only/);
    });
  }
});

describe('writes cannot skip the audit', () => {
  it('rolls back a write transaction that records no audit event', async () => {
    const ctx = systemContext(t.db.knex, admin.accountId);
    await expect(
      write(ctx, (trx) => trx('users').where({ account_id: admin.accountId, id: admin.userId }).update({ name: 'Silently renamed' })),
    ).rejects.toThrow(/without recording an audit event/);
    const user = await withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) => trx('users').where({ id: admin.userId }).first());
    expect(user.name).not.toBe('Silently renamed');
  });

  it('refuses writes inside a read transaction', async () => {
    await expect(
      withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) => trx('users').where({ id: admin.userId }).update({ name: 'x' })),
    ).rejects.toThrow(/read-only transaction/);
  });
});

describe('audit content', () => {
  it('keeps only changed fields for updates, whole records for creates, and masks sensitive values', () => {
    expect(auditDiff({ a: 1, b: 2, c: 3 }, { a: 1, b: 5, c: 3 })).toEqual({ before: { b: 2 }, after: { b: 5 } });
    expect(auditDiff(null, { a: 1 })).toEqual({ before: null, after: { a: 1 } });
    expect(auditDiff({ gate_code: '1234', note: 'x' }, { gate_code: '9999', note: 'y' }, ['gate_code'])).toEqual({
      before: { gate_code: '[sensitive]', note: 'x' },
      after: { gate_code: '[sensitive]', note: 'y' },
    });
  });

  it('records the actor, the request id and the diff of an admin change', async () => {
    const res = await request(t.app)
      .patch('/api/v1/admin/capabilities')
      .set('Authorization', `Bearer ${admin.token}`)
      .set('X-Request-Id', 'audit-probe-0001')
      .send({ overrides: { 'dispatch.jobs': true } });
    expect(res.status).toBe(200);
    const events = await request(t.app)
      .get('/api/v1/admin/audit-events')
      .query({ action: 'account.capabilities_changed' })
      .set('Authorization', `Bearer ${admin.token}`);
    expect(events.body.data[0]).toMatchObject({
      actor_type: 'user',
      actor_id: admin.userId,
      resource_type: 'account',
      resource_id: String(admin.accountId),
      request_id: 'audit-probe-0001',
      before: { overrides: {} },
      after: { overrides: { 'dispatch.jobs': true } },
    });
  });

  it('pages through the trail newest first with an opaque cursor', async () => {
    for (let i = 0; i < 3; i++) {
      await request(t.app).patch('/api/v1/admin/capabilities').set('Authorization', `Bearer ${admin.token}`).send({ overrides: { 'calls.twilio': i % 2 === 0 } });
    }
    const first = await request(t.app).get('/api/v1/admin/audit-events').query({ limit: 2 }).set('Authorization', `Bearer ${admin.token}`);
    expect(first.body.data).toHaveLength(2);
    expect(first.body.data[0].id).toBeGreaterThan(first.body.data[1].id);
    const second = await request(t.app)
      .get('/api/v1/admin/audit-events')
      .query({ limit: 2, cursor: first.body.meta.next_cursor })
      .set('Authorization', `Bearer ${admin.token}`);
    expect(second.body.data[0].id).toBeLessThan(first.body.data[1].id);
    const bad = await request(t.app).get('/api/v1/admin/audit-events').query({ actor_type: 'robot' }).set('Authorization', `Bearer ${admin.token}`);
    expect(bad.status).toBe(422);
  });
});
