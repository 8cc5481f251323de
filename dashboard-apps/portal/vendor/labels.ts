// Words for the server's codes (statuses, priorities, actions), from the portal's catalogue.
import { vt, type VendorPortalKey } from './i18n.ts';
import type { ActionKind, JobStatus, PortalJobCard } from './types.ts';

export const statusLabel = (status: JobStatus) => vt(`vp.status.${status}` as VendorPortalKey);
export const priorityLabel = (priority: PortalJobCard['priority']) => vt(`vp.priority.${priority}` as VendorPortalKey);

const actionKeys: Record<ActionKind, VendorPortalKey> = {
  en_route: 'vp.job.onMyWay',
  start: 'vp.job.start',
  check: 'vp.job.checklist',
  uncheck: 'vp.job.checklist',
  note: 'vp.job.note',
  submit_for_review: 'vp.job.submit',
  complete: 'vp.job.complete',
};
export const actionLabel = (kind: ActionKind) => vt(actionKeys[kind]);

export const priorityTone = (priority: PortalJobCard['priority']) => (priority === 'urgent' ? 'danger' : priority === 'high' ? 'warning' : 'neutral');
export const statusTone = (status: JobStatus) =>
  status === 'completed' ? 'success' : status === 'canceled' ? 'neutral' : status === 'in_progress' ? 'info' : status === 'pending_review' ? 'warning' : 'neutral';

// One formatter each, made once: a list of 200 cards would otherwise build 800 of them.
const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric', month: 'short' });
const clockFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayClockFormat = new Intl.DateTimeFormat(undefined, { weekday: 'short', hour: '2-digit', minute: '2-digit' });

/** "Tue 3 Dec, 08:00–10:00" in the phone's locale. */
export function windowText(starts: string | null, ends: string | null) {
  if (!starts) return vt('vp.noWindow');
  const from = new Date(starts);
  const day = dayFormat.format(from);
  return ends ? `${day}, ${clockFormat.format(from)}–${clockFormat.format(new Date(ends))}` : `${day}, ${clockFormat.format(from)}`;
}

export const timeText = (at: string) => dayClockFormat.format(new Date(at));
