// The vendor portal's jobs: the tabs (offered, today, upcoming, done), one job as a vendor works it,
// and the single door for what a vendor does to a job — online, or replayed from the phone's offline
// queue. Each action carries an id made on the device: it is applied once, in the same transaction as
// its row in portal_actions, and a replay of the id answers from that row (a refusal too).
//
// What a vendor may see: their vendor's jobs (a technician only the jobs given to them) and the jobs
// offered to their vendor; the client's name, phone and address only while the job is theirs and
// open; never amounts, internal notes, scores, the staff owner or other clients.
import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import { z } from 'zod';
import type { RequestContext } from '../context.ts';
import { read, write, type Audit } from '../db/tenant.ts';
import { pgErrorCodes } from '../db/errors.ts';
import { ConflictError, ForbiddenByRuleError, NotFoundError, UnprocessableError } from '../errors.ts';
import { sendData } from '../http/envelope.ts';
import { HttpError, httpErrorFrom } from '../http/errors.ts';
import { decodeCursor, pageQuery, paginate, type KeysetOptions } from '../http/pagination.ts';
import { defineRoute } from '../http/registry.ts';
import { text, timestamp } from '../http/schemas.ts';
import type { Services } from '../services.ts';
import { linkMinutes } from '../modules/artifacts/service.ts';
import { changeJobStatus, requiredPhotoCounts } from '../modules/jobs/lifecycle.ts';
import { appendJobEvent, dispatchSettings, filesOfCurrentVendor, heldSince, keepsPhotoLocation, loadJob, portalEvent, portalEventFields, visibleJobs, writeBackJob, type JobRow } from '../modules/jobs/records.ts';
import { allowedNext, jobReference, openJobStatuses, slaState, type JobStatus } from '../modules/jobs/rules.ts';
import { enRouteIn, setChecklistItemIn, sinceHeld } from '../modules/jobs/service.ts';

export const portalJobTabs = ['offered', 'today', 'upcoming', 'done'] as const;
export type PortalJobTab = (typeof portalJobTabs)[number];

export const portalActionKinds = ['en_route', 'start', 'check', 'uncheck', 'note', 'submit_for_review', 'complete'] as const;
export type PortalActionKind = (typeof portalActionKinds)[number];

/**
 * The longest a phone may have been offline for its device time to count: an action that says it
 * happened earlier than this before it arrived counts as having happened this long before.
 */
const offlineWindowMs = 24 * 3600_000;
/** How far back the done tab reaches. */
const doneDays = 30;

interface CardRow {
  id: string;
  number: number;
  status: JobStatus;
  priority: string;
  summary: string;
  service_category: string | null;
  window_starts_at: Date | null;
  window_ends_at: Date | null;
  sla_due_at: Date | null;
  completed_at: Date | null;
  started_at: Date | null;
  updated_at: Date;
  postal_code: string | null;
  address: string | null;
  lat: number | null;
  lng: number | null;
  vendor_id: string | null;
  technician_id: string | null;
  technician_name: string | null;
  client_name: string | null;
  client_phone: string | null;
  checklist_total: number;
  checklist_done: number;
  eta: string | null;
  offer_id?: string | null;
  offer_answer_by?: Date | null;
  offer_status?: string | null;
}

/** Only vendor users have jobs here; staff and clients see an empty portal (and no job in it). */
const isVendorUser = (ctx: RequestContext) => Boolean(ctx.vendorId) && ctx.actor.type === 'portal_user';

