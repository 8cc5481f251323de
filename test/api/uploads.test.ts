// Resumable uploads (tus) of job photos and documents, driven by the real tus-js-client against
// the real server on a port: whole and interrupted uploads become one byte-identical job
// artifact; a file sent twice under one client id is kept once; nothing is stored for a caller
// who may not upload to that job; others' uploads do not exist for them; size, type and
// metadata are refused with clear answers.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import sharp from 'sharp';
import { Metadata } from '@tus/server';
import request from 'supertest';
import { Upload, type DetailedError, type HttpResponse } from 'tus-js-client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { withAccountForTests as withAccount } from '../../extension/db/tenant.ts';
import { uploadRoutes } from '../../extension/uploads/routes.ts';
import { sweepUploads, uploadsDir } from '../../extension/uploads/store.ts';
import { apiAs, fetchSignedLink } from '../helpers/api.ts';
import type { TestApp } from '../helpers/app.ts';
import { inviteVendorUser, signInAgent, signInDispatcher, type SignedIn } from '../helpers/identity.ts';
import { useWorld } from '../helpers/world.ts';

const maxBytes = 3 * 1024 * 1024;
const openBytesCap = 10 * 1024 * 1024;
const world = useWorld([1, 2], { env: { ONELINK_UPLOAD_MAX_BYTES: String(maxBytes), ONELINK_UPLOAD_OPEN_MAX_BYTES: String(openBytesCap) } });
let t: TestApp;
let admin: SignedIn;
let otherAdmin: SignedIn;
let asDispatcher: ReturnType<typeof apiAs>;
let server: http.Server;
let base: string;
let north: { id: string; owner: { token: string; portalUserId: string }; tech: { token: string; portalUserId: string } };
let south: { id: string; owner: { token: string; portalUserId: string } };
let northJob: string;
let techJob: string;
let southJob: string;
let otherTenantJob: string;
let photo: Buffer;

const inAYear = () => new Date(Date.now() + 365 * 86400_000).toISOString().slice(0, 10);
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const pdf = (size: number) => Buffer.concat([Buffer.from('%PDF-1.4\n'), randomBytes(size - 9)]);

type Auth = { cookie: string } | { bearer: string } | null;
const headersFor = (auth: Auth): Record<string, string> =>
  !auth ? {} : 'cookie' in auth ? { Cookie: `onelink_session=${auth.cookie}`, 'X-Requested-With': 'onelink' } : { Authorization: `Bearer ${auth.bearer}` };

interface Sent { url: string; artifactId: string | null; response: HttpResponse }

/** One file through tus-js-client, as the portal sends it; rejects with the client's DetailedError. */
function send(file: Buffer, metadata: Record<string, string>, auth: Auth, options: { endpoint?: string; retryDelays?: number[]; chunkSize?: number; uploadDataDuringCreation?: boolean } = {}) {
  return new Promise<Sent>((resolve, reject) => {
    const upload = new Upload(file, {
      endpoint: options.endpoint ?? `${base}/api/v1/uploads`,
      headers: headersFor(auth),
      metadata,
      retryDelays: options.retryDelays ?? [],
      // Left out unless set: an explicit undefined would replace the client's defaults.
      ...(options.chunkSize ? { chunkSize: options.chunkSize } : {}),
      ...(options.uploadDataDuringCreation ? { uploadDataDuringCreation: true } : {}),
      removeFingerprintOnSuccess: true,
      onSuccess: ({ lastResponse }) => resolve({ url: upload.url!, artifactId: lastResponse.getHeader('Onelink-Artifact-Id') ?? null, response: lastResponse }),
      onError: reject,
    });
    upload.start();
  });
}

/** The status and envelope of a refused upload. */
async function refusal(sending: Promise<Sent>) {
  const err = (await sending.then(
    () => {
      throw new Error('the upload was accepted');
    },
    (e: unknown) => e,
  )) as DetailedError;
  const res = err.originalResponse;
  if (!res) throw err;
  return { status: res.getStatus(), body: JSON.parse(res.getBody()) as { error: { code: string; message: string; details: unknown } } };
}

const meta = (jobId: string, extra: Record<string, string> = {}) => ({ job_id: jobId, client_id: randomUUID(), filename: 'site.jpg', filetype: 'image/jpeg', ...extra });
const uploadFiles = () => (fs.existsSync(uploadsDir(t.config)) ? fs.readdirSync(uploadsDir(t.config)) : []);
const artifactRows = (accountId = admin.accountId) =>
  withAccount(t.db.knex, accountId, { readOnly: true }, (trx) => trx('job_artifacts').select('id', 'job_id', 'client_id', 'tag', 'taken_at', 'sha256'));
