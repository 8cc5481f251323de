// The pipeline board's filters as the API takes them: the deal routes and saved views (views/) share them.
import { z } from 'zod';
import { chatwootIdParam, isoDate, text, timestamp } from '../../http/schemas.ts';
import { dealStatuses } from './rules.ts';

/** Filters shared by the deal list and the board; custom fields as cf.<key>=value. */
export const dealFilters = z.object({
  owner_id: z.uuid().optional(),
  status: z.enum(dealStatuses).optional(),
  contact_id: chatwootIdParam.optional(),
  conversation_id: chatwootIdParam.optional(),
  q: text({ min: 1, max: 200 }).optional(),
  created_from: timestamp.optional(),
  created_to: timestamp.optional(),
  expected_from: isoDate.optional(),
  expected_to: isoDate.optional(),
  cf: z.record(text({ min: 1, max: 100 }), text({ max: 200 })).optional().describe('Custom field equality, e.g. cf[trade]=plumbing'),
});
/** The query's `cf` as the service's `custom`. */
export const toFilters = ({ cf, ...rest }: z.infer<typeof dealFilters>) => ({ ...rest, custom: cf });
