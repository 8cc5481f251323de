// English for photos, documents and the upload queue (a translation adds the same keys through
// i18n's addCatalogue). The part registers itself when a screen imports it.
import { addEnglish, t } from '../../../i18n/index.ts';

export const uploadsText = {
  'portal.uploads.title': 'Photos and documents',
  'portal.uploads.required': 'Required photos',
  'portal.uploads.have': '{have} of {min}',
  'portal.uploads.waitingHere': '{count} waiting',
  'portal.uploads.tagQuestion': 'What does the next photo show?',
  'portal.uploads.tagOther': 'Other',
  'portal.uploads.take': 'Take photo',
  'portal.uploads.gallery': 'From gallery',
  'portal.uploads.document': 'Add document',
  'portal.uploads.cameraInput': 'Camera',
  'portal.uploads.galleryInput': 'Photos from the gallery',
  'portal.uploads.documentInput': 'Document (PDF)',
  'portal.uploads.preparing': 'Preparing…',
  'portal.uploads.none': 'No photos or documents yet.',
  'portal.uploads.queued': 'Waiting for signal',
  'portal.uploads.sending': 'Sending {percent} %',
  'portal.uploads.failed': 'Not sent: {reason}',
  'portal.uploads.retry': 'Try again',
  'portal.uploads.remove': 'Remove',
  'portal.uploads.progress': 'Upload of {name}',
  'portal.uploads.onServer': 'On the server',
  'portal.uploads.open': 'Open {name}',
  'portal.uploads.photoOf': 'Photo: {label}',
  'portal.uploads.storageFull': 'This phone has no room left to keep the file. Free some space, then add it again.',
  'portal.uploads.saveFailed': 'The file could not be kept on this phone ({reason}). Add it again.',
  'portal.banner.waitingOne': '1 photo waiting for signal',
  'portal.banner.waitingMany': '{count} photos waiting for signal',
  'portal.banner.filesWaitingOne': '1 file waiting for signal',
  'portal.banner.filesWaitingMany': '{count} files waiting for signal',
  'portal.banner.sendingOne': 'Sending 1 file',
  'portal.banner.sendingMany': 'Sending {count} files',
  'portal.banner.retryIn': 'Trying again shortly.',
  'portal.banner.signedOut': 'Sign in again to send them.',
  'portal.banner.failedOne': '1 file could not be sent',
  'portal.banner.failedMany': '{count} files could not be sent',
  'portal.banner.failedHint': 'Open the job to see why.',
  'portal.banner.progress': 'Sent so far',
  'portal.banner.sendNow': 'Send now',
} as const;

addEnglish(uploadsText);

export const say = (key: keyof typeof uploadsText, values?: Record<string, string | number>) => t(key, values);
