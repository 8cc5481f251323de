// Jobs: work orders with an enforced lifecycle (rules.ts), an append-only event log, links to
// Chatwoot conversations and deals, checklists and SLA. Portal users see only their own jobs:
// a vendor the jobs they currently hold, a client the jobs of their Chatwoot contact.
import type { Knex } from 'knex';
import { recordAudit } from '../../audit/writer.ts';
import { sensitiveFieldKeys, validateCustomFields, withoutSensitiveFields } from '../../capabilities/field-packs.ts';
import { queueWriteBack, type AttributesItem } from '../../chatwoot/outbox.ts';
import { nextNumber } from '../../db/counters.ts';
import { withReferenceErrors } from '../../db/errors.ts';
import { read, withAccount, write, type Audit, type RequestContext } from '../../db/tenant.ts';
import { HttpError, conflict, invalid, notFound } from '../../http/errors.ts';
import { paginate } from '../../http/pagination.ts';
import {
  checkTransition,
  defaultSlaMinutes,
  defaultSlaWarningMinutes,
  jobReference,
  jobStatuses,
  openJobStatuses,
  slaState,
  allowedNext,
  type JobPriority,
  type JobSource,
  type JobStatus,
} from './rules.ts';

export const jobColumns = [
  'id', 'number', 'status', 'priority', 'source', 'summary', 'notes', 'service_category', 'address', 'postal_code', 'lat', 'lng',
  'window_starts_at', 'window_ends_at', 'sla_due_at', 'sla_overridden', 'chatwoot_contact_id', 'vendor_id', 'custom_fields',
  'cancel_reason', 'completion_override_reason', 'version', 'created_by_type', 'created_by_id', 'status_changed_at', 'completed_at',
  'last_activity_at', 'created_at', 'updated_at',
] as const;

export interface JobRow {
  id: string;
  number: number;
  status: JobStatus;
  priority: JobPriority;
  summary: string;
  service_category: string | null;
  postal_code: string | null;
  lat: number | null;
  lng: number | null;
  window_starts_at: Date | null;
  window_ends_at: Date | null;
  sla_due_at: Date | null;
  completed_at: Date | null;
  chatwoot_contact_id: number | null;
  vendor_id: string | null;
  custom_fields: Record<string, unknown>;
  version: number;
  [key: string]: unknown;
}

export interface DispatchSettings { sla_minutes: Record<JobPriority, number>; sla_warning_minutes: number }

export async function dispatchSettings(trx: Knex.Transaction, accountId: number): Promise<DispatchSettings> {
  const row = await trx('dispatch_settings').where({ account_id: accountId }).first('sla_minutes', 'sla_warning_minutes');
  return { sla_minutes: { ...defaultSlaMinutes, ...(row?.sla_minutes ?? {}) }, sla_warning_minutes: row?.sla_warning_minutes ?? defaultSlaWarningMinutes };
}

export async function getDispatchSettings(ctx: RequestContext) {
  return read(ctx, (trx) => dispatchSettings(trx, ctx.accountId));
}

export async function updateDispatchSettings(ctx: RequestContext, input: Partial<DispatchSettings>) {
  return write(ctx, async (trx, audit) => {
    const before = await dispatchSettings(trx, ctx.accountId);
    const after = { sla_minutes: { ...before.sla_minutes, ...(input.sla_minutes ?? {}) }, sla_warning_minutes: input.sla_warning_minutes ?? before.sla_warning_minutes };
    await trx('dispatch_settings')
      .insert({ account_id: ctx.accountId, sla_minutes: after.sla_minutes, sla_warning_minutes: after.sla_warning_minutes })
      .onConflict('account_id')
      .merge({ sla_minutes: after.sla_minutes, sla_warning_minutes: after.sla_warning_minutes, updated_at: trx.fn.now() });
    await audit({ action: 'dispatch_settings.updated', resourceType: 'dispatch_settings', resourceId: ctx.accountId, before: { ...before }, after: { ...after } });
    return after;
  });
}