const fetchLink = (link: string) => fetchSignedLink(t, link);
async function artifactBytes(token: string, jobId: string, artifactId: string) {
  const listed = (await apiAs(t, token).get(`/jobs/${jobId}/artifacts`)).body.data as Array<Record<string, unknown>>;
  const artifact = listed.find((a) => a.id === artifactId);
  if (!artifact) throw new Error(`artifact ${artifactId} not listed`);
  return { artifact, bytes: (await fetchLink(String(artifact.url))).body as Buffer };
}
/** A tus creation request by hand (supertest), for the cases tus-js-client would not send. */
const create = (auth: Auth, headers: Record<string, string>) => {
  const req = request(server).post('/api/v1/uploads').set('Tus-Resumable', '1.0.0');
  for (const [name, value] of Object.entries({ ...headersFor(auth), ...headers })) req.set(name, value);
  return req;
};
const encode = (metadata: Record<string, string>) =>
  Object.entries(metadata)
    .map(([k, v]) => `${k} ${Buffer.from(v).toString('base64')}`)
    .join(',');

async function vendorWithPeople(name: string) {
  const vendor = (await asDispatcher.post('/vendors', { name: `${name} Roofing`, categories: ['roofing'] })).body.data;
  expect((await asDispatcher.post(`/vendors/${vendor.id}/documents`, { kind: 'insurance', expires_on: inAYear() })).status).toBe(201);
  const owner = await inviteVendorUser(t, { accountId: admin.accountId, vendorId: vendor.id, staffToken: admin.token, name: `${name} Owner` });
  return { id: vendor.id as string, owner };
}
async function jobFor(vendorId: string) {
  const job = (await asDispatcher.post('/jobs', { summary: 'Storm damage', service_category: 'roofing' })).body.data;
  expect((await asDispatcher.post(`/jobs/${job.id}/assignment`, { vendor_id: vendorId })).status).toBe(200);
  return job.id as string;
}

