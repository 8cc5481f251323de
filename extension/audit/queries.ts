// The audit trail, newest first, filtered and cursor-paginated.
import type { RequestContext } from '../context.ts';
import { read } from '../db/tenant.ts';
import { paginate } from '../http/pagination.ts';

export interface AuditFilters {
  resource_type?: string;
  resource_id?: string;
  actor_type?: string;
  actor_id?: string;
  action?: string;
  since?: Date;
  until?: Date;
  limit: number;
  cursor?: string;
}

export function listAuditEvents(ctx: RequestContext, filters: AuditFilters) {
  return read(ctx, (trx) => {
    const query = trx('audit_events').where({ account_id: ctx.accountId });
    for (const key of ['resource_type', 'resource_id', 'actor_type', 'actor_id', 'action'] as const) {
      if (filters[key] !== undefined) query.andWhere(key, filters[key]);
    }
    if (filters.since) query.andWhere('occurred_at', '>=', filters.since);
    if (filters.until) query.andWhere('occurred_at', '<', filters.until);
    return paginate(query.select('id', 'occurred_at', 'actor_type', 'actor_id', 'action', 'resource_type', 'resource_id', 'before', 'after', 'request_id'), {
      keys: { id: 'bigint' },
      direction: 'desc',
      limit: filters.limit,
      cursor: filters.cursor,
    });
  });
}
