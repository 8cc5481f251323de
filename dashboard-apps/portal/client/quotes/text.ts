// English for the quotes a client approves or declines.
import { addEnglish, t } from '../../../i18n/index.ts';

export const clientQuotesText = {
  'cp.quotes.title': 'Quotes',
  'cp.quotes.intro': 'Quotes we shared with you. Open one to read it and approve or decline.',
  'cp.quotes.none': 'No quotes yet',
  'cp.quotes.noneHint': 'When we send you a quote, it appears here.',
  'cp.quotes.loadFailed': 'Your quotes could not be loaded',
  'cp.quotes.retry': 'Try again',
  'cp.quotes.loading': 'Loading…',
  'cp.quotes.back': 'All quotes',
  'cp.quotes.for': 'For {reference}',
  'cp.quotes.sharedOn': 'Sent to you',
  'cp.quotes.status.shared': 'Waiting for you',
  'cp.quotes.status.approved': 'Approved',
  'cp.quotes.status.declined': 'Declined',
  'cp.quotes.document': 'The quote document',
  'cp.quotes.open': 'Open',
  'cp.quotes.download': 'Download',
  'cp.quotes.noDocument': 'No document with this quote: the amount above is the quote.',
  'cp.quotes.approve': 'Approve',
  'cp.quotes.decline': 'Decline',
  'cp.quotes.confirmApprove': 'Approve this quote?',
  'cp.quotes.confirmApproveText': 'You accept “{title}” for {amount}. We are told at once and get in touch to plan the work.',
  'cp.quotes.confirmDecline': 'Decline this quote?',
  'cp.quotes.confirmDeclineText': 'You turn down “{title}” for {amount}. We are told at once.',
  'cp.quotes.comment': 'A comment for us (optional)',
  'cp.quotes.commentDecline': 'Tell us why (optional)',
  'cp.quotes.yesApprove': 'Yes, approve',
  'cp.quotes.yesDecline': 'Yes, decline',
  'cp.quotes.cancel': 'Back',
  'cp.quotes.approvedOn': 'You approved this quote',
  'cp.quotes.declinedOn': 'You declined this quote',
  'cp.quotes.yourComment': 'Your comment',
  'cp.quotes.thanksApproved': 'Thank you! We have your approval and will be in touch.',
  'cp.quotes.thanksDeclined': 'Thank you for letting us know.',
  'cp.quotes.alreadyDecided': 'This quote was already decided; here is the decision.',
  'cp.quotes.gone': 'This quote is no longer available',
  'cp.quotes.goneHint': 'It may have been withdrawn. Your other quotes are in the list.',
  'cp.quotes.noSignal': 'No signal: your decision was not sent. Try again in a moment.',
  'cp.quotes.failed': 'Your decision was not sent',
};

addEnglish(clientQuotesText);

export type ClientQuotesKey = keyof typeof clientQuotesText;
/** t() for these keys. */
export const qt = (key: ClientQuotesKey, values?: Record<string, string | number>) => t(key, values);
