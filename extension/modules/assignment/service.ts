// Assignment engine v1, the data side: gathers the facts about every vendor that could take a
// job in one query, ranks them (scoring.ts), and assigns, reassigns or unassigns with the
// history kept in job_vendors and the story in job_events. Status moves that come with it
// (new/triaged → assigned, back to triage on unassign) go through the job lifecycle.
import type { Knex } from 'knex';
import type { RequestContext } from '../../context.ts';
import { read, write, type Audit } from '../../db/tenant.ts';
import { ConflictError, NotFoundError } from '../../errors.ts';
import { changeJobStatus, handJobOver, releaseVendor, staleJob } from '../jobs/lifecycle.ts';
import { appendJobEvent, dispatchSettings, loadJob, presentJob, writeBackJob, type JobRow } from '../jobs/records.ts';
import { openJobStatuses } from '../jobs/rules.ts';
import { openOfferOf, vendorName, withdraw } from '../offers/records.ts';
import { complianceSql } from '../vendors/service.ts';
import { exclusions, rank, score, type VendorFacts } from './scoring.ts';

const inLocalTime = (expr: string) => `(${expr} at time zone v.time_zone)`;
/** The window's last instant: a window ending at midnight (or at a slot's end) still falls inside. */
const lastInstant = `(:end::timestamptz - interval '1 microsecond')`;

/** Facts for the job's candidate vendors (active, in its category), or for one vendor. */
export async function vendorFacts(trx: Knex.Transaction, accountId: number, job: JobRow, onlyVendorId?: string): Promise<VendorFacts[]> {
  const start = job.window_starts_at;
  const end = job.window_ends_at ?? (start ? new Date(start.getTime() + 60 * 60_000) : null);
  const { rows } = await trx.raw<{ rows: Array<VendorFacts & { open_jobs: string | number }> }>(
    `select v.id as vendor_id, v.name, v.categories, v.radius_km,
            ${complianceSql} as compliance,
            l.relation,
            (select count(*) from jobs oj
              where oj.account_id = v.account_id and oj.vendor_id = v.id and oj.status in ('assigned', 'in_progress', 'pending_review')
                and oj.id <> :jobId) as open_jobs,
            case when :lat::float8 is not null and v.base_lat is not null then
              2 * 6371 * asin(least(1, sqrt(power(sin(radians(:lat::float8 - v.base_lat) / 2), 2)
                + cos(radians(v.base_lat)) * cos(radians(:lat::float8)) * power(sin(radians(:lng::float8 - v.base_lng) / 2), 2))))
            end as distance_km,
            coalesce(:postal::text is not null and v.postal_codes @> array[:postal::text], false) as postal_match,
            (cardinality(v.postal_codes) = 0 and v.radius_km is null) as area_unrestricted,
            exists (select 1 from vendor_availability a where a.account_id = v.account_id and a.vendor_id = v.id) as has_hours,
            case when :start::timestamptz is null then null else (
              not exists (select 1 from vendor_time_off t
                           where t.account_id = v.account_id and t.vendor_id = v.id and t.starts_at < :end::timestamptz and t.ends_at > :start::timestamptz)
              and (not exists (select 1 from vendor_availability a where a.account_id = v.account_id and a.vendor_id = v.id)
                   or exists (select 1 from vendor_availability a
                               where a.account_id = v.account_id and a.vendor_id = v.id
                                 and a.weekday = extract(isodow from ${inLocalTime(':start::timestamptz')})
                                 and ${inLocalTime(':start::timestamptz')}::date = ${inLocalTime(lastInstant)}::date
                                 and a.starts <= ${inLocalTime(':start::timestamptz')}::time
                                 and a.ends > ${inLocalTime(lastInstant)}::time))
            ) end as available
       from vendors v
       left join vendor_client_links l
         on l.account_id = v.account_id and l.vendor_id = v.id and l.chatwoot_contact_id = :contact::bigint
      where v.account_id = :accountId and v.deleted_at is null
        and (:onlyVendor::uuid is not null or (v.active and (:category::text is null or v.categories @> array[:category::text])))
        and (:onlyVendor::uuid is null or v.id = :onlyVendor::uuid)`,
    {
      accountId,
      jobId: job.id,
      lat: job.lat,
      lng: job.lng,
      postal: job.postal_code,
      start,
      end,
      contact: job.chatwoot_contact_id,
      category: job.service_category,
      onlyVendor: onlyVendorId ?? null,
    },
  );
  return rows.map((r) => ({ ...r, open_jobs: Number(r.open_jobs), distance_km: r.distance_km === null ? null : Number(r.distance_km) }));
}

