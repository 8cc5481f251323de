// HTTP routes for job photos and documents, and the signed download links they are served by.
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import { sendData, sendError } from '../../http/envelope.ts';
import { defineRoute } from '../../http/registry.ts';
import type { Services } from '../../services.ts';
import { artifactVisibilities, deleteArtifact, listArtifacts, openSignedArtifact, setArtifactVisibility, uploadArtifact } from './service.ts';

const jobParams = z.object({ jobId: z.uuid() });
const artifactParams = jobParams.extend({ artifactId: z.uuid() });

/** RFC 6266 / 5987: an ASCII fallback and the exact UTF-8 name. */
function disposition(type: 'inline' | 'attachment', filename: string) {
  const ascii = filename.replace(/[^\x20-\x7e]/g, '_').replace(/[\\"]/g, '_');
  return `${type}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`;
}

export function artifactRoutes(services: Services) {
  return [
    defineRoute({
      method: 'post',
      path: '/jobs/:jobId/artifacts',
      summary: `Upload a photo or document (multipart/form-data, field "file", up to ONELINK_UPLOAD_MAX_MB); type is read from the content`,
      tags: ['jobs'],
      access: { permission: 'jobs:attach', capability: 'dispatch.jobs' },
      params: jobParams,
      query: z.object({ visibility: z.enum(artifactVisibilities).default('internal') }),
      handler: async ({ ctx, params, query, req, res }) => sendData(res, await uploadArtifact(services, ctx, params.jobId, req, query.visibility), {}, 201),
    }),
    defineRoute({
      method: 'get',
      path: '/jobs/:jobId/artifacts',
      summary: 'The job’s photos and documents with signed links (clients: only those marked client_visible)',
      tags: ['jobs'],
      access: { permission: 'jobs:read', capability: 'dispatch.jobs' },
      params: jobParams,
      handler: async ({ ctx, params, res }) => sendData(res, await listArtifacts(services, ctx, params.jobId)),
    }),
    defineRoute({
      method: 'patch',
      path: '/jobs/:jobId/artifacts/:artifactId',
      summary: 'Show a file to the client or hide it again',
      tags: ['jobs'],
      access: { permission: 'jobs:write', capability: 'dispatch.jobs' },
      params: artifactParams,
      body: z.object({ visibility: z.enum(artifactVisibilities) }),
      handler: async ({ ctx, params, body, res }) => sendData(res, await setArtifactVisibility(services, ctx, params.jobId, params.artifactId, body.visibility)),
    }),
    defineRoute({
      method: 'delete',
      path: '/jobs/:jobId/artifacts/:artifactId',
      summary: 'Remove a file (the job’s story keeps its name)',
      tags: ['jobs'],
      access: { permission: 'jobs:write', capability: 'dispatch.jobs' },
      params: artifactParams,
      handler: async ({ ctx, params, res }) => sendData(res, await deleteArtifact(services, ctx, params.jobId, params.artifactId)),
    }),
    defineRoute({
      method: 'get',
      path: '/artifacts/content',
      summary: 'A file behind a signed, short-lived link handed out by the artifact routes',
      tags: ['jobs'],
      access: { public: true },
      rateLimitPerMinute: 1200,
      query: z.object({ token: z.string().min(10).max(1000) }),
      handler: async ({ query, res }) => {
        const file = await openSignedArtifact(services, query.token);
        if (!file) {
          sendError(res, 404, 'not_found', 'This link is invalid or has expired');
          return;
        }
        const showable = file.contentType.startsWith('image/') || file.contentType === 'application/pdf';
        res.setHeader('Content-Type', file.contentType);
        if (file.size !== null) res.setHeader('Content-Length', String(file.size));
        res.setHeader('Content-Disposition', disposition(showable ? 'inline' : 'attachment', file.row.filename));
        res.setHeader('Cache-Control', 'private, max-age=3600');
        // Served bytes are never a page: no scripts, no plugins, even if a browser tried to render them.
        res.setHeader('Content-Security-Policy', "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox");
        // pipeline, not pipe: a client that goes away closes the file (or connection) too.
        await pipeline(file.stream, res).catch(() => undefined);
      },
    }),
  ];
}
