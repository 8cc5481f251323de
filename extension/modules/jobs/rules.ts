// The job lifecycle as data: statuses, who may move a job where, and what each move needs.
// lifecycle.ts applies it: every status change (manual, assignment, unassignment, processors)
// goes through `checkTransition` there, and nothing else writes a job's status.
import type { Role } from '../../auth/permissions.ts';

export const jobStatuses = ['new', 'triaged', 'assigned', 'in_progress', 'pending_review', 'completed', 'canceled'] as const;
export type JobStatus = (typeof jobStatuses)[number];
export const openJobStatuses: readonly JobStatus[] = ['new', 'triaged', 'assigned', 'in_progress', 'pending_review'];
export const jobPriorities = ['low', 'normal', 'high', 'urgent'] as const;
export type JobPriority = (typeof jobPriorities)[number];
export const jobSources = ['call', 'sms', 'chat', 'manual', 'pipeline', 'portal'] as const;
export type JobSource = (typeof jobSources)[number];

/** Forward moves anyone working the job may make; `canceled` is reachable from every open state. */
export const jobTransitions: Record<JobStatus, readonly JobStatus[]> = {
  new: ['triaged', 'assigned', 'canceled'],
  triaged: ['assigned', 'canceled'],
  // Back to triage releases the vendor (unassigning does the same). Taking a started job
  // away from its vendor needs a reason: the dispatcher is undoing work in progress.
  assigned: ['in_progress', 'triaged', 'canceled'],
  in_progress: ['pending_review', 'completed', 'triaged', 'canceled'],
  pending_review: ['completed', 'in_progress', 'triaged', 'canceled'],
  // Reopening is a dispatcher's or admin's decision (see reopenRoles).
  completed: ['in_progress'],
  canceled: ['triaged'],
};

/**
 * What a vendor may do to their own job from the portal: start it, then send it for review or
 * complete it (either only once its required items and photos are there; see checkTransition).
 */
const vendorMoves: Partial<Record<JobStatus, readonly JobStatus[]>> = {
  assigned: ['in_progress'],
  in_progress: ['pending_review', 'completed'],
};

/** What a client may do to their own job from the portal: call off a request no vendor has yet. */
const clientMoves: Partial<Record<JobStatus, readonly JobStatus[]>> = {
  new: ['canceled'],
  triaged: ['canceled'],
};

const reopenRoles: readonly Role[] = ['admin', 'dispatcher'];

/** Moves back to triage from work already started: the vendor loses the job, so say why. */
export const reasonRequired = (from: JobStatus, to: JobStatus) => to === 'canceled' || (to === 'triaged' && (from === 'in_progress' || from === 'pending_review'));

/** A required checklist item not done, or a required photo not there (as many as `min` says). */
export interface MissingRequirement { type: 'item' | 'photo'; label: string }

export interface TransitionFacts {
  from: JobStatus;
  to: JobStatus;
  roles: readonly Role[];
  /** Onelink itself (a processor, automation): it moves jobs as staff do, and reopens nothing. */
  system?: boolean;
  hasVendor: boolean;
  requiredItemsOpen: number;
  /** What the job still lacks to be finished: open required items and missing required photos. */
  missing?: readonly MissingRequirement[];
  overrideReason?: string | null;
  /** Why: required to cancel and to take a started job back to triage. */
  reason?: string | null;
}

export type TransitionCheck =
  | { ok: true }
  | { ok: false; status: 409 | 422 | 403; code: string; message: string; allowed?: readonly JobStatus[]; field?: string; missing?: readonly MissingRequirement[] };

const isStaff = (roles: readonly Role[], system = false) => system || roles.some((r) => r !== 'vendor' && r !== 'client');

/** "Isolate circuit; 2 photos “After”": what is missing, named. */
export const missingText = (missing: readonly MissingRequirement[]) => missing.map((m) => (m.type === 'item' ? m.label : `photo “${m.label}”`)).join('; ');

/** Statuses this caller could move the job to next (what a 409 lists). */
export function allowedNext(from: JobStatus, roles: readonly Role[], system = false): JobStatus[] {
  const staff = isStaff(roles, system);
  const moves = staff ? jobTransitions[from] : ((roles.includes('client') ? clientMoves[from] : vendorMoves[from]) ?? []);
  const reopens = from === 'completed' || from === 'canceled';
  return reopens && !roles.some((r) => reopenRoles.includes(r)) ? [] : [...moves];
}

export function checkTransition(facts: TransitionFacts): TransitionCheck {
  const allowed = allowedNext(facts.from, facts.roles, facts.system);
  if (!allowed.includes(facts.to)) {
    return { ok: false, status: 409, code: 'invalid_transition', message: `A ${facts.from} job cannot become ${facts.to} by you`, allowed };
  }
  if (['assigned', 'in_progress', 'pending_review'].includes(facts.to) && !facts.hasVendor) {
    return { ok: false, status: 409, code: 'vendor_required', message: 'Assign a vendor first', allowed };
  }
  // Finished work is proven work: required items done and required photos there. Staff completing
  // may override with a reason; a vendor sending the job for review (or completing it) may not.
  const missing = facts.missing ?? [];
  const unmet = facts.requiredItemsOpen > 0 || missing.length > 0;
  const staff = isStaff(facts.roles, facts.system);
  if (unmet && facts.to === 'completed' && staff && !facts.overrideReason) {
    return {
      ok: false,
      status: 409,
      code: 'checklist_incomplete',
      message: `Not finished yet: ${missingText(missing) || `${facts.requiredItemsOpen} required checklist item(s)`}; finish them or give an override reason`,
      allowed,
      missing,
    };
  }
  if (unmet && !staff && (facts.to === 'completed' || facts.to === 'pending_review')) {
    return { ok: false, status: 422, code: 'requirements_missing', message: `Not finished yet: ${missingText(missing)}`, allowed, missing };
  }
  if (reasonRequired(facts.from, facts.to) && !facts.reason) {
    const message = facts.to === 'canceled' ? 'Say why the job is canceled' : 'Say why the job goes back to triage';
    return { ok: false, status: 422, code: 'validation_failed', message, field: 'reason' };
  }
  return { ok: true };
}

/** SLA minutes per priority unless the account sets its own. */
export const defaultSlaMinutes: Record<JobPriority, number> = { urgent: 4 * 60, high: 24 * 60, normal: 3 * 24 * 60, low: 7 * 24 * 60 };
export const defaultSlaWarningMinutes = 120;

export type SlaState = 'none' | 'on_track' | 'approaching' | 'breached' | 'met' | 'missed';

export function slaState(job: { status: JobStatus; sla_due_at: Date | null; completed_at: Date | null }, warningMinutes: number, now = new Date()): SlaState {
  if (!job.sla_due_at) return 'none';
  if (job.status === 'completed') return job.completed_at && job.completed_at <= job.sla_due_at ? 'met' : 'missed';
  if (job.status === 'canceled') return 'none';
  const left = job.sla_due_at.getTime() - now.getTime();
  if (left <= 0) return 'breached';
  return left <= warningMinutes * 60_000 ? 'approaching' : 'on_track';
}

export function jobReference(number: number) {
  return `J-${number}`;
}
