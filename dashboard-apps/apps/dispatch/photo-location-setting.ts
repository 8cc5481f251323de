// The account's "keep where photos were taken" (a dispatch setting, off by default): read and
// changed from the board's settings dialog by people who may configure dispatch. When on, the
// vendor portal reads each photo's position from its EXIF on the phone and sends it with the file.
import { api, errorMessage, unwrap } from '../../lib/api.ts';
import { t } from '../../i18n/index.ts';

/** The setting now; throws with the API's reason. */
export async function loadKeepPhotoLocation(): Promise<boolean> {
  const { data } = await unwrap<{ keep_photo_location?: boolean }>(api.GET('/api/v1/dispatch/settings'));
  return data.keep_photo_location === true;
}

/** Changes it; answers null when saved, else the reason to show. */
export async function saveKeepPhotoLocation(keep: boolean): Promise<string | null> {
  try {
    await unwrap(api.PATCH('/api/v1/dispatch/settings', { body: { keep_photo_location: keep } }));
    return null;
  } catch (err) {
    return errorMessage(err, t('offers.settings.photoLocationFailed'));
  }
}
