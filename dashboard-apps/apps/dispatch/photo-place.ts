// Where a photo was taken, as the job drawer shows it: the position the vendor's phone read from
// the photo (kept only when the account wants it), as coordinates and a maps link. No address is
// looked up: that would send the position to a geocoding service.
import { t } from '../../i18n/index.ts';

export interface PlacedFile { taken_lat?: number | null; taken_lng?: number | null; taken_accuracy_m?: number | null }

/** "Taken at 48.85837, 2.29448 (within 7 m)" and a maps link, or null for a file without a position. */
export function photoPlace(file: PlacedFile): { label: string; url: string } | null {
  if (typeof file.taken_lat !== 'number' || typeof file.taken_lng !== 'number') return null;
  // Five decimals is about a metre: as precise as a phone's fix, and short to read.
  const coordinates = `${file.taken_lat.toFixed(5)}, ${file.taken_lng.toFixed(5)}`;
  const place = typeof file.taken_accuracy_m === 'number' ? t('dispatch.takenWithin', { place: coordinates, metres: Math.max(1, Math.round(file.taken_accuracy_m)) }) : coordinates;
  return {
    label: t('dispatch.takenAt', { place }),
    url: `https://www.google.com/maps/search/?api=1&query=${encodeURIComponent(`${file.taken_lat},${file.taken_lng}`)}`,
  };
}
