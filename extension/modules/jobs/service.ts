// Jobs: work orders with an enforced lifecycle, an append-only event log, links to Chatwoot
// conversations and deals, checklists and SLA. Portal users see only their own jobs: a vendor the
// jobs they currently hold, a client the jobs of their Chatwoot contact. This file creates, reads
// and edits jobs; the rest of the module:
//   records.ts    the job row, visibility, presentation, its event log and Chatwoot write-back
//   lifecycle.ts  the only door to a job's status (transition table in rules.ts)
//   links.ts      links to conversations and deals, activity stamps from conversations
//   board.ts      the list and the dispatch board; filters.ts their query schema
//   sla.ts        SLA settings and the sweep
import { sensitiveFieldKeys, validateCustomFields } from '../../capabilities/field-packs.ts';
import { nextNumber } from '../../db/counters.ts';
import type { RequestContext } from '../../context.ts';
import { read, write, type Audit } from '../../db/tenant.ts';
import { ConflictError, InvalidFieldsError, NotFoundError, withReferenceFields } from '../../errors.ts';
import type { Knex } from 'knex';
import {
  appendJobEvent,
  dispatchSettings,
  heldSince,
  isPortalUser,
  jobColumns,
  loadJob,
  portalAudienceOf,
  portalEvent,
  portalEventFields,
  presentJob,
  writeBackJob,
  type JobRow,
  type RequiredPhoto,
} from './records.ts';
import { staleJob } from './lifecycle.ts';
import { openJobStatuses, type JobPriority, type JobSource } from './rules.ts';

// Names other modules import from here; they live in the files above.
export { appendJobEvent, dispatchSettings, jobAttributes, jobColumns, loadJob, presentJob, visibleJobs, writeBackJob } from './records.ts';
export type { DispatchSettings, JobRow } from './records.ts';
export { changeJobStatus, onJobCompleted, transitionJob, type TransitionInput } from './lifecycle.ts';
export { linkConversationToJob, linkJob, stampJobActivity } from './links.ts';
export { boardCountCap, jobBoard, listJobs, type JobFilters } from './board.ts';
export { emitSlaEvents, getDispatchSettings, updateDispatchSettings } from './sla.ts';

export interface NewJob {
  /** Made by the caller when it must name the job's files before the job exists (a portal request's photos). */
  id?: string;
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
  owner_id?: string | null;
  conversation_ids?: number[];
  deal_ids?: string[];
  checklist_template_id?: string | null;
  custom_fields?: Record<string, unknown>;
  /** A client's request from the portal: the window they would like, and who asked. */
  preferred_starts_at?: Date | null;
  preferred_ends_at?: Date | null;
  requested_by_portal_user_id?: string | null;
}

const translateDbErrors = <T>(work: () => Promise<T>) =>
  withReferenceFields(work, {
    deal_id: { field: 'deal_ids', message: 'No such deal in this account', code: 'unknown_deal' },
    vendor_id: { field: 'vendor_id', message: 'No such vendor in this account', code: 'unknown_vendor' },
    owner_id: { field: 'owner_id', message: 'No such agent in this account', code: 'unknown_owner' },
  });

function checkLocation(input: { lat?: number | null; lng?: number | null; window_starts_at?: Date | null; window_ends_at?: Date | null }) {
  if ((input.lat == null) !== (input.lng == null)) {
    throw new InvalidFieldsError('Give both coordinates or neither', [{ field: 'lng', message: 'lat and lng go together', code: 'incomplete_location' }]);
  }
  if (input.window_starts_at && input.window_ends_at && input.window_starts_at >= input.window_ends_at) {
    throw new InvalidFieldsError('The requested window ends before it starts', [{ field: 'window_ends_at', message: 'Must be after window_starts_at', code: 'invalid_window' }]);
  }
}

