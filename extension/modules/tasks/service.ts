// Tasks: follow-up work with due dates, assignees and explicit links to a Chatwoot contact,
// a deal, a job and a Chatwoot conversation. Views: mine, overdue, due today.
import type { Knex } from 'knex';
import type { RequestContext } from '../../context.ts';
import { read, write, type Audit } from '../../db/tenant.ts';
import { sumOverAccounts, type AccountPart } from '../system/sweeps.ts';
import { ConflictError, InvalidFieldsError, NotFoundError, withReferenceFields } from '../../errors.ts';
import { paginate } from '../../http/pagination.ts';
import type { AuditEntry } from '../../audit/writer.ts';
import { queueWriteBack } from '../../chatwoot/outbox-queue.ts';
import { dueSoonMinutes, taskTransitions, type TaskStatus } from './rules.ts';

export const taskColumns = [
  'id', 'title', 'description', 'status', 'priority', 'due_at', 'assignee_id', 'chatwoot_team_id', 'chatwoot_contact_id', 'deal_id', 'job_id',
  'chatwoot_conversation_id', 'completed_at', 'version', 'created_by_type', 'created_by_id', 'created_at', 'updated_at',
] as const;

export interface TaskRow {
  id: string;
  title: string;
  status: TaskStatus;
  due_at: Date | null;
  assignee_id: string | null;
  deal_id: string | null;
  version: number;
  [key: string]: unknown;
}

export interface TaskInput {
  title?: string;
  description?: string | null;
  priority?: 'low' | 'normal' | 'high' | 'urgent';
  due_at?: Date | null;
  assignee_id?: string | null;
  chatwoot_team_id?: number | null;
  chatwoot_contact_id?: number | null;
  deal_id?: string | null;
  chatwoot_conversation_id?: number | null;
}

const translateDbErrors = <T>(work: () => Promise<T>) =>
  withReferenceFields(work, {
    assignee_id: { field: 'assignee_id', message: 'The assignee must be an agent of this account', code: 'unknown_assignee' },
    deal_id: { field: 'deal_id', message: 'No such deal in this account', code: 'unknown_deal' },
  });

async function checkDeal(trx: Knex.Transaction, ctx: RequestContext, dealId: string | null | undefined) {
  if (!dealId) return;
  const deal = await trx('deals').where({ account_id: ctx.accountId, id: dealId }).whereNull('deleted_at').first('id');
  if (!deal) throw new InvalidFieldsError('Unknown deal', [{ field: 'deal_id', message: 'No such deal in this account', code: 'unknown_deal' }]);
}

async function loadTask(trx: Knex.Transaction, ctx: RequestContext, taskId: string, forUpdate = false): Promise<TaskRow> {
  const query = trx('tasks').where({ account_id: ctx.accountId, id: taskId }).whereNull('deleted_at');
  if (forUpdate) query.forUpdate();
  const row = await query.first(...taskColumns);
  if (!row) throw new NotFoundError('Task');
  return row as TaskRow;
}

/** Inserts a task inside the caller's transaction (the API and automation rules both use it). */
export async function insertTask(trx: Knex.Transaction, ctx: RequestContext, audit: (entry: AuditEntry) => Promise<void>, input: TaskInput & { title: string; job_id?: string | null }) {
  await checkDeal(trx, ctx, input.deal_id);
  const [row] = await trx('tasks')
    .insert({ account_id: ctx.accountId, ...input, created_by_type: ctx.actor.type, created_by_id: ctx.actor.id })
    .returning([...taskColumns]);
  const due = row.due_at ? `, due ${(row.due_at as Date).toISOString().slice(0, 16).replace('T', ' ')} UTC` : '';
  await queueWriteBack(trx, ctx, row.chatwoot_conversation_id, [{ kind: 'note', content: `Onelink · task “${row.title}” created${due}` }]);
  await audit({ action: 'task.created', resourceType: 'task', resourceId: row.id, after: { ...row } });
  return row as TaskRow;
}

