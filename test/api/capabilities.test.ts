import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activeFields, sensitiveFieldKeys, validateCustomFields, withoutSensitiveFields } from '../../extension/capabilities/field-packs.ts';
import { resolveCapabilities } from '../../extension/capabilities/profiles.ts';
import { startFakeChatwoot, type FakeChatwoot } from '../fakes/chatwoot.ts';
import { createTestApp, type TestApp } from '../helpers/app.ts';
import { connectInstallation, signInAgent, type SignedIn } from '../helpers/identity.ts';

describe('capability resolver', () => {
  it('starts from the profile defaults and applies overrides both ways', () => {
    expect(resolveCapabilities('generic', {}).has('dispatch.jobs')).toBe(false);
    expect(resolveCapabilities('construction', {}).has('dispatch.jobs')).toBe(true);
    expect(resolveCapabilities('generic', { 'dispatch.jobs': true }).has('dispatch.jobs')).toBe(true);
    expect(resolveCapabilities('construction', { 'dispatch.jobs': false }).has('dispatch.jobs')).toBe(false);
    expect(resolveCapabilities('healthcare', {}).has('fields.healthcare')).toBe(true);
  });
});

describe('field packs', () => {
  const construction = { capabilities: resolveCapabilities('construction', {}) };
  const healthcare = { capabilities: resolveCapabilities('healthcare', {}) };

  it('exposes the fields of the enabled packs only', () => {
    expect(activeFields(construction, 'job').map((f) => f.key)).toEqual(['site_address', 'permit_number', 'trade', 'gate_code']);
    expect(activeFields({ capabilities: resolveCapabilities('generic', {}) }, 'job')).toEqual([]);
    expect(activeFields(healthcare, 'deal').map((f) => f.key)).toContain('care_type');
  });

  it('validates types, choices and unknown keys with one 422 naming each field', () => {
    expect(validateCustomFields(construction, 'job', { trade: 'plumbing', site_address: ' 1 Main St ' })).toEqual({ trade: 'plumbing', site_address: '1 Main St' });
    try {
      validateCustomFields(construction, 'job', { trade: 'astrology', permit_number: 42, favourite_colour: 'red' });
      expect.unreachable();
    } catch (err) {
      expect(err).toMatchObject({ status: 422, code: 'validation_failed' });
      const paths = (err as { details: { fields: Array<{ path: string }> } }).details.fields.map((f) => f.path).sort();
      expect(paths).toEqual(['custom_fields.favourite_colour', 'custom_fields.permit_number', 'custom_fields.trade']);
    }
    expect(() => validateCustomFields(healthcare, 'job', { date_of_birth: '31/12/1980' })).toThrow();
    expect(validateCustomFields(healthcare, 'job', { date_of_birth: '1980-12-31' })).toEqual({ date_of_birth: '1980-12-31' });
  });

  it('keeps sensitive fields out of anything written back to Chatwoot', () => {
    expect(sensitiveFieldKeys(healthcare, 'job').sort()).toEqual(['clinical_notes', 'date_of_birth']);
    expect(withoutSensitiveFields(healthcare, 'job', { care_type: 'nursing', clinical_notes: 'private' })).toEqual({ care_type: 'nursing' });
  });
});

describe('capability admin API', () => {
  let t: TestApp;
  let chatwoot: FakeChatwoot;
  let admin: SignedIn;
  let agent: SignedIn;
  beforeAll(async () => {
    t = await createTestApp();
    chatwoot = await startFakeChatwoot();
    await connectInstallation(t, chatwoot, [1]);
    admin = await signInAgent(t, chatwoot, 1, 'administrator');
    agent = await signInAgent(t, chatwoot, 1, 'agent');
  });
  afterAll(async () => {
    await chatwoot.close();
    await t.close();
  });
  const as = (who: SignedIn) => ({
    get: (path: string) => request(t.app).get(path).set('Authorization', `Bearer ${who.token}`),
    patch: (path: string, body: object) => request(t.app).patch(path).set('Authorization', `Bearer ${who.token}`).send(body),
    post: (path: string, body: object) => request(t.app).post(path).set('Authorization', `Bearer ${who.token}`).send(body),
  });

  it('shows the profile, each flag and its default', async () => {
    const res = await as(admin).get('/api/v1/admin/capabilities');
    expect(res.status).toBe(200);
    expect(res.body.data.profile).toBe('generic');
    expect(res.body.data.capabilities).toContainEqual({ flag: 'dispatch.jobs', enabled: false, default: false });
  });

  it('switches the profile, and the boot payload follows', async () => {
    const res = await as(admin).patch('/api/v1/admin/capabilities', { profile: 'construction' });
    expect(res.status).toBe(200);
    const me = await as(agent).get('/api/v1/me');
    expect(me.body.data.capabilities).toContain('dispatch.jobs');
    expect(me.body.data.fields.job.map((f: { key: string }) => f.key)).toContain('permit_number');
  });

  it('refuses a capability-gated route with 403 capability_disabled once the flag is off, and allows it again', async () => {
    expect((await as(agent).get('/api/v1/portal/clients')).status).toBe(200);
    await as(admin).patch('/api/v1/admin/capabilities', { overrides: { 'portal.client': false } });
    const off = await as(agent).get('/api/v1/portal/clients');
    expect(off.status).toBe(403);
    expect(off.body.error.code).toBe('capability_disabled');
    expect((await as(agent).get('/api/v1/me')).body.data.capabilities).not.toContain('portal.client');
    await as(admin).patch('/api/v1/admin/capabilities', { overrides: { 'portal.client': null } });
    expect((await as(agent).get('/api/v1/portal/clients')).status).toBe(200);
  });

  it('rejects unknown profiles and flags and changes nothing', async () => {
    const before = (await as(admin).get('/api/v1/admin/capabilities')).body.data;
    for (const body of [{ profile: 'veterinary' }, { overrides: { 'crm.unicorns': true } }, { overrides: { 'crm.deals': 'yes' } }, {}]) {
      const res = await as(admin).patch('/api/v1/admin/capabilities', body);
      expect(res.status, JSON.stringify(body)).toBe(422);
    }
    expect((await as(admin).get('/api/v1/admin/capabilities')).body.data).toEqual(before);
  });

  it('is for admins only', async () => {
    expect((await as(agent).patch('/api/v1/admin/capabilities', { profile: 'generic' })).status).toBe(403);
  });
});