/** One select for a page of cards: the job, its client, technician, checklist counts and last ETA. */
function cardQuery(trx: Knex.Transaction, ctx: RequestContext) {
  return trx('jobs as j')
    .leftJoin('chatwoot_contacts as c', (on) => on.on('c.account_id', 'j.account_id').andOn('c.chatwoot_contact_id', 'j.chatwoot_contact_id'))
    .leftJoin('portal_users as t', (on) => on.on('t.account_id', 'j.account_id').andOn('t.id', 'j.technician_id'))
    .joinRaw(
      `left join lateral (select count(*)::int as total, count(i.done_at)::int as done
         from job_checklist_items i where i.account_id = j.account_id and i.job_id = j.id) as cl on true`,
    )
    .where('j.account_id', ctx.accountId)
    .select(
      'j.id', 'j.number', 'j.status', 'j.priority', 'j.summary', 'j.service_category', 'j.window_starts_at', 'j.window_ends_at', 'j.sla_due_at',
      'j.completed_at', 'j.started_at', 'j.updated_at', 'j.postal_code', 'j.address', 'j.lat', 'j.lng', 'j.vendor_id', 'j.technician_id',
      't.name as technician_name', 'c.name as client_name', 'c.phone_e164 as client_phone', 'cl.total as checklist_total', 'cl.done as checklist_done',
      // The ETA the vendor holding the job gave (not one an earlier vendor gave).
      trx.raw(`(select e.data->>'eta' from job_events e where e.account_id = j.account_id and e.job_id = j.id and e.kind = 'en_route'
        and e.occurred_at >= coalesce((select jv.assigned_at from job_vendors jv where jv.account_id = j.account_id and jv.job_id = j.id and jv.unassigned_at is null), '-infinity')
        order by e.id desc limit 1) as eta`),
    );
}

/**
 * The open offers to the caller's vendor, with their jobs: only those that can still be taken (the
 * job still waits for a vendor, the answer-by time not passed), not those the next sweep will close.
 */
function offeredQuery(trx: Knex.Transaction, ctx: RequestContext) {
  return cardQuery(trx, ctx)
    .join('job_offers as o', (on) => on.on('o.account_id', 'j.account_id').andOn('o.job_id', 'j.id'))
    .where({ 'o.account_id': ctx.accountId, 'o.vendor_id': ctx.vendorId, 'o.status': 'open' })
    .whereIn('j.status', ['new', 'triaged'])
    .whereRaw('o.answer_by > now()')
    .select('o.id as offer_id', 'o.answer_by as offer_answer_by', 'o.status as offer_status');
}

/** Theirs: held by the caller's vendor (and, for a technician, given to them). */
const isTheirs = (ctx: RequestContext, row: Pick<CardRow, 'vendor_id' | 'technician_id'>) =>
  Boolean(ctx.vendorId) && row.vendor_id === ctx.vendorId && (ctx.vendorRole !== 'technician' || row.technician_id === ctx.actor.id);

const mapsUrl = (row: Pick<CardRow, 'address' | 'postal_code' | 'lat' | 'lng'>) => {
  const place = [row.address, row.postal_code].filter(Boolean).join(', ');
  const query = place || (row.lat !== null && row.lng !== null ? `${row.lat},${row.lng}` : '');
  return query ? `https://www.google.com/maps/search/?api=1&query=${encodeURIComponent(query)}` : null;
};

function presentCard(ctx: RequestContext, row: CardRow, warningMinutes: number) {
  const working = isTheirs(ctx, row) && openJobStatuses.includes(row.status);
  return {
    id: row.id,
    reference: jobReference(row.number),
    status: row.status,
    priority: row.priority,
    summary: row.summary,
    service_category: row.service_category,
    window_starts_at: row.window_starts_at,
    window_ends_at: row.window_ends_at,
    sla_due_at: row.sla_due_at,
    sla_state: slaState(row, warningMinutes),
    checklist: { done: Number(row.checklist_done ?? 0), total: Number(row.checklist_total ?? 0) },
    postal_code: row.postal_code,
    address: working ? row.address : null,
    maps_url: working ? mapsUrl(row) : null,
    client: working ? { name: row.client_name, phone: row.client_phone } : null,
    technician: row.technician_id && isTheirs(ctx, row) ? { id: row.technician_id, name: row.technician_name } : null,
    offer: row.offer_id ? { id: row.offer_id, answer_by: row.offer_answer_by, status: row.offer_status } : null,
    eta: working && (row.status === 'assigned' || row.status === 'in_progress') ? row.eta : null,
    started_at: isTheirs(ctx, row) ? row.started_at : null,
    updated_at: row.updated_at,
  };
}
export type PortalJobCard = ReturnType<typeof presentCard>;

/** Where the vendor's day ends, in the vendor's time zone (the today tab's edge). */
const dayEndJoin = `cross join (select (date_trunc('day', now() at time zone v.time_zone) + interval '1 day') at time zone v.time_zone as day_end
  from vendors v where v.account_id = ? and v.id = ?) as d`;

