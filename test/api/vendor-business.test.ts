// The vendor's own business from the portal: the owner edits weekly hours, time off, service area
// and categories through the vendors module's rules; staff lock any of them; compliance documents
// sent from the portal wait for review and count toward compliance only once approved; a rejection
// needs a reason the vendor is told; nobody reaches another vendor's or another account's business.
import request from 'supertest';
import { beforeAll, describe, expect, it } from 'vitest';
import { withAccountForTests as withAccount } from '../../extension/db/tenant.ts';
import { raiseDocumentAlerts } from '../../extension/modules/vendors/expiry.ts';
import { digestFigures } from '../../extension/notifications/digest.ts';
import { fanOutEvents } from '../../extension/notifications/fanout.ts';
import { apiAs, fetchSignedLink } from '../helpers/api.ts';
import type { TestApp } from '../helpers/app.ts';
import { inviteVendorUser, signInAgent, signInDispatcher, type SignedIn } from '../helpers/identity.ts';
import { useWorld } from '../helpers/world.ts';
import { storedFiles as storedFilesOf } from '../helpers/stored-files.ts';

const world = useWorld([1, 2], { env: { ONELINK_UPLOAD_MAX_MB: '1' } });
let t: TestApp;
let admin: SignedIn;
let asDispatcher: ReturnType<typeof apiAs>;
interface Crew { id: string; owner: { token: string; portalUserId: string }; tech: { token: string; portalUserId: string } }
const crews: Record<string, Crew> = {};

const day = (days: number) => new Date(Date.now() + days * 86400_000).toISOString().slice(0, 10);
const pdf = (text: string) => Buffer.from(`%PDF-1.4\n1 0 obj << /Title (${text}) >> endobj\n%%EOF\n`);

/** A document sent from the portal as the app sends it: multipart with the file and its fields. */
function sendDocument(token: string, fields: Record<string, string>, file: Buffer | null = pdf('insurance'), name = 'certificate.pdf') {
  const req = request(t.app).post('/api/v1/portal/vendor/documents').set('Authorization', `Bearer ${token}`);
  for (const [key, value] of Object.entries(fields)) req.field(key, value);
  if (file) req.attach('file', file, name);
  return req;
}
const fetchLink = (link: string) => fetchSignedLink(t, link);
const storedFiles = () => storedFilesOf(t);
const compliance = async (vendorId: string) => (await asDispatcher.get(`/vendors/${vendorId}`)).body.data.compliance as string;
const business = async (token: string) => {
  const res = await apiAs(t, token).get('/portal/vendor/business');
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.data;
};
/** The morning digest's count of documents running out, as of now. */
const expiringInDigest = async () => (await withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) => digestFigures(trx, admin.accountId, new Date()))).expiringDocuments;
const events = (accountId: number, event: string) =>
  withAccount(t.db.knex, accountId, { readOnly: true }, (trx) => trx('notification_events').where({ account_id: accountId, event }).select('resource_id', 'data'));

beforeAll(async () => {
  t = world.t;
  admin = await signInAgent(t, world.chatwoot, 1, 'administrator', 'Ada Admin');
  expect((await apiAs(t, admin.token).patch('/admin/capabilities', { profile: 'construction' })).status).toBe(200);
  asDispatcher = apiAs(t, (await signInDispatcher(t, world.chatwoot, 1, admin)).token);
  for (const name of ['North', 'South']) {
    const vendor = (await asDispatcher.post('/vendors', { name: `${name} Roofing`, categories: ['roofing'], base_lat: 51.5, base_lng: -0.12, radius_km: 10 })).body.data;
    const owner = await inviteVendorUser(t, { accountId: admin.accountId, vendorId: vendor.id, staffToken: admin.token, name: `${name} Owner` });
    const tech = await inviteVendorUser(t, { accountId: admin.accountId, ownerToken: owner.token, name: `${name} Tech` });
    crews[name] = { id: vendor.id, owner, tech };
  }
});

