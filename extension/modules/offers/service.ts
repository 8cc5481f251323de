// Job offers: dispatch offers a job waiting for a vendor to one vendor, with an answer-by time.
// The vendor (from the portal) or staff on their behalf accepts — the job is then assigned through
// the assignment engine, so its checks, history, story, status move and audit are the usual ones —
// or declines with a reason; an offer nobody answered in time lapses (the sweep, sweep.ts). After a
// decline or a lapse the job goes on to the next suggested vendor when the account wants it.
// Every offer, answer, lapse and withdrawal is a job event and an audit event (resource: the job);
// the audit actions raise the notifications (vendor.job_offered, staff.offer_answered).
//
// Locks: always the job first, then its offer, so an answer, a new offer and the sweep on the same
// job queue behind each other instead of deadlocking.
import type { Knex } from 'knex';
import type { Actor, RequestContext } from '../../context.ts';
import { actingAsSystem, read, write, type Audit } from '../../db/tenant.ts';
import { ConflictError, ForbiddenByRuleError, NotFoundError } from '../../errors.ts';
import { assignInTransaction, vendorFacts } from '../assignment/service.ts';
import { exclusions, rank } from '../assignment/scoring.ts';
import { appendJobEvent, dispatchSettings, isPortalUser, loadJob, presentJob, type JobRow } from '../jobs/records.ts';
import { jobReference } from '../jobs/rules.ts';
import { clock, closeOffer, offerColumns, openOfferOf, vendorName, withdraw, type OfferRow, type OfferStatus } from './records.ts';

export { offerStatuses, type OfferRow, type OfferStatus } from './records.ts';

/** Onelink acting on offers: lapsing them, offering a job on by itself, assigning on a vendor's acceptance. */
export const offerProcess = 'job-offers';
const systemActor: Actor = { type: 'system', id: offerProcess };

export interface OfferSettings { offer_answer_minutes: number; offer_next_automatically: boolean }
export const defaultOfferSettings: OfferSettings = { offer_answer_minutes: 15, offer_next_automatically: false };

export async function offerSettings(trx: Knex.Transaction, accountId: number): Promise<OfferSettings> {
  const row = await trx('dispatch_settings').where({ account_id: accountId }).first('offer_answer_minutes', 'offer_next_automatically');
  return row ? { offer_answer_minutes: row.offer_answer_minutes, offer_next_automatically: row.offer_next_automatically } : { ...defaultOfferSettings };
}

function staffOnly(ctx: RequestContext, what = 'Job') {
  if (isPortalUser(ctx)) throw new NotFoundError(what);
}

export async function getOfferSettings(ctx: RequestContext) {
  staffOnly(ctx, 'Settings');
  return read(ctx, (trx) => offerSettings(trx, ctx.accountId));
}

export async function updateOfferSettings(ctx: RequestContext, input: Partial<OfferSettings>) {
  staffOnly(ctx, 'Settings');
  return write(ctx, async (trx, audit) => {
    const before = await offerSettings(trx, ctx.accountId);
    const after = { ...before, ...Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)) } as OfferSettings;
    // The row may not exist yet: it is created with the SLA defaults it would otherwise read as.
    const sla = await dispatchSettings(trx, ctx.accountId);
    await trx('dispatch_settings')
      .insert({ account_id: ctx.accountId, sla_minutes: sla.sla_minutes, sla_warning_minutes: sla.sla_warning_minutes, ...after })
      .onConflict('account_id')
      .merge({ ...after, updated_at: trx.fn.now() });
    await audit({ action: 'dispatch_settings.updated', resourceType: 'dispatch_settings', resourceId: ctx.accountId, before: { ...before }, after: { ...after } });
    return after;
  });
}

/** A job is offered only while it waits for a vendor. */
const waiting = (job: JobRow) => (job.status === 'new' || job.status === 'triaged') && !job.vendor_id;

const minutesAfter = (now: Date, minutes: number) => new Date(now.getTime() + minutes * 60_000);

interface NewOffer {
  vendorId: string;
  answerMinutes?: number;
  complianceOverrideReason?: string | null;
  /** Offered by the account's rule (the next suggested vendor), not by a person. */
  automatic?: boolean;
}