beforeAll(async () => {
  t = world.t;
  admin = await signInAgent(t, world.chatwoot, 1, 'administrator');
  expect((await apiAs(t, admin.token).patch('/admin/capabilities', { profile: 'construction' })).status).toBe(200);
  asDispatcher = apiAs(t, (await signInDispatcher(t, world.chatwoot, 1, admin)).token);
  const n = await vendorWithPeople('North');
  north = { ...n, tech: await inviteVendorUser(t, { accountId: admin.accountId, ownerToken: n.owner.token, name: 'North Tech' }) };
  south = await vendorWithPeople('South');
  northJob = await jobFor(north.id);
  techJob = await jobFor(north.id);
  expect((await apiAs(t, north.owner.token).put(`/portal/vendor/jobs/${techJob}/technician`, { technician_id: north.tech.portalUserId })).status).toBe(200);
  southJob = await jobFor(south.id);
  otherAdmin = await signInAgent(t, world.chatwoot, 2, 'administrator');
  expect((await apiAs(t, otherAdmin.token).patch('/admin/capabilities', { profile: 'construction' })).status).toBe(200);
  otherTenantJob = (await apiAs(t, otherAdmin.token).post('/jobs', { summary: 'Elsewhere' })).body.data.id;
  // A real photo with enough detail to weigh a few hundred KB.
  photo = await sharp({ create: { width: 900, height: 600, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 40 } } }).jpeg({ quality: 92 }).toBuffer();
  server = http.createServer(t.app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  if (!server) return;
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('resumable uploads', () => {
  it('a whole upload with the session cookie becomes one tagged job artifact with identical bytes', async () => {
    const takenAt = '2026-11-30T08:15:00.000Z';
    const metadata = meta(northJob, { tag: 'after', taken_at: takenAt, filename: 'roof after.jpg' });
    const sent = await send(photo, metadata, { cookie: north.owner.token });
    expect(sent.artifactId).toMatch(/^[0-9a-f-]{36}$/);
    expect(sent.url).toMatch(new RegExp(`^${base}/api/v1/uploads/[0-9a-f]{32}$`));

    const { artifact, bytes } = await artifactBytes(north.owner.token, northJob, sent.artifactId!);
    expect(artifact).toMatchObject({ kind: 'photo', content_type: 'image/jpeg', filename: 'roof after.jpg', size_bytes: photo.length, visibility: 'internal', tag: 'after', client_id: metadata.client_id, uploaded_by_type: 'portal_user', uploaded_by_id: north.owner.portalUserId });
    expect(new Date(String(artifact.taken_at)).toISOString()).toBe(takenAt);
    expect(artifact.thumbnail_url).toEqual(expect.any(String));
    expect(Buffer.compare(bytes, photo)).toBe(0);
    expect(artifact.sha256).toBe(sha256(photo));
    // Dispatch sees it too, with the job's story naming it.
    const detail = (await asDispatcher.get(`/jobs/${northJob}`)).body.data;
    expect(detail.events.at(-1)).toMatchObject({ kind: 'artifact_added', data: { artifact_id: sent.artifactId, filename: 'roof after.jpg', kind: 'photo', tag: 'after' } });

    // Asking again about the upload names the artifact; its bytes have left the upload folder.
    const head = await request(server).head(new URL(sent.url).pathname).set('Tus-Resumable', '1.0.0').set('Authorization', `Bearer ${north.owner.token}`);
    expect(head.status).toBe(200);
    expect(head.headers).toMatchObject({ 'upload-offset': String(photo.length), 'upload-length': String(photo.length), 'onelink-artifact-id': sent.artifactId, 'cache-control': 'no-store' });
    const id = new URL(sent.url).pathname.split('/').pop()!;
    expect(uploadFiles()).toContain(`${id}.json`);
    expect(fs.statSync(path.join(uploadsDir(t.config), id)).size).toBe(0);
    // A device that missed the last answer and sends its last PATCH again is told it is done.
    const patch = (offset: number) =>
      request(server).patch(new URL(sent.url).pathname).set({ 'Tus-Resumable': '1.0.0', 'Upload-Offset': String(offset), 'Content-Type': 'application/offset+octet-stream', 'Authorization': `Bearer ${north.owner.token}` }).send(Buffer.alloc(0));
    const again = await patch(photo.length);
    expect([again.status, again.headers['upload-offset'], again.headers['onelink-artifact-id']]).toEqual([204, String(photo.length), sent.artifactId]);
    const behind = await patch(0);
    expect([behind.status, behind.body.error.code]).toEqual([409, 'upload_finished']);
  });

  it('a file that arrived but could not be stored is stored when the device asks again, once', async () => {
    const services = t.services;
    const scan = services.scanFile;
    let failures = 0;
    services.scanFile = async (file) => {
      if (failures++ === 0) throw new Error('scanner unreachable');
      return scan(file);
    };
    try {
      const responses: Array<[string, number]> = [];
      const metadata = meta(northJob);
      const sent = await new Promise<Sent>((resolve, reject) => {
        const upload = new Upload(photo, {
          endpoint: `${base}/api/v1/uploads`,
          headers: headersFor({ cookie: north.owner.token }),
          metadata,
          retryDelays: [0],
          onAfterResponse: (req, res) => void responses.push([req.getMethod(), res.getStatus()]),
          onSuccess: ({ lastResponse }) => resolve({ url: upload.url!, artifactId: lastResponse.getHeader('Onelink-Artifact-Id') ?? null, response: lastResponse }),
          onError: reject,
        });
        upload.start();
      });
      // The PATCH that completed the bytes answered 500; the retry's HEAD stored the file and named it.
      expect(responses).toEqual([['POST', 201], ['PATCH', 500], ['HEAD', 200]]);
      expect(sent.artifactId).toBeTruthy();
      expect((await artifactRows()).filter((r) => r.client_id === metadata.client_id).map((r) => r.id)).toEqual([sent.artifactId]);
      const stored = await artifactBytes(north.owner.token, northJob, sent.artifactId!);
      expect(Buffer.compare(stored.bytes, photo)).toBe(0);
      expect(stored.artifact.sha256).toBe(sha256(photo)); // hashed again from the file
    } finally {
      services.scanFile = scan;
    }
  });

  it('a HEAD arriving while the last PATCH is still being stored waits for it and names the same artifact', async () => {
    const services = t.services;
    const scan = services.scanFile;
    let entered!: () => void;
    const storing = new Promise<void>((resolve) => (entered = resolve));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    services.scanFile = async (file) => {
      entered();
      await gate;
      return scan(file);
    };
    try {
      const metadata = meta(northJob);
      let url = '';
      const sending = new Promise<Sent>((resolve, reject) => {
        const upload = new Upload(photo, {
          endpoint: `${base}/api/v1/uploads`,
          headers: headersFor({ cookie: north.owner.token }),
          metadata,
          retryDelays: [],
          onUploadUrlAvailable: () => void (url = upload.url!),
          onSuccess: ({ lastResponse }) => resolve({ url: upload.url!, artifactId: lastResponse.getHeader('Onelink-Artifact-Id') ?? null, response: lastResponse }),
          onError: reject,
        });
        upload.start();
      });
      await storing;
      const head = request(server).head(new URL(url).pathname).set('Tus-Resumable', '1.0.0').set('Authorization', `Bearer ${north.owner.token}`).then((res) => res);
      release();
      const [sent, asked] = await Promise.all([sending, head]);
      expect(asked.status).toBe(200);
      expect(asked.headers['onelink-artifact-id']).toBe(sent.artifactId);
      expect((await artifactRows()).filter((r) => r.client_id === metadata.client_id).map((r) => r.id)).toEqual([sent.artifactId]);
    } finally {
      services.scanFile = scan;
    }
  });

  it('an upload cut off mid-PATCH resumes from the server’s offset and yields one identical artifact', async () => {
    const file = pdf(2 * 1024 * 1024);
    const cutAt = 700 * 1024;
    const proxy = await cuttingProxy(cutAt);
    try {
      const metadata = meta(northJob, { filename: 'quote.pdf', filetype: 'application/pdf' });
      const sent = await send(file, metadata, { bearer: north.owner.token }, { endpoint: `${proxy.url}/api/v1/uploads`, retryDelays: [0, 200, 1000] });
      expect(proxy.cuts).toBe(1);
      // The retry asked where to go on (HEAD), and sent only the rest.
      expect(proxy.requests).toEqual(['POST', 'PATCH 0', 'HEAD', `PATCH ${cutAt}`]);
      expect(sent.artifactId).toBeTruthy();
      const rows = (await artifactRows()).filter((r) => r.client_id === metadata.client_id);
      expect(rows.map((r) => r.id)).toEqual([sent.artifactId]);
      const { artifact, bytes } = await artifactBytes(north.owner.token, northJob, sent.artifactId!);
      expect(artifact).toMatchObject({ kind: 'document', content_type: 'application/pdf', size_bytes: file.length });
      expect(Buffer.compare(bytes, file)).toBe(0);
      // Hashed as it arrived, across both PATCHes.
      expect(artifact.sha256).toBe(sha256(file));
    } finally {
      await proxy.close();
    }
  });

  it('the same file sent twice under one client id is kept once', async () => {
    const metadata = meta(northJob);
    const first = await send(photo, metadata, { bearer: north.owner.token });
    const again = await send(photo, metadata, { cookie: north.owner.token });
    expect(again.artifactId).toBe(first.artifactId);
    expect(again.url).not.toBe(first.url);
    expect((await artifactRows()).filter((r) => r.client_id === metadata.client_id)).toHaveLength(1);
    // Two sends at once (a replayed queue beside the original): still one file.
    const racing = meta(northJob);
    const both = await Promise.all([send(photo, racing, { cookie: north.owner.token }), send(photo, racing, { cookie: north.owner.token })]);
    expect(both[0].artifactId).toBe(both[1].artifactId);
    expect((await artifactRows()).filter((r) => r.client_id === racing.client_id).map((r) => r.id)).toEqual([both[0].artifactId]);
  });

  it('takes the file in chunks, or with the creation request itself', async () => {
    const chunked = await send(photo, meta(northJob), { cookie: north.owner.token }, { chunkSize: 64 * 1024 });
    const stored = await artifactBytes(north.owner.token, northJob, chunked.artifactId!);
    expect([Buffer.compare(stored.bytes, photo), stored.artifact.sha256]).toEqual([0, sha256(photo)]);
    const atOnce = await send(photo, meta(northJob), { cookie: north.owner.token }, { uploadDataDuringCreation: true });
    expect(atOnce.response.getStatus()).toBe(201);
    expect(Buffer.compare((await artifactBytes(north.owner.token, northJob, atOnce.artifactId!)).bytes, photo)).toBe(0);
  });

  it('answers OPTIONS with what it supports, and grants no other site access', async () => {
    const res = await request(server).options('/api/v1/uploads').set('Origin', 'https://elsewhere.example').set('Access-Control-Request-Method', 'POST');
    expect(res.status).toBe(204);
    expect(res.headers).toMatchObject({ 'tus-version': '1.0.0', 'tus-max-size': String(maxBytes) });
    expect(res.headers['tus-extension']).toContain('creation');
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    expect(res.headers['access-control-allow-credentials']).toBeUndefined();
  });

  it('stores nothing without a session, and nothing on a job the caller does not see', async () => {
    const before = { files: uploadFiles().length, rows: (await artifactRows()).length };
    const anonymous = await refusal(send(photo, meta(northJob), null));
    expect([anonymous.status, anonymous.body.error.code]).toEqual([401, 'unauthorized']);
    // The cookie alone is not enough: the app header proves the request came from our pages.
    const cookieOnly = await create(null, { Cookie: `onelink_session=${north.owner.token}`, 'Upload-Length': '10', 'Upload-Metadata': encode(meta(northJob)) });
    expect(cookieOnly.status).toBe(401);
    for (const [who, token, jobId] of [
      ['another vendor’s job', south.owner.token, northJob],
      ['another account’s job', north.owner.token, otherTenantJob],
      ['a technician on a job not theirs', north.tech.token, northJob],
      ['a job that does not exist', north.owner.token, randomUUID()],
    ] as const) {
      const refused = await refusal(send(photo, meta(jobId), { cookie: token }));
      expect([who, refused.status, refused.body.error.code]).toEqual([who, 404, 'not_found']);
    }
    expect(uploadFiles().length).toBe(before.files);
    expect((await artifactRows()).length).toBe(before.rows);
    // The technician's own job takes their photos.
    expect((await send(photo, meta(techJob), { cookie: north.tech.token })).artifactId).toBeTruthy();
    // Staff upload the same way, with their bearer token.
    expect((await send(photo, meta(southJob), { bearer: admin.token })).artifactId).toBeTruthy();
  });

  it('an upload is reachable only by the person who created it', async () => {
    const created = await create({ bearer: north.owner.token }, { 'Upload-Length': String(photo.length), 'Upload-Metadata': encode(meta(northJob)) });
    expect(created.status).toBe(201);
    expect(created.headers.location).toMatch(/^\/api\/v1\/uploads\/[0-9a-f]{32}$/);
    const at = created.headers.location as string;
    const id = at.split('/').pop()!;
    const as = (token: string, method: 'head' | 'get' | 'delete' | 'patch') => {
      const req = request(server)[method](at).set('Tus-Resumable', '1.0.0').set('Authorization', `Bearer ${token}`);
      return method === 'patch' ? req.set('Upload-Offset', '0').set('Content-Type', 'application/offset+octet-stream').send(photo) : req;
    };
    for (const token of [south.owner.token, north.tech.token, admin.token]) {
      for (const method of ['head', 'get', 'delete', 'patch'] as const) {
        const res = await as(token, method);
        expect([method, res.status]).toEqual([method, 404]);
      }
    }
    expect(fs.statSync(path.join(uploadsDir(t.config), id)).size).toBe(0);
    // The owner: HEAD shows the progress, GET does not serve bytes back, DELETE drops the upload.
    const head = await as(north.owner.token, 'head');
    expect([head.status, head.headers['upload-offset'], head.headers['upload-length']]).toEqual([200, '0', String(photo.length)]);
    // The metadata comes back as sent, without what the server keeps for itself.
    expect(Object.keys(Metadata.parse(head.headers['upload-metadata'])).sort()).toEqual(['client_id', 'filename', 'filetype', 'job_id']);
    const get = await as(north.owner.token, 'get');
    expect([get.status, get.body.error.code]).toEqual([405, 'method_not_allowed']);
    expect((await as(north.owner.token, 'delete')).status).toBe(204);
    expect(uploadFiles().filter((f) => f.startsWith(id))).toEqual([]);
    expect((await as(north.owner.token, 'head')).status).toBe(404);
  });

  it('refuses files over the limit (413), types not accepted (415) and bad metadata (400), keeping nothing', async () => {
    const rowsBefore = (await artifactRows()).length;
    const filesBefore = uploadFiles().length;
    const tooBig = await refusal(send(pdf(maxBytes + 1), meta(northJob), { cookie: north.owner.token }));
    expect([tooBig.status, tooBig.body.error.code, tooBig.body.error.details]).toEqual([413, 'file_too_large', { max_bytes: maxBytes }]);

    // An HTML page named like a photo: the bytes are read once they have all arrived.
    const html = Buffer.from('<html><script>alert(1)</script></html>'.padEnd(6000, ' '));
    const wrongType = await refusal(send(html, meta(northJob, { filename: 'holiday.jpg' }), { cookie: north.owner.token }));
    expect([wrongType.status, wrongType.body.error.code]).toEqual([415, 'file_type_not_allowed']);

    const bad = async (metadata: Record<string, string>) => refusal(send(photo, metadata, { cookie: north.owner.token }));
    const noClientId = await bad({ job_id: northJob, filename: 'a.jpg' });
    expect([noClientId.status, noClientId.body.error.code]).toEqual([400, 'invalid_upload_metadata']);
    expect(noClientId.body.error.message).toContain('client_id must be a UUID the device made for this file');
    const many = await bad({ job_id: 'job-1', client_id: randomUUID(), tag: 'After!', taken_at: 'yesterday' });
    expect(many.status).toBe(400);
    expect((many.body.error.details as { fields: Array<{ path: string }> }).fields.map((f) => f.path).sort()).toEqual(['metadata.job_id', 'metadata.tag', 'metadata.taken_at']);
    const malformed = await create({ bearer: north.owner.token }, { 'Upload-Length': '100', 'Upload-Metadata': 'job_id not-base64!' });
    expect([malformed.status, malformed.body.error.code]).toEqual([400, 'invalid_upload_metadata']);
    const deferred = await create({ bearer: north.owner.token }, { 'Upload-Defer-Length': '1', 'Upload-Metadata': encode(meta(northJob)) });
    expect([deferred.status, deferred.body.error.code]).toEqual([400, 'upload_length_required']);
    const empty = await create({ bearer: north.owner.token }, { 'Upload-Length': '0', 'Upload-Metadata': encode(meta(northJob)) });
    expect([empty.status, empty.body.error.code]).toEqual([400, 'empty_file']);

    expect((await artifactRows()).length).toBe(rowsBefore);
    expect(uploadFiles().length).toBe(filesBefore);
  });

  it('sweeps uploads a day after they were created, finished or not', async () => {
    const unfinished = await create({ bearer: north.owner.token }, { 'Upload-Length': '5000', 'Upload-Metadata': encode(meta(northJob)) });
    expect(unfinished.status).toBe(201);
    expect(uploadFiles().length).toBeGreaterThan(0);
    expect(await sweepUploads(uploadsDir(t.config))).toBe(0);
    await sweepUploads(uploadsDir(t.config), Date.now() + 25 * 3600_000);
    expect(uploadFiles()).toEqual([]);
  });

  it('an upload is named by its path alone: a query naming someone else’s upload is refused and reaches nothing', async () => {
    // The victim: an upload in another account, with some bytes already in.
    const victim = await create({ bearer: otherAdmin.token }, { 'Upload-Length': String(photo.length), 'Upload-Metadata': encode(meta(otherTenantJob)) });
    expect(victim.status).toBe(201);
    const victimAt = victim.headers.location as string;
    const victimId = victimAt.split('/').pop()!;
    const tus = (token: string, method: 'head' | 'patch' | 'delete', url: string) => request(server)[method](url).set('Tus-Resumable', '1.0.0').set('Authorization', `Bearer ${token}`);
    const patch = (token: string, url: string, offset: number, body: Buffer) => tus(token, 'patch', url).set('Upload-Offset', String(offset)).set('Content-Type', 'application/offset+octet-stream').send(body);
    expect((await patch(otherAdmin.token, victimAt, 0, photo.subarray(0, 1000))).status).toBe(204);
    const victimState = async () => {
      const res = await tus(otherAdmin.token, 'head', victimAt);
      return [res.status, res.headers['upload-offset']];
    };
    expect(await victimState()).toEqual([200, '1000']);

    const own = await create({ bearer: north.owner.token }, { 'Upload-Length': String(photo.length), 'Upload-Metadata': encode(meta(northJob)) });
    expect(own.status).toBe(201);
    const ownAt = own.headers.location as string;
    for (const attack of [`${ownAt}?/${victimId}`, `${ownAt}?x=/${victimId}`, `${ownAt}?/${victimId}/`]) {
      const patched = await patch(north.owner.token, attack, 1000, photo.subarray(1000, 2000));
      expect([attack, patched.status, patched.body.error?.code]).toEqual([attack, 400, 'query_not_allowed']);
      const head = await tus(north.owner.token, 'head', attack);
      expect([attack, head.status, head.headers['upload-offset'], head.headers['upload-metadata']]).toEqual([attack, 400, undefined, undefined]);
      expect([attack, (await tus(north.owner.token, 'delete', attack)).status]).toEqual([attack, 400]);
    }
    // Paths that only look like an upload: nothing there.
    for (const path of [`${ownAt}/${victimId}`, `${ownAt}%2F..%2F${victimId}`, `${ownAt}%3F%2F${victimId}`]) {
      expect([path, (await tus(north.owner.token, 'head', path)).status]).toEqual([path, 404]);
      expect([path, (await tus(north.owner.token, 'delete', path)).status]).toEqual([path, 404]);
      expect([path, (await patch(north.owner.token, path, 1000, photo.subarray(1000, 2000))).status]).toEqual([path, 404]);
    }
    // The victim's upload is as it was, and goes on.
    expect(await victimState()).toEqual([200, '1000']);
    expect(fs.statSync(path.join(uploadsDir(t.config), victimId)).size).toBe(1000);
    expect((await patch(otherAdmin.token, victimAt, 1000, photo.subarray(1000, 2000))).status).toBe(204);
    // The attacker's own upload was not touched either.
    expect((await tus(north.owner.token, 'head', ownAt)).headers['upload-offset']).toBe('0');
    expect((await tus(north.owner.token, 'delete', ownAt)).status).toBe(204);
    expect((await tus(otherAdmin.token, 'delete', victimAt)).status).toBe(204);
  });

  it('caps the uploads a person keeps open (20) and the bytes an account has in flight, with a 429 saying so', async () => {
    const open = (token: string, jobId: string, size: number) => create({ bearer: token }, { 'Upload-Length': String(size), 'Upload-Metadata': encode(meta(jobId)) });
    const drop = (token: string, at: string) => request(server).delete(at).set('Tus-Resumable', '1.0.0').set('Authorization', `Bearer ${token}`);
    const techOpen: string[] = [];
    for (let i = 0; i < 20; i++) {
      const res = await open(north.tech.token, techJob, 1000);
      expect(res.status).toBe(201);
      techOpen.push(res.headers.location as string);
    }
    const tooMany = await open(north.tech.token, techJob, 1000);
    expect([tooMany.status, tooMany.body.error.code, tooMany.body.error.details]).toEqual([429, 'too_many_open_uploads', { max_open_uploads: 20 }]);
    expect(tooMany.body.error.message).toContain('20 unfinished uploads');
    // Whole files through the portal's client are refused the same way.
    const viaClient = await refusal(send(photo, meta(techJob), { cookie: north.tech.token }));
    expect([viaClient.status, viaClient.body.error.code]).toEqual([429, 'too_many_open_uploads']);
    // Someone else in the same vendor is not held back by it.
    expect((await send(photo, meta(northJob), { cookie: north.owner.token })).artifactId).toBeTruthy();
    // Removing one frees a place; a finished upload no longer counts.
    expect((await drop(north.tech.token, techOpen.shift()!)).status).toBe(204);
    expect((await send(photo, meta(techJob), { cookie: north.tech.token })).artifactId).toBeTruthy();
    const last = await open(north.tech.token, techJob, 1000);
    expect(last.status).toBe(201);
    techOpen.push(last.headers.location as string);
    expect((await open(north.tech.token, techJob, 1000)).status).toBe(429);
    for (const at of techOpen) expect((await drop(north.tech.token, at)).status).toBe(204);

    // Bytes: what the account's unfinished uploads declared, whoever started them.
    const accountOpen: Array<[string, string]> = [];
    for (let i = 0; i < 3; i++) {
      const res = await open(north.owner.token, northJob, maxBytes);
      expect(res.status).toBe(201);
      accountOpen.push([north.owner.token, res.headers.location as string]);
    }
    const room = openBytesCap - 3 * maxBytes;
    const full = await open(south.owner.token, southJob, room + 1);
    expect([full.status, full.body.error.code, full.body.error.details]).toEqual([429, 'uploads_space_full', { max_open_bytes: openBytesCap }]);
    const fits = await open(south.owner.token, southJob, room);
    expect(fits.status).toBe(201);
    accountOpen.push([south.owner.token, fits.headers.location as string]);
    expect((await open(admin.token, southJob, 1)).status).toBe(429);
    // Another account has its own room.
    const elsewhere = await open(otherAdmin.token, otherTenantJob, maxBytes);
    expect(elsewhere.status).toBe(201);
    accountOpen.push([otherAdmin.token, elsewhere.headers.location as string]);
    // Room comes back as uploads go.
    expect((await drop(...accountOpen.shift()!)).status).toBe(204);
    expect((await send(photo, meta(southJob), { bearer: admin.token })).artifactId).toBeTruthy();
    for (const [token, at] of accountOpen) expect((await drop(token, at)).status).toBe(204);
  });

  it('refuses a file whose first bytes are not an accepted type as soon as they have arrived, keeping nothing', async () => {
    const page = Buffer.from('<!doctype html><html><body><script>alert(1)</script>'.padEnd(512 * 1024, ' '));
    const created = await create({ bearer: north.owner.token }, { 'Upload-Length': String(page.length), 'Upload-Metadata': encode(meta(northJob, { filename: 'roof.jpg' })) });
    expect(created.status).toBe(201);
    const at = created.headers.location as string;
    const id = at.split('/').pop()!;
    const patch = (offset: number, body: Buffer) =>
      request(server).patch(at).set({ 'Tus-Resumable': '1.0.0', 'Upload-Offset': String(offset), 'Content-Type': 'application/offset+octet-stream', Authorization: `Bearer ${north.owner.token}` }).send(body);
    // Too few bytes to tell yet.
    expect((await patch(0, page.subarray(0, 1000))).status).toBe(204);
    // The chunk that completes the bytes the type is read from: refused, the upload gone.
    const refused = await patch(1000, page.subarray(1000, 64 * 1024));
    expect([refused.status, JSON.parse(refused.text).error.code]).toEqual([415, 'file_type_not_allowed']);
    expect(uploadFiles().filter((f) => f.startsWith(id))).toEqual([]);
    const head = await request(server).head(at).set('Tus-Resumable', '1.0.0').set('Authorization', `Bearer ${north.owner.token}`);
    expect(head.status).toBe(404);
  });

  it('sweeps old uploads on a timer too, without anyone creating one', async () => {
    const created = await create({ bearer: north.owner.token }, { 'Upload-Length': '5000', 'Upload-Metadata': encode(meta(northJob)) });
    expect(created.status).toBe(201);
    const id = (created.headers.location as string).split('/').pop()!;
    // Two days old.
    const recordFile = path.join(uploadsDir(t.config), `${id}.json`);
    const record = JSON.parse(fs.readFileSync(recordFile, 'utf8')) as { creation_date: string };
    fs.writeFileSync(recordFile, JSON.stringify({ ...record, creation_date: new Date(Date.now() - 48 * 3600_000).toISOString() }));
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const uploads = uploadRoutes(t.services, async () => {
      throw new Error('no requests here');
    });
    try {
      expect(uploadFiles().filter((f) => f.startsWith(id))).toHaveLength(2);
      vi.advanceTimersByTime(3600_000);
      await vi.waitFor(() => expect(uploadFiles().filter((f) => f.startsWith(id))).toEqual([]));
    } finally {
      uploads.stop();
      vi.useRealTimers();
    }
  });
});

/**
 * A proxy in front of the server that cuts the first PATCH off once `cutAt` bytes of its body
 * have reached the server's upload file, as a phone losing signal would; everything else passes.
 */
async function cuttingProxy(cutAt: number) {
  const state = { cuts: 0, requests: [] as string[] };
  const target = (server.address() as AddressInfo).port;
  const proxy = http.createServer((req, res) => {
    state.requests.push(req.method === 'PATCH' ? `PATCH ${req.headers['upload-offset']}` : String(req.method));
    const upstream = http.request({ host: '127.0.0.1', port: target, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode!, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    if (req.method !== 'PATCH' || state.cuts > 0) {
      req.pipe(upstream);
      return;
    }
    state.cuts++;
    const file = path.join(uploadsDir(t.config), String(req.url).split('/').pop()!);
    let forwarded = 0;
    req.on('data', (chunk: Buffer) => {
      if (forwarded >= cutAt) return;
      const part = chunk.subarray(0, cutAt - forwarded);
      forwarded += part.length;
      upstream.write(part);
      if (forwarded < cutAt) return;
      req.pause();
      void (async () => {
        // Wait until the server has written every forwarded byte, then drop both connections.
        for (let i = 0; i < 200 && (fs.statSync(file, { throwIfNoEntry: false })?.size ?? 0) < cutAt; i++) await new Promise((r) => setTimeout(r, 25));
        upstream.destroy();
        req.socket.destroy();
      })();
    });
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    get cuts() {
      return state.cuts;
    },
    requests: state.requests,
    close: () => {
      proxy.closeAllConnections();
      return new Promise((resolve) => proxy.close(resolve));
    },
  };
}
