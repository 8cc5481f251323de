// Resumable uploads (tus 1.0.0: creation, resumption, termination) of job photos and documents,
// mounted at /api/v1/uploads ahead of the JSON API. Our checks run as Express middleware before
// tus sees the request, so nothing is stored for a caller who may not: the caller is signed in
// (session cookie with X-Requested-With: onelink, or a bearer token) and holds jobs:attach with
// dispatch on, the job is one they see, and an upload is only ever reached again by the person
// who created it (owner kept in its metadata). tus then receives the bytes; once complete they
// become a job artifact (finish.ts) and every answer about that upload names it in
// Onelink-Artifact-Id.
//
// An upload is named by the path alone: a request with a query string is refused, and tus reads
// the id from the path with the same rule the ownership check uses (by default it takes the last
// "/…" of the whole URL, query included, which let `/<own id>?/<other id>` reach another upload).
// Disk use is bounded: a person keeps at most 20 unfinished uploads, an account at most
// ONELINK_UPLOAD_OPEN_MAX_BYTES in flight (429 beyond), a file's type is read as soon as its first
// bytes are in (415, the upload removed), and old uploads are swept every hour.
import type { IncomingMessage } from 'node:http';
import { Server, TUS_RESUMABLE, type Upload } from '@tus/server';
import cookieParser from 'cookie-parser';
import express, { type Request as ExpressRequest, type Response } from 'express';
import type { RequestContext } from '../context.ts';
import { read } from '../db/tenant.ts';
import { ConflictError } from '../errors.ts';
import { HttpError, badRequest, notFound } from '../http/errors.ts';
import { defineRoute, toExpressHandlers, type Authenticate } from '../http/registry.ts';
import { artifactIdForClientFile } from '../modules/artifacts/service.ts';
import { sniff, sniffBytes } from '../modules/artifacts/upload.ts';
import { loadJob } from '../modules/jobs/records.ts';
import type { Logger } from '../logger.ts';
import type { Services } from '../services.ts';
import { finishUpload, type FinishOutcome } from './finish.ts';
import { ownerKey, readCreation, sameAsKey } from './metadata.ts';
import { createUploadStore, echoedMetadata, loadUpload, sweepUploads, uploadIdPattern, uploadMaxBytes, uploadsDir, type UploadState } from './store.ts';

export const uploadsPath = '/api/v1/uploads';
export const artifactHeader = 'Onelink-Artifact-Id';
const sweepEveryMs = 3600_000;
/** Unfinished uploads one person may keep: a phone's queue of photos, not a way to fill the disk. */
export const maxOpenUploadsPerPerson = 20;

/**
 * The upload id a path names (`/<id>` below the mount, or the full public path), else undefined.
 * The ownership check and tus both use it, so they always mean the same upload.
 */
export function uploadIdFromPath(pathname: string) {
  const below = pathname.startsWith(`${uploadsPath}/`) ? pathname.slice(uploadsPath.length) : pathname;
  const id = /^\/([^/]+)\/?$/.exec(below)?.[1];
  return id && uploadIdPattern.test(id) ? id : undefined;
}

/** An error as tus answers it from a hook or the store: our envelope. */
const tusAnswer = (err: HttpError) => ({
  status_code: err.status,
  body: JSON.stringify({ error: { code: err.code, message: err.message, details: err.details ?? null } }),
});

const ownerOf = (ctx: RequestContext) => `${ctx.accountId}:${ctx.actor.type}:${ctx.actor.id}`;

const envelope = (outcome: Extract<FinishOutcome, { ok: false }>) =>
  JSON.stringify({ error: { code: outcome.code, message: outcome.message, details: outcome.details } });

/** The answer for an upload whose bytes are already a job artifact. */
function answerFinished(res: Response, upload: UploadState, artifactId: string, status: 200 | 204) {
  res.status(status);
  res.set({ 'Upload-Offset': String(upload.size), 'Cache-Control': 'no-store', [artifactHeader]: artifactId });
  if (status === 200) res.set({ 'Upload-Length': String(upload.size), 'Upload-Metadata': echoedMetadata(upload.metadata) });
  res.end();
}