/**
 * Offers `job` (loaded for update) to a vendor, in the caller's unit of work. Refused (409) for a
 * job that is not waiting for a vendor, one already offered, an inactive or blocked vendor, and a
 * vendor whose compliance expired or is missing unless an override reason is given.
 */
async function createOffer(trx: Knex.Transaction, ctx: Pick<RequestContext, 'accountId' | 'actor'>, audit: Audit, job: JobRow, input: NewOffer, now: Date): Promise<OfferRow> {
  const ref = jobReference(job.number);
  if (!waiting(job)) throw new ConflictError('job_not_waiting', `${ref} is ${job.status}${job.vendor_id ? ' with a vendor' : ''}; only a job waiting for a vendor can be offered`);
  const open = await openOfferOf(trx, ctx.accountId, job.id);
  if (open) {
    const holder = await vendorName(trx, ctx.accountId, open.vendor_id);
    throw new ConflictError('offer_open', `${ref} is already offered to ${holder} until ${clock(open.answer_by)}; withdraw that offer first`, { offer_id: open.id, vendor_id: open.vendor_id, answer_by: open.answer_by });
  }
  const [facts] = await vendorFacts(trx, ctx.accountId, job, input.vendorId);
  if (!facts) throw new NotFoundError('Vendor');
  const vendor = await trx('vendors').where({ account_id: ctx.accountId, id: input.vendorId }).first('active', 'name');
  if (!vendor.active) throw new ConflictError('vendor_inactive', `${vendor.name} is not active`);
  const reasons = exclusions(facts);
  if (reasons.includes('blocked_by_client')) throw new ConflictError('vendor_blocked', `The client has blocked ${vendor.name}`, { reasons });
  const needsOverride = facts.compliance === 'expired' || facts.compliance === 'missing';
  if (needsOverride && !input.complianceOverrideReason) {
    throw new ConflictError('compliance_override_required', `${vendor.name}'s compliance is ${facts.compliance}; give compliance_override_reason to offer the job anyway`, { compliance: facts.compliance });
  }
  const minutes = input.answerMinutes ?? (await offerSettings(trx, ctx.accountId)).offer_answer_minutes;
  let offer: OfferRow;
  try {
    [offer] = (await trx('job_offers')
      .insert({
        account_id: ctx.accountId,
        job_id: job.id,
        vendor_id: input.vendorId,
        answer_by: minutesAfter(now, minutes),
        compliance_override_reason: needsOverride ? input.complianceOverrideReason : null,
        offered_by_type: ctx.actor.type,
        offered_by_id: ctx.actor.id,
        created_at: now,
      })
      .returning([...offerColumns])) as [OfferRow];
  } catch (err) {
    // Two offers raced past the check above: the index keeps one open.
    if ((err as { constraint?: string }).constraint === 'job_offers_one_open') throw new ConflictError('offer_open', `${ref} is already offered to another vendor; withdraw that offer first`);
    throw err;
  }
  const offered = { offer_id: offer.id, vendor_id: offer.vendor_id, vendor_name: vendor.name, answer_by: offer.answer_by, ...(input.automatic ? { automatic: true } : {}) };
  await appendJobEvent(trx, ctx, job.id, 'offered', { ...offered, ...(needsOverride ? { compliance: facts.compliance, compliance_override_reason: input.complianceOverrideReason } : {}) });
  await audit({
    action: 'job.offered',
    resourceType: 'job',
    resourceId: job.id,
    after: { ...offered, answer_by: offer.answer_by.toISOString(), status: 'open', ...(needsOverride ? { compliance: facts.compliance, compliance_override_reason: input.complianceOverrideReason } : {}) },
    ...(ctx.actor.type === 'system' ? { actor: ctx.actor } : {}),
  });
  return offer;
}

/**
 * The next suggested vendor not offered this job yet, offered by the account's rule; null when the
 * job no longer waits, is already offered, or no suggested vendor is left.
 */