const windowKey = `coalesce(j.window_starts_at, 'infinity'::timestamptz)`;

/** GET /portal/vendor/jobs?tab=…: one query per page, however many jobs. */
export async function listPortalJobs(ctx: RequestContext, input: { tab: PortalJobTab; limit: number; cursor?: string }) {
  // Every tab pages on (a time, an id): a tampered cursor is refused even where the list is empty.
  if (input.cursor) decodeCursor(input.cursor, ['timestamptz', 'uuid']);
  if (!isVendorUser(ctx)) return { items: [], nextCursor: null };
  // Offers are the owner's to answer: a technician has none.
  if (input.tab === 'offered' && ctx.vendorRole === 'technician') return { items: [], nextCursor: null };
  return read(ctx, async (trx) => {
    const warning = (await dispatchSettings(trx, ctx.accountId)).sla_warning_minutes;
    let query: Knex.QueryBuilder;
    let keys: KeysetOptions['keys'];
    let direction: 'asc' | 'desc' = 'asc';
    if (input.tab === 'offered') {
      query = offeredQuery(trx, ctx);
      keys = { 'o.answer_by': 'timestamptz', 'o.id': 'uuid' };
    } else if (input.tab === 'done') {
      query = visibleJobs(cardQuery(trx, ctx), ctx, 'j')
        .whereIn('j.status', ['pending_review', 'completed', 'canceled'])
        .whereRaw(`j.status_changed_at >= now() - make_interval(days => ?)`, [doneDays]);
      keys = { 'j.status_changed_at': 'timestamptz', 'j.id': 'uuid' };
      direction = 'desc';
    } else {
      query = visibleJobs(cardQuery(trx, ctx), ctx, 'j').joinRaw(dayEndJoin, [ctx.accountId, ctx.vendorId!]);
      // Today: started, or its window begins before the vendor's day ends (overdue ones too), or past its SLA.
      if (input.tab === 'today') {
        query.whereIn('j.status', ['assigned', 'in_progress']).whereRaw(`(j.status = 'in_progress' or j.window_starts_at < d.day_end or j.sla_due_at <= now())`);
      } else {
        query.where('j.status', 'assigned').whereRaw(`(j.window_starts_at is null or j.window_starts_at >= d.day_end) and (j.sla_due_at is null or j.sla_due_at > now())`);
      }
      keys = { [windowKey]: 'timestamptz', 'j.id': 'uuid' };
    }
    const page = await paginate<CardRow>(query, { keys, direction, limit: input.limit, cursor: input.cursor });
    return { items: page.items.map((row) => presentCard(ctx, row, warning)), nextCursor: page.nextCursor };
  });
}

/** What the caller may do to the job now (the app shows these buttons; the server checks again). */
function allowedActions(ctx: RequestContext, row: CardRow): PortalActionKind[] {
  if (!isTheirs(ctx, row) || !openJobStatuses.includes(row.status)) return [];
  const next = allowedNext(row.status, ctx.roles);
  const actions: PortalActionKind[] = [];
  if (row.status === 'assigned') actions.push('en_route');
  if (next.includes('in_progress') && row.status === 'assigned') actions.push('start');
  if (Number(row.checklist_total) > 0) actions.push('check', 'uncheck');
  actions.push('note');
  if (next.includes('pending_review')) actions.push('submit_for_review');
  if (next.includes('completed')) actions.push('complete');
  return actions;
}

/** A signed link to an artifact's bytes, as the artifacts module signs them (GET /artifacts/content). */
function artifactLink(services: Services, accountId: number, id: string, variant: 'original' | 'thumbnail', expires: Date) {
  return `/api/v1/artifacts/content?token=${services.urlSigner.sign({ a: accountId, i: id, v: variant }, expires)}`;
}

