// A vendor's people on the vendor's jobs: the owner (or dispatch) gives a job to a technician; a
// technician sees and works only the jobs given to them; a job that changes vendor leaves the old
// vendor's technician behind; nobody reaches another vendor's people or jobs.
import { beforeAll, describe, expect, it } from 'vitest';
import { fanOutEvents } from '../../extension/notifications/fanout.ts';
import { apiAs } from '../helpers/api.ts';
import type { TestApp } from '../helpers/app.ts';
import { inviteVendorUser, signInAgent, signInDispatcher, type SignedIn } from '../helpers/identity.ts';
import { useWorld } from '../helpers/world.ts';

const world = useWorld([1, 2]);
let t: TestApp;
let admin: SignedIn;
let dispatcher: SignedIn;
let asDispatcher: ReturnType<typeof apiAs>;
const vendors: Record<string, { id: string; owner: { token: string; portalUserId: string }; tech: { token: string; portalUserId: string } }> = {};

const inAYear = () => new Date(Date.now() + 365 * 86400_000).toISOString().slice(0, 10);

beforeAll(async () => {
  t = world.t;
  admin = await signInAgent(t, world.chatwoot, 1, 'administrator', 'Ada Admin');
  expect((await apiAs(t, admin.token).patch('/admin/capabilities', { profile: 'construction' })).status).toBe(200);
  dispatcher = await signInDispatcher(t, world.chatwoot, 1, admin);
  asDispatcher = apiAs(t, dispatcher.token);
  for (const name of ['North', 'South']) {
    const vendor = (await asDispatcher.post('/vendors', { name: `${name} Plumbing`, categories: ['plumbing'] })).body.data;
    expect((await asDispatcher.post(`/vendors/${vendor.id}/documents`, { kind: 'insurance', expires_on: inAYear() })).status).toBe(201);
    const owner = await inviteVendorUser(t, { accountId: admin.accountId, vendorId: vendor.id, staffToken: admin.token, name: `${name} Owner` });
    const tech = await inviteVendorUser(t, { accountId: admin.accountId, ownerToken: owner.token, name: `${name} Tech` });
    vendors[name] = { id: vendor.id, owner, tech };
  }
});

async function jobFor(vendor: string) {
  const job = (await asDispatcher.post('/jobs', { summary: `Leak for ${vendor}`, service_category: 'plumbing' })).body.data;
  expect((await asDispatcher.post(`/jobs/${job.id}/assignment`, { vendor_id: vendors[vendor]!.id })).status).toBe(200);
  return job as { id: string };
}

const listed = async (token: string) => ((await apiAs(t, token).get('/jobs')).body.data as Array<{ id: string }>).map((j) => j.id);