function staffOnly(ctx: RequestContext) {
  if (ctx.vendorId || ctx.contactId !== undefined) throw new NotFoundError('Job');
}

export async function suggestVendors(ctx: RequestContext, jobId: string, limit: number) {
  staffOnly(ctx);
  return read(ctx, async (trx) => {
    const job = await loadJob(trx, ctx, jobId);
    const facts = await vendorFacts(trx, ctx.accountId, job);
    const { candidates, excluded } = rank(facts);
    return {
      job_id: job.id,
      criteria: {
        service_category: job.service_category,
        postal_code: job.postal_code,
        coordinates: job.lat === null ? null : { lat: job.lat, lng: job.lng },
        window: job.window_starts_at ? { starts_at: job.window_starts_at, ends_at: job.window_ends_at } : null,
        client_contact_id: job.chatwoot_contact_id,
      },
      evaluated: facts.length,
      candidates: candidates.slice(0, limit),
      excluded: excluded.slice(0, 50),
      excluded_count: excluded.length,
    };
  });
}

export interface AssignInput { vendor_id: string; reason?: string | null; compliance_override_reason?: string | null; version?: number }

/**
 * Gives the job to a vendor (or moves it from one to another). Refused for a vendor the client
 * blocked; a vendor whose compliance expired or is missing needs an override reason, audited.
 */
export async function assignVendor(ctx: RequestContext, jobId: string, input: AssignInput) {
  staffOnly(ctx);
  return write(ctx, async (trx, audit) => {
    const before = await loadJob(trx, ctx, jobId, true);
    if (input.version !== undefined && input.version !== before.version) throw staleJob(before);
    const after = await assignInTransaction(trx, ctx, audit, before, input);
    return presentJob(ctx, after, (await dispatchSettings(trx, ctx.accountId)).sla_warning_minutes);
  });
}

/**
 * The assignment itself, inside the caller's unit of work, for `before` loaded for update: the
 * checks (open job, another vendor, active, not blocked, compliance or its override), the history,
 * the job's story, the status move and the audit. An accepted offer assigns through here too
 * (`offerId` names it in the story and the audit). Returns the job as it is now.
 */
