// The job record as every part of the jobs module (and its neighbours) sees it: columns, how a
// caller may see a job, loading one, its event log and what Chatwoot's conversations are told.
// It imports nothing else of the module, so the others can build on it without import circles.
import type { Knex } from 'knex';
import { withoutSensitiveFields } from '../../capabilities/field-packs.ts';
import { queueWriteBack, type AttributesItem } from '../../chatwoot/outbox-queue.ts';
import type { RequestContext } from '../../context.ts';
import { NotFoundError } from '../../errors.ts';
import { allowedNext, defaultSlaMinutes, defaultSlaWarningMinutes, jobReference, slaState, type JobPriority, type JobStatus } from './rules.ts';

export const jobColumns = [
  'id', 'number', 'status', 'priority', 'source', 'summary', 'notes', 'service_category', 'address', 'postal_code', 'lat', 'lng',
  'window_starts_at', 'window_ends_at', 'sla_due_at', 'sla_overridden', 'chatwoot_contact_id', 'vendor_id', 'technician_id', 'owner_id', 'custom_fields',
  'cancel_reason', 'completion_override_reason', 'version', 'created_by_type', 'created_by_id', 'status_changed_at', 'started_at', 'completed_at',
  'required_photos', 'last_activity_at', 'created_at', 'updated_at',
  // A request from the client portal: the window the client would like and who asked.
  'preferred_starts_at', 'preferred_ends_at', 'requested_by_portal_user_id',
] as const;

/** A photo the job must have before it is finished: `min` files tagged `tag`. */
export interface RequiredPhoto { tag: string; label: string; min: number }

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
  started_at: Date | null;
  completed_at: Date | null;
  required_photos: RequiredPhoto[];
  created_at: Date;
  chatwoot_contact_id: number | null;
  vendor_id: string | null;
  /** The staff member responsible for the job (null: the dispatchers as a whole). */
  owner_id: string | null;
  /** The vendor's person the job was given to (a portal user of the vendor holding it). */
  technician_id: string | null;
  custom_fields: Record<string, unknown>;
  version: number;
  [key: string]: unknown;
}

export interface DispatchSettings { sla_minutes: Record<JobPriority, number>; sla_warning_minutes: number }

export async function dispatchSettings(trx: Knex.Transaction, accountId: number): Promise<DispatchSettings> {
  const row = await trx('dispatch_settings').where({ account_id: accountId }).first('sla_minutes', 'sla_warning_minutes');
  return { sla_minutes: { ...defaultSlaMinutes, ...(row?.sla_minutes ?? {}) }, sla_warning_minutes: row?.sla_warning_minutes ?? defaultSlaWarningMinutes };
}

/** Whether the account keeps where photos were taken (dispatch settings; off unless set). */
export async function keepsPhotoLocation(trx: Knex.Transaction, accountId: number): Promise<boolean> {
  const row = await trx('dispatch_settings').where({ account_id: accountId }).first('keep_photo_location');
  return Boolean(row?.keep_photo_location);
}

/**
 * The jobs a caller may see at all: staff see the account's; portal users only their own — a
 * vendor's owner every job the vendor holds, a technician only the jobs given to them.
 */
export function visibleJobs(query: Knex.QueryBuilder, ctx: RequestContext, table = 'jobs') {
  query.where(`${table}.account_id`, ctx.accountId);
  if (ctx.vendorId) query.where(`${table}.vendor_id`, ctx.vendorId);
  if (ctx.vendorId && ctx.vendorRole === 'technician') query.where(`${table}.technician_id`, ctx.actor.id);
  if (ctx.contactId !== undefined) query.where(`${table}.chatwoot_contact_id`, ctx.contactId);
  return query;
}

export const isPortalUser = (ctx: RequestContext) => Boolean(ctx.vendorId) || ctx.contactId !== undefined;

/** A job as this caller may see it: SLA state computed; internal notes and sensitive fields hidden from portal users. */
export function presentJob(ctx: RequestContext, row: JobRow, warningMinutes: number) {
  const job = { ...row, reference: jobReference(row.number), sla_state: slaState(row, warningMinutes), allowed_next: allowedNext(row.status, ctx.roles) };
  if (!isPortalUser(ctx)) return job;
  const internal = new Set(['notes', 'created_by_type', 'created_by_id', 'completion_override_reason', 'owner_id']);
  const shown = Object.fromEntries(Object.entries(job).filter(([key]) => !internal.has(key)));
  return { ...shown, custom_fields: withoutSensitiveFields(ctx, 'job', row.custom_fields) } as typeof job;
}

