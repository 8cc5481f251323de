// Small display helpers for the sidebar (English first; strings sit in one place for i18n).
import type { JobStatus } from '../../../extension/modules/jobs/rules.ts';

export const words = (value: string) => value.replace(/_/g, ' ').replace(/^./, (c) => c.toUpperCase());

export function money(amountMinor: number, currency: string | null) {
  if (!currency) return String(amountMinor / 100);
  return new Intl.NumberFormat(undefined, { style: 'currency', currency }).format(amountMinor / 100);
}

// Keyed by the server's statuses (extension/modules/jobs/rules.ts): a new status fails the typecheck until it has a tone.
const jobTones: Record<JobStatus, 'info' | 'neutral' | 'warning' | 'success'> = {
  new: 'info',
  triaged: 'info',
  assigned: 'neutral',
  in_progress: 'warning',
  pending_review: 'warning',
  completed: 'success',
  canceled: 'neutral',
};
export const jobStatusTone = (status: JobStatus) => jobTones[status] ?? 'neutral';

export const slaTone = (state: string) => (state === 'breached' ? 'danger' : 'warning');