describe('technicians on the vendor’s jobs', () => {
  it('the owner gives a job to a technician, who then sees only the jobs given to them', async () => {
    const north = vendors.North!;
    const given = await jobFor('North');
    const kept = await jobFor('North');
    const asOwner = apiAs(t, north.owner.token);
    const res = await asOwner.put(`/portal/vendor/jobs/${given.id}/technician`, { technician_id: north.tech.portalUserId });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.data.technician_id).toBe(north.tech.portalUserId);

    expect(await listed(north.owner.token)).toEqual(expect.arrayContaining([given.id, kept.id]));
    expect(await listed(north.tech.token)).toEqual([given.id]);
    expect((await apiAs(t, north.tech.token).get(`/jobs/${kept.id}`)).status).toBe(404);
    const detail = await apiAs(t, north.tech.token).get(`/jobs/${given.id}`);
    expect(detail.status).toBe(200);
    expect(detail.body.data.events.map((e: { kind: string }) => e.kind)).toContain('technician_set');

    // Taking it back: the technician no longer sees it; setting the same again changes nothing.
    expect((await asOwner.put(`/portal/vendor/jobs/${given.id}/technician`, { technician_id: null })).status).toBe(200);
    expect(await listed(north.tech.token)).toEqual([]);
    const audit = (await apiAs(t, admin.token).get('/admin/audit-events', { resource_type: 'job', resource_id: given.id })).body.data as Array<{ action: string }>;
    expect(audit.filter((a) => a.action === 'job.technician_set')).toHaveLength(2);
  });

  it('a technician cannot give jobs out; nobody reaches another vendor’s people or jobs', async () => {
    const north = vendors.North!;
    const south = vendors.South!;
    const job = await jobFor('North');
    expect((await apiAs(t, north.tech.token).put(`/portal/vendor/jobs/${job.id}/technician`, { technician_id: north.tech.portalUserId })).status).toBe(403);
    // South's owner: North's job is not found; North's technician is not one of the vendor's people.
    expect((await apiAs(t, south.owner.token).put(`/portal/vendor/jobs/${job.id}/technician`, { technician_id: south.tech.portalUserId })).status).toBe(404);
    const foreign = await apiAs(t, north.owner.token).put(`/portal/vendor/jobs/${job.id}/technician`, { technician_id: south.tech.portalUserId });
    expect(foreign.status).toBe(422);
    expect(foreign.body.error.details.fields[0]).toMatchObject({ path: 'body.technician_id', code: 'unknown_technician' });
    // Another account's admin finds nothing.
    const other = await signInAgent(t, world.chatwoot, 2, 'administrator', 'Other Admin');
    expect((await apiAs(t, other.token).patch('/admin/capabilities', { profile: 'construction' })).status).toBe(200);
    expect((await apiAs(t, other.token).put(`/jobs/${job.id}/technician`, { technician_id: null })).status).toBe(404);
    expect((await apiAs(t, north.owner.token).put(`/portal/vendor/jobs/${job.id}/technician`, { technician_id: 'not-a-uuid' })).status).toBe(422);
  });

  it('dispatch may give a job to the vendor’s technician; a job that changes vendor leaves the technician behind', async () => {
    const north = vendors.North!;
    const job = await jobFor('North');
    expect((await asDispatcher.put(`/jobs/${job.id}/technician`, { technician_id: north.tech.portalUserId })).status).toBe(200);
    expect(await listed(north.tech.token)).toContain(job.id);
    const moved = await asDispatcher.post(`/jobs/${job.id}/assignment`, { vendor_id: vendors.South!.id });
    expect(moved.status, JSON.stringify(moved.body)).toBe(200);
    expect((await asDispatcher.get(`/jobs/${job.id}`)).body.data.technician_id).toBeNull();
    expect(await listed(north.tech.token)).not.toContain(job.id);
    // A job with no vendor, or a closed one, is given to nobody.
    const waiting = (await asDispatcher.post('/jobs', { summary: 'Unassigned' })).body.data;
    expect((await asDispatcher.put(`/jobs/${waiting.id}/technician`, { technician_id: north.tech.portalUserId })).body.error.code).toBe('no_vendor');
  });

  it('a technician’s bell holds only the vendor’s notifications about jobs given to them', async () => {
    const north = vendors.North!;
    const given = await jobFor('North');
    const other = await jobFor('North');
    expect((await apiAs(t, north.owner.token).put(`/portal/vendor/jobs/${given.id}/technician`, { technician_id: north.tech.portalUserId })).status).toBe(200);
    await fanOutEvents(t.db.knex, admin.accountId, { publicUrl: t.config.PUBLIC_URL });
    const about = async (token: string) => ((await apiAs(t, token).get('/notifications', { limit: 200 })).body.data as Array<{ resource_id: string }>).map((n) => n.resource_id);
    expect(await about(north.owner.token)).toEqual(expect.arrayContaining([given.id, other.id]));
    const techSees = await about(north.tech.token);
    expect(techSees).toContain(given.id);
    expect(techSees).not.toContain(other.id);
    const otherNote = (await apiAs(t, north.owner.token).get('/notifications', { limit: 200 })).body.data.find((n: { resource_id: string }) => n.resource_id === other.id);
    expect((await apiAs(t, north.tech.token).post(`/notifications/${otherNote.id}/read`)).status).toBe(404);
  });

  it('offers are the owner’s: a technician sees and answers none', async () => {
    const north = vendors.North!;
    const job = (await asDispatcher.post('/jobs', { summary: 'Offered leak', service_category: 'plumbing' })).body.data;
    const offer = await asDispatcher.post(`/jobs/${job.id}/offers`, { vendor_id: north.id });
    expect(offer.status, JSON.stringify(offer.body)).toBe(201);
    expect((await apiAs(t, north.tech.token).get('/offers')).body.data).toEqual([]);
    expect((await apiAs(t, north.tech.token).post(`/offers/${offer.body.data.id}/accept`)).status).toBe(404);
    expect((await apiAs(t, north.owner.token).get('/offers')).body.data.map((o: { id: string }) => o.id)).toContain(offer.body.data.id);
  });

  it('a vendor switched off closes its people’s door', async () => {
    const owner = (await asDispatcher.post('/vendors', { name: 'Short-lived Ltd', categories: ['plumbing'] })).body.data;
    const person = await inviteVendorUser(t, { accountId: admin.accountId, vendorId: owner.id, staffToken: admin.token });
    expect((await apiAs(t, person.token).get('/jobs')).status).toBe(200);
    const vendor = (await asDispatcher.get(`/vendors/${owner.id}`)).body.data;
    expect((await asDispatcher.patch(`/vendors/${owner.id}`, { active: false, version: vendor.version })).status).toBe(200);
    expect((await apiAs(t, person.token).get('/jobs')).status).toBe(401);
  });
});
