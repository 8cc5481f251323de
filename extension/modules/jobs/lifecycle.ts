// The one door to a job's status. Whoever moves a job (a person on the board, assignment,
// unassignment, automation, a call or Chatwoot processor) calls changeJobStatus inside its own
// unit of work: the transition table and its guards (rules.ts) decide, then one update writes
// the status, the job's story gets its `status_changed` event, Chatwoot's conversations are told
// and the change is audited. A test fails if any other file updates `jobs.status`.
import type { Knex } from 'knex';
import type { RequestContext } from '../../context.ts';
import { write, type Audit } from '../../db/tenant.ts';
import { ConflictError, InvalidFieldsError } from '../../errors.ts';
import { appendJobEvent, dispatchSettings, jobColumns, loadJob, presentJob, writeBackJob, type JobRow } from './records.ts';
import { checkTransition, type JobStatus } from './rules.ts';

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
}

/** Hooks run in the transaction of a status change (automation rules subscribe here). */
type StatusHook = (trx: Knex.Transaction, ctx: RequestContext, job: JobRow) => Promise<void>;
const completionHooks: StatusHook[] = [];
export function onJobCompleted(hook: StatusHook) {
  completionHooks.push(hook);
}

const label = (status: string) => status.replace('_', ' ');

async function openRequiredItems(trx: Knex.Transaction, accountId: number, jobId: string) {
  const [row] = await trx('job_checklist_items').where({ account_id: accountId, job_id: jobId, required: true }).whereNull('done_at').count<{ count: number }[]>('* as count');
  return Number(row!.count);
}

/**
 * Moves `before` (loaded for update) to `change.to`, or throws the refusal: 409 with the allowed
 * next statuses, 409 when a vendor or the checklist is missing, 422 when a reason is. Returns the
 * job as it is now.
 */
export async function changeJobStatus(trx: Knex.Transaction, ctx: RequestContext, audit: Audit, before: JobRow, change: StatusChange): Promise<JobRow> {
  const openRequired = change.to === 'completed' ? await openRequiredItems(trx, ctx.accountId, before.id) : 0;
  const vendorAfter = change.vendorId !== undefined ? change.vendorId : before.vendor_id;
  const check = checkTransition({
    from: before.status,
    to: change.to,
    roles: ctx.roles,
    system: ctx.actor.type === 'system',
    hasVendor: Boolean(vendorAfter),
    requiredItemsOpen: openRequired,
    overrideReason: change.overrideReason,
    reason: change.reason,
  });
  if (!check.ok) {
    if (check.status === 422) throw new InvalidFieldsError(check.message, [{ field: check.field ?? '', message: check.message, code: 'required' }]);
    throw new ConflictError(check.code, check.message, { allowed: check.allowed ?? [] });
  }
  const reopening = before.status === 'completed' || before.status === 'canceled';
  const overridden = change.to === 'completed' && openRequired > 0;
  const [after] = (await trx('jobs')
    .where({ account_id: ctx.accountId, id: before.id })
    .update({
      // A job that changes vendor (or loses it) leaves the old vendor's technician behind.
      ...(change.vendorId !== undefined ? { vendor_id: change.vendorId, ...(change.vendorId !== before.vendor_id ? { technician_id: null } : {}) } : {}),
      status: change.to,
      status_changed_at: trx.fn.now(),
      completed_at: change.to === 'completed' ? trx.fn.now() : null,
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
    ...(overridden ? { override_reason: change.overrideReason, open_required_items: openRequired } : {}),
    ...(reopening ? { reopened: true } : {}),
    ...(change.via !== 'manual' ? { via: change.via } : {}),
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

/** Hands a job under way to another vendor (reassignment): the status stays, only the holder changes. */
export async function handJobOver(trx: Knex.Transaction, ctx: RequestContext, before: JobRow, vendorId: string): Promise<JobRow> {
  const [after] = (await trx('jobs')
    .where({ account_id: ctx.accountId, id: before.id })
    .update({ vendor_id: vendorId, technician_id: vendorId === before.vendor_id ? before.technician_id : null, version: before.version + 1, updated_at: trx.fn.now() })
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
