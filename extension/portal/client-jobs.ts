// A client's jobs and service requests (the client portal's "My jobs" and "Ask for service"):
// what a client reads of their jobs is in client-jobs-view.ts, what they ask or call off in
// client-jobs-requests.ts. Anyone but a client portal user finds nothing here (404).
import { z } from 'zod';
import { sendData } from '../http/envelope.ts';
import { defineRoute } from '../http/registry.ts';
import { text } from '../http/schemas.ts';
import type { Services } from '../services.ts';
import { cancelClientJob, maxRequestPhotos, receiveRequestForm, requestFields, serviceOptions, submitServiceRequest } from './client-jobs-requests.ts';
import { clientStages, getClientJob, listClientJobs, pastLimit, requireClientUser } from './client-jobs-view.ts';
import { dropReceived } from '../modules/artifacts/upload.ts';

const window = z.object({ starts_at: z.string().nullable(), ends_at: z.string().nullable() }).nullable();

const summary = z.object({
  id: z.uuid(),
  reference: z.string(),
  summary: z.string(),
  service_category: z.string().nullable(),
  stage: z.enum(clientStages).describe('Where the job stands, in plain words: received, scheduled, on_the_way, in_progress, done or canceled'),
  window: window.describe('The appointment window the business set'),
  preferred_window: window.describe('The window the client asked for'),
  technician: z.object({ first_name: z.string().nullable(), eta_at: z.string().nullable() }).nullable().describe('Who comes (first name) and, while on the way, the expected arrival'),
  checklist_percent: z.number().int().nullable().describe('How much of the work’s checklist is done (null: the job has none)'),
  created_at: z.string(),
  completed_at: z.string().nullable(),
  can_cancel: z.boolean().describe('True while no vendor holds the job'),
});

const job = summary.extend({
  timeline: z.array(z.object({ stage: z.enum(clientStages), at: z.string().nullable(), reached: z.boolean() })),
  address: z.string().nullable(),
  files: z
    .array(z.object({ id: z.uuid(), kind: z.string(), filename: z.string(), content_type: z.string(), url: z.string(), thumbnail_url: z.string().nullable(), created_at: z.string() }))
    .describe('The files shared with the client (and their own request photos), behind signed links (60 minutes)'),
});

const jobParams = z.object({ jobId: z.uuid() });

export function clientJobRoutes(services: Services) {
  const access = { permission: 'client_portal:use', capability: 'portal.client' } as const;
  return [
    defineRoute({
      method: 'get',
      path: '/portal/client/jobs',
      summary: `Your jobs: open ones newest first, or past ones (done or canceled, the latest ${pastLimit})`,
      tags: ['portal'],
      access,
      query: z.object({ scope: z.enum(['open', 'past']).default('open') }),
      response: z.array(summary),
      handler: async ({ ctx, query, res }) => sendData(res, await listClientJobs(ctx, query.scope)),
    }),
    defineRoute({
      method: 'get',
      path: '/portal/client/jobs/:jobId',
      summary: 'One of your jobs: where it stands on its timeline, the visit, the technician, progress and the files shared with you',
      tags: ['portal'],
      access,
      params: jobParams,
      response: job,
      handler: async ({ ctx, params, res }) => sendData(res, await getClientJob(services, ctx, params.jobId)),
    }),
    defineRoute({
      method: 'post',
      path: '/portal/client/jobs/:jobId/cancel',
      summary: 'Call off a request while no vendor has it yet (409 not_cancelable after that)',
      tags: ['portal'],
      access,
      params: jobParams,
      body: z.object({ reason: text({ min: 1, max: 1000 }).optional() }),
      response: job,
      successStatus: 200,
      handler: async ({ ctx, params, body, res }) => sendData(res, await cancelClientJob(services, ctx, params.jobId, body.reason)),
    }),
    defineRoute({
      method: 'get',
      path: '/portal/client/service-options',
      summary: 'What a service request can name: the categories, and the address of your latest job (to prefill)',
      tags: ['portal'],
      access,
      response: z.object({ categories: z.array(z.string()), address: z.string().nullable() }),
      handler: async ({ ctx, res }) => sendData(res, await serviceOptions(ctx)),
    }),
    defineRoute({
      method: 'post',
      path: '/portal/client/requests',
      summary: `Ask for service (201 with the new job; the same id again answers 200 with that job). As JSON, or as multipart/form-data with the same fields and up to ${maxRequestPhotos} files in fields named "photos" (photos only, up to ONELINK_UPLOAD_MAX_MB each, 40 MB in all)`,
      tags: ['portal'],
      access,
      // Per client address: a person asks a few times a day, a phone resends its queue when back online.
      rateLimitPerMinute: 30,
      multipart: true,
      body: requestFields,
      response: job,
      handler: async ({ ctx, body, req, res }) => {
        let answer: Awaited<ReturnType<typeof submitServiceRequest>>;
        if (body) answer = await submitServiceRequest(services, ctx, body, []);
        else {
          // Nothing is read from someone who is not a client.
          requireClientUser(ctx, 'Service request');
          const form = await receiveRequestForm(req, services);
          try {
            answer = await submitServiceRequest(services, ctx, form.fields, form.photos);
          } finally {
            await dropReceived(form.photos);
          }
        }
        sendData(res, answer.job, {}, answer.replayed ? 200 : 201);
      },
    }),
  ];
}
