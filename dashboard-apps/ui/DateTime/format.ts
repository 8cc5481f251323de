// How times read in the apps (English first; Intl does the wording, so other locales follow).
const units: Array<[Intl.RelativeTimeFormatUnit, number]> = [
  ['year', 365 * 24 * 3600],
  ['month', 30 * 24 * 3600],
  ['week', 7 * 24 * 3600],
  ['day', 24 * 3600],
  ['hour', 3600],
  ['minute', 60],
];

/** "in 45 minutes", "3 days ago", "now" (under a minute either way). */
export function relativeTime(date: Date, now: Date, locale?: string) {
  const seconds = Math.round((date.getTime() - now.getTime()) / 1000);
  if (Math.abs(seconds) < 60) return 'now';
  const format = new Intl.RelativeTimeFormat(locale, { numeric: 'auto', style: 'long' });
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size) return format.format(Math.trunc(seconds / size), unit);
  }
  return format.format(Math.trunc(seconds / 60), 'minute');
}

/** "14:30" today, "Tue 14:30" within a week, "3 Dec, 14:30" otherwise. */
export function shortDateTime(date: Date, now: Date, locale?: string) {
  const time = date.toLocaleTimeString(locale, { hour: '2-digit', minute: '2-digit' });
  if (date.toDateString() === now.toDateString()) return time;
  if (Math.abs(date.getTime() - now.getTime()) < 6 * 24 * 3600 * 1000) return `${date.toLocaleDateString(locale, { weekday: 'short' })} ${time}`;
  return `${date.toLocaleDateString(locale, { day: 'numeric', month: 'short' })}, ${time}`;
}

export const fullDateTime = (date: Date, locale?: string) => date.toLocaleString(locale, { dateStyle: 'full', timeStyle: 'short' });