describe('the owner keeps the vendor’s business', () => {
  it('edits weekly hours, area, categories and time off; staff see the same vendor, and each change is audited', async () => {
    const north = crews.North!;
    const asOwner = apiAs(t, north.owner.token);
    const before = await business(north.owner.token);
    expect(before).toMatchObject({
      vendor: { id: north.id, name: 'North Roofing', categories: ['roofing'], postal_codes: [], radius_km: 10, time_zone: 'UTC' },
      availability: [],
      time_off: [],
      locks: { availability: false, area: false, categories: false },
      documents: [],
    });

    const hours = await asOwner.put('/portal/vendor/business/availability', { slots: [{ weekday: 1, starts: '08:00', ends: '12:30' }, { weekday: 1, starts: '13:00', ends: '17:00' }] });
    expect(hours.status, JSON.stringify(hours.body)).toBe(200);
    expect(hours.body.data.availability).toEqual([{ weekday: 1, starts: '08:00', ends: '12:30' }, { weekday: 1, starts: '13:00', ends: '17:00' }]);
    const area = await asOwner.put('/portal/vendor/business/area', { postal_codes: ['SW1A 1AA', ' sw1a 1aa', 'E1 6AN'], radius_km: 25 });
    expect(area.status, JSON.stringify(area.body)).toBe(200);
    expect(area.body.data.vendor).toMatchObject({ postal_codes: ['sw1a1aa', 'e16an'], radius_km: 25 });
    const categories = await asOwner.put('/portal/vendor/business/categories', { categories: ['Roofing', 'Gutters ', 'roofing'] });
    expect(categories.status).toBe(200);
    expect(categories.body.data.vendor.categories).toEqual(['roofing', 'gutters']);
    const off = await asOwner.post('/portal/vendor/business/time-off', { starts_at: `${day(10)}T00:00:00Z`, ends_at: `${day(12)}T00:00:00Z`, reason: 'Holiday' });
    expect(off.status, JSON.stringify(off.body)).toBe(201);
    expect((await business(north.owner.token)).time_off).toEqual([expect.objectContaining({ id: off.body.data.id, reason: 'Holiday' })]);

    // Dispatch sees the vendor as the owner left it.
    const seen = (await asDispatcher.get(`/vendors/${north.id}`)).body.data;
    expect(seen).toMatchObject({ categories: ['roofing', 'gutters'], postal_codes: ['sw1a1aa', 'e16an'], radius_km: 25, locked_fields: [] });
    expect(seen.availability).toHaveLength(2);
    expect(seen.time_off.map((o: { id: string }) => o.id)).toEqual([off.body.data.id]);

    expect((await asOwner.delete(`/portal/vendor/business/time-off/${off.body.data.id}`)).status).toBe(200);
    expect((await business(north.owner.token)).time_off).toEqual([]);
    expect((await asOwner.delete(`/portal/vendor/business/time-off/${off.body.data.id}`)).status).toBe(404);

    const audit = (await apiAs(t, admin.token).get('/admin/audit-events', { resource_type: 'vendor', resource_id: north.id })).body.data as Array<{ action: string; actor_type: string }>;
    expect(audit.map((a) => a.action)).toEqual(expect.arrayContaining(['vendor.availability_set', 'vendor.updated', 'vendor.time_off_added', 'vendor.time_off_removed']));
    expect(audit.filter((a) => a.action !== 'vendor.created').every((a) => a.actor_type === 'portal_user')).toBe(true);
  });

  it('refuses what the rules refuse: hours that end before they start, a radius without a centre, time off that ends first', async () => {
    const asOwner = apiAs(t, crews.North!.owner.token);
    expect((await asOwner.put('/portal/vendor/business/availability', { slots: [{ weekday: 2, starts: '17:00', ends: '08:00' }] })).status).toBe(422);
    const loose = (await asDispatcher.post('/vendors', { name: 'Centreless Ltd' })).body.data;
    const looseOwner = await inviteVendorUser(t, { accountId: admin.accountId, vendorId: loose.id, staffToken: admin.token });
    const noCentre = await apiAs(t, looseOwner.token).put('/portal/vendor/business/area', { postal_codes: [], radius_km: 5 });
    expect([noCentre.status, noCentre.body.error.details.fields[0].code]).toEqual([422, 'radius_without_centre']);
    expect((await asOwner.post('/portal/vendor/business/time-off', { starts_at: `${day(3)}T00:00:00Z`, ends_at: `${day(2)}T00:00:00Z` })).status).toBe(422);
  });

  it('a technician gets 403 on every business route; staff have no vendor there', async () => {
    const asTech = apiAs(t, crews.North!.tech.token);
    const refusals = [
      await asTech.get('/portal/vendor/business'),
      await asTech.put('/portal/vendor/business/availability', { slots: [] }),
      await asTech.put('/portal/vendor/business/area', { postal_codes: [], radius_km: null }),
      await asTech.put('/portal/vendor/business/categories', { categories: [] }),
      await asTech.post('/portal/vendor/business/time-off', { starts_at: `${day(3)}T00:00:00Z`, ends_at: `${day(4)}T00:00:00Z` }),
      await sendDocument(crews.North!.tech.token, { kind: 'insurance', expires_on: day(300) }),
    ];
    expect(refusals.map((r) => [r.status, r.body.error?.code])).toEqual(refusals.map(() => [403, 'forbidden']));
    expect((await business(crews.North!.owner.token)).vendor.categories).toEqual(['roofing', 'gutters']);
    expect((await apiAs(t, admin.token).get('/portal/vendor/business')).status).toBe(404);
  });
});

