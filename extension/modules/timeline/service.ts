// Timelines merge what happened around a deal or a contact — stage moves and status changes,
// notes, tasks created and completed, the story of linked jobs, and a contact's calls — newest
// first, by cursor.
import type { Knex } from 'knex';
import type { RequestContext } from '../../context.ts';
import { read } from '../../db/tenant.ts';
import { NotFoundError } from '../../errors.ts';
import { paginate } from '../../http/pagination.ts';

type Scope = { dealId: string } | { contactId: number };

/** The union of event sources, each as (at, kind, ref, deal_id, data); jobs only for callers who may read them. */
function events(trx: Knex.Transaction, accountId: number, scope: Scope, withJobs: boolean, withCalls: boolean) {
  const deals = 'dealId' in scope ? 'select ?::uuid as id' : 'select id from deals where account_id = ? and chatwoot_contact_id = ? and deleted_at is null';
  const dealBindings = 'dealId' in scope ? [scope.dealId] : [accountId, scope.contactId];
  const taskScope = 'dealId' in scope ? 't.deal_id = ?' : '(t.chatwoot_contact_id = ? or t.deal_id in (select id from scoped_deals))';
  const taskBinding = 'dealId' in scope ? scope.dealId : scope.contactId;
  const jobs =
    'dealId' in scope
      ? 'select job_id from job_deals where account_id = ? and deal_id = ?'
      : 'select id from jobs where account_id = ? and chatwoot_contact_id = ? union select job_id from job_deals where account_id = ? and deal_id in (select id from scoped_deals)';
  // A job's story, minus field edits (the job page shows those).
  const jobEvents = `union all
    select je.occurred_at, 'job_' || je.kind, je.id::text, null::uuid,
           jsonb_build_object('job_id', j.id, 'job_number', j.number, 'summary', j.summary, 'actor_type', je.actor_type, 'actor_id', je.actor_id) || je.data
      from job_events je join jobs j on j.account_id = je.account_id and j.id = je.job_id
     where je.account_id = ? and je.kind <> 'updated' and je.job_id in (${jobs})`;
  // The contact's calls, one entry each (the call log has the details).
  const callEvents = `union all
    select c.started_at, 'call', c.id::text, null::uuid,
           jsonb_build_object('call_id', c.id, 'direction', c.direction, 'status', c.status, 'from', c.from_e164, 'to', c.to_e164,
                              'duration_seconds', c.duration_seconds, 'disposition', c.disposition, 'job_id', c.job_id)
      from calls c where c.account_id = ? and c.chatwoot_contact_id = ? and c.started_at is not null`;
  const sql = `(with scoped_deals as (${deals})
    select e.occurred_at as at, 'stage_change' as kind, e.id::text as ref, e.deal_id,
           jsonb_build_object('from_stage_id', e.from_stage_id, 'to_stage_id', e.to_stage_id, 'from_stage', fs.name, 'to_stage', ts.name,
                              'from_status', e.from_status, 'to_status', e.to_status, 'actor_type', e.actor_type, 'actor_id', e.actor_id) as data
      from deal_stage_events e
      left join stages fs on fs.account_id = e.account_id and fs.id = e.from_stage_id
      join stages ts on ts.account_id = e.account_id and ts.id = e.to_stage_id
     where e.account_id = ? and e.deal_id in (select id from scoped_deals)
    union all
    select n.created_at, 'note', n.id::text, n.deal_id, jsonb_build_object('body', n.body, 'author_type', n.author_type, 'author_id', n.author_id)
      from deal_notes n where n.account_id = ? and n.deal_id in (select id from scoped_deals) and n.deleted_at is null
    union all
    select t.created_at, 'task_created', t.id::text, t.deal_id, jsonb_build_object('task_id', t.id, 'title', t.title, 'due_at', t.due_at, 'status', t.status)
      from tasks t where t.account_id = ? and ${taskScope} and t.deleted_at is null
    union all
    select t.completed_at, 'task_completed', t.id::text, t.deal_id, jsonb_build_object('task_id', t.id, 'title', t.title)
      from tasks t where t.account_id = ? and ${taskScope} and t.deleted_at is null and t.completed_at is not null
    ${withJobs ? jobEvents : ''}
    ${withCalls && 'contactId' in scope ? callEvents : ''}
  ) as timeline`;
  const jobScope = 'dealId' in scope ? [accountId, scope.dealId] : [accountId, scope.contactId, accountId];
  const callScope = withCalls && 'contactId' in scope ? [accountId, scope.contactId] : [];
  return trx.raw(sql, [...dealBindings, accountId, accountId, accountId, taskBinding, accountId, taskBinding, ...(withJobs ? [accountId, ...jobScope] : []), ...callScope]);
}

const mayReadJobs = (ctx: RequestContext) => ctx.permissions.has('jobs:read') && ctx.capabilities.has('dispatch.jobs');
const mayReadCalls = (ctx: RequestContext) => ctx.permissions.has('calls:read') && ctx.capabilities.has('calls.twilio');

async function page(trx: Knex.Transaction, ctx: RequestContext, scope: Scope, limit: number, cursor?: string) {
  const result = await paginate<Record<string, unknown>>(trx.select('at', 'kind', 'ref', 'deal_id', 'data').from(events(trx, ctx.accountId, scope, mayReadJobs(ctx), mayReadCalls(ctx))), {
    keys: { at: 'timestamptz', kind: 'text', ref: 'text' },
    direction: 'desc',
    limit,
    cursor,
  });
  return { items: result.items.map(({ ref, ...item }) => ({ id: `${item.kind}:${ref}`, ...item })), nextCursor: result.nextCursor };
}

export async function dealTimeline(ctx: RequestContext, dealId: string, query: { limit: number; cursor?: string }) {
  return read(ctx, async (trx) => {
    const deal = await trx('deals').where({ account_id: ctx.accountId, id: dealId }).whereNull('deleted_at').first('id');
    if (!deal) throw new NotFoundError('Deal');
    return page(trx, ctx, { dealId }, query.limit, query.cursor);
  });
}

/** A contact's timeline; an unknown contact simply has an empty one (ids are Chatwoot's). */
export async function contactTimeline(ctx: RequestContext, contactId: number, query: { limit: number; cursor?: string }) {
  return read(ctx, (trx) => page(trx, ctx, { contactId }, query.limit, query.cursor));
}
