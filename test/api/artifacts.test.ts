import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import request from 'supertest';
import { beforeAll, describe, expect, it } from 'vitest';
import { withAccountForTests as withAccount } from '../../extension/db/tenant.ts';
import { createUrlSigner } from '../../extension/security/crypto.ts';
import type { FakeChatwoot } from '../fakes/chatwoot.ts';
import { apiAs, fetchSignedLink } from '../helpers/api.ts';
import type { TestApp } from '../helpers/app.ts';
import { createClientPortalSession, createVendorPortalSession, signInAgent, signInDispatcher, type SignedIn } from '../helpers/identity.ts';
import { useWorld } from '../helpers/world.ts';
import { storedFiles as storedFilesOf } from '../helpers/stored-files.ts';

const world = useWorld([1], { env: { ONELINK_UPLOAD_MAX_MB: '1' } });
let t: TestApp;
let chatwoot: FakeChatwoot;
let admin: SignedIn;
let agent: SignedIn;
let asAgent: ReturnType<typeof apiAs>;
let asDispatcher: ReturnType<typeof apiAs>;
let jobId: string;
let photo: Buffer;

const upload = (token: string, job: string, file: Buffer, name: string, visibility?: string) =>
  request(t.app)
    .post(`/api/v1/jobs/${job}/artifacts${visibility ? `?visibility=${visibility}` : ''}`)
    .set('Authorization', `Bearer ${token}`)
    .attach('file', file, name);
const storedFiles = () => storedFilesOf(t);
const artifactRows = () => withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) => trx('job_artifacts').select('id', 'deleted_at'));
const fetchLink = (link: string) => fetchSignedLink(t, link);

beforeAll(async () => {
  ({ t, chatwoot } = world);
  admin = await signInAgent(t, chatwoot, 1, 'administrator');
  await apiAs(t, admin.token).patch('/admin/capabilities', { profile: 'construction' });
  agent = await signInAgent(t, chatwoot, 1, 'agent');
  asAgent = apiAs(t, agent.token);
  asDispatcher = apiAs(t, (await signInDispatcher(t, chatwoot, 1, admin)).token);
  jobId = (await asAgent.post('/jobs', { summary: 'Cracked tile', chatwoot_contact_id: 8100 })).body.data.id;
  // A real photo, taken "sideways": EXIF orientation 6 means the viewer turns it 90°.
  photo = await sharp({ create: { width: 1200, height: 800, channels: 3, background: '#c0392b' } }).jpeg().withMetadata({ orientation: 6 }).toBuffer();
});

