// English for the client's jobs and service requests.
import { addEnglish } from '../../../i18n/index.ts';

export const clientJobsText = {
  'cp.jobs.title': 'My jobs',
};

addEnglish(clientJobsText);