/** One job as the portal shows it, inside the caller's transaction; null when the caller may not see it. */
async function portalJobIn(trx: Knex.Transaction, services: Services, ctx: RequestContext, jobId: string) {
  let row = (await visibleJobs(cardQuery(trx, ctx), ctx, 'j').where('j.id', jobId).first()) as CardRow | undefined;
  if (!row && ctx.vendorRole === 'owner') row = (await offeredQuery(trx, ctx).where('j.id', jobId).first()) as CardRow | undefined;
  if (!row) return null;
  const theirs = isTheirs(ctx, row);
  const warning = (await dispatchSettings(trx, ctx.accountId)).sla_warning_minutes;
  const items = await trx('job_checklist_items').where({ account_id: ctx.accountId, job_id: jobId }).orderBy('position').select('id', 'label', 'required', 'done_at');
  const job = (await trx('jobs').where({ account_id: ctx.accountId, id: jobId }).first('id', 'required_photos', 'vendor_id')) as Pick<JobRow, 'id' | 'required_photos' | 'vendor_id'>;
  const photos = await requiredPhotoCounts(trx, ctx.accountId, job);
  let artifacts: unknown[] = [];
  let events: unknown[] = [];
  if (theirs) {
    const expires = new Date(Date.now() + linkMinutes * 60_000);
    // The files and the story from when this vendor was given the job: never an earlier vendor's
    // (dispatch's own files from before any vendor — photos of the site — are part of the brief).
    const ofThisVendor = trx('job_artifacts').where({ account_id: ctx.accountId, job_id: jobId });
    await filesOfCurrentVendor(trx, ctx.accountId, job, ofThisVendor);
    const files = (await ofThisVendor
      .whereNull('deleted_at')
      .orderBy('created_at')
      .select('id', 'kind', 'filename', 'content_type', 'tag', 'thumbnail_key', 'created_at', 'taken_at')) as Array<{ id: string; thumbnail_key: string | null; [key: string]: unknown }>;
    artifacts = files.map(({ thumbnail_key: thumbnail, ...file }) => ({
      id: file.id,
      kind: file.kind,
      filename: file.filename,
      content_type: file.content_type,
      tag: file.tag,
      url: artifactLink(services, ctx.accountId, file.id, 'original', expires),
      thumbnail_url: thumbnail ? artifactLink(services, ctx.accountId, file.id, 'thumbnail', expires) : null,
      created_at: file.created_at,
      taken_at: file.taken_at,
    }));
    const story = trx('job_events')
      .where({ account_id: ctx.accountId, job_id: jobId })
      .whereIn('kind', Object.keys(portalEventFields.vendor))
      .orderBy('id')
      .select('id', 'kind', 'data', 'actor_type', 'actor_id', 'occurred_at');
    await sinceHeld(trx, ctx.accountId, job, story);
    events = (await story).map((event) => portalEvent('vendor', event));
  }
  return {
    ...presentCard(ctx, row, warning),
    checklist_items: items,
    required_photos: photos,
    artifacts,
    events,
    allowed_actions: allowedActions(ctx, row),
    // The account's setting: whether the phone reads a photo's position and sends it (read-only here).
    keep_photo_location: await keepsPhotoLocation(trx, ctx.accountId),
  };
}
export type PortalJob = NonNullable<Awaited<ReturnType<typeof portalJobIn>>>;

/** GET /portal/vendor/jobs/:jobId */
export async function getPortalJob(services: Services, ctx: RequestContext, jobId: string) {
  if (!isVendorUser(ctx)) throw new NotFoundError('Job');
  const job = await read(ctx, (trx) => portalJobIn(trx, services, ctx, jobId));
  if (!job) throw new NotFoundError('Job');
  return job;
}

// ---- actions -------------------------------------------------------------------------------------

export interface PortalActionInput {
  id: string;
  job_id: string;
  kind: PortalActionKind;
  happened_at: Date;
  offline: boolean;
  eta?: Date;
  location?: { lat: number; lng: number; accuracy_m: number };
  item_id?: string;
  text?: string;
}

/**
 * The answer to an action: what became of it, and the job as the caller may see it now (null when
 * they no longer may: a replay after the job was taken from them shows nothing of it).
 */
export interface PortalActionAnswer { status: 200 | 201; body: { action: Record<string, unknown>; job: PortalJob | null } }

interface ActionRow {
  id: string;
  job_id: string | null;
  outcome: 'applied' | 'rejected';
  status_code: number;
  response: Record<string, unknown>;
  request_hash: string | null;
}