async function offerNext(trx: Knex.Transaction, accountId: number, audit: Audit, jobId: string, now: Date): Promise<{ offer: OfferRow; vendor_name: string } | null> {
  const ctx = { accountId, actor: systemActor };
  const [job] = (await trx('jobs').where({ account_id: accountId, id: jobId }).forUpdate().select('*')) as JobRow[];
  if (!job || !waiting(job) || (await openOfferOf(trx, accountId, jobId))) return null;
  const offered = new Set<string>(await trx('job_offers').where({ account_id: accountId, job_id: jobId }).pluck('vendor_id'));
  const { candidates } = rank(await vendorFacts(trx, accountId, job));
  const next = candidates.find((c) => !offered.has(c.vendor_id));
  if (!next) return null;
  const offer = await createOffer(trx, ctx, audit, job, { vendorId: next.vendor_id, automatic: true }, now);
  return { offer, vendor_name: next.name };
}

/** What the answer audits say about the job's next step: offered on to someone, or nobody left. */
const nextStep = (auto: boolean, next: { offer: OfferRow; vendor_name: string } | null) =>
  auto ? { next_vendor_id: next?.offer.vendor_id ?? null, next_vendor_name: next?.vendor_name ?? null } : {};

// ---- reading ---------------------------------------------------------------------------------

interface ListedOffer extends OfferRow {
  vendor_name: string;
  job_number: number;
  job_summary: string;
  job_status: string;
  service_category: string | null;
  priority: string;
  postal_code: string | null;
  window_starts_at: Date | null;
  window_ends_at: Date | null;
  sla_due_at: Date | null;
}

function offersQuery(trx: Knex.Transaction, accountId: number) {
  return trx('job_offers as o')
    .join('jobs as j', (on) => on.on('j.account_id', 'o.account_id').andOn('j.id', 'o.job_id'))
    .join('vendors as v', (on) => on.on('v.account_id', 'o.account_id').andOn('v.id', 'o.vendor_id'))
    .where('o.account_id', accountId)
    .select(
      ...offerColumns.map((c) => `o.${c}`),
      'v.name as vendor_name', 'j.number as job_number', 'j.summary as job_summary', 'j.status as job_status', 'j.service_category', 'j.priority',
      'j.postal_code', 'j.window_starts_at', 'j.window_ends_at', 'j.sla_due_at',
    );
}

/**
 * An offer as this caller may see it. Staff: everything. The offered vendor: what they need to
 * decide — the job's reference, summary, category, priority, postal code, window and SLA — but not
 * the client, the address or phone (theirs only once the job is), who offered, or override reasons.
 */
export function presentOffer(ctx: RequestContext, row: ListedOffer) {
  const job = {
    id: row.job_id,
    reference: jobReference(row.job_number),
    summary: row.job_summary,
    service_category: row.service_category,
    priority: row.priority,
    postal_code: row.postal_code,
    window_starts_at: row.window_starts_at,
    window_ends_at: row.window_ends_at,
    sla_due_at: row.sla_due_at,
  };
  const shared = { id: row.id, job_id: row.job_id, vendor_id: row.vendor_id, status: row.status, answer_by: row.answer_by, decline_reason: row.decline_reason, answered_at: row.answered_at, created_at: row.created_at };
  if (isPortalUser(ctx)) return { ...shared, job };
  return {
    ...shared,
    vendor_name: row.vendor_name,
    job: { ...job, status: row.job_status },
    compliance_override_reason: row.compliance_override_reason,
    offered_by_type: row.offered_by_type,
    offered_by_id: row.offered_by_id,
    answered_by_type: row.answered_by_type,
    answered_by_id: row.answered_by_id,
  };
}

/** Offers of one job, oldest first. A vendor sees only the offers made to them (none: 404); clients none. */
export async function listJobOffers(ctx: RequestContext, jobId: string) {
  // Offers are the owner's to answer: a technician works the jobs given to them, nothing more.
  if (ctx.contactId !== undefined || ctx.vendorRole === 'technician') throw new NotFoundError('Job');
  return read(ctx, async (trx) => {
    if (!ctx.vendorId) await loadJob(trx, ctx, jobId);
    const query = offersQuery(trx, ctx.accountId).where('o.job_id', jobId).orderBy([{ column: 'o.created_at' }, { column: 'o.id' }]);
    if (ctx.vendorId) query.where('o.vendor_id', ctx.vendorId);
    const rows = (await query) as ListedOffer[];
    if (ctx.vendorId && !rows.length) throw new NotFoundError('Job');
    return rows.map((r) => presentOffer(ctx, r));
  });
}