describe('uploading job files', () => {
  it('stores a photo with its sniffed type, a thumbnail and signed links; the job’s story records it', async () => {
    const res = await upload(agent.token, jobId, photo, 'site photo.jpg');
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.data).toMatchObject({ kind: 'photo', content_type: 'image/jpeg', filename: 'site photo.jpg', size_bytes: photo.length, width: 800, height: 1200, visibility: 'internal', scan_status: 'not_scanned' });
    expect(res.body.data.storage_key).toBeUndefined();

    const original = await fetchLink(res.body.data.url);
    expect(original.status).toBe(200);
    expect(original.headers['content-type']).toBe('image/jpeg');
    expect(original.headers['content-security-policy']).toContain('sandbox');
    expect(Buffer.compare(original.body as Buffer, photo)).toBe(0);
    const thumb = await fetchLink(res.body.data.thumbnail_url);
    expect(thumb.headers['content-type']).toBe('image/webp');
    const meta = await sharp(thumb.body as Buffer).metadata();
    expect([meta.width, meta.height]).toEqual([320, 480]); // turned upright, within 480 px

    const detail = (await asAgent.get(`/jobs/${jobId}`)).body.data;
    expect(detail.artifacts.map((a: { id: string }) => a.id)).toEqual([res.body.data.id]);
    expect(detail.events.at(-1)).toMatchObject({ kind: 'artifact_added', data: { filename: 'site photo.jpg', kind: 'photo' } });
  });

  it('types a document by its content: a PDF is kept without a preview and shown inline', async () => {
    const pdf = Buffer.from('%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n');
    const res = await upload(agent.token, jobId, pdf, 'quote.bin', 'client_visible');
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.data).toMatchObject({ kind: 'document', content_type: 'application/pdf', thumbnail_url: null, visibility: 'client_visible' });
    const file = await fetchLink(res.body.data.url);
    expect(file.headers['content-disposition']).toBe(`inline; filename="quote.bin"; filename*=UTF-8''quote.bin`);
  });

  it('refuses wrong types, oversized, empty, damaged and non-multipart uploads before keeping anything', async () => {
    const rowsBefore = (await artifactRows()).length;
    const filesBefore = (await storedFiles()).length;
    const html = Buffer.from('<html><script>alert(1)</script></html>'.padEnd(5000, ' '));
    const disguised = await upload(agent.token, jobId, html, 'holiday.jpg');
    expect([disguised.status, disguised.body.error.code]).toEqual([415, 'file_type_not_allowed']);
    const exe = Buffer.concat([Buffer.from('MZ'), Buffer.alloc(6000, 1)]);
    expect((await upload(agent.token, jobId, exe, 'invoice.pdf')).status).toBe(415);
    const huge = Buffer.concat([photo.subarray(0, 64), Buffer.alloc(1.5 * 1024 * 1024, 7)]);
    const tooBig = await upload(agent.token, jobId, huge, 'huge.jpg');
    expect([tooBig.status, tooBig.body.error.code]).toEqual([413, 'file_too_large']);
    expect((await upload(agent.token, jobId, Buffer.alloc(0), 'empty.jpg')).body.error.code).toBe('empty_file');
    const damaged = Buffer.concat([photo.subarray(0, 200), Buffer.alloc(5000, 0)]);
    expect((await upload(agent.token, jobId, damaged, 'damaged.jpg')).body.error.code).toBe('unreadable_image');
    const json = await asAgent.post(`/jobs/${jobId}/artifacts`, { file: 'base64…' });
    expect([json.status, json.body.error.code]).toEqual([415, 'unsupported_media_type']);
    const noFile = await request(t.app).post(`/api/v1/jobs/${jobId}/artifacts`).set('Authorization', `Bearer ${agent.token}`).field('note', 'forgot the file');
    expect([noFile.status, noFile.body.error.code]).toEqual([400, 'file_required']);
    expect((await upload(agent.token, jobId, photo, 'x.jpg', 'public')).status).toBe(422);
    expect((await artifactRows()).length).toBe(rowsBefore);
    expect((await storedFiles()).length).toBe(filesBefore);
  });

  it('leaves nothing behind when a multipart body is cut off', async () => {
    const incoming = path.join(t.config.filesDir, '.incoming');
    const boundary = 'cut-off-boundary';
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="cut.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`),
      photo, // and no closing boundary
    ]);
    const res = await request(t.app)
      .post(`/api/v1/jobs/${jobId}/artifacts`)
      .set('Authorization', `Bearer ${agent.token}`)
      .set('Content-Type', `multipart/form-data; boundary=${boundary}`)
      .send(body);
    expect(res.status).toBe(400);
    expect(fs.existsSync(incoming) ? fs.readdirSync(incoming) : []).toEqual([]);
  });

  it('lets the virus-scan hook refuse a file', async () => {
    const scan = t.services.scanFile;
    t.services.scanFile = async () => 'infected';
    try {
      const res = await upload(agent.token, jobId, photo, 'eicar.jpg');
      expect([res.status, res.body.error.code]).toEqual([422, 'file_rejected']);
    } finally {
      t.services.scanFile = scan;
    }
  });
});

