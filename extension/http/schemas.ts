// The zod building blocks every route schema is made of, so a new route cannot forget what the
// database refuses: text without NUL or lone surrogates, Chatwoot ids within bigint, timestamps
// that are real ISO 8601 instants in a sane range, calendar dates that exist, and jsonb values
// that are clean all the way down. The registry also refuses bad characters centrally (see
// `findBadText`), so a hand-written z.string() cannot let them through either.
import { z } from 'zod';

// A lone surrogate is a UTF-16 half with no partner; `u`-mode regexes see only those as \p{Cs}.
const loneSurrogate = /\p{Cs}/u;

/** True for text Postgres would refuse (NUL, 22021) or mangle (a lone surrogate: not Unicode). */
export function hasBadCharacters(value: string): boolean {
  return value.includes('\u0000') || loneSurrogate.test(value);
}

export const badCharactersMessage = 'must not contain NUL characters or unpaired UTF-16 surrogates';

/**
 * Where inside `value` (params, query, a JSON body, a jsonb value) a string or an object key holds
 * NUL or a lone surrogate, as dotted paths; at most `limit` of them.
 */
export function findBadText(value: unknown, path: string, limit = 20, found: string[] = []): string[] {
  if (found.length >= limit) return found;
  if (typeof value === 'string') {
    if (hasBadCharacters(value)) found.push(path);
  } else if (Array.isArray(value)) {
    value.forEach((item, i) => findBadText(item, `${path}.${i}`, limit, found));
  } else if (value && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (hasBadCharacters(key)) found.push(`${path}.${key.replace(/[\u0000\p{Cs}]/gu, '\ufffd')}`);
      else findBadText(item, `${path}.${key}`, limit, found);
      if (found.length >= limit) break;
    }
  }
  return found;
}

/** Free text of at most `max` characters (trimmed, and at least `min` after trimming). */
export function text({ max, min = 0, trim = true }: { max: number; min?: number; trim?: boolean }) {
  const base = trim ? z.string().trim() : z.string();
  return base.min(min).max(max).refine((v) => !hasBadCharacters(v), badCharactersMessage);
}

/** A value stored as jsonb (custom fields, configs): any JSON whose strings and keys are clean. */
export const jsonbRecord = z
  .record(z.string(), z.unknown())
  .refine((v) => findBadText(v, '', 1).length === 0, `text inside ${badCharactersMessage}`);

// Chatwoot's ids are bigint; ours are stored as bigint too. A JS number is exact only up to
// 2^53 − 1, which is inside bigint, so that is the bound.
const maxId = Number.MAX_SAFE_INTEGER;
const idMessage = `a Chatwoot id: a whole number from 1 to ${maxId}`;

/** A Chatwoot id (contact, conversation, team, inbox, company, account, user) in a JSON body. */
export const chatwootId = z.number({ error: idMessage }).int(idMessage).min(1, idMessage).max(maxId, idMessage);

/** A Chatwoot id in a path or query string: digits only (no "1e3", "0x10", " 7"), then a number. */
export const chatwootIdParam = z
  .string({ error: idMessage })
  .regex(/^[1-9][0-9]{0,15}$/, idMessage)
  .transform(Number)
  .pipe(chatwootId);

/** One of our own bigint ids (an account) in a path: the same rules as a Chatwoot id. */
export const idParam = chatwootIdParam;

/** The `version` of a record you loaded (an integer column), for optimistic concurrency. */
export const rowVersion = z.number().int().min(1).max(2_147_483_647).describe('The version you loaded');

/** A position or count stored in an integer column. */
export const smallInt = (max: number) => z.number().int().min(0).max(max);

const minYear = 1900;
const maxYear = 2200;
const inRange = (date: Date) => date.getUTCFullYear() >= minYear && date.getUTCFullYear() <= maxYear;

/**
 * An instant as an ISO 8601 date-time with its time zone (`2030-01-31T09:00:00Z`,
 * `…+02:00`), a day that exists, years 1900–2200; becomes a Date. Numbers, booleans, null and
 * "2026-02-30" are refused rather than coerced into some other day.
 */
export const timestamp = z
  .iso.datetime({ offset: true, error: 'an ISO 8601 date-time with a time zone, e.g. 2030-01-31T09:00:00Z' })
  .refine((v) => inRange(new Date(v)), `a time between the years ${minYear} and ${maxYear}`)
  .transform((v) => new Date(v))
  // The Date goes out as the same ISO string; without this the OpenAPI output would be an empty schema.
  .meta({ type: 'string', format: 'date-time' });

/** A calendar date `YYYY-MM-DD` that exists, years 1900–2200; stays a string. */
export const isoDate = z
  .iso.date({ error: 'a calendar date such as 2030-01-31' })
  .refine((v) => inRange(new Date(`${v}T00:00:00Z`)), `a date between the years ${minYear} and ${maxYear}`);

function isTimeZone(tz: string) {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** An IANA time zone name, such as Europe/Berlin. */
export const timeZone = z.string().max(64).refine(isTimeZone, 'an IANA time zone such as Europe/Berlin');
