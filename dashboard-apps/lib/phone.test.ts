import { describe, expect, it } from 'vitest';
import { formatPhone } from './phone.ts';

describe('formatPhone', () => {
  it('shows a number of the account’s own country in national form, others in international form', () => {
    expect(formatPhone('+14155550123', 'US')).toBe('(415) 555-0123');
    expect(formatPhone('+442079460958', 'US')).toBe('+44 20 7946 0958');
    expect(formatPhone('+442079460958', 'GB')).toBe('020 7946 0958');
    expect(formatPhone('+14155550123')).toBe('+1 415 555 0123');
  });

  it('reads a number without a country code in the account’s country, and leaves anything else as given', () => {
    expect(formatPhone('4155550123', 'US')).toBe('(415) 555-0123');
    expect(formatPhone('anonymous', 'US')).toBe('anonymous');
    expect(formatPhone('+1 555', 'US')).toBe('+1 555');
    expect(formatPhone('+14155550123', 'usa')).toBe('+1 415 555 0123');
  });
});
