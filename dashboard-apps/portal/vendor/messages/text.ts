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
  'portal.messages.attach': 'Attach file',
  'portal.messages.attachInput': 'Choose photos or PDF documents to attach',
  'portal.messages.attachedList': 'Files to send with the message',
  'portal.messages.removeFile': 'Remove {name}',
  'portal.messages.preparing': 'Preparing the files…',
  'portal.messages.filesLimit': 'At most {max} files go with one message.',
  'portal.messages.notKept': 'The message could not be kept on this phone (its storage may be full); it was not sent. Free some space and try again.',
  'portal.messages.photo': 'Photo {name}',
  'portal.messages.openFile': 'Open {name}',
} as const;

addEnglish(messagesText);

export const say = (key: keyof typeof messagesText, values?: Record<string, string | number>) => t(key, values);
