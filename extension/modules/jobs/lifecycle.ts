// The one door to a job's status. Whoever moves a job (a person on the board, assignment,
// unassignment, automation, a call or Chatwoot processor) calls changeJobStatus inside its own
// unit of work: the transition table and its guards (rules.ts) decide, then one update writes
// the status, the job's story gets its `status_changed` event, Chatwoot's conversations are told
// and the change is audited. A test fails if any other file updates `jobs.status`.
import type { Knex } from 'knex';
import type { RequestContext } from '../../context.ts';
import { write, type Audit } from '../../db/tenant.ts';
import { ConflictError, InvalidFieldsError, UnprocessableError } from '../../errors.ts';
import { appendJobEvent, dispatchSettings, filesOfCurrentVendor, jobColumns, loadJob, presentJob, writeBackJob, type JobRow, type RequiredPhoto } from './records.ts';
import { checkTransition, type JobStatus, type MissingRequirement } from './rules.ts';

/** Who moves the job: decides who audits and what the conversations are told. */
export type StatusChangeVia = 'manual' | 'assignment' | 'unassignment' | 'system';

export interface StatusChange {
  to: JobStatus;
  via: StatusChangeVia;
  reason?: string | null;
  /** Completes a job whose required checklist items are not done. */
  overrideReason?: string | null;
  /** The vendor changes in the same statement (assignment sets one; back to triage clears it). */
  vendorId?: string | null;
  /**
   * The note for Chatwoot's conversations; `false` when the caller writes its own (assignment
   * says "assigned to …" once, not twice).
   */
  note?: string | false;
  /** True when the caller's own audit entry already records the status (assignment, unassignment). */
  auditedByCaller?: boolean;
  /**
   * When it happened, if not now: a vendor's action queued offline carries the device's time, and
   * the time-based state (started_at, completed_at and so the SLA) follows it.
   */
  at?: Date;
  /** Added to the `status_changed` event (e.g. the device time and the offline flag). */
  eventData?: Record<string, unknown>;
  /**
   * A job under way handed to another vendor (handJobOver): it goes back to assigned, its start
   * cleared, whatever the transition table says of a vendor's own moves.
   */
  handOver?: boolean;
}

/** Hooks run in the transaction of a status change (automation rules subscribe here). */
type StatusHook = (trx: Knex.Transaction, ctx: RequestContext, job: JobRow) => Promise<void>;
const completionHooks: StatusHook[] = [];
export function onJobCompleted(hook: StatusHook) {
  completionHooks.push(hook);
}

const label = (status: string) => status.replace('_', ' ');

/**
 * The job's required photos, each with how many photos tagged for it the job has: photos only (a
 * PDF tagged "after" is no photo of the work), not removed, and of the vendor holding the job now
 * (an earlier vendor's photos show an earlier vendor's work).
 */
export async function requiredPhotoCounts(trx: Knex.Transaction, accountId: number, job: Pick<JobRow, 'id' | 'required_photos' | 'vendor_id'>) {
  const required = (job.required_photos ?? []) as RequiredPhoto[];
  if (!required.length) return [];
  const query = trx('job_artifacts')
    .where({ account_id: accountId, job_id: job.id, kind: 'photo' })
    .whereIn('tag', required.map((p) => p.tag))
    .whereNull('deleted_at')
    .groupBy('tag')
    .select('tag', trx.raw('count(*)::int as have'));
  // The photos the vendor holding the job sees: theirs, and dispatch's from before any vendor.
  if (job.vendor_id) await filesOfCurrentVendor(trx, accountId, job, query);
  const rows = (await query) as Array<{ tag: string; have: number }>;
  const have = new Map(rows.map((r) => [r.tag, r.have]));
  return required.map((p) => ({ tag: p.tag, label: p.label, min: p.min, have: have.get(p.tag) ?? 0 }));
}

