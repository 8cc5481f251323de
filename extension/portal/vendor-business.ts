// The vendor's own business from the portal (owners): weekly hours, time off, service area,
// categories and compliance documents; staff lock what the vendor may not change and review the
// documents the vendor sends. The vendors module holds the rules and audits (the same functions
// staff use), so a change from the portal and one from dispatch are recorded alike.
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import type { RequestContext } from '../context.ts';
import { NotFoundError } from '../errors.ts';
import { sendData, sendError } from '../http/envelope.ts';
import { defineRoute } from '../http/registry.ts';
import { text, timestamp } from '../http/schemas.ts';
import type { Services } from '../services.ts';
import { documentsToReview, listDocuments, openSignedDocument, reviewDocument, submitDocument, vendorBusiness } from '../modules/vendors/documents.ts';
import { addTimeOff, lockableFields, removeTimeOff, setAvailability, setVendorArea, setVendorCategories, setVendorLocks } from '../modules/vendors/service.ts';

const clockTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$|^24:00$/, 'a time such as 08:30');
const slots = z.array(z.object({ weekday: z.number().int().min(1).max(7), starts: clockTime, ends: clockTime })).max(100);
const vendorParams = z.object({ vendorId: z.uuid() });

/** The caller's own vendor; staff have none here (they edit vendors under /vendors/{vendorId}). */
function ownVendor(ctx: RequestContext): string {
  if (!ctx.vendorId) throw new NotFoundError('Vendor');
  return ctx.vendorId;
}

