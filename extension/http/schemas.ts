// Small zod schemas several routes share.
import { z } from 'zod';

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