async function instantiateChecklist(trx: Knex.Transaction, accountId: number, jobId: string, category: string | null, templateId?: string | null): Promise<RequiredPhoto[]> {
  const template = templateId
    ? await trx('checklist_templates').where({ account_id: accountId, id: templateId, active: true }).first('id', 'items', 'required_photos')
    : await trx('checklist_templates')
        .where({ account_id: accountId, active: true })
        .andWhere((q) => (category ? q.where('service_category', category).orWhereNull('service_category') : q.whereNull('service_category')))
        .orderByRaw('service_category is null') // the category's own template wins over the general one
        .orderBy('created_at')
        .first('id', 'items', 'required_photos');
  if (templateId && !template) throw new InvalidFieldsError('Unknown checklist template', [{ field: 'checklist_template_id', message: 'No such active template', code: 'unknown_template' }]);
  if (!template) return [];
  const items = template.items as Array<{ label: string; required?: boolean }>;
  if (items.length) {
    await trx('job_checklist_items').insert(
      items.map((item, position) => ({ account_id: accountId, job_id: jobId, position, label: item.label, required: item.required ?? true })),
    );
  }
  // The photos the template asks for are copied like its items: editing the template later leaves the job alone.
  const photos = (template.required_photos ?? []) as RequiredPhoto[];
  if (photos.length) await trx('jobs').where({ account_id: accountId, id: jobId }).update({ required_photos: JSON.stringify(photos) });
  return photos;
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
      ...(input.id ? { id: input.id } : {}),
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
      owner_id: input.owner_id ?? null,
      custom_fields: customFields,
      preferred_starts_at: input.preferred_starts_at ?? null,
      preferred_ends_at: input.preferred_ends_at ?? null,
      requested_by_portal_user_id: input.requested_by_portal_user_id ?? null,
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
  job.required_photos = await instantiateChecklist(trx, ctx.accountId, job.id, job.service_category, input.checklist_template_id);
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

/**
 * Narrows a query of the job's events to those since the vendor holding it was given it (the
 * job's creation stays: it carries nothing of anyone's).
 */
export async function sinceHeld(trx: Knex.Transaction, accountId: number, job: Pick<JobRow, 'id' | 'vendor_id'>, events: Knex.QueryBuilder, table = 'job_events') {
  const since = await heldSince(trx, accountId, job);
  events.where((q) => {
    q.where(`${table}.kind`, 'created');
    if (since) q.orWhere(`${table}.occurred_at`, '>=', since);
  });
}

export async function getJob(ctx: RequestContext, jobId: string) {
  return read(ctx, async (trx) => {
    const job = await loadJob(trx, ctx, jobId);
    const settings = await dispatchSettings(trx, ctx.accountId);
    const portal = isPortalUser(ctx);
    const events = trx('job_events').where({ account_id: ctx.accountId, job_id: jobId }).orderBy('id').select('id', 'kind', 'data', 'actor_type', 'actor_id', 'occurred_at');
    // Portal users see the job's progress, not the team's internal notes or scoring; each audience its own fields.
    const audience = portalAudienceOf(ctx);
    if (portal) events.whereIn('kind', Object.keys(portalEventFields[audience]));
    // A vendor reads the story from when it was given the job: never an earlier vendor's doings.
    if (portal && audience === 'vendor') await sinceHeld(trx, ctx.accountId, job, events);
    // One transaction is one connection: its queries run one after another.
    const eventRows = portal ? (await events).map((event) => portalEvent(audience, event)) : await events;
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

export type JobPatch = Partial<
  Omit<NewJob, 'id' | 'conversation_ids' | 'deal_ids' | 'checklist_template_id' | 'source' | 'preferred_starts_at' | 'preferred_ends_at' | 'requested_by_portal_user_id'>
> & { version: number };

const editableWhenClosed = new Set(['notes', 'custom_fields', 'version']);

export async function updateJob(ctx: RequestContext, jobId: string, patch: JobPatch) {
  return translateDbErrors(() => write(ctx, async (trx, audit) => {
    const before = await loadJob(trx, ctx, jobId, true);
    if (patch.version !== before.version) throw staleJob(before);
    if (!openJobStatuses.includes(before.status) && Object.keys(patch).some((k) => !editableWhenClosed.has(k))) {
      throw new ConflictError('job_closed', `A ${before.status} job only takes notes and custom fields; reopen it to change more`);
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
  }));
}

/**
 * The vendor is on the way (told by the vendor, or by a dispatcher the vendor called): a job event
 * with the expected arrival when given, a note in the job's Chatwoot conversations, and the
 * `job.en_route` audit event that tells the client and the job's owner. The status stays assigned.
 */
export async function markJobEnRoute(ctx: RequestContext, jobId: string, input: { eta?: Date | null }) {
  return write(ctx, async (trx, audit) => enRouteIn(trx, ctx, audit, await loadJob(trx, ctx, jobId, true), input));
}

/** markJobEnRoute inside the caller's unit of work, on `job` loaded for update (the portal's actions). */
export async function enRouteIn(trx: Knex.Transaction, ctx: RequestContext, audit: Audit, job: JobRow, input: { eta?: Date | null; eventData?: Record<string, unknown> }) {
  if (job.status !== 'assigned' || !job.vendor_id) {
    throw new ConflictError('not_assigned', `Only an assigned job can be on its way; this one is ${job.status.replace('_', ' ')}`);
  }
  const eta = input.eta ?? null;
  await appendJobEvent(trx, ctx, job.id, 'en_route', { ...(eta ? { eta } : {}), ...(input.eventData ?? {}) });
  await writeBackJob(trx, ctx, job, eta ? `vendor on the way, expected ${eta.toISOString().slice(11, 16)} UTC` : 'vendor on the way');
  await audit({ action: 'job.en_route', resourceType: 'job', resourceId: job.id, after: { vendor_id: job.vendor_id, eta: eta?.toISOString() ?? null } });
  return { id: job.id, en_route_at: new Date().toISOString(), eta: eta?.toISOString() ?? null };
}

export async function addJobNote(ctx: RequestContext, jobId: string, body: string) {
  return write(ctx, async (trx, audit) => {
    await loadJob(trx, ctx, jobId, true);
    await appendJobEvent(trx, ctx, jobId, 'note', { body });
    await audit({ action: 'job.note_added', resourceType: 'job', resourceId: jobId, after: { body } });
    return { job_id: jobId, kind: 'note', body };
  });
}

export async function setChecklistItem(ctx: RequestContext, jobId: string, itemId: string, done: boolean) {
  return write(ctx, async (trx, audit) => setChecklistItemIn(trx, ctx, audit, await loadJob(trx, ctx, jobId, true), itemId, done));
}

/** setChecklistItem inside the caller's unit of work, on `job` loaded for update (the portal's actions). */
export async function setChecklistItemIn(trx: Knex.Transaction, ctx: RequestContext, audit: Audit, job: JobRow, itemId: string, done: boolean, eventData: Record<string, unknown> = {}) {
  const jobId = job.id;
  if (!openJobStatuses.includes(job.status)) throw new ConflictError('job_closed', `The checklist of a ${job.status} job is closed`);
  const item = await trx('job_checklist_items').where({ account_id: ctx.accountId, job_id: jobId, id: itemId }).first('id', 'label', 'done_at');
  if (!item) throw new NotFoundError('Checklist item');
  if (Boolean(item.done_at) === done) {
    audit.nothingChanged();
    return item;
  }
  const [after] = await trx('job_checklist_items')
    .where({ account_id: ctx.accountId, id: itemId })
    .update(done ? { done_at: trx.fn.now(), done_by_type: ctx.actor.type, done_by_id: ctx.actor.id } : { done_at: null, done_by_type: null, done_by_id: null })
    .returning(['id', 'position', 'label', 'required', 'done_at', 'done_by_type', 'done_by_id']);
  await appendJobEvent(trx, ctx, jobId, done ? 'checklist_item_done' : 'checklist_item_reopened', { item_id: itemId, label: item.label, ...eventData });
  await audit({ action: done ? 'job.checklist_item_done' : 'job.checklist_item_reopened', resourceType: 'job', resourceId: jobId, after: { item_id: itemId } });
  return after;
}

export async function addChecklistItem(ctx: RequestContext, jobId: string, input: { label: string; required?: boolean }) {
  return write(ctx, async (trx, audit) => {
    const job = await loadJob(trx, ctx, jobId, true);
    if (!openJobStatuses.includes(job.status)) throw new ConflictError('job_closed', `The checklist of a ${job.status} job is closed`);
    const last = await trx('job_checklist_items').where({ account_id: ctx.accountId, job_id: jobId }).max<{ max: number | null }>('position as max').first();
    const [item] = await trx('job_checklist_items')
      .insert({ account_id: ctx.accountId, job_id: jobId, position: (last?.max ?? -1) + 1, label: input.label, required: input.required ?? true })
      .returning(['id', 'position', 'label', 'required', 'done_at']);
    await appendJobEvent(trx, ctx, jobId, 'checklist_item_added', { item_id: item.id, label: input.label });
    await audit({ action: 'job.checklist_item_added', resourceType: 'job', resourceId: jobId, after: { ...item } });
    return item;
  });
}

/**
 * Gives a job the vendor holds to one of the vendor's people (or takes it back: null). The vendor's
 * owner does it in the portal, dispatch for them; a technician then sees only the jobs given to them.
 */
export async function setJobTechnician(ctx: RequestContext, jobId: string, technicianId: string | null) {
  return write(ctx, async (trx, audit) => {
    const job = await loadJob(trx, ctx, jobId, true);
    if (!job.vendor_id) throw new ConflictError('no_vendor', 'Give the job to a vendor first; a technician works for the vendor holding it');
    if (!openJobStatuses.includes(job.status)) throw new ConflictError('job_closed', `A ${job.status} job is not given to anyone any more`);
    let technicianName: string | null = null;
    // Named in the audit entry, so the notifications can say who was given (or lost) the job.
    const formerName: string | null = job.technician_id
      ? ((await trx('portal_users').where({ account_id: ctx.accountId, id: job.technician_id }).first('name'))?.name ?? null)
      : null;
    if (technicianId) {
      const person = await trx('portal_users').where({ account_id: ctx.accountId, id: technicianId, kind: 'vendor', vendor_id: job.vendor_id, active: true }).first('name');
      if (!person) throw new InvalidFieldsError('Not one of the vendor’s people', [{ field: 'technician_id', message: "is not an active portal user of the vendor holding this job", code: 'unknown_technician' }]);
      technicianName = person.name as string;
    }
    if ((job.technician_id ?? null) === technicianId) {
      audit.nothingChanged();
      return presentJob(ctx, job, (await dispatchSettings(trx, ctx.accountId)).sla_warning_minutes);
    }
    const [after] = (await trx('jobs')
      .where({ account_id: ctx.accountId, id: jobId })
      .update({ technician_id: technicianId, version: job.version + 1, updated_at: trx.fn.now() })
      .returning([...jobColumns])) as JobRow[];
    await appendJobEvent(trx, ctx, jobId, 'technician_set', { technician_id: technicianId, technician_name: technicianName });
    await audit({
      action: 'job.technician_set',
      resourceType: 'job',
      resourceId: jobId,
      before: { technician_id: job.technician_id, technician_name: formerName },
      // The vendor whose people these are (after only: the entry keeps what changed), so the news
      // reaches that vendor whoever holds the job when it goes out.
      after: { technician_id: technicianId, technician_name: technicianName, technician_vendor_id: job.vendor_id },
    });
    return presentJob(ctx, after!, (await dispatchSettings(trx, ctx.accountId)).sla_warning_minutes);
  });
}

