// English for the owner's business page (hours, time off, area, categories, documents).
import { addEnglish, t } from '../../../i18n/index.ts';

export const businessText = {
  'portal.business.title': 'Your business',
  'portal.business.loadFailed': 'Your business details could not be loaded.',
  'portal.business.retry': 'Try again',
  'portal.business.locked': 'Locked by dispatch: ask them to change it.',
  'portal.business.save': 'Save',
  'portal.business.saved': 'Saved',
  'portal.business.saveFailed': 'Not saved: {reason}',
  'portal.business.hours': 'Weekly hours',
  'portal.business.hoursZone': 'Times in {zone}.',
  'portal.business.closed': 'Closed',
  'portal.business.addSlot': 'Add hours',
  'portal.business.addSlotOn': 'Add hours on {day}',
  'portal.business.removeSlot': 'Remove {day} {starts}–{ends}',
  'portal.business.from': 'From',
  'portal.business.to': 'To',
  'portal.business.slotFrom': '{day} from',
  'portal.business.slotTo': '{day} to',
  'portal.business.badSlot': 'Each end must be after its start.',
  'portal.business.timeOff': 'Time off',
  'portal.business.noTimeOff': 'No time off planned.',
  'portal.business.firstDay': 'First day off',
  'portal.business.lastDay': 'Last day off',
  'portal.business.reason': 'Reason (optional)',
  'portal.business.addTimeOff': 'Add time off',
  'portal.business.removeTimeOff': 'Remove time off {range}',
  'portal.business.badRange': 'The last day cannot be before the first.',
  'portal.business.area': 'Service area',
  'portal.business.postalCodes': 'Postal codes',
  'portal.business.postalCodesHint': 'Separate them with commas or spaces.',
  'portal.business.radius': 'Radius (km)',
  'portal.business.noArea': 'No service area set.',
  'portal.business.radiusShown': 'Within {km} km',
  'portal.business.categories': 'Services',
  'portal.business.categoriesField': 'Services you offer',
  'portal.business.categoriesHint': 'e.g. plumbing, heating — separate them with commas.',
  'portal.business.noCategories': 'No services set.',
  'portal.business.documents': 'Compliance documents',
  'portal.business.noDocuments': 'No documents yet',
  'portal.business.noDocumentsHint': 'Upload your insurance or licence so dispatch can approve it.',
  'portal.business.expires': 'Expires {date}',
  'portal.business.noExpiry': 'No expiry',
  'portal.business.reference': 'Reference {reference}',
  'portal.business.rejectedBecause': 'Rejected: {reason}',
  'portal.business.status.pending_review': 'Pending review',
  'portal.business.status.approved': 'Approved',
  'portal.business.status.rejected': 'Rejected',
  'portal.business.view': 'View',
  'portal.business.uploadTitle': 'Upload a document',
  'portal.business.kind': 'Kind',
  'portal.business.kind.insurance': 'Insurance',
  'portal.business.kind.licence': 'Licence',
  'portal.business.kind.certificate': 'Certificate',
  'portal.business.kind.other': 'Other',
  'portal.business.referenceField': 'Policy or licence number (optional)',
  'portal.business.expiry': 'Expiry date',
  'portal.business.file': 'File (PDF or photo)',
  'portal.business.chooseFile': 'Choose a file to upload.',
  'portal.business.upload': 'Upload document',
  'portal.business.uploaded': 'Uploaded: waiting for review by dispatch',
  'portal.business.offline': 'No connection: try again when you have signal.',
} as const;

addEnglish(businessText);

export const say = (key: keyof typeof businessText, values?: Record<string, string | number>) => t(key, values);

/** Monday first, as ISO weekdays 1–7, named in the phone's language. */
export function weekdayName(weekday: number, style: 'long' | 'short' = 'long') {
  // 2024-01-01 was a Monday.
  return new Date(Date.UTC(2024, 0, weekday)).toLocaleDateString(undefined, { weekday: style, timeZone: 'UTC' });
}
