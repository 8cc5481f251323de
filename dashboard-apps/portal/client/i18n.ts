// The client portal's shell sentences (English): sign-in, navigation, account.
import { addEnglish } from '../../i18n/index.ts';

export const clientPortal = {
  'cp.appName': 'Your service portal',
};

addEnglish(clientPortal);