/** The jobs a caller may see at all: staff see the account's; portal users only their own. */
export function visibleJobs(query: Knex.QueryBuilder, ctx: RequestContext, table = 'jobs') {
  query.where(`${table}.account_id`, ctx.accountId);
  if (ctx.vendorId) query.where(`${table}.vendor_id`, ctx.vendorId);
  if (ctx.contactId !== undefined) query.where(`${table}.chatwoot_contact_id`, ctx.contactId);
  return query;
}

const isPortalUser = (ctx: RequestContext) => Boolean(ctx.vendorId) || ctx.contactId !== undefined;

/** A job as this caller may see it: SLA state computed; internal notes and sensitive fields hidden from portal users. */
export function presentJob(ctx: RequestContext, row: JobRow, warningMinutes: number) {
  const job = { ...row, reference: jobReference(row.number), sla_state: slaState(row, warningMinutes), allowed_next: allowedNext(row.status, ctx.roles) };
  if (!isPortalUser(ctx)) return job;
  const internal = new Set(['notes', 'created_by_type', 'created_by_id', 'completion_override_reason']);
  const shown = Object.fromEntries(Object.entries(job).filter(([key]) => !internal.has(key)));
  return { ...shown, custom_fields: withoutSensitiveFields(ctx, 'job', row.custom_fields) } as typeof job;
}

/**
 * What a portal user may read of each event kind: the job's progress, never reasons, scores,
 * compliance overrides, earlier vendors or who on the team did what.
 */
const portalEventFields: Record<string, readonly string[]> = {
  created: [],
  status_changed: ['from', 'to'],
  assigned: ['vendor_name'],
  reassigned: ['vendor_name'],
  unassigned: [],
  checklist_item_done: ['item_id', 'label'],
  checklist_item_reopened: ['item_id', 'label'],
};

function portalEvent(event: { id: number; kind: string; data: Record<string, unknown>; actor_type: string; actor_id: string; occurred_at: Date }) {
  const allowed = portalEventFields[event.kind] ?? [];
  return {
    id: event.id,
    kind: event.kind,
    data: Object.fromEntries(Object.entries(event.data ?? {}).filter(([key]) => allowed.includes(key))),
    occurred_at: event.occurred_at,
  };
}

export async function loadJob(trx: Knex.Transaction, ctx: RequestContext, jobId: string, forUpdate = false): Promise<JobRow> {
  const query = visibleJobs(trx('jobs'), ctx).where('jobs.id', jobId);
  if (forUpdate) query.forUpdate();
  const row = await query.first(...jobColumns);
  if (!row) throw notFound('Job');
  return row as JobRow;
}

export async function appendJobEvent(trx: Knex.Transaction, ctx: Pick<RequestContext, 'accountId' | 'actor'>, jobId: string, kind: string, data: Record<string, unknown> = {}) {
  await trx('job_events').insert({ account_id: ctx.accountId, job_id: jobId, kind, data, actor_type: ctx.actor.type, actor_id: ctx.actor.id });
  await trx('jobs').where({ account_id: ctx.accountId, id: jobId }).update({ last_activity_at: trx.fn.now() });
}

/** The conversation attributes Chatwoot's filters and automations see for a job. */
export const jobAttributes = (job: Pick<JobRow, 'number' | 'status'>): AttributesItem => ({
  kind: 'attributes',
  attributes: { onelink_job: jobReference(job.number), onelink_job_status: job.status },
});

/** Tells every linked Chatwoot conversation: a private note and the job's attributes. */
export async function writeBackJob(trx: Knex.Transaction, ctx: Pick<RequestContext, 'accountId'>, job: JobRow, note: string) {
  const conversations: Array<{ chatwoot_conversation_id: number }> = await trx('job_conversations')
    .where({ account_id: ctx.accountId, job_id: job.id })
    .select('chatwoot_conversation_id');
  for (const { chatwoot_conversation_id: conversationId } of conversations) {
    await queueWriteBack(trx, ctx, conversationId, [
      { kind: 'note', content: `Onelink · ${jobReference(job.number)} “${job.summary}”: ${note}` },
      jobAttributes(job),
    ]);
  }
}

