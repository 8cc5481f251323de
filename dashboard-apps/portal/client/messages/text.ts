// English for the client's conversations with the business. mt() is t() for these keys, so a
// translation (addCatalogue) covers these pages like the rest of the portal.
import { addEnglish, t } from '../../../i18n/index.ts';

export const clientMessagesText = {
  'cp.messages.title': 'Messages',
  'cp.messages.intro': 'Write to us here: we answer in this conversation.',
  'cp.messages.general': 'Message us',
  'cp.messages.generalHint': 'Questions, changes, anything at all',
  'cp.messages.jobs': 'About your jobs',
  'cp.messages.noJobs': 'Conversations about a job appear here once you write about it from the job.',
  'cp.messages.unread': '{count} new',
  'cp.messages.you': 'You',
  'cp.messages.them': 'Us',
  'cp.messages.lastFromYou': 'You: {text}',
  'cp.messages.fileOnly': 'A file',
  'cp.messages.nothingYet': 'No messages yet',
  'cp.messages.loadFailed': 'Your messages could not be loaded.',
  'cp.messages.savedCopy': 'No connection: showing what this phone last saw.',
  'cp.messages.retry': 'Try again',
  'cp.messages.back': 'All messages',
  'cp.messages.empty': 'Say hello',
  'cp.messages.emptyHint': 'Write your first message: the team answers you here.',
  'cp.messages.compose': 'Your message',
  'cp.messages.send': 'Send',
  'cp.messages.attach': 'Add photo or file',
  'cp.messages.attachInput': 'Choose photos or PDF documents to send',
  'cp.messages.attachedList': 'Files to send with the message',
  'cp.messages.removeFile': 'Remove {name}',
  'cp.messages.preparing': 'Preparing the files…',
  'cp.messages.filesLimit': 'At most {max} files go with one message.',
  'cp.messages.notKept': 'The message could not be kept on this phone (its storage may be full); it was not sent. Free some space and try again.',
  'cp.messages.photo': 'Photo {name}',
  'cp.messages.typing': '{name} is typing…',
  'cp.messages.someone': 'Someone',
  'cp.messages.jobLink': 'See the job',
  'cp.messages.notFound': 'This conversation is not available.',
} as const;

addEnglish(clientMessagesText);

export const mt = (key: keyof typeof clientMessagesText, values?: Record<string, string | number>) => t(key, values);
