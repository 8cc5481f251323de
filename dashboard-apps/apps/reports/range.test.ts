import { describe, expect, it } from 'vitest';
import { addDays, mondayOf, presetRange, todayIn } from './range.ts';

describe('report date presets', () => {
  it('counts whole calendar days back from today, today included', () => {
    expect(presetRange('last7', '2026-03-02')).toEqual({ from: '2026-02-24', to: '2026-03-02' });
    // 2 days of March + all 28 of February 2026 = 30 days.
    expect(presetRange('last30', '2026-03-02')).toEqual({ from: '2026-02-01', to: '2026-03-02' });
    expect(presetRange('last90', '2026-12-01')).toEqual({ from: '2026-09-03', to: '2026-12-01' });
  });

  it('knows this month and the whole of last month, across a year and a leap day', () => {
    expect(presetRange('thisMonth', '2026-11-30')).toEqual({ from: '2026-11-01', to: '2026-11-30' });
    expect(presetRange('lastMonth', '2026-01-15')).toEqual({ from: '2025-12-01', to: '2025-12-31' });
    expect(presetRange('lastMonth', '2028-03-01')).toEqual({ from: '2028-02-01', to: '2028-02-29' });
  });

  it('takes today in the chosen zone, not the computer’s', () => {
    const instant = new Date('2026-11-30T23:30:00Z');
    expect(todayIn('UTC', instant)).toBe('2026-11-30');
    expect(todayIn('Asia/Tokyo', instant)).toBe('2026-12-01');
    expect(todayIn('America/Los_Angeles', instant)).toBe('2026-11-30');
    expect(addDays('2026-03-28', 2)).toBe('2026-03-30');
  });

  it('starts a week on Monday', () => {
    // 30 Nov 2026 is a Monday; 6 Dec 2026 the Sunday after it.
    expect(mondayOf('2026-11-30')).toBe('2026-11-30');
    expect(mondayOf('2026-12-03')).toBe('2026-11-30');
    expect(mondayOf('2026-12-06')).toBe('2026-11-30');
  });
});