export interface NewJob {
  summary: string;
  priority?: JobPriority;
  source?: JobSource;
  notes?: string | null;
  service_category?: string | null;
  address?: string | null;
  postal_code?: string | null;
  lat?: number | null;
  lng?: number | null;
  window_starts_at?: Date | null;
  window_ends_at?: Date | null;
  sla_due_at?: Date | null;
  chatwoot_contact_id?: number | null;
  conversation_ids?: number[];
  deal_ids?: string[];
  checklist_template_id?: string | null;
  custom_fields?: Record<string, unknown>;
}

const translateDbErrors = <T>(work: () => Promise<T>) =>
  withReferenceErrors(work, {
    deal_id: { path: 'body.deal_ids', message: 'No such deal in this account', code: 'unknown_deal' },
    vendor_id: { path: 'body.vendor_id', message: 'No such vendor in this account', code: 'unknown_vendor' },
  });

function checkLocation(input: { lat?: number | null; lng?: number | null; window_starts_at?: Date | null; window_ends_at?: Date | null }) {
  if ((input.lat == null) !== (input.lng == null)) {
    throw invalid('Give both coordinates or neither', [{ path: 'body.lng', message: 'lat and lng go together', code: 'incomplete_location' }]);
  }
  if (input.window_starts_at && input.window_ends_at && input.window_starts_at >= input.window_ends_at) {
    throw invalid('The requested window ends before it starts', [{ path: 'body.window_ends_at', message: 'Must be after window_starts_at', code: 'invalid_window' }]);
  }
}

async function instantiateChecklist(trx: Knex.Transaction, accountId: number, jobId: string, category: string | null, templateId?: string | null) {
  const template = templateId
    ? await trx('checklist_templates').where({ account_id: accountId, id: templateId, active: true }).first('id', 'items')
    : await trx('checklist_templates')
        .where({ account_id: accountId, active: true })
        .andWhere((q) => (category ? q.where('service_category', category).orWhereNull('service_category') : q.whereNull('service_category')))
        .orderByRaw('service_category is null') // the category's own template wins over the general one
        .orderBy('created_at')
        .first('id', 'items');
  if (templateId && !template) throw invalid('Unknown checklist template', [{ path: 'body.checklist_template_id', message: 'No such active template', code: 'unknown_template' }]);
  if (!template) return;
  const items = template.items as Array<{ label: string; required?: boolean }>;
  if (items.length) {
    await trx('job_checklist_items').insert(
      items.map((item, position) => ({ account_id: accountId, job_id: jobId, position, label: item.label, required: item.required ?? true })),
    );
  }
}

/**
 * Inserts a job inside the caller's transaction (the API and automation rules both use it):
 * number, SLA from priority and the account's rules unless given, links, checklist, the first
 * event, the write-back and the audit record.
 */
export async function insertJob(trx: Knex.Transaction, ctx: RequestContext, audit: (entry: Parameters<Audit>[0]) => Promise<void>, input: NewJob): Promise<JobRow> {
  checkLocation(input);
  const customFields = validateCustomFields(ctx, 'job', input.custom_fields ?? {});
  const settings = await dispatchSettings(trx, ctx.accountId);
  const priority = input.priority ?? 'normal';
  const number = await nextNumber(trx, ctx.accountId, 'job');
  const [row] = (await trx('jobs')
    .insert({
      account_id: ctx.accountId,
      number,
      priority,
      source: input.source ?? 'manual',
      summary: input.summary,
      notes: input.notes ?? null,
      service_category: input.service_category ?? null,
      address: input.address ?? null,
      postal_code: input.postal_code ?? null,
      lat: input.lat ?? null,
      lng: input.lng ?? null,
      window_starts_at: input.window_starts_at ?? null,
      window_ends_at: input.window_ends_at ?? null,
      sla_due_at: input.sla_due_at ?? trx.raw(`now() + make_interval(mins => ?)`, [settings.sla_minutes[priority]]),
      sla_overridden: Boolean(input.sla_due_at),
      chatwoot_contact_id: input.chatwoot_contact_id ?? null,
      custom_fields: customFields,
      created_by_type: ctx.actor.type,
      created_by_id: ctx.actor.id,
    })
    .returning([...jobColumns])) as JobRow[];
  const job = row!;
  for (const conversationId of new Set(input.conversation_ids ?? [])) {
    await trx('job_conversations').insert({ account_id: ctx.accountId, job_id: job.id, chatwoot_conversation_id: conversationId });
  }
  for (const dealId of new Set(input.deal_ids ?? [])) {
    await trx('job_deals').insert({ account_id: ctx.accountId, job_id: job.id, deal_id: dealId });
  }
  await instantiateChecklist(trx, ctx.accountId, job.id, job.service_category, input.checklist_template_id);
  await appendJobEvent(trx, ctx, job.id, 'created', { status: job.status, source: job.source, priority });
  await writeBackJob(trx, ctx, job, 'job created');
  await audit({ action: 'job.created', resourceType: 'job', resourceId: job.id, after: { ...job }, sensitiveKeys: sensitiveFieldKeys(ctx, 'job') });
  return job;
}