/**
 * Points a task at what its opener learnt after opening it (the calls workflow: the call's job,
 * its Chatwoot conversation and contact), without the "task created" note a new task posts: the
 * opener tells the conversation itself. A conversation and contact are filled in, never replaced.
 */
export async function linkTask(
  trx: Knex.Transaction,
  ctx: RequestContext,
  audit: Audit,
  taskId: string,
  link: { jobId?: string; conversationId?: number; contactId?: number | null },
): Promise<void> {
  const update: Record<string, unknown> = {};
  if (link.jobId) update.job_id = link.jobId;
  if (link.conversationId) {
    update.chatwoot_conversation_id = trx.raw('coalesce(chatwoot_conversation_id, ?)', [link.conversationId]);
    if (link.contactId) update.chatwoot_contact_id = trx.raw('coalesce(chatwoot_contact_id, ?)', [link.contactId]);
  }
  if (!Object.keys(update).length) return;
  const [after] = await trx('tasks').where({ account_id: ctx.accountId, id: taskId }).update(update).returning(['job_id', 'chatwoot_conversation_id', 'chatwoot_contact_id']);
  if (after) await audit({ action: 'task.linked', resourceType: 'task', resourceId: taskId, after: { ...after } });
}

export async function createTask(ctx: RequestContext, input: TaskInput & { title: string }) {
  return translateDbErrors(() => write(ctx, (trx, audit) => insertTask(trx, ctx, audit, input)));
}

export async function getTask(ctx: RequestContext, taskId: string) {
  return read(ctx, (trx) => loadTask(trx, ctx, taskId));
}

export async function updateTask(ctx: RequestContext, taskId: string, patch: TaskInput & { version: number }) {
  return translateDbErrors(() =>
    write(ctx, async (trx, audit) => {
      const before = await loadTask(trx, ctx, taskId, true);
      if (patch.version !== before.version) throw new ConflictError('stale_version', 'This task changed since you loaded it; here is its current state', { current: before });
      await checkDeal(trx, ctx, patch.deal_id);
      const { version: _v, ...fields } = patch;
      const [after] = await trx('tasks').where({ account_id: ctx.accountId, id: taskId }).update({ ...fields, version: before.version + 1, updated_at: trx.fn.now() }).returning([...taskColumns]);
      await audit({ action: 'task.updated', resourceType: 'task', resourceId: taskId, before: { ...before }, after: { ...after } });
      return after as TaskRow;
    }),
  );
}

export async function setTaskStatus(ctx: RequestContext, taskId: string, status: TaskStatus) {
  return write(ctx, async (trx, audit) => {
    const before = await loadTask(trx, ctx, taskId, true);
    if (!taskTransitions[before.status].includes(status)) {
      throw new ConflictError('invalid_transition', `A ${before.status} task cannot become ${status}`, { allowed: taskTransitions[before.status] });
    }
    const [after] = await trx('tasks')
      .where({ account_id: ctx.accountId, id: taskId })
      .update({ status, completed_at: status === 'done' ? trx.fn.now() : null, version: before.version + 1, updated_at: trx.fn.now() })
      .returning([...taskColumns]);
    if (status === 'done') await queueWriteBack(trx, ctx, after.chatwoot_conversation_id, [{ kind: 'note', content: `Onelink · task “${after.title}” completed` }]);
    await audit({ action: `task.${status}`, resourceType: 'task', resourceId: taskId, before: { status: before.status }, after: { status } });
    return after as TaskRow;
  });
}

export async function deleteTask(ctx: RequestContext, taskId: string) {
  return write(ctx, async (trx, audit) => {
    const before = await loadTask(trx, ctx, taskId, true);
    await trx('tasks').where({ account_id: ctx.accountId, id: taskId }).update({ deleted_at: trx.fn.now(), updated_at: trx.fn.now() });
    await audit({ action: 'task.deleted', resourceType: 'task', resourceId: taskId, before: { title: before.title } });
    return { id: taskId, deleted: true };
  });
}

