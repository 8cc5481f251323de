// What an action does to a job, applied on the device before the server has it: the screen shows
// the work as done at once, and the server's answer replaces this guess when it arrives.
import type { ActionBody, ActionKind, PortalJob, PortalJobCard } from '../types.ts';

const afterStart: readonly ActionKind[] = ['check', 'uncheck', 'note', 'submit_for_review'];

/** The job as it will be once `action` is applied (a new object; the input is left alone). */
export function applyAction<J extends PortalJobCard | PortalJob>(job: J, action: ActionBody): J {
  const next = { ...job, updated_at: action.happened_at };
  const full = 'checklist_items' in next ? (next as PortalJob) : null;
  switch (action.kind) {
    case 'en_route':
      next.eta = action.eta ?? null;
      break;
    case 'start':
      next.status = 'in_progress';
      next.started_at = action.happened_at;
      if (full) full.allowed_actions = [...new Set([...full.allowed_actions.filter((a) => a !== 'start' && a !== 'en_route'), ...afterStart])];
      break;
    case 'check':
    case 'uncheck': {
      const done = action.kind === 'check';
      if (full) {
        const before = full.checklist_items.find((item) => item.id === action.item_id);
        if (!before || (before.done_at !== null) === done) break;
        full.checklist_items = full.checklist_items.map((item) => (item.id === action.item_id ? { ...item, done_at: done ? action.happened_at : null } : item));
      }
      next.checklist = { ...next.checklist, done: Math.min(next.checklist.total, Math.max(0, next.checklist.done + (done ? 1 : -1))) };
      break;
    }
    case 'note':
      if (full) full.events = [...full.events, { id: action.id, kind: 'vendor_note', data: { text: action.text ?? '', pending: true }, occurred_at: action.happened_at }];
      break;
    case 'submit_for_review':
      next.status = 'pending_review';
      if (full) full.allowed_actions = full.allowed_actions.filter((a) => a === 'note');
      break;
    case 'complete':
      next.status = 'completed';
      if (full) full.allowed_actions = [];
      break;
  }
  return next;
}

/** The job with every action still waiting for the server applied, in the order they were taken. */
export function withPending<J extends PortalJobCard | PortalJob>(job: J, pending: readonly ActionBody[]): J {
  return pending.filter((action) => action.job_id === job.id).reduce(applyAction, job);
}