/** What the job still lacks to be finished: its open required checklist items, then its missing photos. */
export async function missingRequirements(trx: Knex.Transaction, accountId: number, job: Pick<JobRow, 'id' | 'required_photos' | 'vendor_id'>): Promise<MissingRequirement[]> {
  const items: string[] = await trx('job_checklist_items').where({ account_id: accountId, job_id: job.id, required: true }).whereNull('done_at').orderBy('position').pluck('label');
  const photos = (await requiredPhotoCounts(trx, accountId, job)).filter((p) => p.have < p.min);
  return [...items.map((label) => ({ type: 'item' as const, label })), ...photos.map((p) => ({ type: 'photo' as const, label: p.label }))];
}

/**
 * Moves `before` (loaded for update) to `change.to`, or throws the refusal: 409 with the allowed
 * next statuses, 409 when a vendor or the checklist is missing, 422 when a reason is. Returns the
 * job as it is now.
 */
export async function changeJobStatus(trx: Knex.Transaction, ctx: RequestContext, audit: Audit, before: JobRow, change: StatusChange): Promise<JobRow> {
  const finishing = change.to === 'completed' || change.to === 'pending_review';
  const missing = finishing ? await missingRequirements(trx, ctx.accountId, before) : [];
  const openRequired = missing.filter((m) => m.type === 'item').length;
  const vendorAfter = change.vendorId !== undefined ? change.vendorId : before.vendor_id;
  const check = checkTransition({
    from: before.status,
    to: change.to,
    roles: ctx.roles,
    system: ctx.actor.type === 'system',
    hasVendor: Boolean(vendorAfter),
    requiredItemsOpen: openRequired,
    missing,
    overrideReason: change.overrideReason,
    reason: change.reason,
  });
  if (!check.ok && !change.handOver) {
    if (check.code === 'requirements_missing') throw new UnprocessableError(check.code, check.message, { missing: check.missing ?? [] });
    if (check.code === 'checklist_incomplete') throw new ConflictError(check.code, check.message, { allowed: check.allowed ?? [], missing: check.missing ?? [] });
    if (check.status === 422) throw new InvalidFieldsError(check.message, [{ field: check.field ?? '', message: check.message, code: 'required' }]);
    throw new ConflictError(check.code, check.message, { allowed: check.allowed ?? [] });
  }
  const reopening = before.status === 'completed' || before.status === 'canceled';
  const overridden = change.to === 'completed' && missing.length > 0;
  // Work never ends before it started (a start queued offline may carry an earlier device time).
  const at = change.at && before.started_at && change.at < new Date(before.started_at) ? new Date(before.started_at) : (change.at ?? trx.fn.now());
  const [after] = (await trx('jobs')
    .where({ account_id: ctx.accountId, id: before.id })
    .update({
      // A job that changes vendor (or loses it) leaves the old vendor's technician behind.
      ...(change.vendorId !== undefined ? { vendor_id: change.vendorId, ...(change.vendorId !== before.vendor_id ? { technician_id: null } : {}) } : {}),
      status: change.to,
      // A change queued offline happened at its (checked) device time: the next one is measured from it.
      status_changed_at: change.at ? at : trx.fn.now(),
      completed_at: change.to === 'completed' ? at : null,
      // Work starts when the vendor holding the job starts it; back to triage, the next vendor starts afresh.
      ...(change.to === 'in_progress' && before.status === 'assigned' ? { started_at: at } : {}),
      ...(change.to === 'triaged' || change.handOver ? { started_at: null } : {}),
      cancel_reason: change.to === 'canceled' ? change.reason : null,
      completion_override_reason: overridden ? change.overrideReason : null,
      version: before.version + 1,
      updated_at: trx.fn.now(),
    })
    .returning([...jobColumns])) as JobRow[];
  const job = after!;
  await appendJobEvent(trx, ctx, job.id, 'status_changed', {
    from: before.status,
    to: change.to,
    ...(change.reason ? { reason: change.reason } : {}),
    ...(overridden ? { override_reason: change.overrideReason, open_required_items: openRequired, missing } : {}),
    ...(reopening ? { reopened: true } : {}),
    ...(change.via !== 'manual' ? { via: change.via } : {}),
    ...(change.eventData ?? {}),
  });
  if (change.note !== false) await writeBackJob(trx, ctx, job, change.note ?? `${label(before.status)} → ${label(change.to)}`);
  if (!change.auditedByCaller) {
    await audit({
      action: reopening ? 'job.reopened' : `job.${change.to}`,
      resourceType: 'job',
      resourceId: job.id,
      // The vendor (and its technician) a move takes the job from, so they can be told.
      before: { status: before.status, ...(job.vendor_id !== before.vendor_id ? { vendor_id: before.vendor_id, technician_id: before.technician_id } : {}) },
      after: {
        status: job.status,
        reason: change.reason ?? null,
        override_reason: job.completion_override_reason ?? null,
        ...(job.vendor_id !== before.vendor_id ? { vendor_id: job.vendor_id } : {}),
        ...(change.via !== 'manual' ? { via: change.via } : {}),
      },
    });
  }
  if (change.to === 'completed') for (const hook of completionHooks) await hook(trx, ctx, job);
  return job;
}

