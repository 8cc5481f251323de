// English for the client's conversations with the business.
import { addEnglish } from '../../../i18n/index.ts';

export const clientMessagesText = {
  'cp.messages.title': 'Messages',
};

addEnglish(clientMessagesText);
