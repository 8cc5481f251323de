// English for the job's thread with dispatch.
import { addEnglish, t } from '../../../i18n/index.ts';

export const messagesText = {
  'portal.messages.title': 'Messages with dispatch',
  'portal.messages.empty': 'No messages yet',
  'portal.messages.emptyHint': 'Write to dispatch about this job; they answer here.',
  'portal.messages.you': 'You',
  'portal.messages.dispatch': 'Dispatch',
  'portal.messages.compose': 'Message to dispatch',
  'portal.messages.send': 'Send',
  'portal.messages.status.queued': 'Waiting for signal',
  'portal.messages.status.sending': 'Sending…',
  'portal.messages.status.sent': 'Sent',
  'portal.messages.status.failed': 'Not sent',
  'portal.messages.retry': 'Try again',
  'portal.messages.remove': 'Remove',
  'portal.messages.offline': 'Offline: showing the messages saved on this phone.',
  'portal.messages.loadFailed': 'The messages could not be loaded.',
  'portal.messages.attachment': 'Attachment: {name}',
  'portal.messages.savedAt': 'Saved ',
} as const;

addEnglish(messagesText);

export const say = (key: keyof typeof messagesText, values?: Record<string, string | number>) => t(key, values);
