// HTTP routes for job offers: offering a job to a vendor, the vendor's (or staff's) answer,
// withdrawing, the offers of a job and the offers in flight, and the account's offer settings.
import { z } from 'zod';
import { sendData } from '../../http/envelope.ts';
import { defineRoute } from '../../http/registry.ts';
import { text } from '../../http/schemas.ts';
import { acceptOffer, declineOffer, getOfferSettings, listJobOffers, listOffers, offerJob, offerStatuses, updateOfferSettings, withdrawOffer } from './service.ts';

const answerMinutes = z.number().int().min(1).max(10_080);
const offerParams = z.object({ offerId: z.uuid() });
const reason = text({ min: 1, max: 2000 });

export function offerRoutes() {
  const readJobs = { permission: 'jobs:read', capability: 'dispatch.vendors' } as const;
  const assignJobs = { permission: 'jobs:assign', capability: 'dispatch.vendors' } as const;
  // Vendors answer from the portal (their own offers only); staff who may assign answer for them.
  const answer = { permission: 'jobs:transition', capability: 'dispatch.vendors' } as const;
  const configure = { permission: 'dispatch:configure', capability: 'dispatch.vendors' } as const;
  return [
    defineRoute({
      method: 'post',
      path: '/jobs/:jobId/offers',
      summary: 'Offer a job waiting for a vendor to one vendor, who answers by the answer-by time; 409 while another offer is open',
      tags: ['jobs'],
      access: assignJobs,
      params: z.object({ jobId: z.uuid() }),
      body: z.object({
        vendor_id: z.uuid(),
        answer_minutes: answerMinutes.optional().describe('Minutes the vendor has to answer (default: the account’s offer_answer_minutes)'),
        compliance_override_reason: reason.optional().describe('Required to offer a vendor whose compliance expired or is missing'),
      }),
      handler: async ({ ctx, params, body, res }) => sendData(res, await offerJob(ctx, params.jobId, body), {}, 201),
    }),
    defineRoute({
      method: 'get',
      path: '/jobs/:jobId/offers',
      summary: 'The offers of a job, oldest first (a vendor sees only the offers made to them)',
      tags: ['jobs'],
      access: readJobs,
      params: z.object({ jobId: z.uuid() }),
      handler: async ({ ctx, params, res }) => sendData(res, await listJobOffers(ctx, params.jobId)),
    }),
    defineRoute({
      method: 'get',
      path: '/offers',
      summary: 'Offers by status (default open): a vendor’s own, or the account’s offers in flight for staff',
      tags: ['jobs'],
      access: readJobs,
      query: z.object({ status: z.enum(offerStatuses).default('open'), limit: z.coerce.number().int().min(1).max(200).default(100) }),
      handler: async ({ ctx, query, res }) => sendData(res, await listOffers(ctx, query)),
    }),
    defineRoute({
      method: 'post',
      path: '/offers/:offerId/accept',
      summary: 'Accept an open offer: the job is assigned to the vendor (409 once it lapsed or was answered)',
      tags: ['jobs'],
      access: answer,
      params: offerParams,
      successStatus: 200,
      handler: async ({ ctx, params, res }) => sendData(res, await acceptOffer(ctx, params.offerId)),
    }),
    defineRoute({
      method: 'post',
      path: '/offers/:offerId/decline',
      summary: 'Decline an open offer with a reason (the job may go on to the next suggested vendor)',
      tags: ['jobs'],
      access: answer,
      params: offerParams,
      body: z.object({ reason }),
      successStatus: 200,
      handler: async ({ ctx, params, body, res }) => sendData(res, await declineOffer(ctx, params.offerId, body.reason)),
    }),
    defineRoute({
      method: 'post',
      path: '/offers/:offerId/withdraw',
      summary: 'Take back an open offer',
      tags: ['jobs'],
      access: assignJobs,
      params: offerParams,
      body: z.object({ reason: reason.optional() }),
      successStatus: 200,
      handler: async ({ ctx, params, body, res }) => sendData(res, await withdrawOffer(ctx, params.offerId, body.reason ?? null)),
    }),
    defineRoute({
      method: 'get',
      path: '/dispatch/offer-settings',
      summary: 'How long vendors have to answer an offer, and whether a declined or lapsed offer goes on to the next suggested vendor',
      tags: ['jobs'],
      access: assignJobs,
      handler: async ({ ctx, res }) => sendData(res, await getOfferSettings(ctx)),
    }),
    defineRoute({
      method: 'patch',
      path: '/dispatch/offer-settings',
      summary: 'Change the offer answer time or automatic offering to the next suggested vendor',
      tags: ['jobs'],
      access: configure,
      body: z.object({ offer_answer_minutes: answerMinutes.optional(), offer_next_automatically: z.boolean().optional() }),
      handler: async ({ ctx, body, res }) => sendData(res, await updateOfferSettings(ctx, body)),
    }),
  ];
}