export interface TaskQuery {
  view?: 'mine' | 'overdue' | 'due_today';
  /** IANA time zone that defines "today" for due_today (default UTC). */
  tz?: string;
  status?: TaskStatus;
  assignee_id?: string;
  deal_id?: string;
  contact_id?: number;
  conversation_id?: number;
  limit: number;
  cursor?: string;
}

const openStatuses = ['open', 'in_progress'];

export async function listTasks(ctx: RequestContext, query: TaskQuery) {
  return read(ctx, (trx) => {
    const q = trx('tasks').where({ account_id: ctx.accountId }).whereNull('deleted_at');
    if (query.view === 'mine') q.where({ assignee_id: ctx.actor.id }).whereIn('status', openStatuses);
    if (query.view === 'overdue') q.whereIn('status', openStatuses).where('due_at', '<', trx.fn.now());
    if (query.view === 'due_today') {
      const tz = query.tz ?? 'UTC';
      q.whereIn('status', openStatuses)
        .where('due_at', '>=', trx.raw(`date_trunc('day', now() at time zone ?) at time zone ?`, [tz, tz]))
        .where('due_at', '<', trx.raw(`(date_trunc('day', now() at time zone ?) + interval '1 day') at time zone ?`, [tz, tz]));
    }
    if (query.status) q.where({ status: query.status });
    if (query.assignee_id) q.where({ assignee_id: query.assignee_id });
    if (query.deal_id) q.where({ deal_id: query.deal_id });
    if (query.contact_id !== undefined) q.where({ chatwoot_contact_id: query.contact_id });
    if (query.conversation_id !== undefined) q.where({ chatwoot_conversation_id: query.conversation_id });
    // Soonest due first; tasks without a due date last (ordered by an "infinity" stand-in).
    return paginate<TaskRow>(q.select(...taskColumns), { keys: { [`coalesce(due_at, 'infinity'::timestamptz)`]: 'timestamptz', id: 'uuid' }, limit: query.limit, cursor: query.cursor });
  });
}

/**
 * Emits each reminder once per task, threshold and due time: `due_soon` within the hour before
 * the due time, `overdue` after it. Runs from the queue every minute, for every account, as the
 * `task-reminders` system process (audited, announced). The emitted record is the event;
 * notification channels will read it later. With the scheduler's `forAccount`, each account's
 * failure is recorded there; without it the failures are thrown together after every account ran.
 */
export function emitTaskReminders(db: Knex, now = new Date(), forAccount?: AccountPart): Promise<number> {
  return sumOverAccounts(db, { process: 'task-reminders', describe: 'The task reminder sweep' }, (trx, accountId, audit) => remindForAccount(trx, accountId, audit, now), forAccount);
}

async function remindForAccount(trx: Knex.Transaction, accountId: number, audit: Audit, now: Date): Promise<number> {
  const rows: Array<{ task_id: string; threshold: string }> = (
    await trx.raw(
      `insert into task_reminders (account_id, task_id, threshold, due_at, emitted_at)
       select t.account_id, t.id, case when t.due_at <= :now then 'overdue' else 'due_soon' end, t.due_at, :now
         from tasks t
        where t.account_id = :accountId and t.deleted_at is null and t.status in ('open', 'in_progress')
          and t.due_at is not null and t.due_at <= :now::timestamptz + make_interval(mins => :soon)
       on conflict do nothing
       returning task_id, threshold`,
      { now, accountId, soon: dueSoonMinutes },
    )
  ).rows;
  if (!rows.length) audit.nothingChanged();
  for (const row of rows) await audit({ action: `task.${row.threshold}`, resourceType: 'task', resourceId: row.task_id });
  return rows.length;
}