export async function assignInTransaction(trx: Knex.Transaction, ctx: RequestContext, audit: Audit, before: JobRow, input: AssignInput & { offerId?: string }): Promise<JobRow> {
  const jobId = before.id;
  if (!openJobStatuses.includes(before.status)) throw new ConflictError('job_closed', `A ${before.status} job cannot be assigned; reopen it first`);
  if (before.vendor_id === input.vendor_id) throw new ConflictError('already_assigned', 'This vendor already holds the job');
  const [facts] = await vendorFacts(trx, ctx.accountId, before, input.vendor_id);
  if (!facts) throw new NotFoundError('Vendor'); // another account's vendor is simply not there
  const vendor = await trx('vendors').where({ account_id: ctx.accountId, id: input.vendor_id }).first('active', 'name');
  if (!vendor.active) throw new ConflictError('vendor_inactive', `${vendor.name} is not active`);
  const reasons = exclusions(facts);
  if (reasons.includes('blocked_by_client')) throw new ConflictError('vendor_blocked', `The client has blocked ${vendor.name}`, { reasons });
  const needsOverride = facts.compliance === 'expired' || facts.compliance === 'missing';
  if (needsOverride && !input.compliance_override_reason) {
    throw new ConflictError('compliance_override_required', `${vendor.name}'s compliance is ${facts.compliance}; give compliance_override_reason to assign anyway`, {
      compliance: facts.compliance,
    });
  }
  const previous = before.vendor_id;
  if (!input.offerId) {
    // Assigned by hand while offered to someone: the offer ends now, not at the next sweep.
    const open = await openOfferOf(trx, ctx.accountId, jobId);
    if (open) await withdraw(trx, ctx, audit, before, open, await vendorName(trx, ctx.accountId, open.vendor_id), new Date(), 'the job was assigned by hand');
  }
  await releaseVendor(trx, ctx, jobId, input.reason ?? null);
  const breakdown = { ...score(facts), warnings: reasons };
  await trx('job_vendors').insert({
    account_id: ctx.accountId,
    job_id: jobId,
    vendor_id: input.vendor_id,
    assigned_by_type: ctx.actor.type,
    assigned_by_id: ctx.actor.id,
    reason: input.reason ?? null,
    compliance_override_reason: needsOverride ? input.compliance_override_reason : null,
    score: breakdown,
  });
  await appendJobEvent(trx, ctx, jobId, previous ? 'reassigned' : 'assigned', {
    vendor_id: input.vendor_id,
    vendor_name: vendor.name,
    ...(previous ? { previous_vendor_id: previous } : {}),
    ...(input.reason ? { reason: input.reason } : {}),
    ...(needsOverride ? { compliance: facts.compliance, compliance_override_reason: input.compliance_override_reason } : {}),
    ...(input.offerId ? { offer_id: input.offerId } : {}),
    score: breakdown.total,
  });
  const note = `${previous ? 'reassigned' : 'assigned'} to ${vendor.name}`;
  // A job waiting for a vendor becomes assigned with it; one already under way just changes hands.
  const after =
    before.status === 'new' || before.status === 'triaged'
      ? await changeJobStatus(trx, ctx, audit, before, { to: 'assigned', via: 'assignment', vendorId: input.vendor_id, note: false, auditedByCaller: true })
      : await handJobOver(trx, ctx, audit, before, input.vendor_id);
  await writeBackJob(trx, ctx, after, note);
  await audit({
    action: previous ? 'job.reassigned' : 'job.assigned',
    resourceType: 'job',
    resourceId: jobId,
    before: { vendor_id: previous, status: before.status },
    after: {
      vendor_id: input.vendor_id,
      status: after.status,
      reason: input.reason ?? null,
      ...(needsOverride ? { compliance: facts.compliance, compliance_override_reason: input.compliance_override_reason } : {}),
      ...(input.offerId ? { offer_id: input.offerId } : {}),
    },
  });
  return after;
}

/**
 * Takes the job back from its vendor; the job returns to triage through the lifecycle (from
 * in_progress or pending_review too: the table lists those moves, and the reason is required).
 */
export async function unassignVendor(ctx: RequestContext, jobId: string, input: { reason: string; version?: number }) {
  staffOnly(ctx);
  return write(ctx, async (trx, audit) => {
    const before = await loadJob(trx, ctx, jobId, true);
    if (input.version !== undefined && input.version !== before.version) throw staleJob(before);
    if (!before.vendor_id) throw new ConflictError('not_assigned', 'No vendor holds this job');
    if (!openJobStatuses.includes(before.status)) throw new ConflictError('job_closed', `A ${before.status} job keeps its vendor`);
    // A vendor only holds assigned, started or in-review jobs, so this is always a move to triage.
    const after = await changeJobStatus(trx, ctx, audit, before, {
      to: 'triaged',
      via: 'unassignment',
      reason: input.reason,
      vendorId: null,
      note: 'vendor unassigned; back to triage',
      auditedByCaller: true,
    });
    await releaseVendor(trx, ctx, jobId, input.reason);
    await appendJobEvent(trx, ctx, jobId, 'unassigned', { vendor_id: before.vendor_id, reason: input.reason });
    await audit({ action: 'job.unassigned', resourceType: 'job', resourceId: jobId, before: { vendor_id: before.vendor_id, status: before.status }, after: { vendor_id: null, status: after.status, reason: input.reason } });
    return presentJob(ctx, after, (await dispatchSettings(trx, ctx.accountId)).sla_warning_minutes);
  });
}
