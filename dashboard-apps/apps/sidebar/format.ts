// Small display helpers for the sidebar (English first; strings sit in one place for i18n).
export const words = (value: string) => value.replace(/_/g, ' ').replace(/^./, (c) => c.toUpperCase());

export function money(amountMinor: number, currency: string | null) {
  if (!currency) return String(amountMinor / 100);
  return new Intl.NumberFormat(undefined, { style: 'currency', currency }).format(amountMinor / 100);
}

export const jobStatusTone = (status: string) =>
  (({ new: 'info', triaged: 'info', assigned: 'neutral', in_progress: 'warning', pending_review: 'warning', completed: 'success', canceled: 'neutral' }) as const)[
    status as 'new'
  ] ?? 'neutral';

export const slaTone = (state: string) => (state === 'breached' ? 'danger' : 'warning');