/**
 * Offers by status (default open): a vendor's own, or the account's for staff (the dispatch
 * board's offers in flight). Open ones soonest answer-by first; the others newest first.
 */
export async function listOffers(ctx: RequestContext, filters: { status: OfferStatus; limit: number }) {
  if (ctx.contactId !== undefined || ctx.vendorRole === 'technician') return []; // clients are never offered anything; technicians answer none
  return read(ctx, async (trx) => {
    const query = offersQuery(trx, ctx.accountId).where('o.status', filters.status).limit(filters.limit);
    if (ctx.vendorId) query.where('o.vendor_id', ctx.vendorId);
    if (filters.status === 'open') query.orderBy([{ column: 'o.answer_by' }, { column: 'o.id' }]);
    else query.orderBy([{ column: 'o.created_at', order: 'desc' }, { column: 'o.id', order: 'desc' }]);
    return ((await query) as ListedOffer[]).map((r) => presentOffer(ctx, r));
  });
}

async function presented(trx: Knex.Transaction, ctx: RequestContext, offerId: string) {
  return presentOffer(ctx, (await offersQuery(trx, ctx.accountId).where('o.id', offerId).first()) as ListedOffer);
}

// ---- offering and answering ------------------------------------------------------------------

export interface OfferInput { vendor_id: string; answer_minutes?: number; compliance_override_reason?: string | null }

/** Staff offer a job waiting for a vendor to one vendor (POST /jobs/:jobId/offers). */
export async function offerJob(ctx: RequestContext, jobId: string, input: OfferInput, now = new Date()) {
  staffOnly(ctx);
  return write(ctx, async (trx, audit) => {
    const job = await loadJob(trx, ctx, jobId, true);
    const offer = await createOffer(trx, ctx, audit, job, { vendorId: input.vendor_id, answerMinutes: input.answer_minutes, complianceOverrideReason: input.compliance_override_reason }, now);
    return presented(trx, ctx, offer.id);
  });
}

/**
 * Who may answer: the offered vendor's owners, and staff who may assign (on the vendor's behalf).
 * Another vendor's users, the vendor's technicians and clients are told the offer does not exist.
 */
function answerable(ctx: RequestContext, offer: Pick<OfferRow, 'vendor_id'> | undefined): asserts offer {
  if (!offer || ctx.contactId !== undefined || ctx.vendorRole === 'technician' || (ctx.vendorId && ctx.vendorId !== offer.vendor_id)) throw new NotFoundError('Offer');
  if (!ctx.vendorId && !ctx.permissions.has('jobs:assign')) throw new ForbiddenByRuleError('offer_answer_not_allowed', 'Answering an offer for a vendor needs the jobs:assign permission');
}

const closedMessage = (offer: OfferRow) =>
  ({
    open: '',
    accepted: 'This offer was already accepted',
    declined: 'This offer was already declined',
    lapsed: `This offer lapsed: it was not answered by ${clock(offer.answer_by)}, so it can no longer be answered`,
    withdrawn: 'Dispatch withdrew this offer; it can no longer be answered',
  })[offer.status];

/**
 * Locks the offer's job, then the offer, and checks it can still be answered: open, and its
 * answer-by time not passed (the sweep may not have lapsed it yet).
 */