describe('who sees which files', () => {
  it('shows clients only client-visible files, lets the job’s vendor upload, and keeps other vendors out', async () => {
    const vendor = (await asDispatcher.post('/vendors', { name: 'Tile Fixers' })).body.data;
    const other = (await asDispatcher.post('/vendors', { name: 'Other Crew' })).body.data;
    await asDispatcher.post(`/jobs/${jobId}/assignment`, { vendor_id: vendor.id, compliance_override_reason: 'Paperwork in the post' });
    const crew = await createVendorPortalSession(t, admin.accountId, vendor.id);
    const stranger = await createVendorPortalSession(t, admin.accountId, other.id);
    expect((await upload(crew.token, jobId, photo, 'after.jpg', 'client_visible')).status).toBe(403); // staff decide what the client sees
    const crewPhoto = (await upload(crew.token, jobId, photo, 'after.jpg')).body.data;
    expect(crewPhoto.visibility).toBe('internal');
    await asAgent.patch(`/jobs/${jobId}/artifacts/${crewPhoto.id}`, { visibility: 'client_visible' });
    expect((await upload(stranger.token, jobId, photo, 'sneaky.jpg')).status).toBe(404);

    const client = await createClientPortalSession(t, agent, 8100);
    const seen = (await apiAs(t, client.token).get(`/jobs/${jobId}/artifacts`)).body.data;
    expect(seen.map((a: { filename: string }) => a.filename).sort()).toEqual(['after.jpg', 'quote.bin']);
    expect((await apiAs(t, client.token).get(`/jobs/${jobId}`)).body.data.artifacts).toHaveLength(2);
    expect((await upload(client.token, jobId, photo, 'client.jpg')).status).toBe(403);
    const staff = (await asAgent.get(`/jobs/${jobId}/artifacts`)).body.data;
    expect(staff.length).toBeGreaterThan(seen.length);

    const internal = staff.find((a: { visibility: string }) => a.visibility === 'internal');
    expect((await asAgent.patch(`/jobs/${jobId}/artifacts/${internal.id}`, { visibility: 'client_visible' })).body.data.visibility).toBe('client_visible');
    expect((await apiAs(t, client.token).get(`/jobs/${jobId}/artifacts`)).body.data).toHaveLength(3);
  });

  it('serves files only through valid, unexpired, untampered links; deleting removes the bytes', async () => {
    const created = (await upload(agent.token, jobId, photo, 'to-delete.jpg')).body.data;
    const token = new URL(created.url, 'http://x').searchParams.get('token')!;
    const [payload, signature] = token.split('.');
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload!, 'base64url').toString()), i: '00000000-0000-4000-8000-000000000000' })).toString('base64url');
    expect((await fetchLink(`/api/v1/artifacts/content?token=${forged}.${signature}`)).status).toBe(404);
    const signer = createUrlSigner(Buffer.from(t.config.ONELINK_ENCRYPTION_KEY!, 'base64'));
    expect(signer.verify(token, new Date(Date.now() + 2 * 3600_000))).toBeNull();
    expect(signer.verify(token)).toMatchObject({ i: created.id, v: 'original' });
    const otherKey = createUrlSigner(Buffer.alloc(32, 9)).sign({ a: admin.accountId, i: created.id, v: 'original' }, new Date(Date.now() + 60_000));
    expect((await fetchLink(`/api/v1/artifacts/content?token=${otherKey}`)).status).toBe(404);

    const filesBefore = (await storedFiles()).length;
    expect((await asAgent.delete(`/jobs/${jobId}/artifacts/${created.id}`)).status).toBe(200);
    expect((await storedFiles()).length).toBe(filesBefore - 2); // original and thumbnail
    expect((await fetchLink(created.url)).status).toBe(404);
    expect((await asAgent.get(`/jobs/${jobId}`)).body.data.events.at(-1)).toMatchObject({ kind: 'artifact_removed', data: { filename: 'to-delete.jpg' } });
  });
});
