// A client's jobs as the client portal shows them: where each stands in plain words on a timeline
// (received → scheduled → on the way → in progress → done, or canceled), the appointment window,
// the technician's first name and expected arrival, checklist progress as a percentage and the
// files staff shared with the client. Every query is scoped to the client's Chatwoot contact
// (visibleJobs); nothing internal is selected at all: no notes, amounts, scores, vendor details,
// offers or the job's internal story.
import type { Knex } from 'knex';
import type { RequestContext } from '../context.ts';
import { read } from '../db/tenant.ts';
import { NotFoundError } from '../errors.ts';
import { linkMinutes } from '../modules/artifacts/service.ts';
import { visibleJobs } from '../modules/jobs/records.ts';
import { jobReference, openJobStatuses, type JobStatus } from '../modules/jobs/rules.ts';
import type { Services } from '../services.ts';

export const clientStages = ['received', 'scheduled', 'on_the_way', 'in_progress', 'done', 'canceled'] as const;
export type ClientStage = (typeof clientStages)[number];
/** The stages a job goes through, in order (canceled ends it anywhere before done). */
const path: readonly ClientStage[] = ['received', 'scheduled', 'on_the_way', 'in_progress', 'done'];

/** A client may call off a request no vendor holds yet. */
export const cancelableStatuses: readonly JobStatus[] = ['new', 'triaged'];

/** How many past jobs the history shows (the latest). */
export const pastLimit = 100;

interface Row {
  id: string;
  number: number;
  status: JobStatus;
  summary: string;
  service_category: string | null;
  address: string | null;
  window_starts_at: Date | null;
  window_ends_at: Date | null;
  preferred_starts_at: Date | null;
  preferred_ends_at: Date | null;
  created_at: Date;
  started_at: Date | null;
  completed_at: Date | null;
  status_changed_at: Date;
  technician_name: string | null;
  checklist_total: number;
  checklist_done: number;
  held_since: Date | null;
  en_route_at: Date | null;
  eta: string | null;
}

/** A client is a portal user bound to a Chatwoot contact; anyone else has no jobs here. */
export const isClientUser = (ctx: RequestContext) => ctx.contactId !== undefined && ctx.actor.type === 'portal_user';

export function requireClientUser(ctx: RequestContext, what = 'Job') {
  if (!isClientUser(ctx)) throw new NotFoundError(what);
}

/** One select for any number of jobs: the job's own columns a client may read, and what is derived. */
function clientJobQuery(trx: Knex.Transaction, ctx: RequestContext) {
  return visibleJobs(trx('jobs as j'), ctx, 'j')
    .leftJoin('portal_users as t', (on) => on.on('t.account_id', 'j.account_id').andOn('t.id', 'j.technician_id'))
    .joinRaw(
      `left join lateral (select count(*)::int as total, count(i.done_at)::int as done
         from job_checklist_items i where i.account_id = j.account_id and i.job_id = j.id) as cl on true`,
    )
    // Since when the vendor holding the job now has it: an earlier vendor's "on my way" is not this visit's.
    .joinRaw(
      `left join lateral (select jv.assigned_at from job_vendors jv
         where jv.account_id = j.account_id and jv.job_id = j.id and jv.vendor_id = j.vendor_id and jv.unassigned_at is null
         order by jv.assigned_at desc limit 1) as held on true`,
    )
    .joinRaw(
      `left join lateral (select e.occurred_at, e.data->>'eta' as eta from job_events e
         where e.account_id = j.account_id and e.job_id = j.id and e.kind = 'en_route' and e.occurred_at >= coalesce(held.assigned_at, 'infinity')
         order by e.id desc limit 1) as otw on true`,
    )
    .select(
      'j.id', 'j.number', 'j.status', 'j.summary', 'j.service_category', 'j.address', 'j.window_starts_at', 'j.window_ends_at',
      'j.preferred_starts_at', 'j.preferred_ends_at', 'j.created_at', 'j.started_at', 'j.completed_at', 'j.status_changed_at',
      't.name as technician_name', 'cl.total as checklist_total', 'cl.done as checklist_done', 'held.assigned_at as held_since',
      'otw.occurred_at as en_route_at', 'otw.eta',
    );
}

/** Where the job stands, in the client's words. */
export function stageOf(row: Pick<Row, 'status' | 'window_starts_at' | 'en_route_at'>): ClientStage {
  switch (row.status) {
    case 'canceled':
      return 'canceled';
    case 'completed':
      return 'done';
    // Sent for review is still the business's to finish: done is when it says so.
    case 'in_progress':
    case 'pending_review':
      return 'in_progress';
    case 'assigned':
      return row.en_route_at ? 'on_the_way' : 'scheduled';
    default:
      // A visit time given before a vendor is chosen is a visit scheduled all the same.
      return row.window_starts_at ? 'scheduled' : 'received';
  }
}

const iso = (value: Date | string | null | undefined) => (value ? new Date(value).toISOString() : null);

