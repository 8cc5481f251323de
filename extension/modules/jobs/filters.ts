// The job board's filters as the API takes them: the routes and saved views (views/) share them.
import { z } from 'zod';
import { chatwootIdParam, text, timestamp } from '../../http/schemas.ts';
import { jobPriorities } from './rules.ts';

export const jobCategory = text({ min: 1, max: 100 }).toLowerCase();

/** A query value that may list several, comma-separated (`status=new,triaged`). */
export const commaList = <T extends z.ZodType>(item: T) =>
  z.preprocess((v) => (typeof v === 'string' ? v.split(',').filter(Boolean) : v), z.array(item).max(10));

export const jobFilters = z.object({
  vendor_id: z.uuid().optional(),
  priority: z.enum(jobPriorities).optional(),
  sla_state: z.enum(['approaching', 'breached']).optional(),
  service_category: jobCategory.optional(),
  contact_id: chatwootIdParam.optional(),
  conversation_id: chatwootIdParam.optional(),
  deal_id: z.uuid().optional(),
  created_from: timestamp.optional(),
  created_to: timestamp.optional(),
  q: text({ min: 1, max: 200 }).optional().describe('A J-number (J-1042) or words of the summary'),
});