async function lockForAnswer(trx: Knex.Transaction, ctx: RequestContext, offerId: string, now: Date) {
  const peek = (await trx('job_offers').where({ account_id: ctx.accountId, id: offerId }).first('job_id', 'vendor_id')) as Pick<OfferRow, 'job_id' | 'vendor_id'> | undefined;
  answerable(ctx, peek);
  // A vendor does not see the offered job as theirs yet: the job is read in the account's scope.
  const scope = actingAsSystem(ctx, offerProcess);
  const job = await loadJob(trx, scope, peek.job_id, true);
  const offer = (await trx('job_offers').where({ account_id: ctx.accountId, id: offerId }).forUpdate().first(...offerColumns)) as OfferRow;
  if (offer.status !== 'open') throw new ConflictError(`offer_${offer.status}`, closedMessage(offer), { status: offer.status });
  if (offer.answer_by <= now) throw new ConflictError('offer_lapsed', `This offer lapsed: it was not answered by ${clock(offer.answer_by)}, so it can no longer be answered`, { status: 'lapsed' });
  return { job, offer, scope };
}

/**
 * The offered vendor (or staff for them) accepts: the job is assigned to the vendor through the
 * assignment engine in the same transaction. A job that meanwhile stopped waiting (assigned by
 * hand, canceled) withdraws the offer and answers 409.
 */
export async function acceptOffer(ctx: RequestContext, offerId: string, now = new Date()) {
  const outcome = await write(ctx, async (trx, audit) => {
    const { job, offer, scope } = await lockForAnswer(trx, ctx, offerId, now);
    const name = await vendorName(trx, ctx.accountId, offer.vendor_id);
    if (!waiting(job)) {
      await withdraw(trx, ctx, audit, job, offer, name, now, 'the job no longer waits for a vendor');
      return { gone: job } as const;
    }
    // A vendor's own acceptance assigns as the offer process (the portal cannot move jobs by itself);
    // the audit still names the vendor's user, the one who accepted.
    const assigner = ctx.vendorId ? scope : ctx;
    let after: JobRow;
    try {
      after = await assignInTransaction(trx, assigner, audit, job, { vendor_id: offer.vendor_id, reason: 'offer accepted', compliance_override_reason: offer.compliance_override_reason, offerId: offer.id });
    } catch (err) {
      if (err instanceof ConflictError && err.code === 'compliance_override_required') {
        throw new ConflictError('vendor_not_compliant', `${name}'s compliance documents are not in order, so the job cannot be given to them now; dispatch can offer it again with an override`, err.details);
      }
      throw err;
    }
    await closeOffer(trx, ctx, offer, 'accepted', now);
    await appendJobEvent(trx, ctx, job.id, 'offer_accepted', { offer_id: offer.id, vendor_id: offer.vendor_id, vendor_name: name });
    await audit({ action: 'job.offer_accepted', resourceType: 'job', resourceId: job.id, before: { status: 'open' }, after: { offer_id: offer.id, vendor_id: offer.vendor_id, vendor_name: name, status: 'accepted' } });
    return { offer: await presented(trx, ctx, offer.id), job: presentJob(ctx, after, (await dispatchSettings(trx, ctx.accountId)).sla_warning_minutes) } as const;
  });
  if ('gone' in outcome && outcome.gone) {
    throw new ConflictError('job_not_waiting', `${jobReference(outcome.gone.number)} is no longer waiting for a vendor (it is ${outcome.gone.status}); the offer was withdrawn`);
  }
  return outcome;
}

/** The offered vendor (or staff for them) declines with a reason; the job may go on to the next vendor. */
export async function declineOffer(ctx: RequestContext, offerId: string, reason: string, now = new Date()) {
  return write(ctx, async (trx, audit) => {
    const { job, offer } = await lockForAnswer(trx, ctx, offerId, now);
    const name = await vendorName(trx, ctx.accountId, offer.vendor_id);
    await closeOffer(trx, ctx, offer, 'declined', now, reason);
    await appendJobEvent(trx, ctx, job.id, 'offer_declined', { offer_id: offer.id, vendor_id: offer.vendor_id, vendor_name: name, reason });
    const { offer_next_automatically: auto } = await offerSettings(trx, ctx.accountId);
    const next = auto ? await offerNext(trx, ctx.accountId, audit, job.id, now) : null;
    await audit({
      action: 'job.offer_declined',
      resourceType: 'job',
      resourceId: job.id,
      before: { status: 'open' },
      after: { offer_id: offer.id, vendor_id: offer.vendor_id, vendor_name: name, status: 'declined', reason, ...nextStep(auto, next) },
    });
    return presented(trx, ctx, offer.id);
  });
}