/**
 * Hands a job held by a vendor to another (reassignment). A job the first vendor had started (or
 * sent for review) goes back to assigned for the new one, its start cleared, as a status change
 * like any other: the new vendor starts and finishes its own work. Otherwise only the holder
 * changes. The caller audits the move (its entry records the status before and after) and tells
 * the conversations.
 */
export async function handJobOver(trx: Knex.Transaction, ctx: RequestContext, audit: Audit, before: JobRow, vendorId: string): Promise<JobRow> {
  const sameVendor = vendorId === before.vendor_id;
  if (!sameVendor && (before.status === 'in_progress' || before.status === 'pending_review')) {
    return changeJobStatus(trx, ctx, audit, before, { to: 'assigned', via: 'assignment', vendorId, reason: 'handed over to another vendor', note: false, auditedByCaller: true, handOver: true });
  }
  const [after] = (await trx('jobs')
    .where({ account_id: ctx.accountId, id: before.id })
    .update({ vendor_id: vendorId, technician_id: sameVendor ? before.technician_id : null, version: before.version + 1, updated_at: trx.fn.now() })
    .returning([...jobColumns])) as JobRow[];
  return after!;
}

export const staleJob = (current: JobRow) => new ConflictError('stale_version', 'This job changed since you loaded it; here is its current state', { current });

/** Closes whoever holds the job now in its assignment history (unassignment, back to triage). */
export async function releaseVendor(trx: Knex.Transaction, ctx: RequestContext, jobId: string, reason: string | null) {
  await trx('job_vendors')
    .where({ account_id: ctx.accountId, job_id: jobId })
    .whereNull('unassigned_at')
    .update({ unassigned_at: trx.fn.now(), unassigned_by_type: ctx.actor.type, unassigned_by_id: ctx.actor.id, unassign_reason: reason });
}

export interface TransitionInput { status: JobStatus; reason?: string | null; override_reason?: string | null; version?: number }

/** A person moves a job on the board or through the API (POST /jobs/:id/status). */
export async function transitionJob(ctx: RequestContext, jobId: string, input: TransitionInput) {
  return write(ctx, async (trx, audit) => {
    const before = await loadJob(trx, ctx, jobId, true);
    if (input.version !== undefined && input.version !== before.version) throw staleJob(before);
    // Back to triage means back to choosing a vendor: whoever held the job lets it go.
    const releases = input.status === 'triaged' && before.vendor_id !== null;
    const job = await changeJobStatus(trx, ctx, audit, before, {
      to: input.status,
      via: 'manual',
      reason: input.reason,
      overrideReason: input.override_reason,
      ...(releases ? { vendorId: null } : {}),
    });
    if (releases) {
      // After the move is allowed: a refused move must not have released anyone.
      await releaseVendor(trx, ctx, jobId, input.reason ?? 'back to triage');
      await appendJobEvent(trx, ctx, jobId, 'unassigned', { vendor_id: before.vendor_id, reason: input.reason ?? 'back to triage' });
    }
    return presentJob(ctx, job, (await dispatchSettings(trx, ctx.accountId)).sla_warning_minutes);
  });
}