/** What the action says, canonically: the same id with another fingerprint is a different action. */
function fingerprint(input: PortalActionInput): string {
  const canonical = {
    job_id: input.job_id,
    kind: input.kind,
    happened_at: input.happened_at.toISOString(),
    offline: input.offline,
    eta: input.eta?.toISOString() ?? null,
    location: input.location ? [input.location.lat, input.location.lng, input.location.accuracy_m] : null,
    item_id: input.item_id ?? null,
    text: input.text ?? null,
  };
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex');
}

const findAction = (trx: Knex.Transaction, ctx: RequestContext, id: string) =>
  trx('portal_actions').where({ account_id: ctx.accountId, portal_user_id: ctx.actor.id, id }).first('id', 'job_id', 'outcome', 'status_code', 'response', 'request_hash') as Promise<ActionRow | undefined>;

/**
 * The stored answer again: 200 with the same action outcome and the job as the caller sees it now
 * (the row keeps only the outcome, never a copy of the job), or the same refusal.
 */
async function replay(services: Services, ctx: RequestContext, row: ActionRow, hash: string): Promise<PortalActionAnswer> {
  // Rows kept before actions were fingerprinted have none: the id alone says it is the same action.
  if (row.request_hash !== null && row.request_hash !== hash) {
    throw new UnprocessableError('idempotency_key_reused', 'This action id was already used for a different action; make a new id for a new action');
  }
  if (row.outcome === 'applied') {
    const job = row.job_id ? await read(ctx, (trx) => portalJobIn(trx, services, ctx, row.job_id!)) : null;
    return { status: 200, body: { action: row.response.action as Record<string, unknown>, job: job ? jsonOf(job) : null } };
  }
  const error = (row.response.error ?? {}) as { code?: string; message?: string; details?: unknown };
  throw new HttpError(row.status_code, error.code ?? 'refused', error.message ?? 'The action was refused', error.details);
}

/** As the answer's JSON carries it (dates as ISO strings), so a first answer and a replay read alike. */
const jsonOf = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

/**
 * When the action counts as having happened: the device's time for an action queued offline, else
 * when it arrived. A device time is checked before it counts: never later than the action arrived
 * (a phone's clock may run fast); never earlier than `notBefore` (what the job's own history rules
 * out: see earliestPossible) nor than the offline window before it arrived.
 */
export function effectiveTime(input: Pick<PortalActionInput, 'happened_at' | 'offline'>, receivedAt: Date, notBefore: Date): Date {
  if (!input.offline) return receivedAt;
  const device = input.happened_at.getTime();
  const received = receivedAt.getTime();
  const floor = Math.min(received, Math.max(notBefore.getTime(), received - offlineWindowMs));
  return new Date(Math.min(received, Math.max(device, floor)));
}

/**
 * The earliest a vendor's move of the job can have happened: not before the job existed, its last
 * status change (a dispatcher's, or the vendor's own earlier offline move at its counted time), the
 * current vendor being given it, and — to finish it — its start. So a device clock set back cannot
 * make a late job look on time, nor an earlier vendor's time count for this one.
 */
async function earliestPossible(trx: Knex.Transaction, ctx: RequestContext, job: JobRow, kind: PortalActionKind): Promise<Date> {
  const times = [job.created_at, job.status_changed_at as Date | null, await heldSince(trx, ctx.accountId, job)];
  if (kind === 'submit_for_review' || kind === 'complete') times.push(job.started_at);
  return new Date(Math.max(...times.filter((t): t is Date => t != null).map((t) => new Date(t).getTime())));
}