describe('staff locks', () => {
  it('a locked field is refused to the vendor with locked_by_dispatch and stays as it was; staff still edit it; unlocking lets the vendor again', async () => {
    const south = crews.South!;
    const asOwner = apiAs(t, south.owner.token);
    expect((await asOwner.put('/portal/vendor/business/categories', { categories: ['roofing', 'solar'] })).status).toBe(200);

    const locked = await asDispatcher.put(`/vendors/${south.id}/locks`, { categories: true, area: true });
    expect(locked.status, JSON.stringify(locked.body)).toBe(200);
    expect(locked.body.data).toEqual({ availability: false, area: true, categories: true });
    expect((await business(south.owner.token)).locks).toEqual({ availability: false, area: true, categories: true });

    const refused = await asOwner.put('/portal/vendor/business/categories', { categories: ['plumbing'] });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('locked_by_dispatch');
    expect(refused.body.error.message).toMatch(/Dispatch has locked your service categories/);
    const areaRefused = await asOwner.put('/portal/vendor/business/area', { postal_codes: ['N1'], radius_km: 99 });
    expect([areaRefused.status, areaRefused.body.error.code]).toEqual([403, 'locked_by_dispatch']);
    const now = await business(south.owner.token);
    expect(now.vendor).toMatchObject({ categories: ['roofing', 'solar'], postal_codes: [], radius_km: 10 });
    // Not locked: hours still theirs.
    expect((await asOwner.put('/portal/vendor/business/availability', { slots: [{ weekday: 3, starts: '09:00', ends: '15:00' }] })).status).toBe(200);

    // Staff are not held by their own lock.
    const current = (await asDispatcher.get(`/vendors/${south.id}`)).body.data;
    expect((await asDispatcher.patch(`/vendors/${south.id}`, { categories: ['roofing'], version: current.version })).status).toBe(200);

    // The hours lock covers time off too.
    expect((await asDispatcher.put(`/vendors/${south.id}/locks`, { availability: true })).body.data).toEqual({ availability: true, area: true, categories: true });
    const hours = await asOwner.put('/portal/vendor/business/availability', { slots: [] });
    expect([hours.status, hours.body.error.code]).toEqual([403, 'locked_by_dispatch']);
    const off = await asOwner.post('/portal/vendor/business/time-off', { starts_at: `${day(3)}T00:00:00Z`, ends_at: `${day(4)}T00:00:00Z` });
    expect([off.status, off.body.error.code]).toEqual([403, 'locked_by_dispatch']);
    expect((await business(south.owner.token)).availability).toEqual([{ weekday: 3, starts: '09:00', ends: '15:00' }]);

    expect((await asDispatcher.put(`/vendors/${south.id}/locks`, { availability: false, area: false, categories: false })).body.data).toEqual({ availability: false, area: false, categories: false });
    expect((await asOwner.put('/portal/vendor/business/categories', { categories: ['roofing', 'solar'] })).status).toBe(200);
    const audit = (await apiAs(t, admin.token).get('/admin/audit-events', { resource_type: 'vendor', resource_id: south.id })).body.data as Array<{ action: string }>;
    expect(audit.filter((a) => a.action === 'vendor.locks_set')).toHaveLength(3);
    // Locks are staff's: the vendor cannot set them, an agent cannot either.
    expect((await asOwner.put(`/vendors/${south.id}/locks`, { categories: false })).status).toBe(403);
    const agent = await signInAgent(t, world.chatwoot, 1, 'agent');
    expect((await apiAs(t, agent.token).put(`/vendors/${south.id}/locks`, { categories: true })).status).toBe(403);
  });
});

