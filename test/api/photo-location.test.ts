// Where a photo was taken: the account's "keep where photos were taken" setting (off by default,
// changed by dispatch configuration only) decides whether the position a phone sends beside a
// photo (tus metadata taken_lat / taken_lng / taken_accuracy_m) is kept; staff read it back with
// the job's files, portal users never do; positions out of range are refused before any byte.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import request from 'supertest';
import { Upload } from 'tus-js-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withAccountForTests as withAccount } from '../../extension/db/tenant.ts';
import { apiAs } from '../helpers/api.ts';
import type { TestApp } from '../helpers/app.ts';
import { inviteVendorUser, signInAgent, signInDispatcher, type SignedIn } from '../helpers/identity.ts';
import { useWorld } from '../helpers/world.ts';

const world = useWorld([1]);
let t: TestApp;
let admin: SignedIn;
let asDispatcher: ReturnType<typeof apiAs>;
let asOwner: ReturnType<typeof apiAs>;
let owner: { token: string; portalUserId: string };
let jobId: string;
let photo: Buffer;
let server: http.Server;
let base: string;

const inAYear = () => new Date(Date.now() + 365 * 86400_000).toISOString().slice(0, 10);
const where = { taken_lat: '48.8583701', taken_lng: '2.2944813', taken_accuracy_m: '6.5' };

/** One photo through tus-js-client with the portal's session cookie; answers the artifact id. */
function send(metadata: Record<string, string>) {
  return new Promise<string>((resolve, reject) => {
    const upload = new Upload(photo, {
      endpoint: `${base}/api/v1/uploads`,
      headers: { Cookie: `onelink_session=${owner.token}`, 'X-Requested-With': 'onelink' },
      metadata: { job_id: jobId, client_id: randomUUID(), filename: 'meter.jpg', filetype: 'image/jpeg', ...metadata },
      retryDelays: [],
      onSuccess: ({ lastResponse }) => resolve(lastResponse.getHeader('Onelink-Artifact-Id') ?? ''),
      onError: reject,
    });
    upload.start();
  });
}

/** A creation request by hand: the answer to bad metadata, before any byte is sent. */
function create(metadata: Record<string, string>) {
  const encoded = Object.entries({ job_id: jobId, client_id: randomUUID(), filename: 'meter.jpg', ...metadata })
    .map(([k, v]) => `${k} ${Buffer.from(v).toString('base64')}`)
    .join(',');
  return request(server)
    .post('/api/v1/uploads')
    .set({ 'Tus-Resumable': '1.0.0', 'Upload-Length': String(photo.length), 'Upload-Metadata': encoded, Cookie: `onelink_session=${owner.token}`, 'X-Requested-With': 'onelink' });
}

const storedRow = (id: string) =>
  withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) => trx('job_artifacts').where({ id }).first('taken_lat', 'taken_lng', 'taken_accuracy_m'));
const staffListed = async (id: string) => ((await asDispatcher.get(`/jobs/${jobId}/artifacts`)).body.data as Array<Record<string, unknown>>).find((a) => a.id === id)!;

