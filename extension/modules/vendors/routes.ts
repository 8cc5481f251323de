// HTTP routes for vendors: roster, service area, weekly hours, time off, compliance documents
// and how clients stand with them.
import { z } from 'zod';
import { sendData } from '../../http/envelope.ts';
import { pageQuery } from '../../http/pagination.ts';
import { defineRoute } from '../../http/registry.ts';
import { chatwootId, chatwootIdParam, isoDate, jsonbRecord, rowVersion, text, timeZone, timestamp } from '../../http/schemas.ts';
import {
  addDocument,
  addTimeOff,
  createVendor,
  getVendor,
  listVendors,
  removeDocument,
  removeTimeOff,
  setAvailability,
  setClientLink,
  updateVendor,
  vendorRelations,
} from './service.ts';

const vendorParams = z.object({ vendorId: z.uuid() });
const clockTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$|^24:00$/, 'a time such as 08:30');

const vendorFields = {
  name: text({ min: 1, max: 200 }),
  chatwoot_contact_id: chatwootId.nullable().optional(),
  categories: z.array(text({ min: 1, max: 100 })).max(50).optional(),
  postal_codes: z.array(text({ min: 1, max: 20 })).max(2000).optional(),
  base_lat: z.number().min(-90).max(90).nullable().optional(),
  base_lng: z.number().min(-180).max(180).nullable().optional(),
  radius_km: z.number().positive().max(2000).nullable().optional(),
  time_zone: timeZone.optional(),
  rate_summary: text({ max: 1000, trim: false }).nullable().optional(),
  active: z.boolean().optional(),
  custom_fields: jsonbRecord.optional(),
};

export function vendorRoutes() {
  const readVendors = { permission: 'vendors:read', capability: 'dispatch.vendors' } as const;
  const manageVendors = { permission: 'vendors:manage', capability: 'dispatch.vendors' } as const;
  return [
    defineRoute({
      method: 'get',
      path: '/vendors',
      summary: 'Vendors by name, with their compliance state; filters by category, active, compliance, name',
      tags: ['vendors'],
      access: readVendors,
      query: pageQuery.extend({
        category: text({ min: 1, max: 100 }).optional(),
        active: z.enum(['true', 'false']).transform((v) => v === 'true').optional(),
        compliance: z.enum(['compliant', 'expiring', 'expired', 'missing']).optional(),
        q: text({ min: 1, max: 100 }).optional(),
      }),
      handler: async ({ ctx, query, res }) => {
        const { limit, cursor, ...filters } = query;
        const page = await listVendors(ctx, filters, { limit, cursor });
        sendData(res, page.items, { next_cursor: page.nextCursor });
      },
    }),
    defineRoute({
      method: 'post',
      path: '/vendors',
      summary: 'Add a vendor',
      tags: ['vendors'],
      access: manageVendors,
      body: z.object(vendorFields),
      handler: async ({ ctx, body, res }) => sendData(res, await createVendor(ctx, body), {}, 201),
    }),
    defineRoute({
      method: 'get',
      path: '/vendors/:vendorId',
      summary: 'One vendor with hours, upcoming time off, documents and client relationships',
      tags: ['vendors'],
      access: readVendors,
      params: vendorParams,
      handler: async ({ ctx, params, res }) => sendData(res, await getVendor(ctx, params.vendorId)),
    }),
    defineRoute({
      method: 'patch',
      path: '/vendors/:vendorId',
      summary: 'Edit a vendor; send the version you loaded',
      tags: ['vendors'],
      access: manageVendors,
      params: vendorParams,
      body: z.object({ ...vendorFields, name: vendorFields.name.optional(), version: rowVersion }),
      handler: async ({ ctx, params, body, res }) => sendData(res, await updateVendor(ctx, params.vendorId, body)),
    }),
    defineRoute({
      method: 'put',
      path: '/vendors/:vendorId/availability',
      summary: 'Replace the vendor’s weekly hours (vendor’s time zone; ISO weekday 1 = Monday)',
      tags: ['vendors'],
      access: manageVendors,
      params: vendorParams,
      body: z.object({ slots: z.array(z.object({ weekday: z.number().int().min(1).max(7), starts: clockTime, ends: clockTime })).max(100) }),
      handler: async ({ ctx, params, body, res }) => sendData(res, await setAvailability(ctx, params.vendorId, body.slots)),
    }),
    defineRoute({
      method: 'post',
      path: '/vendors/:vendorId/time-off',
      summary: 'Add time off',
      tags: ['vendors'],
      access: manageVendors,
      params: vendorParams,
      body: z.object({ starts_at: timestamp, ends_at: timestamp, reason: text({ max: 500, trim: false }).nullable().optional() }),
      handler: async ({ ctx, params, body, res }) => sendData(res, await addTimeOff(ctx, params.vendorId, body), {}, 201),
    }),
    defineRoute({
      method: 'delete',
      path: '/vendors/:vendorId/time-off/:timeOffId',
      summary: 'Remove time off',
      tags: ['vendors'],
      access: manageVendors,
      params: vendorParams.extend({ timeOffId: z.uuid() }),
      handler: async ({ ctx, params, res }) => sendData(res, await removeTimeOff(ctx, params.vendorId, params.timeOffId)),
    }),
    defineRoute({
      method: 'post',
      path: '/vendors/:vendorId/documents',
      summary: 'Record a compliance document (insurance, licence, …) and its expiry',
      tags: ['vendors'],
      access: manageVendors,
      params: vendorParams,
      body: z.object({ kind: text({ min: 1, max: 100 }), reference: text({ max: 200, trim: false }).nullable().optional(), expires_on: isoDate.nullable().optional() }),
      handler: async ({ ctx, params, body, res }) => sendData(res, await addDocument(ctx, params.vendorId, body), {}, 201),
    }),
    defineRoute({
      method: 'delete',
      path: '/vendors/:vendorId/documents/:documentId',
      summary: 'Remove a compliance document',
      tags: ['vendors'],
      access: manageVendors,
      params: vendorParams.extend({ documentId: z.uuid() }),
      handler: async ({ ctx, params, res }) => sendData(res, await removeDocument(ctx, params.vendorId, params.documentId)),
    }),
    defineRoute({
      method: 'put',
      path: '/vendors/:vendorId/clients/:contactId',
      summary: 'Set how a client (Chatwoot contact) stands with the vendor: preferred, approved, blocked, or null to clear',
      tags: ['vendors'],
      access: manageVendors,
      params: vendorParams.extend({ contactId: chatwootIdParam }),
      body: z.object({ relation: z.enum(vendorRelations).nullable(), note: text({ max: 1000, trim: false }).nullable().optional() }),
      handler: async ({ ctx, params, body, res }) => sendData(res, await setClientLink(ctx, params.vendorId, params.contactId, body)),
    }),
  ];
}