/** Who reads a job's story from outside the team: the vendor doing the work, or the client it is for. */
export type PortalAudience = 'vendor' | 'client';

export const portalAudienceOf = (ctx: RequestContext): PortalAudience => (ctx.vendorId ? 'vendor' : 'client');

/**
 * What each portal audience may read of each event kind (a kind not listed is not shown): the
 * job's progress, never reasons, scores, compliance overrides or earlier vendors. The vendor also
 * reads its own working notes (notes to dispatch, where and when on its devices things were done,
 * who of its team has the job); the client reads none of those.
 */
const jobProgress: Record<string, readonly string[]> = {
  created: [],
  status_changed: ['from', 'to'],
  assigned: ['vendor_name'],
  reassigned: ['vendor_name'],
  unassigned: [],
  checklist_item_done: ['item_id', 'label'],
  checklist_item_reopened: ['item_id', 'label'],
};

export const portalEventFields: Record<PortalAudience, Record<string, readonly string[]>> = {
  vendor: {
    ...jobProgress,
    en_route: ['eta', 'device_time', 'offline'],
    technician_set: ['technician_name'],
    started: ['device_time', 'offline'],
    vendor_note: ['text', 'device_time', 'offline'],
  },
  client: { ...jobProgress, en_route: ['eta'], started: [] },
};

export function portalEvent(audience: PortalAudience, event: { id: number; kind: string; data: Record<string, unknown>; actor_type: string; actor_id: string; occurred_at: Date }) {
  const allowed = portalEventFields[audience][event.kind] ?? [];
  return {
    id: event.id,
    kind: event.kind,
    data: Object.fromEntries(Object.entries(event.data ?? {}).filter(([key]) => allowed.includes(key))),
    occurred_at: event.occurred_at,
  };
}

/**
 * When the vendor holding the job now was given it (its open row in job_vendors): a vendor sees
 * the job's story and files from then on, never an earlier vendor's. Null when no vendor holds it.
 */
export async function heldSince(trx: Knex.Transaction, accountId: number, job: Pick<JobRow, 'id' | 'vendor_id'>): Promise<Date | null> {
  if (!job.vendor_id) return null;
  const row = (await trx('job_vendors')
    .where({ account_id: accountId, job_id: job.id, vendor_id: job.vendor_id })
    .whereNull('unassigned_at')
    .first('assigned_at')) as { assigned_at: Date } | undefined;
  return row?.assigned_at ?? null;
}

/**
 * Limits a `job_artifacts` query to the files of the vendor holding `job` now: those added since it
 * was given the job, and dispatch's own files from before any vendor held it (site photos, the
 * brief). Files of an earlier vendor's time — theirs, or dispatch's about their work — stay out.
 * Without a vendor: nothing.
 */
export async function filesOfCurrentVendor(trx: Knex.Transaction, accountId: number, job: Pick<JobRow, 'id' | 'vendor_id'>, query: Knex.QueryBuilder, table = 'job_artifacts'): Promise<void> {
  // Returns nothing on purpose: an async function returning the builder would run it.
  const since = await heldSince(trx, accountId, job);
  if (!since) {
    query.whereRaw('false');
    return;
  }
  const first = (await trx('job_vendors').where({ account_id: accountId, job_id: job.id }).min<{ first: Date | null }[]>('assigned_at as first'))[0]?.first ?? since;
  // Before any vendor held the job only staff and the client could add files; the client's are
  // the photos of their request (client_visible: a vendor can never upload one), part of the brief.
  query.where((w) =>
    w
      .where(`${table}.created_at`, '>=', since)
      .orWhere((before) =>
        before
          .where((who) => who.where(`${table}.uploaded_by_type`, 'user').orWhere((client) => client.where(`${table}.uploaded_by_type`, 'portal_user').andWhere(`${table}.visibility`, 'client_visible')))
          .andWhere(`${table}.created_at`, '<', first),
      ),
  );
}

export async function loadJob(trx: Knex.Transaction, ctx: RequestContext, jobId: string, forUpdate = false): Promise<JobRow> {
  const query = visibleJobs(trx('jobs'), ctx).where('jobs.id', jobId);
  if (forUpdate) query.forUpdate();
  const row = await query.first(...jobColumns);
  if (!row) throw new NotFoundError('Job');
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