beforeAll(async () => {
  t = world.t;
  admin = await signInAgent(t, world.chatwoot, 1, 'administrator');
  expect((await apiAs(t, admin.token).patch('/admin/capabilities', { profile: 'construction' })).status).toBe(200);
  asDispatcher = apiAs(t, (await signInDispatcher(t, world.chatwoot, 1, admin)).token);
  const vendor = (await asDispatcher.post('/vendors', { name: 'Meter Works', categories: ['roofing'] })).body.data;
  expect((await asDispatcher.post(`/vendors/${vendor.id}/documents`, { kind: 'insurance', expires_on: inAYear() })).status).toBe(201);
  owner = await inviteVendorUser(t, { accountId: admin.accountId, vendorId: vendor.id, staffToken: admin.token, name: 'Meter Owner' });
  asOwner = apiAs(t, owner.token);
  jobId = (await asDispatcher.post('/jobs', { summary: 'Read the meter', service_category: 'roofing' })).body.data.id;
  expect((await asDispatcher.post(`/jobs/${jobId}/assignment`, { vendor_id: vendor.id })).status).toBe(200);
  photo = await sharp({ create: { width: 320, height: 240, channels: 3, background: '#4a6b8a' } }).jpeg().toBuffer();
  server = http.createServer(t.app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  if (!server) return;
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('keep where photos were taken', () => {
  it('is off by default: a position sent beside a photo is not kept', async () => {
    expect((await asDispatcher.get('/dispatch/settings')).body.data.keep_photo_location).toBe(false);
    expect((await asOwner.get(`/portal/vendor/jobs/${jobId}`)).body.data.keep_photo_location).toBe(false);
    const id = await send(where);
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(await storedRow(id)).toEqual({ taken_lat: null, taken_lng: null, taken_accuracy_m: null });
    expect(await staffListed(id)).toMatchObject({ taken_lat: null, taken_lng: null, taken_accuracy_m: null });
  });

  it('vendors cannot change it', async () => {
    const refused = await asOwner.patch('/dispatch/settings', { keep_photo_location: true });
    expect(refused.status).toBe(403);
    expect((await asDispatcher.get('/dispatch/settings')).body.data.keep_photo_location).toBe(false);
  });

  it('when on, the position is kept, staff read it, the vendor is told and never reads it back', async () => {
    const set = await asDispatcher.patch('/dispatch/settings', { keep_photo_location: true });
    expect(set.status).toBe(200);
    expect(set.body.data).toMatchObject({ keep_photo_location: true, sla_warning_minutes: expect.any(Number) });
    // The change is audited like any other dispatch setting.
    const audited = await withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) =>
      trx('audit_events').where({ action: 'dispatch_settings.updated' }).orderBy('id', 'desc').first('before', 'after'),
    );
    expect([audited?.before.keep_photo_location, audited?.after.keep_photo_location]).toEqual([false, true]);
    expect((await asOwner.get(`/portal/vendor/jobs/${jobId}`)).body.data.keep_photo_location).toBe(true);

    const id = await send(where);
    expect(await storedRow(id)).toEqual({ taken_lat: 48.8583701, taken_lng: 2.2944813, taken_accuracy_m: 6.5 });
    expect(await staffListed(id)).toMatchObject({ taken_lat: 48.8583701, taken_lng: 2.2944813, taken_accuracy_m: 6.5 });
    // A position without an accuracy is kept as it is.
    const plain = await send({ taken_lat: '-33.8567844', taken_lng: '151.213108' });
    expect(await staffListed(plain)).toMatchObject({ taken_lat: -33.8567844, taken_lng: 151.213108, taken_accuracy_m: null });
    // A photo sent without a position has none.
    const none = await send({});
    expect(await staffListed(none)).toMatchObject({ taken_lat: null, taken_lng: null });
    // The vendor's own listing of the job's files carries no position.
    const vendorListed = ((await asOwner.get(`/jobs/${jobId}/artifacts`)).body.data as Array<Record<string, unknown>>).find((a) => a.id === id);
    expect(vendorListed).toBeDefined();
    expect(vendorListed).not.toHaveProperty('taken_lat');
    expect(vendorListed).not.toHaveProperty('taken_lng');

    // Off again: the next photo's position is dropped.
    expect((await asDispatcher.patch('/dispatch/settings', { keep_photo_location: false })).status).toBe(200);
    const later = await send(where);
    expect(await storedRow(later)).toEqual({ taken_lat: null, taken_lng: null, taken_accuracy_m: null });
  });

  it('refuses positions out of range or half given, before anything is stored', async () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ taken_lat: '91', taken_lng: '10' }, 'taken_lat'],
      [{ taken_lat: '45', taken_lng: '-180.5' }, 'taken_lng'],
      [{ taken_lat: 'north', taken_lng: '10' }, 'taken_lat'],
      [{ taken_lat: '1e2', taken_lng: '10' }, 'taken_lat'],
      [{ taken_lat: '45' }, 'taken_lat'],
      [{ taken_lng: '10' }, 'taken_lat'],
      [{ taken_accuracy_m: '5' }, 'taken_accuracy_m'],
      [{ ...where, taken_accuracy_m: '-1' }, 'taken_accuracy_m'],
    ];
    for (const [metadata, field] of cases) {
      const res = await create(metadata);
      expect([res.status, res.body.error?.code], JSON.stringify(metadata)).toEqual([400, 'invalid_upload_metadata']);
      expect(res.body.error.details.fields.map((f: { path: string }) => f.path), JSON.stringify(metadata)).toContain(`metadata.${field}`);
    }
    const staff = (await asDispatcher.get(`/jobs/${jobId}/artifacts`)).body.data as unknown[];
    expect(staff).toHaveLength(5); // the photos of the tests above, no more
  });
});