async function applyAction(trx: Knex.Transaction, ctx: RequestContext, audit: Audit, input: PortalActionInput, job: JobRow, receivedAt: Date) {
  const timed = input.kind === 'start' || input.kind === 'submit_for_review' || input.kind === 'complete';
  const at = input.offline && timed ? effectiveTime(input, receivedAt, await earliestPossible(trx, ctx, job, input.kind)) : receivedAt;
  // Every event the action leaves records the device's clock and whether it waited offline; an
  // offline one also when it arrived and, when the device time was not believed, the time that counted.
  // The staff timeline shows these on the event: that is the job's record of a device-timed move.
  const device = {
    device_time: input.happened_at.toISOString(),
    offline: input.offline,
    ...(input.offline ? { received_at: receivedAt.toISOString() } : {}),
    ...(input.offline && timed && at.getTime() !== input.happened_at.getTime() ? { counted_at: at.toISOString() } : {}),
  };
  if (job.status === 'canceled') throw new ConflictError('job_canceled', `${jobReference(job.number)} was canceled by dispatch; nothing more to do on it`);
  switch (input.kind) {
    case 'en_route':
      await enRouteIn(trx, ctx, audit, job, { eta: input.eta ?? null, eventData: device });
      return;
    case 'start':
      await changeJobStatus(trx, ctx, audit, job, { to: 'in_progress', via: 'manual', at: input.offline ? at : undefined, eventData: device });
      await appendJobEvent(trx, ctx, job.id, 'started', { ...(input.location ? { location: input.location } : {}), ...device });
      return;
    case 'check':
    case 'uncheck':
      await setChecklistItemIn(trx, ctx, audit, job, input.item_id!, input.kind === 'check', device);
      return;
    case 'note':
      if (!openJobStatuses.includes(job.status)) throw new ConflictError('job_closed', `${jobReference(job.number)} is ${job.status.replace('_', ' ')}; send dispatch a message instead`);
      await appendJobEvent(trx, ctx, job.id, 'vendor_note', { text: input.text!, ...device });
      // Dispatch reads it where they work: a private note on the job's conversations, and a notification (staff.vendor_note).
      await writeBackJob(trx, ctx, job, `note from the vendor: ${input.text!}`);
      await audit({ action: 'job.vendor_note_added', resourceType: 'job', resourceId: job.id, after: { text: input.text!, vendor_id: job.vendor_id, ...device } });
      return;
    case 'submit_for_review':
      await changeJobStatus(trx, ctx, audit, job, { to: 'pending_review', via: 'manual', at: input.offline ? at : undefined, eventData: device });
      return;
    case 'complete':
      await changeJobStatus(trx, ctx, audit, job, { to: 'completed', via: 'manual', at: input.offline ? at : undefined, eventData: device });
      return;
  }
}

/**
 * POST /portal/vendor/actions: applies the action once. The action's row and its effect commit
 * together; a refusal is stored in its own write; the same id again answers from the row.
 */
export async function performPortalAction(services: Services, ctx: RequestContext, input: PortalActionInput): Promise<PortalActionAnswer> {
  if (!isVendorUser(ctx)) throw new ForbiddenByRuleError('vendor_users_only', "Job actions here are a vendor user's; staff act on /jobs/{jobId}");
  const hash = fingerprint(input);
  const existing = await read(ctx, (trx) => findAction(trx, ctx, input.id));
  if (existing) return replay(services, ctx, existing, hash);
  const row = { account_id: ctx.accountId, portal_user_id: ctx.actor.id, id: input.id, job_id: input.job_id, kind: input.kind, device_time: input.happened_at, offline: input.offline, request_hash: hash };
  try {
    return await write(ctx, async (trx, audit) => {
      // The row first: a second request with the same id waits on it, then finds it taken.
      const [stored] = (await trx('portal_actions').insert({ ...row, outcome: 'applied', status_code: 201, response: {} }).returning('received_at')) as Array<{ received_at: Date }>;
      const receivedAt = stored!.received_at;
      const job = await loadJob(trx, ctx, input.job_id, true);
      await applyAction(trx, ctx, audit, input, job, receivedAt);
      const action = { id: input.id, kind: input.kind, outcome: 'applied', device_time: input.happened_at.toISOString(), received_at: receivedAt.toISOString(), offline: input.offline };
      // Only the outcome is kept: a replay shows the job as the caller may see it then, not a copy of it now.
      await trx('portal_actions').where({ account_id: ctx.accountId, portal_user_id: ctx.actor.id, id: input.id }).update({ response: JSON.stringify({ action }) });
      const now = await portalJobIn(trx, services, ctx, input.job_id);
      return { status: 201 as const, body: { action, job: now ? jsonOf(now) : null } };
    });
  } catch (err) {
    if ((err as { code?: string }).code === pgErrorCodes.uniqueViolation && (err as { constraint?: string }).constraint === 'portal_actions_pkey') {
      return replay(services, ctx, (await read(ctx, (trx) => findAction(trx, ctx, input.id)))!, hash);
    }
    const refusal = err instanceof HttpError ? err : httpErrorFrom(err);
    if (!refusal) throw err;
    const response = { error: { code: refusal.code, message: refusal.message, ...(refusal.details !== undefined ? { details: refusal.details } : {}) } };
    const kept = await write(ctx, async (trx, audit) => {
      const inserted = await trx('portal_actions')
        .insert({ ...row, outcome: 'rejected', status_code: refusal.status, response: JSON.stringify(response) })
        .onConflict(['account_id', 'portal_user_id', 'id'])
        .ignore()
        .returning('id');
      // The job did not change: the row is only the answer a replay gets.
      audit.bookkeeping('portal_actions');
      return inserted.length > 0;
    });
    if (!kept) return replay(services, ctx, (await read(ctx, (trx) => findAction(trx, ctx, input.id)))!, hash);
    throw refusal;
  }
}

