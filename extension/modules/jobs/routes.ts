// HTTP routes for jobs: list and board, detail, edits, lifecycle, notes, links, checklists,
// vendor suggestions and assignment, checklist templates and the account's SLA settings.
import { z } from 'zod';
import { sendData } from '../../http/envelope.ts';
import { pageQuery } from '../../http/pagination.ts';
import { defineRoute } from '../../http/registry.ts';
import { chatwootId, chatwootIdParam, jsonbRecord, rowVersion, text, timestamp } from '../../http/schemas.ts';
import type { Services } from '../../services.ts';
import { listArtifacts } from '../artifacts/service.ts';
import { assignVendor, suggestVendors, unassignVendor } from '../assignment/service.ts';
import { createTemplate, listTemplates, updateTemplate } from './checklist-templates.ts';
import { commaList, jobCategory, jobFilters } from './filters.ts';
import { jobPriorities, jobSources, jobStatuses } from './rules.ts';
import { jobBoard, listJobs } from './board.ts';
import { transitionJob } from './lifecycle.ts';
import { linkJob } from './links.ts';
import { addChecklistItem, addJobNote, createJob, getJob, markJobEnRoute, setChecklistItem, setJobTechnician, updateJob } from './service.ts';
import { getDispatchSettings, updateDispatchSettings } from './sla.ts';

const category = jobCategory;
const postalCode = text({ min: 1, max: 20 }).transform((v) => v.replace(/\s+/g, '').toLowerCase());
const jobParams = z.object({ jobId: z.uuid() });
const checklistLabel = text({ min: 1, max: 300 });
const reason = text({ min: 1, max: 2000 });
const requiredPhotos = z
  .array(
    z.object({
      tag: z.string().regex(/^[a-z0-9_-]{1,40}$/, 'lower-case letters, digits, _ and -, up to 40').describe('The tag the photos carry (e.g. "after")'),
      label: text({ min: 1, max: 200 }),
      min: z.number().int().min(1).max(50).default(1).describe('How many photos with this tag the job needs'),
    }),
  )
  .max(20)
  .refine((photos) => new Set(photos.map((p) => p.tag)).size === photos.length, { message: 'Each tag once' })
  .describe('Photos a job of this template must have before it is finished');

const jobFields = {
  summary: text({ min: 1, max: 500 }),
  priority: z.enum(jobPriorities).optional(),
  notes: text({ max: 20_000, trim: false }).nullable().optional(),
  service_category: category.nullable().optional(),
  address: text({ max: 500 }).nullable().optional(),
  postal_code: postalCode.nullable().optional(),
  lat: z.number().min(-90).max(90).nullable().optional(),
  lng: z.number().min(-180).max(180).nullable().optional(),
  window_starts_at: timestamp.nullable().optional(),
  window_ends_at: timestamp.nullable().optional(),
  sla_due_at: timestamp.nullable().optional().describe('Overrides the SLA derived from priority'),
  chatwoot_contact_id: chatwootId.nullable().optional(),
  owner_id: z.uuid().nullable().optional().describe('The agent responsible for the job (notified when it is put in their hands)'),
  custom_fields: jsonbRecord.optional(),
};

const technicianBody = z.object({ technician_id: z.uuid().nullable().describe("A portal user of the vendor holding the job") });