/** The stages, each with when it was reached (null when not, or when the moment is not known). */
export function timelineOf(row: Row, stage: ClientStage) {
  const at: Record<Exclude<ClientStage, 'canceled'>, Date | null> = {
    received: row.created_at,
    scheduled: row.held_since,
    on_the_way: row.en_route_at,
    in_progress: row.started_at,
    done: row.completed_at,
  };
  if (stage === 'canceled') {
    // What happened before it was called off, then the cancellation.
    const before = path.filter((s) => s !== 'done' && (s === 'received' || at[s as keyof typeof at]));
    return [
      ...before.map((s) => ({ stage: s, at: iso(at[s as keyof typeof at]), reached: true })),
      { stage: 'canceled' as ClientStage, at: iso(row.status_changed_at), reached: true },
    ];
  }
  const current = path.indexOf(stage);
  return path.map((s, index) => {
    // "On the way" may be skipped (work started without it): then it was never reached.
    const reached = index === current || (index < current && (s !== 'on_the_way' || at.on_the_way !== null));
    return { stage: s, at: reached ? iso(at[s as keyof typeof at]) : null, reached };
  });
}

const windowOf = (starts: Date | null, ends: Date | null) => (starts || ends ? { starts_at: iso(starts), ends_at: iso(ends) } : null);

/** The technician as a client knows them: a first name, and the expected arrival while on the way. */
function technicianOf(row: Row, stage: ClientStage) {
  if (stage !== 'scheduled' && stage !== 'on_the_way' && stage !== 'in_progress') return null;
  const firstName = row.technician_name?.trim().split(/\s+/)[0] ?? null;
  if (!firstName && stage !== 'on_the_way') return null;
  return { first_name: firstName, eta_at: stage === 'on_the_way' ? iso(row.eta) : null };
}

function summaryOf(row: Row) {
  const stage = stageOf(row);
  const total = Number(row.checklist_total ?? 0);
  return {
    id: row.id,
    reference: jobReference(row.number),
    summary: row.summary,
    service_category: row.service_category,
    stage,
    window: windowOf(row.window_starts_at, row.window_ends_at),
    preferred_window: windowOf(row.preferred_starts_at, row.preferred_ends_at),
    technician: technicianOf(row, stage),
    checklist_percent: total > 0 ? Math.round((Number(row.checklist_done ?? 0) * 100) / total) : null,
    created_at: iso(row.created_at)!,
    completed_at: iso(row.completed_at),
    can_cancel: cancelableStatuses.includes(row.status),
  };
}
export type ClientJobSummary = ReturnType<typeof summaryOf>;

/** A signed link to an artifact's bytes, as the artifacts module signs them (GET /artifacts/content). */
function artifactLink(services: Pick<Services, 'urlSigner'>, accountId: number, id: string, variant: 'original' | 'thumbnail', expires: Date) {
  return `/api/v1/artifacts/content?token=${services.urlSigner.sign({ a: accountId, i: id, v: variant }, expires)}`;
}

/** The job's files staff shared with the client (and the client's own request photos), with signed links. */
async function clientFiles(trx: Knex.Transaction, services: Pick<Services, 'urlSigner'>, ctx: RequestContext, jobId: string) {
  const rows = (await trx('job_artifacts')
    .where({ account_id: ctx.accountId, job_id: jobId, visibility: 'client_visible' })
    .whereNull('deleted_at')
    .orderBy([{ column: 'created_at' }, { column: 'id' }])
    .select('id', 'kind', 'filename', 'content_type', 'thumbnail_key', 'created_at')) as Array<{ id: string; kind: string; filename: string; content_type: string; thumbnail_key: string | null; created_at: Date }>;
  const expires = new Date(Date.now() + linkMinutes * 60_000);
  return rows.map((file) => ({
    id: file.id,
    kind: file.kind,
    filename: file.filename,
    content_type: file.content_type,
    url: artifactLink(services, ctx.accountId, file.id, 'original', expires),
    thumbnail_url: file.thumbnail_key ? artifactLink(services, ctx.accountId, file.id, 'thumbnail', expires) : null,
    created_at: iso(file.created_at)!,
  }));
}

/** One of the client's jobs inside the caller's transaction; null when it is not theirs. */
export async function clientJobIn(trx: Knex.Transaction, services: Pick<Services, 'urlSigner'>, ctx: RequestContext, jobId: string) {
  const row = (await clientJobQuery(trx, ctx).where('j.id', jobId).first()) as Row | undefined;
  if (!row) return null;
  const summary = summaryOf(row);
  return {
    ...summary,
    timeline: timelineOf(row, summary.stage),
    address: row.address,
    files: await clientFiles(trx, services, ctx, jobId),
  };
}
export type ClientJob = NonNullable<Awaited<ReturnType<typeof clientJobIn>>>;

/** GET /portal/client/jobs?scope=open|past: open jobs newest first; past ones by when they ended. */
export async function listClientJobs(ctx: RequestContext, scope: 'open' | 'past'): Promise<ClientJobSummary[]> {
  if (!isClientUser(ctx)) return [];
  return read(ctx, async (trx) => {
    const query = clientJobQuery(trx, ctx);
    if (scope === 'open') query.whereIn('j.status', openJobStatuses).orderBy([{ column: 'j.created_at', order: 'desc' }, { column: 'j.id', order: 'desc' }]);
    else query.whereNotIn('j.status', openJobStatuses).orderByRaw('coalesce(j.completed_at, j.status_changed_at) desc, j.id desc').limit(pastLimit);
    return ((await query) as Row[]).map(summaryOf);
  });
}

/** GET /portal/client/jobs/:jobId */
export async function getClientJob(services: Pick<Services, 'urlSigner'>, ctx: RequestContext, jobId: string): Promise<ClientJob> {
  requireClientUser(ctx);
  const job = await read(ctx, (trx) => clientJobIn(trx, services, ctx, jobId));
  if (!job) throw new NotFoundError('Job');
  return job;
}