export function uploadRoutes(services: Services, authenticate: Authenticate, { bodyLimitKb = services.config.ONELINK_BODY_LIMIT_KB, logger }: { bodyLimitKb?: number; logger?: Logger } = {}) {
  const dir = uploadsDir(services.config);
  const maxBytes = uploadMaxBytes(services.config);
  const limits = { perOwner: maxOpenUploadsPerPerson, bytesPerAccount: services.config.ONELINK_UPLOAD_OPEN_MAX_BYTES };
  // The type is read from the first bytes as soon as they are stored; 415 removes the upload.
  const store = createUploadStore(dir, {
    bytes: sniffBytes,
    check: async (head) => {
      try {
        await sniff(head);
      } catch (err) {
        if (err instanceof HttpError) throw tusAnswer(err);
        // Not a verdict on the file: it is read again when it is complete.
        logger?.warn({ err }, 'reading the type of an upload’s first bytes failed');
      }
    },
  });
  // What our middleware established for a request, read back in tus's hooks (which get a web Request wrapping it).
  const callers = new WeakMap<IncomingMessage, RequestContext>();
  const creations = new WeakMap<IncomingMessage, Record<string, string>>();
  // A creation's place among the open uploads (store.reserve), and the id it was claimed for.
  const reservations = new WeakMap<IncomingMessage, string>();
  const claimed = new WeakMap<IncomingMessage, string>();
  // One finishing at a time per upload (the PATCH that completed it and a HEAD may race).
  const finishing = new Map<string, Promise<FinishOutcome>>();
  let lastSweep = 0;
  const sweep = (now = Date.now()) => sweepUploads(dir, now, (swept) => store.forget(swept));
  // Abandoned uploads go within the hour after they expire, whether or not anyone uploads.
  const sweeping = setInterval(() => void sweep().catch((err: unknown) => logger?.warn({ err }, 'sweeping old uploads failed')), sweepEveryMs);
  sweeping.unref();

  const nodeRequest = (req: { runtime?: { node?: { req?: unknown } } }) => req.runtime?.node?.req as IncomingMessage | undefined;
  /** Finishes a complete upload once: callers arriving meanwhile share the outcome; later ones find the artifact. */
  const finish = (ctx: RequestContext, id: string, req: IncomingMessage) => {
    let running = finishing.get(id);
    if (!running) {
      running = (async (): Promise<FinishOutcome> => {
        const upload = await loadUpload(store, dir, id);
        if (!upload) return { ok: false, status: 404, code: 'not_found', message: 'Upload not found', details: null };
        if (upload.artifactId) return { ok: true, artifactId: upload.artifactId, created: false };
        if (upload.offset !== upload.size) return { ok: false, status: 409, code: 'upload_incomplete', message: 'The upload is not complete yet', details: null };
        // Express's request is the same Node request object, with pino-http's logger on it.
        return finishUpload(services, ctx, store, dir, upload, (req as ExpressRequest).log);
      })().finally(() => finishing.delete(id));
      finishing.set(id, running);
    }
    return running;
  };

  /**
   * HEAD through tus (it waits for a PATCH still writing), then: an upload that turns out complete
   * is finished here if it is not yet, so the answer always names its artifact.
   */
  const head = async (ctx: RequestContext, req: ExpressRequest, res: Response, upload: UploadState) => {
    const request = new Request(new URL(req.originalUrl, 'http://uploads.local'), { method: 'HEAD', headers: req.headers as Record<string, string> });
    Object.defineProperty(request, 'runtime', { value: { name: 'node', node: { req, res } } });
    const answer = await tus.handleWeb(request);
    const offset = answer.headers.get('upload-offset');
    if (answer.status === 200 && offset !== null && offset === answer.headers.get('upload-length')) {
      const outcome = await finish(ctx, upload.id, req);
      if (!outcome.ok) throw new HttpError(outcome.status, outcome.code, outcome.message, outcome.details);
      answer.headers.set(artifactHeader, outcome.artifactId);
    }
    // What the device sent, without the keys kept for the server (the owner).
    if (answer.headers.has('upload-metadata')) answer.headers.set('Upload-Metadata', echoedMetadata(upload.metadata));
    res.status(answer.status);
    answer.headers.forEach((value, name) => res.setHeader(name, value));
    res.end();
  };

  const tus = new Server({
    path: uploadsPath,
    datastore: store,
    maxSize: maxBytes,
    relativeLocation: true,
    // Same-origin only: the portal and the apps are served from here, and the API grants no CORS.
    allowedOrigins: () => false,
    disableTerminationForFinishedUploads: true,
    exposedHeaders: [artifactHeader],
    // The id is the path's, never something in the query (see the top of this file).
    getFileIdFromRequest: (req) => uploadIdFromPath(new URL(req.url).pathname),
    // Everything reaching tus went through our middleware first; this only guards against a path around it.
    onIncomingRequest: async (req) => {
      const node = nodeRequest(req);
      if (!node || !callers.has(node)) throw { status_code: 401, body: JSON.stringify({ error: { code: 'unauthorized', message: 'Sign in first', details: null } }) };
    },
    onUploadCreate: async (req, upload) => {
      const node = nodeRequest(req);
      const metadata = node && creations.get(node);
      if (!metadata) throw { status_code: 400, body: JSON.stringify({ error: { code: 'invalid_upload_metadata', message: 'The upload was not checked', details: null } }) };
      const reserved = reservations.get(node!);
      if (reserved) {
        store.claim(reserved, upload.id);
        claimed.set(node!, upload.id);
      }
      return { metadata };
    },
    onUploadFinish: async (req, upload: Upload): Promise<{ status_code?: number; headers?: Record<string, string>; body?: string }> => {
      const node = nodeRequest(req);
      const ctx = node && callers.get(node);
      const outcome: FinishOutcome = node && ctx ? await finish(ctx, upload.id, node) : { ok: false, status: 500, code: 'internal_error', message: 'The upload could not be finished', details: null };
      if (outcome.ok) return { headers: { [artifactHeader]: outcome.artifactId } };
      return { status_code: outcome.status, headers: { 'Content-Type': 'application/json; charset=utf-8' }, body: envelope(outcome) };
    },
  });

  const route = defineRoute({
    method: 'post',
    path: '/uploads',
    summary: 'Resumable uploads (tus 1.0.0) of job photos and documents',
    tags: ['jobs'],
    access: { permission: 'jobs:attach', capability: 'dispatch.jobs' },
    handler: async ({ ctx, req, res }) => {
      res.setHeader('Tus-Resumable', TUS_RESUMABLE);
      callers.set(req, ctx);
      if (req.path === '/') {
        if (req.method !== 'POST') throw new HttpError(405, 'method_not_allowed', 'Create an upload with POST, then send its bytes to the URL it answers (Location)');
        const creation = readCreation(req, maxBytes);
        const { job, sameAs } = await read(ctx, async (trx) => ({
          job: await loadJob(trx, ctx, creation.jobId), // 404 unless the caller sees the job
          sameAs: await artifactIdForClientFile(trx, ctx, creation.jobId, creation.clientId),
        }));
        if (job.status === 'canceled' && !sameAs) throw new ConflictError('job_closed', 'A canceled job takes no new files');
        creations.set(req, { ...creation.metadata, [ownerKey]: ownerOf(ctx), ...(sameAs ? { [sameAsKey]: sameAs } : {}) });
        if (Date.now() - lastSweep > sweepEveryMs) {
          lastSweep = Date.now();
          sweep().catch((err: unknown) => req.log.warn({ err }, 'sweeping old uploads failed'));
        }
        const place = await store.reserve(ownerOf(ctx), creation.size, limits);
        if ('refused' in place) {
          res.setHeader('Connection', 'close'); // a body sent with the creation is not read
          if (place.refused === 'uploads') {
            throw new HttpError(429, 'too_many_open_uploads', `You have ${limits.perOwner} unfinished uploads; let them finish (or remove some) before starting another`, { max_open_uploads: limits.perOwner });
          }
          throw new HttpError(429, 'uploads_space_full', 'Too many files are being uploaded to this account at once; try again once some have finished', { max_open_bytes: limits.bytesPerAccount });
        }
        reservations.set(req, place.key);
        try {
          await tus.handle(req, res);
        } finally {
          store.release(place.key);
          // Claimed, but the upload was never kept (its record could not be written): give the place back.
          const created = claimed.get(req);
          if (created && res.statusCode >= 400 && !(await loadUpload(store, dir, created))) store.forget(created);
        }
        return;
      }
      const id = uploadIdFromPath(req.path) ?? '';
      const upload = await loadUpload(store, dir, id);
      // Someone else's upload does not exist, as far as the caller can tell.
      if (!upload || upload.metadata[ownerKey] !== ownerOf(ctx)) throw notFound('Upload');
      switch (req.method) {
        case 'HEAD':
          // Finished: answered from its record. Otherwise tus answers, and a complete upload whose
          // finishing answer was lost (or is still being made) is finished on the way.
          if (upload.artifactId) return answerFinished(res, upload, upload.artifactId, 200);
          return head(ctx, req, res, upload);
        case 'PATCH':
          if (upload.artifactId) {
            if (req.get('upload-offset') !== String(upload.size)) {
              res.setHeader('Connection', 'close'); // the body is not read
              throw new HttpError(409, 'upload_finished', 'This upload is already complete; ask for its state with HEAD', { artifact_id: upload.artifactId });
            }
            return answerFinished(res, upload, upload.artifactId, 204);
          }
          break;
        case 'DELETE':
          if (upload.artifactId) throw new HttpError(400, 'upload_finished', 'This upload is complete and is now a job file; remove the file from the job instead', { artifact_id: upload.artifactId });
          break;
        default:
          // GET would serve the bytes back; they are read through the job's files (signed links) instead.
          throw new HttpError(405, 'method_not_allowed', 'An upload takes HEAD, PATCH and DELETE; read the file through the job’s files');
      }
      await tus.handle(req, res);
    },
  });

  const router = express.Router();
  // Nothing about an upload is said in a query string: refusing one keeps the id the path's alone.
  router.use((req, res, next) => {
    if (!req.originalUrl.includes('?')) return next();
    if (req.method === 'PATCH' || req.method === 'POST') res.setHeader('Connection', 'close'); // the body is not read
    next(badRequest('query_not_allowed', 'Upload addresses take no query string; use the address the upload was created with (Location)'));
  });
  // OPTIONS tells what the server supports (tus versions, extensions, maximum size) and stores nothing.
  router.use((req, res, next) => (req.method === 'OPTIONS' ? void tus.handle(req, res).catch(next) : next()));
  router.use(cookieParser());
  router.use(...toExpressHandlers(route, authenticate, bodyLimitKb));
  return Object.assign(router, { store, dir, sweep, stop: () => clearInterval(sweeping) });
}