/** RFC 6266 / 5987: an ASCII fallback and the exact UTF-8 name. */
function disposition(type: 'inline' | 'attachment', filename: string) {
  const ascii = filename.replace(/[^\x20-\x7e]/g, '_').replace(/[\\"]/g, '_');
  return `${type}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`;
}

export function vendorBusinessRoutes(services: Services) {
  const owner = { permission: 'vendor_team:manage', capability: 'portal.vendor' } as const;
  const readVendors = { permission: 'vendors:read', capability: 'dispatch.vendors' } as const;
  const manageVendors = { permission: 'vendors:manage', capability: 'dispatch.vendors' } as const;
  const business = async (ctx: RequestContext) => vendorBusiness(services, ctx, ownVendor(ctx));

  return [
    // --- the vendor's owner ---
    defineRoute({
      method: 'get',
      path: '/portal/vendor/business',
      summary: "Your vendor's categories, service area, weekly hours, time off to come, what dispatch locked, and your compliance documents with their review",
      tags: ['portal'],
      access: owner,
      handler: async ({ ctx, res }) => sendData(res, await business(ctx)),
    }),
    defineRoute({
      method: 'put',
      path: '/portal/vendor/business/availability',
      summary: 'Replace your weekly hours (your time zone; ISO weekday 1 = Monday); 403 locked_by_dispatch when dispatch locked them. Answers the business as now',
      tags: ['portal'],
      access: owner,
      body: z.object({ slots }),
      handler: async ({ ctx, body, res }) => {
        await setAvailability(ctx, ownVendor(ctx), body.slots);
        sendData(res, await business(ctx));
      },
    }),
    defineRoute({
      method: 'put',
      path: '/portal/vendor/business/area',
      summary: 'Set your service area: postal codes, and a radius around the centre dispatch set; 403 locked_by_dispatch when locked. Answers the business as now',
      tags: ['portal'],
      access: owner,
      body: z.object({ postal_codes: z.array(text({ min: 1, max: 20 })).max(2000), radius_km: z.number().positive().max(2000).nullable() }),
      handler: async ({ ctx, body, res }) => {
        await setVendorArea(ctx, ownVendor(ctx), body);
        sendData(res, await business(ctx));
      },
    }),
    defineRoute({
      method: 'put',
      path: '/portal/vendor/business/categories',
      summary: 'Set the service categories you work in; 403 locked_by_dispatch when locked. Answers the business as now',
      tags: ['portal'],
      access: owner,
      body: z.object({ categories: z.array(text({ min: 1, max: 100 })).max(50) }),
      handler: async ({ ctx, body, res }) => {
        await setVendorCategories(ctx, ownVendor(ctx), body.categories);
        sendData(res, await business(ctx));
      },
    }),
    defineRoute({
      method: 'post',
      path: '/portal/vendor/business/time-off',
      summary: 'Add time off (locked with your hours when dispatch locked them)',
      tags: ['portal'],
      access: owner,
      body: z.object({ starts_at: timestamp, ends_at: timestamp, reason: text({ max: 500, trim: false }).nullable().optional() }),
      handler: async ({ ctx, body, res }) => sendData(res, await addTimeOff(ctx, ownVendor(ctx), body), {}, 201),
    }),
    defineRoute({
      method: 'delete',
      path: '/portal/vendor/business/time-off/:timeOffId',
      summary: 'Remove time off',
      tags: ['portal'],
      access: owner,
      params: z.object({ timeOffId: z.uuid() }),
      handler: async ({ ctx, params, res }) => sendData(res, await removeTimeOff(ctx, ownVendor(ctx), params.timeOffId)),
    }),
    defineRoute({
      method: 'post',
      path: '/portal/vendor/documents',
      summary: `Send a compliance document for review: multipart/form-data with the file (field "file", a PDF, Word, Excel or photo, up to ONELINK_UPLOAD_MAX_MB), kind, expires_on (YYYY-MM-DD) and optionally reference. It waits as pending_review and counts toward compliance once dispatch approves it`,
      tags: ['portal'],
      access: owner,
      handler: async ({ ctx, req, res }) => sendData(res, await submitDocument(services, ctx, ownVendor(ctx), req), {}, 201),
    }),

    // --- staff ---
    defineRoute({
      method: 'put',
      path: '/vendors/:vendorId/locks',
      summary: "Lock (true) or unlock (false) the vendor's hours and time off, service area or categories against the vendor's own edits; fields left out stay as they are",
      tags: ['vendors'],
      access: manageVendors,
      params: vendorParams,
      body: z.object(Object.fromEntries(lockableFields.map((f) => [f, z.boolean().optional()])) as Record<(typeof lockableFields)[number], z.ZodOptional<z.ZodBoolean>>),
      handler: async ({ ctx, params, body, res }) => sendData(res, await setVendorLocks(ctx, params.vendorId, body)),
    }),
    defineRoute({
      method: 'get',
      path: '/vendors/:vendorId/documents',
      summary: "The vendor's compliance documents, newest first, with their review and a signed link to the file (60 minutes)",
      tags: ['vendors'],
      access: readVendors,
      params: vendorParams,
      handler: async ({ ctx, params, res }) => sendData(res, await listDocuments(services, ctx, params.vendorId)),
    }),
    defineRoute({
      method: 'get',
      path: '/vendor-documents/to-review',
      summary: 'Documents vendors sent that wait for review, oldest first (at most 200), with the vendor’s name and a signed link to the file',
      tags: ['vendors'],
      access: readVendors,
      handler: async ({ ctx, res }) => sendData(res, await documentsToReview(services, ctx)),
    }),
    defineRoute({
      method: 'post',
      path: '/vendors/:vendorId/documents/:documentId/review',
      summary: 'Approve a document waiting for review (it then counts toward compliance) or reject it with a reason the vendor is told',
      tags: ['vendors'],
      access: manageVendors,
      params: vendorParams.extend({ documentId: z.uuid() }),
      body: z.object({ decision: z.enum(['approve', 'reject']), reason: text({ max: 1000 }).nullable().optional() }),
      successStatus: 200,
      handler: async ({ ctx, params, body, res }) => sendData(res, await reviewDocument(services, ctx, params.vendorId, params.documentId, body)),
    }),
    defineRoute({
      method: 'get',
      path: '/vendor-documents/content',
      summary: 'A vendor document’s file behind a signed, short-lived link handed out by the document routes',
      tags: ['vendors'],
      access: { public: true },
      rateLimitPerMinute: 600,
      query: z.object({ token: z.string().min(10).max(1000) }),
      handler: async ({ query, res }) => {
        const file = await openSignedDocument(services, query.token);
        if (!file) {
          sendError(res, 404, 'not_found', 'This link is invalid or has expired');
          return;
        }
        const contentType = file.row.content_type ?? 'application/octet-stream';
        const showable = contentType.startsWith('image/') || contentType === 'application/pdf';
        res.setHeader('Content-Type', contentType);
        if (file.row.size_bytes !== null) res.setHeader('Content-Length', String(file.row.size_bytes));
        res.setHeader('Content-Disposition', disposition(showable ? 'inline' : 'attachment', file.row.filename ?? 'document'));
        res.setHeader('Cache-Control', 'private, max-age=3600');
        // Served bytes are never a page: no scripts, no plugins, even if a browser tried to render them.
        res.setHeader('Content-Security-Policy', "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox");
        // pipeline, not pipe: a client that goes away closes the file (or connection) too.
        await pipeline(file.stream, res).catch(() => undefined);
      },
    }),
  ];
}
