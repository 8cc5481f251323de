import { describe, expect, it } from 'vitest';
import { addEnglish } from '../../i18n/index.ts';
import { boards } from '../../i18n/en/boards.ts';
import { photoPlace } from './photo-place.ts';

describe('where a photo was taken, in the job drawer', () => {
  addEnglish(boards);

  it('names the coordinates, the accuracy when known, and links to maps', () => {
    expect(photoPlace({ taken_lat: 48.8583701, taken_lng: 2.2944813, taken_accuracy_m: 6.5 })).toEqual({
      label: 'Taken at 48.85837, 2.29448 (within 7 m)',
      url: 'https://www.google.com/maps/search/?api=1&query=48.8583701%2C2.2944813',
    });
    expect(photoPlace({ taken_lat: -33.8567833, taken_lng: 151.2131083, taken_accuracy_m: null })?.label).toBe('Taken at -33.85678, 151.21311');
  });

  it('shows nothing for a file without a position', () => {
    expect(photoPlace({})).toBeNull();
    expect(photoPlace({ taken_lat: null, taken_lng: null })).toBeNull();
  });
});