// ---- routes --------------------------------------------------------------------------------------

const location = z.object({
  lat: z.number().min(-90).max(90),
  lng: z.number().min(-180).max(180),
  accuracy_m: z.number().min(0).max(100_000).describe('The device’s accuracy radius, in metres'),
});

const actionBody = z
  .object({
    id: z.uuid().describe('Made on the device: the same id again is a replay, answered from the first time'),
    job_id: z.uuid(),
    kind: z.enum(portalActionKinds),
    happened_at: timestamp.describe("When it happened, by the device's clock"),
    offline: z.boolean().describe('Queued while offline: time-based state then follows happened_at'),
    eta: timestamp.optional().describe('en_route: expected arrival'),
    location: location.optional().describe('start: where the device was, with the user’s consent'),
    item_id: z.uuid().optional().describe('check / uncheck: the checklist item'),
    text: text({ min: 1, max: 5000 }).optional().describe('note: the note to dispatch'),
  })
  .superRefine((v, issues) => {
    const needs = (field: 'item_id' | 'text', kinds: PortalActionKind[]) => {
      if (kinds.includes(v.kind) && v[field] === undefined) issues.addIssue({ code: 'custom', message: `required for ${v.kind}`, path: [field] });
      if (!kinds.includes(v.kind) && v[field] !== undefined) issues.addIssue({ code: 'custom', message: `only for ${kinds.join(' / ')}`, path: [field] });
    };
    needs('item_id', ['check', 'uncheck']);
    needs('text', ['note']);
    if (v.eta !== undefined && v.kind !== 'en_route') issues.addIssue({ code: 'custom', message: 'only for en_route', path: ['eta'] });
    if (v.location !== undefined && v.kind !== 'start') issues.addIssue({ code: 'custom', message: 'only for start', path: ['location'] });
  });

export function vendorJobRoutes(services: Services) {
  const portal = { permission: 'jobs:read', capability: 'portal.vendor' } as const;
  return [
    defineRoute({
      method: 'get',
      path: '/portal/vendor/jobs',
      summary: "The vendor's jobs by tab: offered (open offers, owners only), today, upcoming, done (last 30 days)",
      tags: ['portal'],
      access: portal,
      query: pageQuery.extend({ tab: z.enum(portalJobTabs).default('today') }),
      handler: async ({ ctx, query, res }) => {
        const page = await listPortalJobs(ctx, query);
        sendData(res, page.items, { next_cursor: page.nextCursor });
      },
    }),
    defineRoute({
      method: 'get',
      path: '/portal/vendor/jobs/:jobId',
      summary: 'One of the vendor’s jobs (or one offered to them) with its checklist, required photos, files, story and what can be done now',
      tags: ['portal'],
      access: portal,
      params: z.object({ jobId: z.uuid() }),
      handler: async ({ ctx, params, res }) => sendData(res, await getPortalJob(services, ctx, params.jobId)),
    }),
    defineRoute({
      method: 'post',
      path: '/portal/vendor/actions',
      summary: 'Do something to a job (on my way, start, tick, note, send for review, complete), once per action id; a replay answers 200 with the first answer',
      tags: ['portal'],
      access: { permission: 'jobs:transition', capability: 'portal.vendor' },
      body: actionBody,
      handler: async ({ ctx, body, res }) => {
        const answer = await performPortalAction(services, ctx, body);
        sendData(res, answer.body, {}, answer.status);
      },
    }),
  ];
}
