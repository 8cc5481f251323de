import { describe, expect, it } from 'vitest';
import { relativeTime, shortDateTime } from './format.ts';

const now = new Date('2026-11-25T12:00:00');
const at = (minutes: number) => new Date(now.getTime() + minutes * 60_000);

describe('relativeTime', () => {
  it('says now within a minute, then the largest whole unit, past or future', () => {
    expect(relativeTime(at(0.5), now, 'en')).toBe('now');
    expect(relativeTime(at(45), now, 'en')).toBe('in 45 minutes');
    expect(relativeTime(at(-180), now, 'en')).toBe('3 hours ago');
    expect(relativeTime(at(-60 * 24), now, 'en')).toBe('yesterday');
    expect(relativeTime(at(60 * 24 * 3), now, 'en')).toBe('in 3 days');
    expect(relativeTime(at(60 * 24 * 14), now, 'en')).toBe('in 2 weeks');
  });
});

describe('shortDateTime', () => {
  it('gives the time today, the weekday within a week, the date beyond', () => {
    expect(shortDateTime(at(90), now, 'en-GB')).toBe('13:30');
    expect(shortDateTime(at(60 * 24 * 2), now, 'en-GB')).toBe('Fri 12:00');
    expect(shortDateTime(at(60 * 24 * 10), now, 'en-GB')).toBe('5 Dec, 12:00');
  });
});
