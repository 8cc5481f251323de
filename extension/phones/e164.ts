// Phone numbers, the one way Onelink reads them: E.164 (what Chatwoot and Twilio use). A number
// written with its country code is read as is; one written the national way ("(510) 555-0177")
// is read in `defaultCountry` (the account's, see accounts/service.ts) when one is given.
// Anything that is not a valid number gives nothing ('anonymous', 'client:…', typos).
import parsePhoneNumber, { isSupportedCountry, type CountryCode } from 'libphonenumber-js/max';

export type { CountryCode };

export function toE164(raw: string | null | undefined, defaultCountry?: CountryCode | null): string | null {
  if (!raw) return null;
  const parsed = parsePhoneNumber(raw, defaultCountry ? { defaultCountry } : undefined);
  return parsed?.isValid() ? parsed.number : null;
}

/** A two-letter country code libphonenumber has numbering rules for ('GB', not 'gb' or 'UK'). */
export function isPhoneCountry(code: string): code is CountryCode {
  return /^[A-Z]{2}$/.test(code) && isSupportedCountry(code);
}

/** How a number is shown to people (and names a caller Chatwoot has never seen). */
export function displayNumber(e164: string) {
  return parsePhoneNumber(e164)?.formatInternational() ?? e164;
}

/**
 * The digits a search for a phone number should look for, when the query looks like one: only
 * digits and the usual separators ("555-0142", "(510) 555-0177", "+1 510 555 0177"), with at
 * least 4 digits. Otherwise null: the query is text.
 */
export function phoneQueryDigits(query: string): string | null {
  const text = query.trim();
  if (!/^\+?[\d\s().\-/]+$/.test(text)) return null;
  const digits = text.replace(/\D/g, '');
  return digits.length >= 4 ? digits : null;
}

export const phoneHint = 'a valid phone number in international form, e.g. +14155550123';
