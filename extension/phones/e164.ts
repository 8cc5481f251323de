// Phone numbers, the one way Onelink reads them: E.164 (what Chatwoot and Twilio use) when the
// input is a valid international number, else nothing ('anonymous', 'client:…', typos).
import parsePhoneNumber from 'libphonenumber-js/max';

export function toE164(raw: string | null | undefined): string | null {
  if (!raw) return null;
  const parsed = parsePhoneNumber(raw);
  return parsed?.isValid() ? parsed.number : null;
}

/** How a number is shown to people (and names a caller Chatwoot has never seen). */
export function displayNumber(e164: string) {
  return parsePhoneNumber(e164)?.formatInternational() ?? e164;
}

export const phoneHint = 'a valid phone number in international form, e.g. +14155550123';