export async function createJob(ctx: RequestContext, input: NewJob) {
  return translateDbErrors(() =>
    write(ctx, async (trx, audit) => {
      const job = await insertJob(trx, ctx, audit, input);
      return presentJob(ctx, job, (await dispatchSettings(trx, ctx.accountId)).sla_warning_minutes);
    }),
  );
}

export async function getJob(ctx: RequestContext, jobId: string) {
  return read(ctx, async (trx) => {
    const job = await loadJob(trx, ctx, jobId);
    const settings = await dispatchSettings(trx, ctx.accountId);
    const portal = isPortalUser(ctx);
    const events = trx('job_events').where({ account_id: ctx.accountId, job_id: jobId }).orderBy('id').select('id', 'kind', 'data', 'actor_type', 'actor_id', 'occurred_at');
    // Portal users see the job's progress, not the team's internal notes or scoring.
    if (portal) events.whereIn('kind', Object.keys(portalEventFields));
    // One transaction is one connection: its queries run one after another.
    const eventRows = portal ? (await events).map(portalEvent) : await events;
    const checklist = await trx('job_checklist_items')
      .where({ account_id: ctx.accountId, job_id: jobId })
      .orderBy('position')
      .select('id', 'position', 'label', 'required', 'done_at', 'done_by_type', 'done_by_id');
    const links = portal
      ? {}
      : {
          conversation_ids: await trx('job_conversations').where({ account_id: ctx.accountId, job_id: jobId }).orderBy('linked_at').pluck('chatwoot_conversation_id'),
          deal_ids: await trx('job_deals').where({ account_id: ctx.accountId, job_id: jobId }).orderBy('linked_at').pluck('deal_id'),
          assignments: await trx('job_vendors')
            .join('vendors', (j) => j.on('vendors.account_id', 'job_vendors.account_id').andOn('vendors.id', 'job_vendors.vendor_id'))
            .where({ 'job_vendors.account_id': ctx.accountId, 'job_vendors.job_id': jobId })
            .orderBy('job_vendors.assigned_at')
            .select(
              'job_vendors.id', 'job_vendors.vendor_id', 'vendors.name as vendor_name', 'job_vendors.assigned_at', 'job_vendors.assigned_by_type',
              'job_vendors.assigned_by_id', 'job_vendors.reason', 'job_vendors.compliance_override_reason', 'job_vendors.score',
              'job_vendors.unassigned_at', 'job_vendors.unassigned_by_type', 'job_vendors.unassigned_by_id', 'job_vendors.unassign_reason',
            ),
        };
    const vendor = job.vendor_id ? await trx('vendors').where({ account_id: ctx.accountId, id: job.vendor_id }).first('id', 'name', 'chatwoot_contact_id') : null;
    return {
      ...presentJob(ctx, job, settings.sla_warning_minutes),
      vendor: vendor ?? null,
      events: eventRows,
      checklist,
      ...links,
    };
  });
}

export type JobPatch = Partial<Omit<NewJob, 'conversation_ids' | 'deal_ids' | 'checklist_template_id' | 'source'>> & { version: number };

const editableWhenClosed = new Set(['notes', 'custom_fields', 'version']);