describe('compliance documents with review', () => {
  it('a sent document waits as pending_review and does not count; approved, it counts; staff and the vendor open the file by its link', async () => {
    const north = crews.North!;
    expect(await compliance(north.id)).toBe('missing');
    const file = pdf('North insurance 2027');
    const sent = await sendDocument(north.owner.token, { kind: 'insurance', reference: 'POL-123', expires_on: day(400) }, file, 'insurance 2027.pdf');
    expect(sent.status, JSON.stringify(sent.body)).toBe(201);
    const doc = sent.body.data;
    expect(doc).toMatchObject({ kind: 'insurance', reference: 'POL-123', expires_on: day(400), status: 'pending_review', rejection_reason: null, filename: 'insurance 2027.pdf', content_type: 'application/pdf', size_bytes: file.length });
    expect(doc.storage_key).toBeUndefined();
    expect(await compliance(north.id)).toBe('missing');
    expect((await business(north.owner.token)).documents).toEqual([expect.objectContaining({ id: doc.id, status: 'pending_review' })]);

    // Staff are asked to review it.
    const queue = (await asDispatcher.get('/vendor-documents/to-review')).body.data as Array<{ id: string; vendor_name: string; url: string }>;
    const queued = queue.find((d) => d.id === doc.id);
    expect(queued).toMatchObject({ vendor_name: 'North Roofing' });
    expect((await events(admin.accountId, 'staff.vendor_document_submitted')).map((e) => e.resource_id)).toContain(doc.id);

    // The file, byte for byte, through the staff's link and the vendor's.
    for (const link of [queued!.url, doc.url]) {
      const got = await fetchLink(link);
      expect(got.status).toBe(200);
      expect(got.headers['content-type']).toBe('application/pdf');
      expect(Buffer.compare(got.body as Buffer, file)).toBe(0);
    }
    expect((await fetchLink(doc.url.replace(/token=.{6}/, 'token=XXXXXX'))).status).toBe(404);

    // The expiry sweep watches approved documents only.
    const soon = await sendDocument(north.owner.token, { kind: 'licence', expires_on: day(5) });
    expect(soon.status).toBe(201);
    const digestBefore = await expiringInDigest();
    await raiseDocumentAlerts(t.db.knex);
    const alerts = () => withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) => trx('vendor_document_alerts').where({ account_id: admin.accountId, document_id: soon.body.data.id }));
    expect(await alerts()).toEqual([]);

    const approved = await asDispatcher.post(`/vendors/${north.id}/documents/${doc.id}/review`, { decision: 'approve' });
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);
    expect(approved.body.data).toMatchObject({ status: 'approved', reviewed_by_type: 'user' });
    expect(await compliance(north.id)).toBe('compliant');
    expect((await asDispatcher.get('/vendor-documents/to-review')).body.data.map((d: { id: string }) => d.id)).not.toContain(doc.id);
    // Reviewed once: a second review is a conflict.
    const again = await asDispatcher.post(`/vendors/${north.id}/documents/${doc.id}/review`, { decision: 'reject', reason: 'Changed my mind' });
    expect([again.status, again.body.error.code]).toEqual([409, 'already_reviewed']);

    // Approving the licence that runs out in 5 days: now it counts (expiring) and the sweep raises its alert.
    expect((await asDispatcher.post(`/vendors/${north.id}/documents/${soon.body.data.id}/review`, { decision: 'approve' })).status).toBe(200);
    expect(await compliance(north.id)).toBe('expiring');
    await raiseDocumentAlerts(t.db.knex);
    expect((await alerts()).map((a: { threshold: string }) => a.threshold)).toEqual(['7_days']);
    expect(await expiringInDigest()).toBe(digestBefore + 1);
    // An approved renewal of the licence replaces it.
    const renewal = (await sendDocument(north.owner.token, { kind: 'Licence', expires_on: day(500) })).body.data;
    expect(await compliance(north.id)).toBe('expiring');
    expect((await asDispatcher.post(`/vendors/${north.id}/documents/${renewal.id}/review`, { decision: 'approve' })).status).toBe(200);
    expect(await compliance(north.id)).toBe('compliant');
    expect(await expiringInDigest()).toBe(digestBefore);

    // The vendor hears of the approval.
    await fanOutEvents(t.db.knex, admin.accountId, { publicUrl: t.config.PUBLIC_URL });
    const bell = (await apiAs(t, north.owner.token).get('/notifications', { limit: 200 })).body.data as Array<{ event: string; title: string }>;
    expect(bell.filter((n) => n.event === 'vendor.document_reviewed').map((n) => n.title)).toContain('Your insurance was approved');
    // Dispatch was asked to review it, with a link that opens the vendor on the board.
    const staffBell = (await asDispatcher.get('/notifications', { limit: 200 })).body.data as Array<{ event: string; title: string; resource_type: string; resource_id: string }>;
    expect(staffBell.find((n) => n.event === 'staff.vendor_document_submitted' && n.title === 'North Roofing sent their insurance for review')).toMatchObject({ resource_type: 'vendor', resource_id: north.id });
  });

  it('reads a kind as people type it, and alerts once for two documents of a kind running out the same day', async () => {
    const vendor = (await asDispatcher.post('/vendors', { name: 'Twin Papers Ltd' })).body.data.id as string;
    const record = (kind: string, expiresOn: string) => asDispatcher.post(`/vendors/${vendor}/documents`, { kind, expires_on: expiresOn });
    // An expired "Insurance " is renewed by a running "insurance": the same kind, so the vendor is compliant.
    expect((await record('Insurance ', day(-3))).status).toBe(201);
    expect(await compliance(vendor)).toBe('expired');
    expect((await record('insurance', day(400))).status).toBe(201);
    expect(await compliance(vendor)).toBe('compliant');
    // Two licences recorded for the same expiry day: one alert, not two.
    const first = (await record('licence', day(6))).body.data.id as string;
    const second = (await record('Licence', day(6))).body.data.id as string;
    await raiseDocumentAlerts(t.db.knex);
    const alerted = await withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) =>
      trx('vendor_document_alerts').where({ account_id: admin.accountId }).whereIn('document_id', [first, second]).pluck('document_id'),
    );
    expect(alerted).toHaveLength(1);
  });

  it('a rejection needs a reason; rejected, the document never counts and the vendor is told why', async () => {
    const south = crews.South!;
    const doc = (await sendDocument(south.owner.token, { kind: 'insurance', expires_on: day(300) })).body.data;
    const noReason = await asDispatcher.post(`/vendors/${south.id}/documents/${doc.id}/review`, { decision: 'reject' });
    expect(noReason.status).toBe(422);
    expect(noReason.body.error.details.fields[0]).toMatchObject({ path: 'body.reason', code: 'reason_required' });
    expect((await asDispatcher.post(`/vendors/${south.id}/documents/${doc.id}/review`, { decision: 'reject', reason: '   ' })).status).toBe(422);
    const rejected = await asDispatcher.post(`/vendors/${south.id}/documents/${doc.id}/review`, { decision: 'reject', reason: 'The policy number is unreadable' });
    expect(rejected.status).toBe(200);
    expect(rejected.body.data).toMatchObject({ status: 'rejected', rejection_reason: 'The policy number is unreadable' });
    expect(await compliance(south.id)).toBe('missing');
    expect((await business(south.owner.token)).documents).toEqual([expect.objectContaining({ id: doc.id, status: 'rejected', rejection_reason: 'The policy number is unreadable' })]);

    await fanOutEvents(t.db.knex, admin.accountId, { publicUrl: t.config.PUBLIC_URL });
    const bell = (await apiAs(t, south.owner.token).get('/notifications', { limit: 200 })).body.data as Array<{ event: string; title: string; body: string }>;
    const told = bell.find((n) => n.event === 'vendor.document_reviewed');
    expect(told).toMatchObject({ title: 'Your insurance was not accepted' });
    expect(told!.body).toContain('The policy number is unreadable');
    // Staff-entered documents are approved as they are entered.
    const entered = await asDispatcher.post(`/vendors/${south.id}/documents`, { kind: 'insurance', expires_on: day(200) });
    expect(entered.body.data.status).toBe('approved');
    expect(await compliance(south.id)).toBe('compliant');
  });

  it('refuses hostile and broken submissions, leaving no file behind', async () => {
    const token = crews.North!.owner.token;
    const count = () => withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) => trx('vendor_documents').where({ account_id: admin.accountId }).count<Array<{ count: number }>>('* as count'));
    const before = (await count())[0]!.count;
    const filesBefore = (await storedFiles()).sort();
    const cases = [
      [await sendDocument(token, { kind: 'insurance' }), 422, 'body.expires_on'],
      [await sendDocument(token, { expires_on: day(30) }), 422, 'body.kind'],
      [await sendDocument(token, { kind: 'insurance', expires_on: '2027-02-30' }), 422, 'body.expires_on'],
      [await sendDocument(token, { kind: 'x'.repeat(101), expires_on: day(30) }), 422, 'body.kind'],
      [await sendDocument(token, { kind: 'insur\u0000ance', expires_on: day(30) }), 422, 'body.kind'],
      [await sendDocument(token, { kind: 'insurance', expires_on: day(30) }, null), 400, null],
      [await sendDocument(token, { kind: 'insurance', expires_on: day(30) }, Buffer.from('<script>alert(1)</script>'), 'evil.pdf'), 415, null],
      [await sendDocument(token, { kind: 'insurance', expires_on: day(30) }, Buffer.concat([pdf('huge'), Buffer.alloc(1024 * 1024, 0x20)]), 'huge.pdf'), 413, null],
      [await apiAs(t, token).post('/portal/vendor/documents', { kind: 'insurance', expires_on: day(30) }), 415, null],
    ] as const;
    for (const [res, status, path] of cases) {
      expect(res.status, JSON.stringify(res.body)).toBe(status);
      if (path) expect(res.body.error.details.fields.map((f: { path: string }) => f.path)).toContain(path);
    }
    expect((await count())[0]!.count).toBe(before);
    expect((await storedFiles()).sort()).toEqual(filesBefore);
    // A path in the file name is dropped.
    const named = await sendDocument(token, { kind: 'permit', expires_on: day(30) }, pdf('permit'), '../../etc/passwd.pdf');
    expect(named.body.data.filename).toBe('passwd.pdf');
    // Review with hostile bodies.
    const doc = named.body.data;
    expect((await asDispatcher.post(`/vendors/${crews.North!.id}/documents/${doc.id}/review`, { decision: 'maybe' })).status).toBe(422);
    expect((await asDispatcher.post(`/vendors/${crews.North!.id}/documents/${doc.id}/review`, { decision: 'reject', reason: 'x'.repeat(1001) })).status).toBe(422);
    expect((await asDispatcher.put(`/vendors/${crews.North!.id}/locks`, { categories: 'yes' })).status).toBe(422);
  });
});

