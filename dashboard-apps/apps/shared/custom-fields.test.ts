import { describe, expect, it } from 'vitest';
import { customFieldValues } from './custom-fields.ts';

describe('customFieldValues', () => {
  it('leaves blanks out and gives numbers and booleans their types', () => {
    const fields = [
      { key: 'site_address', label: 'Site address', type: 'text' as const },
      { key: 'crew_size', label: 'Crew size', type: 'number' as const },
      { key: 'trade', label: 'Trade', type: 'choice' as const, options: ['plumbing'] },
      { key: 'insured', label: 'Insured', type: 'boolean' as const },
      { key: 'estimated_start', label: 'Estimated start', type: 'date' as const },
    ];
    expect(customFieldValues(fields, { site_address: ' 1 High St ', crew_size: '4', trade: '', insured: false, estimated_start: '2030-01-02', unknown: 'x' })).toEqual({
      site_address: '1 High St',
      crew_size: 4,
      insured: false,
      estimated_start: '2030-01-02',
    });
  });
});