export async function updateJob(ctx: RequestContext, jobId: string, patch: JobPatch) {
  return write(ctx, async (trx, audit) => {
    const before = await loadJob(trx, ctx, jobId, true);
    if (patch.version !== before.version) throw conflict('stale_version', 'This job changed since you loaded it; here is its current state', { current: before });
    if (!openJobStatuses.includes(before.status) && Object.keys(patch).some((k) => !editableWhenClosed.has(k))) {
      throw conflict('job_closed', `A ${before.status} job only takes notes and custom fields; reopen it to change more`);
    }
    checkLocation({ ...before, ...patch });
    const { version: _v, custom_fields: customFields, ...fields } = patch;
    const merged = customFields
      ? { ...before.custom_fields, ...validateCustomFields(ctx, 'job', customFields, { partial: true }) }
      : undefined;
    const settings = await dispatchSettings(trx, ctx.accountId);
    const slaChange: Record<string, unknown> = {};
    if (patch.sla_due_at !== undefined) Object.assign(slaChange, { sla_due_at: patch.sla_due_at, sla_overridden: patch.sla_due_at !== null });
    else if (patch.priority && patch.priority !== before.priority && !before.sla_overridden) {
      // A new priority re-derives the SLA from when the job was opened, unless someone set it by hand.
      slaChange.sla_due_at = trx.raw(`created_at + make_interval(mins => ?)`, [settings.sla_minutes[patch.priority]]);
    }
    const [after] = (await trx('jobs')
      .where({ account_id: ctx.accountId, id: jobId })
      .update({ ...fields, ...slaChange, ...(merged ? { custom_fields: merged } : {}), version: before.version + 1, updated_at: trx.fn.now() })
      .returning([...jobColumns])) as JobRow[];
    const changed = Object.keys(fields).concat(merged ? ['custom_fields'] : []);
    await appendJobEvent(trx, ctx, jobId, 'updated', { fields: changed });
    await audit({ action: 'job.updated', resourceType: 'job', resourceId: jobId, before: { ...before }, after: { ...after! }, sensitiveKeys: sensitiveFieldKeys(ctx, 'job') });
    return presentJob(ctx, after!, settings.sla_warning_minutes);
  });
}

export interface TransitionInput { status: JobStatus; reason?: string | null; override_reason?: string | null; version?: number }

/** Hooks run in the transaction of a status change (automation rules subscribe here). */
type StatusHook = (trx: Knex.Transaction, ctx: RequestContext, job: JobRow) => Promise<void>;
const completionHooks: StatusHook[] = [];
export function onJobCompleted(hook: StatusHook) {
  completionHooks.push(hook);
}

