// English for the quotes a client approves or declines.
import { addEnglish } from '../../../i18n/index.ts';

export const clientQuotesText = {
  'cp.quotes.title': 'Quotes',
};

addEnglish(clientQuotesText);
