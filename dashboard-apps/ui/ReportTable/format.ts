// How a figure reads, by its kind: counts and numbers in the reader's locale, a fraction as a
// percentage, seconds as a human duration ("3 hr 20 min"), money in the row's own currency (with
// that currency's minor digits; amounts in different currencies are never added, so each row says
// its own), an instant as a short date and time in the report's time zone, text as it is. Nothing
// to show (null) reads as a dash.
import type { Cell, FigureKind } from './types.ts';

const dash = '—';

const unit = (name: 'day' | 'hour' | 'minute' | 'second', value: number, locale?: string) =>
  new Intl.NumberFormat(locale, { style: 'unit', unit: name, unitDisplay: 'short', maximumFractionDigits: 0 }).format(value);

/** Seconds as at most two units: "45 sec", "12 min", "3 hr 20 min", "2 days 4 hr". */
export function formatDuration(seconds: number, locale?: string): string {
  const total = Math.round(Math.abs(seconds));
  const sign = seconds < 0 ? '−' : '';
  if (total < 60) return sign + unit('second', total, locale);
  const days = Math.floor(total / 86_400);
  const hours = Math.floor((total % 86_400) / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  if (days > 0) return sign + [unit('day', days, locale), hours ? unit('hour', hours, locale) : ''].filter(Boolean).join(' ');
  if (hours > 0) return sign + [unit('hour', hours, locale), minutes ? unit('minute', minutes, locale) : ''].filter(Boolean).join(' ');
  return sign + unit('minute', minutes, locale);
}

/** A fraction 0..1 as a percentage: one decimal under 10 %, whole numbers above. */
export function formatPercent(fraction: number, locale?: string): string {
  const digits = Math.abs(fraction) < 0.1 && fraction !== 0 ? 1 : 0;
  return new Intl.NumberFormat(locale, { style: 'percent', maximumFractionDigits: digits }).format(fraction);
}

/** A decimal amount in its currency ("1234.5", "EUR" → "€1,234.50"); an unknown code shows as "1,234.50 XYZ". */
export function formatMoney(amount: string | number, currency: string | null | undefined, locale?: string): string {
  const value = Number(amount);
  if (!Number.isFinite(value)) return String(amount);
  if (!currency) return new Intl.NumberFormat(locale, { maximumFractionDigits: 2 }).format(value);
  try {
    return new Intl.NumberFormat(locale, { style: 'currency', currency }).format(value);
  } catch {
    return `${new Intl.NumberFormat(locale, { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(value)} ${currency}`;
  }
}

/** An ISO instant as a short date and time in `timeZone` ("Mar 9, 2026, 2:05 PM"). */
export function formatInstant(iso: string, timeZone?: string, locale?: string): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return iso;
  try {
    return new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short', timeZone }).format(at);
  } catch {
    return new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' }).format(at);
  }
}

/** One cell as it reads. `currency` is the row's currency cell (money only); `timeZone` the report's (datetime only). */
export function formatFigure(value: Cell | undefined, kind: FigureKind, currency?: Cell, locale?: string, timeZone?: string): string {
  if (value === null || value === undefined || value === '') return dash;
  if (kind === 'text') return String(value);
  if (kind === 'datetime') return formatInstant(String(value), timeZone, locale);
  if (kind === 'money') return formatMoney(value, typeof currency === 'string' ? currency : null, locale);
  const number = Number(value);
  if (!Number.isFinite(number)) return String(value);
  switch (kind) {
    case 'count':
      return new Intl.NumberFormat(locale, { maximumFractionDigits: 0 }).format(number);
    case 'percent':
      return formatPercent(number, locale);
    case 'duration':
      return formatDuration(number, locale);
    default:
      return new Intl.NumberFormat(locale, { maximumFractionDigits: 2 }).format(number);
  }
}

/** The number a chart draws for a cell (money strings become numbers; nothing becomes 0). */
export const chartValue = (value: Cell | undefined) => {
  const number = Number(value ?? 0);
  return Number.isFinite(number) ? number : 0;
};

/** A change between two periods, signed: "+3", "−2 hr", "+5 pts" (a rate's change is in percentage points). */
export function formatChange(value: Cell | undefined, kind: FigureKind, currency?: Cell, locale?: string): string {
  if (value === null || value === undefined || value === '' || kind === 'text') return formatFigure(value, kind, currency, locale);
  const number = Number(value);
  if (!Number.isFinite(number)) return String(value);
  const sign = number > 0 ? '+' : number < 0 ? '−' : '±';
  if (kind === 'percent') return `${sign}${new Intl.NumberFormat(locale, { maximumFractionDigits: 1 }).format(Math.abs(number) * 100)} pts`;
  return `${sign}${formatFigure(Math.abs(number), kind, currency, locale)}`;
}