export function jobRoutes(services: Services) {
  const readJobs = { permission: 'jobs:read', capability: 'dispatch.jobs' } as const;
  const writeJobs = { permission: 'jobs:write', capability: 'dispatch.jobs' } as const;
  const moveJobs = { permission: 'jobs:transition', capability: 'dispatch.jobs' } as const;
  const assignJobs = { permission: 'jobs:assign', capability: 'dispatch.vendors' } as const;
  const configure = { permission: 'dispatch:configure', capability: 'dispatch.jobs' } as const;
  return [
    defineRoute({
      method: 'get',
      path: '/jobs',
      summary: 'Jobs, newest first, with filters (status may list several, comma-separated)',
      tags: ['jobs'],
      access: readJobs,
      query: pageQuery.extend({ ...jobFilters.shape, status: commaList(z.enum(jobStatuses)).optional() }),
      handler: async ({ ctx, query, res }) => {
        const { limit, cursor, ...filters } = query;
        const page = await listJobs(ctx, filters, { limit, cursor });
        sendData(res, page.items, { next_cursor: page.nextCursor });
      },
    }),
    defineRoute({
      method: 'get',
      path: '/jobs/board',
      summary: 'The dispatch board: a column per status with its count and first jobs',
      tags: ['jobs'],
      access: readJobs,
      query: jobFilters.extend({ statuses: commaList(z.enum(jobStatuses)).optional(), per_column: z.coerce.number().int().min(1).max(100).default(25) }),
      handler: async ({ ctx, query, res }) => {
        const { per_column: perColumn, ...filters } = query;
        sendData(res, await jobBoard(ctx, filters, perColumn));
      },
    }),
    defineRoute({
      method: 'post',
      path: '/jobs',
      summary: 'Create a job; SLA from priority unless given; checklist from the category’s template',
      tags: ['jobs'],
      access: writeJobs,
      body: z.object({
        ...jobFields,
        source: z.enum(jobSources).optional(),
        conversation_ids: z.array(chatwootId).max(20).optional(),
        deal_ids: z.array(z.uuid()).max(20).optional(),
        checklist_template_id: z.uuid().nullable().optional(),
      }),
      handler: async ({ ctx, body, res }) => sendData(res, await createJob(ctx, body), {}, 201),
    }),
    defineRoute({
      method: 'get',
      path: '/jobs/:jobId',
      summary: 'One job with its events, checklist, files, links and assignment history',
      tags: ['jobs'],
      access: readJobs,
      params: jobParams,
      handler: async ({ ctx, params, res }) => {
        const job = await getJob(ctx, params.jobId);
        sendData(res, { ...job, artifacts: await listArtifacts(services, ctx, params.jobId) });
      },
    }),
    defineRoute({
      method: 'patch',
      path: '/jobs/:jobId',
      summary: 'Edit a job; send the version you loaded',
      tags: ['jobs'],
      access: writeJobs,
      params: jobParams,
      body: z.object({ ...jobFields, summary: jobFields.summary.optional(), version: rowVersion }),
      handler: async ({ ctx, params, body, res }) => sendData(res, await updateJob(ctx, params.jobId, body)),
    }),
    defineRoute({
      method: 'post',
      path: '/jobs/:jobId/status',
      summary: 'Move a job through its lifecycle; 409 lists the allowed next statuses',
      tags: ['jobs'],
      access: moveJobs,
      params: jobParams,
      body: z.object({
        status: z.enum(jobStatuses),
        reason: reason.optional().describe('Required to cancel'),
        override_reason: reason.optional().describe('Completes a job whose required checklist items are not done'),
        version: rowVersion.optional(),
      }),
      successStatus: 200,
      handler: async ({ ctx, params, body, res }) => sendData(res, await transitionJob(ctx, params.jobId, body)),
    }),
    defineRoute({
      method: 'put',
      path: '/jobs/:jobId/technician',
      summary: "Give a job to one of the vendor's people (null: take it back); dispatch, for the vendor",
      tags: ['jobs'],
      access: assignJobs,
      params: jobParams,
      body: technicianBody,
      handler: async ({ ctx, params, body, res }) => sendData(res, await setJobTechnician(ctx, params.jobId, body.technician_id)),
    }),
    defineRoute({
      method: 'put',
      path: '/portal/vendor/jobs/:jobId/technician',
      summary: "The vendor's owner gives one of the vendor's jobs to a technician (null: takes it back)",
      tags: ['jobs'],
      access: { permission: 'vendor_team:manage', capability: 'portal.vendor' },
      params: jobParams,
      body: technicianBody,
      handler: async ({ ctx, params, body, res }) => sendData(res, await setJobTechnician(ctx, params.jobId, body.technician_id)),
    }),
    defineRoute({
      method: 'post',
      path: '/jobs/:jobId/en-route',
      summary: 'The vendor is on the way to an assigned job (with the expected arrival when known); tells the client',
      tags: ['jobs'],
      access: moveJobs,
      params: jobParams,
      body: z.object({ eta: timestamp.nullable().optional().describe('Expected arrival') }),
      successStatus: 200,
      handler: async ({ ctx, params, body, res }) => sendData(res, await markJobEnRoute(ctx, params.jobId, body)),
    }),
    defineRoute({
      method: 'post',
      path: '/jobs/:jobId/notes',
      summary: 'Add an internal note to the job’s story',
      tags: ['jobs'],
      access: writeJobs,
      params: jobParams,
      body: z.object({ body: text({ min: 1, max: 20_000 }) }),
      handler: async ({ ctx, params, body, res }) => sendData(res, await addJobNote(ctx, params.jobId, body.body), {}, 201),
    }),
    defineRoute({
      method: 'put',
      path: '/jobs/:jobId/conversations/:conversationId',
      summary: 'Link a Chatwoot conversation to the job (it gets a note and the job’s attributes)',
      tags: ['jobs'],
      access: writeJobs,
      params: jobParams.extend({ conversationId: chatwootIdParam }),
      handler: async ({ ctx, params, res }) => sendData(res, await linkJob(ctx, params.jobId, { conversation_id: params.conversationId })),
    }),
    defineRoute({
      method: 'delete',
      path: '/jobs/:jobId/conversations/:conversationId',
      summary: 'Unlink a Chatwoot conversation from the job',
      tags: ['jobs'],
      access: writeJobs,
      params: jobParams.extend({ conversationId: chatwootIdParam }),
      handler: async ({ ctx, params, res }) => sendData(res, await linkJob(ctx, params.jobId, { conversation_id: params.conversationId }, true)),
    }),
    defineRoute({
      method: 'put',
      path: '/jobs/:jobId/deals/:dealId',
      summary: 'Link a deal to the job',
      tags: ['jobs'],
      access: writeJobs,
      params: jobParams.extend({ dealId: z.uuid() }),
      handler: async ({ ctx, params, res }) => sendData(res, await linkJob(ctx, params.jobId, { deal_id: params.dealId })),
    }),
    defineRoute({
      method: 'delete',
      path: '/jobs/:jobId/deals/:dealId',
      summary: 'Unlink a deal from the job',
      tags: ['jobs'],
      access: writeJobs,
      params: jobParams.extend({ dealId: z.uuid() }),
      handler: async ({ ctx, params, res }) => sendData(res, await linkJob(ctx, params.jobId, { deal_id: params.dealId }, true)),
    }),
    defineRoute({
      method: 'post',
      path: '/jobs/:jobId/checklist',
      summary: 'Add an item to the job’s checklist',
      tags: ['jobs'],
      access: writeJobs,
      params: jobParams,
      body: z.object({ label: checklistLabel, required: z.boolean().optional() }),
      handler: async ({ ctx, params, body, res }) => sendData(res, await addChecklistItem(ctx, params.jobId, body), {}, 201),
    }),
    defineRoute({
      method: 'put',
      path: '/jobs/:jobId/checklist/:itemId',
      summary: 'Tick or untick a checklist item (vendors tick their own jobs’)',
      tags: ['jobs'],
      access: moveJobs,
      params: jobParams.extend({ itemId: z.uuid() }),
      body: z.object({ done: z.boolean() }),
      handler: async ({ ctx, params, body, res }) => sendData(res, await setChecklistItem(ctx, params.jobId, params.itemId, body.done)),
    }),
    defineRoute({
      method: 'get',
      path: '/jobs/:jobId/suggestions',
      summary: 'Vendors who can take the job, best first, each with its score breakdown; excluded ones with reasons',
      tags: ['jobs'],
      access: assignJobs,
      params: jobParams,
      query: z.object({ limit: z.coerce.number().int().min(1).max(100).default(10) }),
      handler: async ({ ctx, params, query, res }) => sendData(res, await suggestVendors(ctx, params.jobId, query.limit)),
    }),
    defineRoute({
      method: 'post',
      path: '/jobs/:jobId/assignment',
      summary: 'Assign or reassign the job to a vendor (expired compliance needs compliance_override_reason)',
      tags: ['jobs'],
      access: assignJobs,
      params: jobParams,
      body: z.object({
        vendor_id: z.uuid(),
        reason: reason.optional(),
        compliance_override_reason: reason.optional(),
        version: rowVersion.optional(),
      }),
      successStatus: 200,
      handler: async ({ ctx, params, body, res }) => sendData(res, await assignVendor(ctx, params.jobId, body)),
    }),
    defineRoute({
      method: 'post',
      path: '/jobs/:jobId/unassign',
      summary: 'Take the job back from its vendor (it returns to triage)',
      tags: ['jobs'],
      access: assignJobs,
      params: jobParams,
      body: z.object({ reason, version: rowVersion.optional() }),
      successStatus: 200,
      handler: async ({ ctx, params, body, res }) => sendData(res, await unassignVendor(ctx, params.jobId, body)),
    }),
    defineRoute({
      method: 'get',
      path: '/checklist-templates',
      summary: 'Checklist templates per service category',
      tags: ['jobs'],
      access: readJobs,
      handler: async ({ ctx, res }) => sendData(res, await listTemplates(ctx)),
    }),
    defineRoute({
      method: 'post',
      path: '/checklist-templates',
      summary: 'Create a checklist template',
      tags: ['jobs'],
      access: configure,
      body: z.object({
        name: text({ min: 1, max: 200 }),
        service_category: category.nullable().optional(),
        items: z.array(z.object({ label: checklistLabel, required: z.boolean().optional() })).min(1).max(100),
        required_photos: requiredPhotos.optional(),
        active: z.boolean().optional(),
      }),
      handler: async ({ ctx, body, res }) => sendData(res, await createTemplate(ctx, body), {}, 201),
    }),
    defineRoute({
      method: 'patch',
      path: '/checklist-templates/:templateId',
      summary: 'Edit a checklist template (existing jobs keep their copy)',
      tags: ['jobs'],
      access: configure,
      params: z.object({ templateId: z.uuid() }),
      body: z.object({
        name: text({ min: 1, max: 200 }).optional(),
        service_category: category.nullable().optional(),
        items: z.array(z.object({ label: checklistLabel, required: z.boolean().optional() })).min(1).max(100).optional(),
        required_photos: requiredPhotos.optional(),
        active: z.boolean().optional(),
      }),
      handler: async ({ ctx, params, body, res }) => sendData(res, await updateTemplate(ctx, params.templateId, body)),
    }),
    defineRoute({
      method: 'get',
      path: '/dispatch/settings',
      summary: 'SLA minutes per priority, the warning window before a breach, and whether the vendor portal keeps where photos were taken',
      tags: ['jobs'],
      access: readJobs,
      handler: async ({ ctx, res }) => sendData(res, await getDispatchSettings(ctx)),
    }),
    defineRoute({
      method: 'patch',
      path: '/dispatch/settings',
      summary: 'Change SLA minutes per priority, the warning window, or whether the vendor portal keeps where photos were taken',
      tags: ['jobs'],
      access: configure,
      body: z.object({
        sla_minutes: z.object(Object.fromEntries(jobPriorities.map((p) => [p, z.number().int().min(5).max(525_600).optional()]))).optional(),
        sla_warning_minutes: z.number().int().min(1).max(10_080).optional(),
        keep_photo_location: z.boolean().optional().describe('Off by default: the portal sends, and the server keeps, the position in a photo’s EXIF'),
      }),
      handler: async ({ ctx, body, res }) => sendData(res, await updateDispatchSettings(ctx, body as Parameters<typeof updateDispatchSettings>[1])),
    }),
  ];
}
