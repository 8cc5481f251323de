// Where a report's records open: a deal in the pipeline board's drawer, a job or a vendor on the
// dispatch board, a conversation in Chatwoot.
import { appUrl } from '../shared/app-url.ts';
import type { DrillAnswer } from './reports-api.ts';

type Record = DrillAnswer['rows'][number];

export function recordUrl(record: Record, chatwoot: { baseUrl?: string; accountId?: number }): string | null {
  switch (record.kind) {
    case 'deal':
      return appUrl('pipeline', { deal: record.id });
    case 'job':
      return appUrl('dispatch', { job: record.id });
    case 'vendor':
      return appUrl('dispatch', { vendor: record.id });
    case 'conversation':
      return record.link && chatwoot.baseUrl && chatwoot.accountId ? `${chatwoot.baseUrl}/app/accounts/${chatwoot.accountId}/conversations/${encodeURIComponent(record.link)}` : null;
    default:
      return null;
  }
}