export async function transitionJob(ctx: RequestContext, jobId: string, input: TransitionInput) {
  return write(ctx, async (trx, audit) => {
    const before = await loadJob(trx, ctx, jobId, true);
    if (input.version !== undefined && input.version !== before.version) {
      throw conflict('stale_version', 'This job changed since you loaded it; here is its current state', { current: before });
    }
    const openRequired = Number(
      (await trx('job_checklist_items').where({ account_id: ctx.accountId, job_id: jobId, required: true }).whereNull('done_at').count<{ count: number }[]>('* as count'))[0]!.count,
    );
    const check = checkTransition({
      from: before.status,
      to: input.status,
      roles: ctx.roles,
      hasVendor: Boolean(before.vendor_id),
      requiredItemsOpen: openRequired,
      overrideReason: input.override_reason,
      cancelReason: input.reason,
    });
    if (!check.ok) {
      if (check.status === 422) throw invalid(check.message, [{ path: check.field ?? 'body', message: check.message, code: 'required' }]);
      throw new HttpError(check.status, check.code, check.message, { allowed: check.allowed ?? [] });
    }
    const reopening = before.status === 'completed' || before.status === 'canceled';
    // Back to triage means back to choosing a vendor: whoever held the job lets it go.
    const releasesVendor = input.status === 'triaged' && before.vendor_id !== null;
    if (releasesVendor) {
      await trx('job_vendors')
        .where({ account_id: ctx.accountId, job_id: jobId })
        .whereNull('unassigned_at')
        .update({ unassigned_at: trx.fn.now(), unassigned_by_type: ctx.actor.type, unassigned_by_id: ctx.actor.id, unassign_reason: input.reason ?? 'back to triage' });
      await appendJobEvent(trx, ctx, jobId, 'unassigned', { vendor_id: before.vendor_id, reason: input.reason ?? 'back to triage' });
    }
    const [after] = (await trx('jobs')
      .where({ account_id: ctx.accountId, id: jobId })
      .update({
        ...(releasesVendor ? { vendor_id: null } : {}),
        status: input.status,
        status_changed_at: trx.fn.now(),
        completed_at: input.status === 'completed' ? trx.fn.now() : null,
        cancel_reason: input.status === 'canceled' ? input.reason : null,
        completion_override_reason: input.status === 'completed' && openRequired > 0 ? input.override_reason : null,
        version: before.version + 1,
        updated_at: trx.fn.now(),
      })
      .returning([...jobColumns])) as JobRow[];
    const job = after!;
    await appendJobEvent(trx, ctx, jobId, 'status_changed', {
      from: before.status,
      to: input.status,
      ...(input.reason ? { reason: input.reason } : {}),
      ...(input.status === 'completed' && openRequired > 0 ? { override_reason: input.override_reason, open_required_items: openRequired } : {}),
      ...(reopening ? { reopened: true } : {}),
    });
    await writeBackJob(trx, ctx, job, `${before.status.replace('_', ' ')} → ${input.status.replace('_', ' ')}`);
    await audit({
      action: reopening ? 'job.reopened' : `job.${input.status}`,
      resourceType: 'job',
      resourceId: jobId,
      before: { status: before.status },
      after: { status: job.status, reason: input.reason ?? null, override_reason: job.completion_override_reason ?? null },
    });
    if (input.status === 'completed') for (const hook of completionHooks) await hook(trx, ctx, job);
    return presentJob(ctx, job, (await dispatchSettings(trx, ctx.accountId)).sla_warning_minutes);
  });
}

export async function addJobNote(ctx: RequestContext, jobId: string, body: string) {
  return write(ctx, async (trx, audit) => {
    await loadJob(trx, ctx, jobId, true);
    await appendJobEvent(trx, ctx, jobId, 'note', { body });
    await audit({ action: 'job.note_added', resourceType: 'job', resourceId: jobId, after: { body } });
    return { job_id: jobId, kind: 'note', body };
  });
}

export async function linkJob(ctx: RequestContext, jobId: string, input: { conversation_id?: number; deal_id?: string }, unlink = false) {
  return translateDbErrors(() =>
    write(ctx, async (trx, audit) => {
      const job = await loadJob(trx, ctx, jobId, true);
      if (input.deal_id) {
        const deal = await trx('deals').where({ account_id: ctx.accountId, id: input.deal_id }).whereNull('deleted_at').first('id');
        if (!deal) throw invalid('Unknown deal', [{ path: 'body.deal_id', message: 'No such deal in this account', code: 'unknown_deal' }]);
      }
      const table = input.deal_id ? 'job_deals' : 'job_conversations';
      const key = input.deal_id ? { deal_id: input.deal_id } : { chatwoot_conversation_id: input.conversation_id };
      const changed = unlink
        ? await trx(table).where({ account_id: ctx.accountId, job_id: jobId, ...key }).delete()
        : ((await trx(table).insert({ account_id: ctx.accountId, job_id: jobId, ...key }).onConflict().ignore().returning('job_id')) as unknown[]).length;
      if (!changed) {
        audit.nothingChanged();
        return { job_id: jobId, ...key, linked: !unlink };
      }
      await appendJobEvent(trx, ctx, jobId, unlink ? 'unlinked' : 'linked', key);
      if (!unlink && input.conversation_id) {
        await queueWriteBack(trx, ctx, input.conversation_id, [
          { kind: 'note', content: `Onelink · ${jobReference(job.number)} “${job.summary}” linked to this conversation (${job.status.replace('_', ' ')})` },
          jobAttributes(job),
        ]);
      }
      await audit({ action: unlink ? 'job.unlinked' : 'job.linked', resourceType: 'job', resourceId: jobId, after: key });
      return { job_id: jobId, ...key, linked: !unlink };
    }),
  );
}

