import { describe, expect, it } from 'vitest';
import { formatChange, formatDuration, formatFigure, formatMoney, formatPercent } from './format.ts';

describe('report figures read by their kind', () => {
  it('reads seconds as at most two units', () => {
    expect(formatDuration(42, 'en-US')).toBe('42 sec');
    expect(formatDuration(12 * 60 + 30, 'en-US')).toBe('12 min');
    expect(formatDuration(3 * 3600 + 20 * 60, 'en-US')).toBe('3 hr 20 min');
    expect(formatDuration(2 * 86_400 + 4 * 3600 + 59, 'en-US')).toBe('2 days 4 hr');
    expect(formatDuration(3600, 'en-US')).toBe('1 hr');
  });

  it('reads fractions as percentages and nothing as a dash', () => {
    expect(formatPercent(0.5, 'en-US')).toBe('50%');
    expect(formatPercent(0.025, 'en-US')).toBe('2.5%');
    expect(formatFigure(null, 'percent')).toBe('—');
    expect(formatFigure(1234, 'count', null, 'en-US')).toBe('1,234');
    // An instant reads in the report's zone: 14:05 UTC on 9 March 2026 is 10:05 in New York (EDT since the 8th).
    expect(formatFigure('2026-03-09T14:05:00.000Z', 'datetime', null, 'en-US', 'America/New_York').replace(/\s/gu, ' ')).toBe('Mar 9, 2026, 10:05 AM');
    expect(formatFigure('not a time', 'datetime', null, 'en-US', 'UTC')).toBe('not a time');
  });

  it('reads money in the row’s own currency with its minor digits', () => {
    expect(formatMoney('1234.5', 'EUR', 'en-US')).toBe('€1,234.50');
    expect(formatMoney('1500', 'JPY', 'en-US')).toBe('¥1,500');
    expect(formatFigure('12.345', 'money', 'KWD', 'en-US')).toMatch(/^KWD\s12\.345$/);
  });

  it('signs a change, a rate’s in percentage points', () => {
    expect(formatChange(3, 'count', null, 'en-US')).toBe('+3');
    expect(formatChange(-7200, 'duration', null, 'en-US')).toBe('−2 hr');
    expect(formatChange(0.05, 'percent', null, 'en-US')).toBe('+5 pts');
    expect(formatChange(0, 'count', null, 'en-US')).toBe('±0');
    expect(formatChange(null, 'percent')).toBe('—');
  });
});
