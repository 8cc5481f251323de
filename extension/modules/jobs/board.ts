// The dispatch board and the job list: filters, columns with capped counts, newest first.
import type { Knex } from 'knex';
import type { RequestContext } from '../../context.ts';
import { read } from '../../db/tenant.ts';
import { paginate } from '../../http/pagination.ts';
import { dispatchSettings, jobColumns, presentJob, visibleJobs, type DispatchSettings, type JobRow } from './records.ts';
import { jobStatuses, openJobStatuses, type JobPriority, type JobStatus } from './rules.ts';

export interface JobFilters {
  status?: JobStatus[];
  vendor_id?: string;
  priority?: JobPriority;
  sla_state?: 'approaching' | 'breached';
  service_category?: string;
  contact_id?: number;
  conversation_id?: number;
  deal_id?: string;
  created_from?: Date;
  created_to?: Date;
  /** A J-number or words of the summary. */
  q?: string;
}

function applyJobFilters(trx: Knex.Transaction, q: Knex.QueryBuilder, filters: JobFilters, settings: DispatchSettings) {
  if (filters.status?.length) q.whereIn('jobs.status', filters.status);
  if (filters.vendor_id) q.where('jobs.vendor_id', filters.vendor_id);
  if (filters.priority) q.where('jobs.priority', filters.priority);
  if (filters.service_category) q.where('jobs.service_category', filters.service_category);
  if (filters.contact_id !== undefined) q.where('jobs.chatwoot_contact_id', filters.contact_id);
  if (filters.created_from) q.where('jobs.created_at', '>=', filters.created_from);
  if (filters.created_to) q.where('jobs.created_at', '<', filters.created_to);
  if (filters.q) {
    const reference = /^j-?(\d+)$/i.exec(filters.q.trim());
    if (reference) q.where('jobs.number', Number(reference[1]));
    else q.whereRaw('jobs.summary ilike ?', [`%${filters.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`]);
  }
  if (filters.conversation_id !== undefined) {
    q.whereExists((s) => s.from('job_conversations as jc').whereRaw('jc.account_id = jobs.account_id and jc.job_id = jobs.id').where('jc.chatwoot_conversation_id', filters.conversation_id!));
  }
  if (filters.deal_id) {
    q.whereExists((s) => s.from('job_deals as jd').whereRaw('jd.account_id = jobs.account_id and jd.job_id = jobs.id').where('jd.deal_id', filters.deal_id!));
  }
  if (filters.sla_state) {
    q.whereIn('jobs.status', openJobStatuses as JobStatus[]);
    if (filters.sla_state === 'breached') q.where('jobs.sla_due_at', '<=', trx.fn.now());
    else q.where('jobs.sla_due_at', '>', trx.fn.now()).where('jobs.sla_due_at', '<=', trx.raw(`now() + make_interval(mins => ?)`, [settings.sla_warning_minutes]));
  }
}

export async function listJobs(ctx: RequestContext, filters: JobFilters, page: { limit: number; cursor?: string }) {
  return read(ctx, async (trx) => {
    const settings = await dispatchSettings(trx, ctx.accountId);
    const q = visibleJobs(trx('jobs'), ctx).select(...jobColumns.map((c) => `jobs.${c}`));
    applyJobFilters(trx, q, filters, settings);
    const result = await paginate<JobRow>(q, { keys: { 'jobs.created_at': 'timestamptz', 'jobs.id': 'uuid' }, direction: 'desc', limit: page.limit, cursor: page.cursor });
    return { items: result.items.map((job) => presentJob(ctx, job, settings.sla_warning_minutes)), nextCursor: result.nextCursor };
  });
}

export const boardCountCap = 1000;

/** The dispatch board: one column per status with its count (up to boardCountCap) and first cards, newest first. */
export async function jobBoard(ctx: RequestContext, filters: Omit<JobFilters, 'status'> & { statuses?: JobStatus[] }, perColumn: number) {
  return read(ctx, async (trx) => {
    const settings = await dispatchSettings(trx, ctx.accountId);
    const statuses = filters.statuses?.length ? filters.statuses : jobStatuses.filter((s) => s !== 'canceled');
    const columns = [];
    for (const status of statuses) {
      const cards = visibleJobs(trx('jobs'), ctx).where('jobs.status', status).select(...jobColumns.map((c) => `jobs.${c}`));
      applyJobFilters(trx, cards, filters, settings);
      const counted = visibleJobs(trx('jobs'), ctx).where('jobs.status', status);
      applyJobFilters(trx, counted, filters, settings);
      const page = await paginate<JobRow>(cards, { keys: { 'jobs.created_at': 'timestamptz', 'jobs.id': 'uuid' }, direction: 'desc', limit: perColumn });
      // Counting stops at boardCountCap: a column of 120,000 completed jobs reads "1000+", not every row.
      const total = Number((await trx.from(counted.select(trx.raw('1')).limit(boardCountCap + 1).as('c')).count<{ count: number }[]>('* as count'))[0]!.count);
      columns.push({
        status,
        count: Math.min(total, boardCountCap),
        count_capped: total > boardCountCap,
        jobs: page.items.map((job) => presentJob(ctx, job, settings.sla_warning_minutes)),
        next_cursor: page.nextCursor,
      });
    }
    return { columns };
  });
}

/**
 * Emits each SLA event once per job, threshold and due time: `approaching` inside the account's
 * warning window, `breached` once past due. Runs from the queue every minute, for every account.
 */
