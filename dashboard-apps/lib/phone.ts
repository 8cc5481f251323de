// How the apps show a phone number, the one way: in national form when it is a number of the
// account's own country ("(415) 555-0123" for a US account), else in international form
// ("+44 20 7946 0958"). Something that is not a valid number is shown as it was given.
// The numbering rules weigh ~30 KB gzipped: pages that must stay light load this lazily
// (usePhoneDisplay in phone-display.ts).
import parsePhoneNumber, { type CountryCode } from 'libphonenumber-js/min';

export function formatPhone(value: string, homeCountry?: string | null): string {
  const home = homeCountry && /^[A-Z]{2}$/.test(homeCountry) ? (homeCountry as CountryCode) : undefined;
  const parsed = parsePhoneNumber(value, home ? { defaultCountry: home } : undefined);
  if (!parsed?.isValid()) return value;
  return home && parsed.country === home ? parsed.formatNational() : parsed.formatInternational();
}
