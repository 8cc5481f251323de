// The offer record as the offers module and its neighbours see it: columns, the open offer of a
// job, closing one and withdrawing one inside the caller's unit of work. It imports only the job
// record, so the assignment engine can withdraw a job's open offer without an import circle.
import type { Knex } from 'knex';
import type { RequestContext } from '../../context.ts';
import type { Audit } from '../../db/tenant.ts';
import { appendJobEvent, type JobRow } from '../jobs/records.ts';

export const offerStatuses = ['open', 'accepted', 'declined', 'lapsed', 'withdrawn'] as const;
export type OfferStatus = (typeof offerStatuses)[number];

export interface OfferRow {
  id: string;
  job_id: string;
  vendor_id: string;
  status: OfferStatus;
  answer_by: Date;
  decline_reason: string | null;
  compliance_override_reason: string | null;
  offered_by_type: string;
  offered_by_id: string;
  answered_by_type: string | null;
  answered_by_id: string | null;
  answered_at: Date | null;
  created_at: Date;
}

export const offerColumns = [
  'id', 'job_id', 'vendor_id', 'status', 'answer_by', 'decline_reason', 'compliance_override_reason', 'offered_by_type', 'offered_by_id',
  'answered_by_type', 'answered_by_id', 'answered_at', 'created_at',
] as const;

export const clock = (date: Date) => `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;

export async function vendorName(trx: Knex.Transaction, accountId: number, vendorId: string): Promise<string> {
  return (await trx('vendors').where({ account_id: accountId, id: vendorId }).first('name'))?.name ?? 'the vendor';
}

export async function openOfferOf(trx: Knex.Transaction, accountId: number, jobId: string): Promise<OfferRow | undefined> {
  return trx('job_offers').where({ account_id: accountId, job_id: jobId, status: 'open' }).first(...offerColumns);
}

export async function closeOffer(trx: Knex.Transaction, ctx: Pick<RequestContext, 'accountId' | 'actor'>, offer: OfferRow, status: Exclude<OfferStatus, 'open'>, now: Date, reason: string | null = null) {
  await trx('job_offers')
    .where({ account_id: ctx.accountId, id: offer.id, status: 'open' })
    .update({ status, decline_reason: status === 'declined' ? reason : null, answered_by_type: ctx.actor.type, answered_by_id: ctx.actor.id, answered_at: now });
}

export async function withdraw(trx: Knex.Transaction, ctx: Pick<RequestContext, 'accountId' | 'actor'>, audit: Audit, job: JobRow, offer: OfferRow, name: string, now: Date, reason: string | null) {
  await closeOffer(trx, ctx, offer, 'withdrawn', now);
  await appendJobEvent(trx, ctx, job.id, 'offer_withdrawn', { offer_id: offer.id, vendor_id: offer.vendor_id, vendor_name: name, ...(reason ? { reason } : {}) });
  await audit({
    action: 'job.offer_withdrawn',
    resourceType: 'job',
    resourceId: job.id,
    before: { status: 'open' },
    after: { offer_id: offer.id, vendor_id: offer.vendor_id, vendor_name: name, status: 'withdrawn', reason },
    ...(ctx.actor.type === 'system' ? { actor: ctx.actor } : {}),
  });
}