describe('nobody reaches another vendor’s or another account’s business', () => {
  it('cross-vendor: one vendor’s owner cannot see, review or remove the other’s documents and time off', async () => {
    const north = crews.North!;
    const south = crews.South!;
    const off = (await apiAs(t, south.owner.token).post('/portal/vendor/business/time-off', { starts_at: `${day(20)}T00:00:00Z`, ends_at: `${day(21)}T00:00:00Z` })).body.data;
    expect((await apiAs(t, north.owner.token).delete(`/portal/vendor/business/time-off/${off.id}`)).status).toBe(404);
    expect((await business(south.owner.token)).time_off.map((o: { id: string }) => o.id)).toContain(off.id);
    const southDoc = (await sendDocument(south.owner.token, { kind: 'licence', expires_on: day(100) })).body.data;
    const northView = await business(north.owner.token);
    expect(JSON.stringify(northView)).not.toContain(southDoc.id);
    expect(JSON.stringify(northView)).not.toContain(off.id);
    // Staff routes stay staff's.
    expect((await apiAs(t, north.owner.token).get(`/vendors/${south.id}/documents`)).status).toBe(403);
    expect((await apiAs(t, north.owner.token).post(`/vendors/${south.id}/documents/${southDoc.id}/review`, { decision: 'approve' })).status).toBe(403);
    expect((await apiAs(t, north.owner.token).get('/vendor-documents/to-review')).status).toBe(403);
    // A document under the wrong vendor is not found.
    expect((await asDispatcher.post(`/vendors/${north.id}/documents/${southDoc.id}/review`, { decision: 'approve' })).status).toBe(404);
  });

  it('cross-tenant: account B’s staff find none of account A’s vendors, documents or files', async () => {
    const adminB = await signInAgent(t, world.chatwoot, 2, 'administrator', 'Bea Admin');
    expect((await apiAs(t, adminB.token).patch('/admin/capabilities', { profile: 'construction' })).status).toBe(200);
    const asB = apiAs(t, adminB.token);
    const north = crews.North!;
    const doc = (await sendDocument(north.owner.token, { kind: 'permit', expires_on: day(100) })).body.data;
    expect((await asB.get(`/vendors/${north.id}/documents`)).status).toBe(404);
    expect((await asB.post(`/vendors/${north.id}/documents/${doc.id}/review`, { decision: 'approve' })).status).toBe(404);
    expect((await asB.put(`/vendors/${north.id}/locks`, { categories: true })).status).toBe(404);
    expect(JSON.stringify((await asB.get('/vendor-documents/to-review')).body.data)).not.toContain(doc.id);
    // Still waiting in A, unlocked.
    expect((await business(north.owner.token)).documents.find((d: { id: string }) => d.id === doc.id).status).toBe('pending_review');
    expect((await business(north.owner.token)).locks.categories).toBe(false);
  });
});