export async function setChecklistItem(ctx: RequestContext, jobId: string, itemId: string, done: boolean) {
  return write(ctx, async (trx, audit) => {
    const job = await loadJob(trx, ctx, jobId, true);
    if (!openJobStatuses.includes(job.status)) throw conflict('job_closed', `The checklist of a ${job.status} job is closed`);
    const item = await trx('job_checklist_items').where({ account_id: ctx.accountId, job_id: jobId, id: itemId }).first('id', 'label', 'done_at');
    if (!item) throw notFound('Checklist item');
    if (Boolean(item.done_at) === done) {
      audit.nothingChanged();
      return item;
    }
    const [after] = await trx('job_checklist_items')
      .where({ account_id: ctx.accountId, id: itemId })
      .update(done ? { done_at: trx.fn.now(), done_by_type: ctx.actor.type, done_by_id: ctx.actor.id } : { done_at: null, done_by_type: null, done_by_id: null })
      .returning(['id', 'position', 'label', 'required', 'done_at', 'done_by_type', 'done_by_id']);
    await appendJobEvent(trx, ctx, jobId, done ? 'checklist_item_done' : 'checklist_item_reopened', { item_id: itemId, label: item.label });
    await audit({ action: done ? 'job.checklist_item_done' : 'job.checklist_item_reopened', resourceType: 'job', resourceId: jobId, after: { item_id: itemId } });
    return after;
  });
}

export async function addChecklistItem(ctx: RequestContext, jobId: string, input: { label: string; required?: boolean }) {
  return write(ctx, async (trx, audit) => {
    const job = await loadJob(trx, ctx, jobId, true);
    if (!openJobStatuses.includes(job.status)) throw conflict('job_closed', `The checklist of a ${job.status} job is closed`);
    const last = await trx('job_checklist_items').where({ account_id: ctx.accountId, job_id: jobId }).max<{ max: number | null }>('position as max').first();
    const [item] = await trx('job_checklist_items')
      .insert({ account_id: ctx.accountId, job_id: jobId, position: (last?.max ?? -1) + 1, label: input.label, required: input.required ?? true })
      .returning(['id', 'position', 'label', 'required', 'done_at']);
    await appendJobEvent(trx, ctx, jobId, 'checklist_item_added', { item_id: item.id, label: input.label });
    await audit({ action: 'job.checklist_item_added', resourceType: 'job', resourceId: jobId, after: { ...item } });
    return item;
  });
}

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
export async function emitSlaEvents(db: Knex, now = new Date()): Promise<number> {
  const accounts: Array<{ account_id: number }> = await db('accounts').select('account_id');
  let emitted = 0;
  for (const { account_id: accountId } of accounts) {
    // One account's failure must not stop the sweep for the others; the next run tries it again.
    emitted += await withAccount(db, accountId, { readOnly: false }, async (trx) => {
      const settings = await dispatchSettings(trx, accountId);
      const rows: Array<{ job_id: string; threshold: string; sla_due_at: Date }> = (
        await trx.raw(
          `insert into job_sla_events (account_id, job_id, threshold, sla_due_at, emitted_at)
           select j.account_id, j.id, t.threshold, j.sla_due_at, :now
             from jobs j
             cross join lateral (values ('approaching'), ('breached')) as t(threshold)
            where j.account_id = :accountId and j.status not in ('completed', 'canceled') and j.sla_due_at is not null
              and j.sla_due_at <= :now::timestamptz + make_interval(mins => :warning)
              and (t.threshold = 'breached') = (j.sla_due_at <= :now::timestamptz)
           on conflict do nothing
           returning job_id, threshold, sla_due_at`,
          { now, accountId, warning: settings.sla_warning_minutes },
        )
      ).rows;
      const system = { accountId, actor: { type: 'system' as const, id: 'sla' }, requestId: null };
      for (const row of rows) {
        await appendJobEvent(trx, system, row.job_id, `sla_${row.threshold}`, { sla_due_at: row.sla_due_at });
        await recordAudit(trx, system, { action: `job.sla_${row.threshold}`, resourceType: 'job', resourceId: row.job_id });
      }
      return rows.length;
    }).catch(() => 0);
  }
  return emitted;
}