/** Staff take back an open offer (POST /offers/:offerId/withdraw). */
export async function withdrawOffer(ctx: RequestContext, offerId: string, reason: string | null = null, now = new Date()) {
  staffOnly(ctx, 'Offer');
  return write(ctx, async (trx, audit) => {
    const peek = (await trx('job_offers').where({ account_id: ctx.accountId, id: offerId }).first('job_id')) as Pick<OfferRow, 'job_id'> | undefined;
    if (!peek) throw new NotFoundError('Offer');
    const job = await loadJob(trx, ctx, peek.job_id, true);
    const offer = (await trx('job_offers').where({ account_id: ctx.accountId, id: offerId }).forUpdate().first(...offerColumns)) as OfferRow;
    if (offer.status !== 'open') throw new ConflictError(`offer_${offer.status}`, `Only an open offer can be withdrawn; this one is ${offer.status}`, { status: offer.status });
    await withdraw(trx, ctx, audit, job, offer, await vendorName(trx, ctx.accountId, offer.vendor_id), now, reason);
    return presented(trx, ctx, offer.id);
  });
}

// ---- the sweep's part ------------------------------------------------------------------------

/**
 * One account's part of the offer sweep, at `now`: open offers past their answer-by time lapse
 * (and the job goes on to the next suggested vendor when the account wants it); open offers of a
 * job that stopped waiting (assigned by hand, canceled) are withdrawn. Returns how many closed.
 */
export async function sweepAccountOffers(trx: Knex.Transaction, accountId: number, audit: Audit, now: Date): Promise<number> {
  const ctx = { accountId, actor: systemActor };
  const due = (await trx('job_offers as o')
    .join('jobs as j', (on) => on.on('j.account_id', 'o.account_id').andOn('j.id', 'o.job_id'))
    .where({ 'o.account_id': accountId, 'o.status': 'open' })
    .andWhere((q) => q.where('o.answer_by', '<=', now).orWhereNotIn('j.status', ['new', 'triaged']).orWhereNotNull('j.vendor_id'))
    .orderBy('o.answer_by')
    .select('o.id', 'o.job_id')) as Array<{ id: string; job_id: string }>;
  if (!due.length) {
    audit.nothingChanged();
    return 0;
  }
  const { offer_next_automatically: auto } = await offerSettings(trx, accountId);
  let closed = 0;
  for (const { id, job_id: jobId } of due) {
    const [job] = (await trx('jobs').where({ account_id: accountId, id: jobId }).forUpdate().select('*')) as JobRow[];
    const offer = (await trx('job_offers').where({ account_id: accountId, id }).forUpdate().first(...offerColumns)) as OfferRow;
    if (!job || offer.status !== 'open') continue; // answered meanwhile
    // Picked because its job had stopped waiting, but waiting again by now: its time is not up.
    if (waiting(job) && offer.answer_by > now) continue;
    const name = await vendorName(trx, accountId, offer.vendor_id);
    closed++;
    if (!waiting(job)) {
      await withdraw(trx, ctx, audit, job, offer, name, now, 'the job no longer waits for a vendor');
      continue;
    }
    await closeOffer(trx, ctx, offer, 'lapsed', now);
    await appendJobEvent(trx, ctx, jobId, 'offer_lapsed', { offer_id: offer.id, vendor_id: offer.vendor_id, vendor_name: name, answer_by: offer.answer_by });
    const next = auto ? await offerNext(trx, accountId, audit, jobId, now) : null;
    await audit({
      action: 'job.offer_lapsed',
      resourceType: 'job',
      resourceId: jobId,
      before: { status: 'open' },
      after: { offer_id: offer.id, vendor_id: offer.vendor_id, vendor_name: name, status: 'lapsed', answer_by: offer.answer_by.toISOString(), ...nextStep(auto, next) },
      actor: systemActor,
    });
  }
  if (!closed) audit.nothingChanged();
  return closed;
}
