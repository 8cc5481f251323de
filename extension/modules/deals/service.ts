// Deals: create, edit, move on the board (optimistic concurrency, fractional ranks), win/lose/
// reopen, soft delete, bulk actions, notes. Every stage move or status change appends a
// deal_stage_events row; history is never rewritten.
import { generateKeyBetween } from 'fractional-indexing';
import type { Knex } from 'knex';
import { validateCustomFields, sensitiveFieldKeys } from '../../capabilities/field-packs.ts';
import { nextNumber } from '../../db/counters.ts';
import type { RequestContext } from '../../context.ts';
import { read, write, type Audit } from '../../db/tenant.ts';
import { ConflictError, InvalidFieldsError, NotFoundError, UnprocessableError, withReferenceFields } from '../../errors.ts';
import { paginate } from '../../http/pagination.ts';
import { queueWriteBack } from '../../chatwoot/outbox-queue.ts';
import { findStage, type StageRow } from '../pipelines/service.ts';
import { canTransition, dealReference, dealTransitions, inferredDealSource, isCurrency, lostReasonAfterMove, lostReasonMissing, type DealSource, type DealStatus } from './rules.ts';

export interface DealRow {
  id: string;
  number: number;
  title: string;
  status: DealStatus;
  lost_reason: string | null;
  pipeline_id: string;
  stage_id: string;
  rank: string;
  amount_minor: number | null;
  currency: string | null;
  owner_id: string | null;
  chatwoot_contact_id: number | null;
  chatwoot_company_id: number | null;
  chatwoot_conversation_id: number | null;
  expected_close_date: string | null;
  custom_fields: Record<string, unknown>;
  source: DealSource;
  version: number;
  stage_entered_at: Date;
  last_activity_at: Date | null;
  created_at: Date;
  updated_at: Date;
  deleted_at: Date | null;
}

export const dealColumns = [
  'id', 'number', 'title', 'status', 'lost_reason', 'pipeline_id', 'stage_id', 'rank', 'amount_minor', 'currency', 'owner_id',
  'chatwoot_contact_id', 'chatwoot_company_id', 'chatwoot_conversation_id', 'expected_close_date', 'custom_fields', 'source', 'version',
  'stage_entered_at', 'last_activity_at', 'created_at', 'updated_at', 'deleted_at',
] as const;

export function presentDeal(row: DealRow) {
  const { rank: _rank, ...rest } = row;
  return { ...rest, reference: dealReference(row.number) };
}

const unknownStage = () => new UnprocessableError('unknown_stage', 'That stage does not exist in this account');

async function loadDeal(trx: Knex.Transaction, ctx: RequestContext, dealId: string, { forUpdate = false, withDeleted = false } = {}) {
  const query = trx('deals').where({ account_id: ctx.accountId, id: dealId });
  if (!withDeleted) query.whereNull('deleted_at');
  if (forUpdate) query.forUpdate();
  const row = (await query.first(...dealColumns)) as DealRow | undefined;
  if (!row) throw new NotFoundError('Deal');
  return row;
}

async function activeStage(trx: Knex.Transaction, ctx: RequestContext, stageId: string): Promise<StageRow> {
  const stage = await findStage(trx, ctx.accountId, stageId);
  if (!stage || stage.archived_at) throw unknownStage();
  return stage;
}

function checkAmount(amount: number | null | undefined, currency: string | null | undefined) {
  if (amount === undefined && currency === undefined) return;
  if ((amount === null) !== (currency === null) || (amount === undefined) !== (currency === undefined)) {
    throw new InvalidFieldsError('Give an amount together with its currency', [{ field: 'currency', message: 'amount_minor and currency go together', code: 'amount_currency_pair' }]);
  }
  if (currency && !isCurrency(currency)) {
    throw new InvalidFieldsError('Unknown currency', [{ field: 'currency', message: `${currency} is not an ISO 4217 currency code`, code: 'unknown_currency' }]);
  }
}

/** An owner from another account (or none at all) is the caller's mistake: 422 on owner_id. */
const translateDbErrors = <T>(work: () => Promise<T>) =>
  withReferenceFields(work, { owner_id: { field: 'owner_id', message: 'The owner must be an agent of this account', code: 'unknown_owner' } });

/** Runs in the transaction of every stage change, after it is recorded (automation subscribes). */
export type DealStageHook = (trx: Knex.Transaction, ctx: RequestContext, deal: DealRow) => Promise<void>;
const stageHooks: DealStageHook[] = [];
export function onDealEnteredStage(hook: DealStageHook) {
  if (!stageHooks.includes(hook)) stageHooks.push(hook);
}
async function enteredStage(trx: Knex.Transaction, ctx: RequestContext, deal: DealRow) {
  for (const hook of stageHooks) await hook(trx, ctx, deal);
}

async function appendStageEvent(trx: Knex.Transaction, ctx: RequestContext, before: Pick<DealRow, 'stage_id' | 'status'> | null, after: DealRow) {
  await trx('deal_stage_events').insert({
    account_id: ctx.accountId,
    deal_id: after.id,
    from_stage_id: before?.stage_id ?? null,
    to_stage_id: after.stage_id,
    from_status: before?.status ?? null,
    to_status: after.status,
    actor_type: ctx.actor.type,
    actor_id: ctx.actor.id,
  });
}

/** Tells the deal's Chatwoot conversation (if any): a private note, and attributes its filters can use. */
async function writeBack(trx: Knex.Transaction, ctx: RequestContext, deal: DealRow, stageName: string, note: string) {
  await queueWriteBack(trx, ctx, deal.chatwoot_conversation_id, [
    { kind: 'note', content: `Onelink · ${dealReference(deal.number)} “${deal.title}”: ${note}` },
    { kind: 'attributes', attributes: { onelink_deal: dealReference(deal.number), onelink_deal_stage: stageName, onelink_deal_status: deal.status } },
  ]);
}

/** A rank placing a card between two neighbours of a column (either may be absent). */
async function rankBetween(trx: Knex.Transaction, ctx: RequestContext, stageId: string, afterId?: string | null, beforeId?: string | null, excludeId?: string) {
  const rankOf = async (id: string) => {
    const row = await trx('deals').where({ account_id: ctx.accountId, id, stage_id: stageId }).whereNull('deleted_at').first('rank');
    if (!row) throw new InvalidFieldsError('A neighbour card is not in that column', [{ field: '', message: `${id} is not a deal in the target stage`, code: 'unknown_neighbour' }]);
    return row.rank as string;
  };
  const column = () => trx('deals').where({ account_id: ctx.accountId, stage_id: stageId }).whereNull('deleted_at').modify((q) => excludeId && q.whereNot('id', excludeId));
  let low = afterId ? await rankOf(afterId) : null;
  let high = beforeId ? await rankOf(beforeId) : null;
  if (afterId && !beforeId) high = (await column().andWhere('rank', '>', low!).orderBy('rank').first('rank'))?.rank ?? null;
  if (beforeId && !afterId) low = (await column().andWhere('rank', '<', high!).orderBy('rank', 'desc').first('rank'))?.rank ?? null;
  if (!afterId && !beforeId) high = (await column().orderBy('rank').first('rank'))?.rank ?? null; // top of the column
  // Equal neighbours (two cards placed at once) have no key between them: go just after the lower one.
  if (low !== null && high !== null && low >= high) high = null;
  return generateKeyBetween(low, high);
}

export interface NewDeal {
  title: string;
  pipeline_id: string;
  stage_id?: string;
  amount_minor?: number | null;
  currency?: string | null;
  owner_id?: string | null;
  chatwoot_contact_id?: number | null;
  chatwoot_company_id?: number | null;
  chatwoot_conversation_id?: number | null;
  expected_close_date?: string | null;
  custom_fields?: Record<string, unknown>;
  /** Where the deal came from; by default inferred from the conversation and who creates it. */
  source?: DealSource;
}

export async function createDeal(ctx: RequestContext, input: NewDeal) {
  checkAmount(input.amount_minor, input.currency);
  const customFields = validateCustomFields(ctx, 'deal', input.custom_fields ?? {});
  return translateDbErrors(() =>
    write(ctx, async (trx, audit) => {
      const pipeline = await trx('pipelines').where({ account_id: ctx.accountId, id: input.pipeline_id }).whereNull('archived_at').first('id');
      if (!pipeline) throw new UnprocessableError('unknown_pipeline', 'That pipeline does not exist in this account');
      const stage = input.stage_id
        ? await activeStage(trx, ctx, input.stage_id)
        : ((await trx('stages').where({ account_id: ctx.accountId, pipeline_id: input.pipeline_id }).whereNull('archived_at').orderBy('position').first('*')) as StageRow);
      if (!stage || stage.pipeline_id !== input.pipeline_id) throw unknownStage();
      const number = await nextNumber(trx, ctx.accountId, 'deal');
      const [row] = (await trx('deals')
        .insert({
          account_id: ctx.accountId,
          number,
          title: input.title,
          status: stage.kind,
          pipeline_id: input.pipeline_id,
          stage_id: stage.id,
          rank: await rankBetween(trx, ctx, stage.id),
          amount_minor: input.amount_minor ?? null,
          currency: input.currency ?? null,
          owner_id: input.owner_id ?? null,
          chatwoot_contact_id: input.chatwoot_contact_id ?? null,
          chatwoot_company_id: input.chatwoot_company_id ?? null,
          chatwoot_conversation_id: input.chatwoot_conversation_id ?? null,
          expected_close_date: input.expected_close_date ?? null,
          custom_fields: customFields,
          source: input.source ?? inferredDealSource(ctx.actor.type, input.chatwoot_conversation_id),
          created_by_type: ctx.actor.type,
          created_by_id: ctx.actor.id,
        })
        .returning([...dealColumns])) as DealRow[];
      await appendStageEvent(trx, ctx, null, row!);
      await writeBack(trx, ctx, row!, stage.name, `deal created in ${stage.name}`);
      await audit({ action: 'deal.created', resourceType: 'deal', resourceId: row!.id, after: presentDeal(row!), sensitiveKeys: sensitiveFieldKeys(ctx, 'deal') });
      await enteredStage(trx, ctx, row!);
      return presentDeal(row!);
    }),
  );
}

export async function getDeal(ctx: RequestContext, dealId: string) {
  return presentDeal(await read(ctx, (trx) => loadDeal(trx, ctx, dealId)));
}

export interface DealFilters {
  pipeline_id?: string;
  stage_id?: string;
  owner_id?: string;
  status?: DealStatus;
  contact_id?: number;
  conversation_id?: number;
  q?: string;
  created_from?: Date;
  created_to?: Date;
  expected_from?: string;
  expected_to?: string;
  custom?: Record<string, string>;
}

/** The board and list filters, applied to a deals query (always scoped to the account). */
export function applyDealFilters(query: Knex.QueryBuilder, filters: DealFilters) {
  if (filters.pipeline_id) query.where('deals.pipeline_id', filters.pipeline_id);
  if (filters.stage_id) query.where('deals.stage_id', filters.stage_id);
  if (filters.owner_id) query.where('deals.owner_id', filters.owner_id);
  if (filters.status) query.where('deals.status', filters.status);
  if (filters.contact_id !== undefined) query.where('deals.chatwoot_contact_id', filters.contact_id);
  if (filters.conversation_id !== undefined) query.where('deals.chatwoot_conversation_id', filters.conversation_id);
  if (filters.created_from) query.where('deals.created_at', '>=', filters.created_from);
  if (filters.created_to) query.where('deals.created_at', '<', filters.created_to);
  if (filters.expected_from) query.where('deals.expected_close_date', '>=', filters.expected_from);
  if (filters.expected_to) query.where('deals.expected_close_date', '<=', filters.expected_to);
  if (filters.custom && Object.keys(filters.custom).length) query.whereRaw('deals.custom_fields @> ?::jsonb', [JSON.stringify(filters.custom)]);
  if (filters.q) {
    const reference = /^d-?(\d+)$/i.exec(filters.q.trim());
    if (reference) query.where('deals.number', Number(reference[1]));
    else query.whereRaw('deals.title ilike ?', [`%${filters.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`]);
  }
  return query;
}

export async function listDeals(ctx: RequestContext, filters: DealFilters, page: { limit: number; cursor?: string }) {
  const result = await read(ctx, (trx) =>
    paginate<DealRow>(applyDealFilters(trx('deals').where({ 'deals.account_id': ctx.accountId }).whereNull('deals.deleted_at'), filters).select(...dealColumns), {
      keys: { number: 'integer' },
      direction: 'desc',
      limit: page.limit,
      cursor: page.cursor,
    }),
  );
  return { items: result.items.map(presentDeal), nextCursor: result.nextCursor };
}

function staleVersion(current: DealRow) {
  return new ConflictError('stale_version', 'This deal changed since you loaded it; here is its current state', { current: presentDeal(current) });
}

export type DealPatch = Partial<Omit<NewDeal, 'pipeline_id' | 'stage_id' | 'source'>> & { version: number };

export async function updateDeal(ctx: RequestContext, dealId: string, patch: DealPatch) {
  return translateDbErrors(() =>
    write(ctx, async (trx, audit) => {
      const before = await loadDeal(trx, ctx, dealId, { forUpdate: true });
      if (patch.version !== before.version) throw staleVersion(before);
      const amount = patch.amount_minor !== undefined ? patch.amount_minor : undefined;
      const currency = patch.currency !== undefined ? patch.currency : undefined;
      if (amount !== undefined || currency !== undefined) checkAmount(amount === undefined ? before.amount_minor : amount, currency === undefined ? before.currency : currency);
      const customFields = patch.custom_fields
        ? Object.fromEntries(
            Object.entries({ ...before.custom_fields, ...validateCustomFields(ctx, 'deal', patch.custom_fields, { partial: true }) }).filter(([, v]) => v !== null),
          )
        : undefined;
      const { version: _version, custom_fields: _cf, ...fields } = patch;
      const [after] = (await trx('deals')
        .where({ account_id: ctx.accountId, id: dealId })
        .update({ ...fields, ...(customFields ? { custom_fields: customFields } : {}), version: before.version + 1, updated_at: trx.fn.now() })
        .returning([...dealColumns])) as DealRow[];
      if (after!.chatwoot_conversation_id && after!.chatwoot_conversation_id !== before.chatwoot_conversation_id) {
        const stage = await findStage(trx, ctx.accountId, after!.stage_id);
        await writeBack(trx, ctx, after!, stage!.name, 'linked to this conversation');
      }
      await audit({ action: 'deal.updated', resourceType: 'deal', resourceId: dealId, before: presentDeal(before), after: presentDeal(after!), sensitiveKeys: ['custom_fields'] });
      return presentDeal(after!);
    }),
  );
}

interface Placement { after_id?: string | null; before_id?: string | null; lost_reason?: string | null }

/** The one place a deal's stage and status change: the status follows the stage's kind (rules.ts). */
async function moveWithin(trx: Knex.Transaction, ctx: RequestContext, audit: Audit, before: DealRow, stage: StageRow, placement: Placement, action = 'deal.moved') {
  const status: DealStatus = stage.kind;
  const lostReason = lostReasonAfterMove(before.status, status, placement.lost_reason, before.lost_reason);
  const rank = await rankBetween(trx, ctx, stage.id, placement.after_id, placement.before_id, before.id);
  const stageChanged = stage.id !== before.stage_id;
  const [after] = (await trx('deals')
    .where({ account_id: ctx.accountId, id: before.id })
    .update({
      stage_id: stage.id,
      pipeline_id: stage.pipeline_id,
      rank,
      status,
      lost_reason: lostReason,
      version: before.version + 1,
      updated_at: trx.fn.now(),
      ...(stageChanged ? { stage_entered_at: trx.fn.now() } : {}),
    })
    .returning([...dealColumns])) as DealRow[];
  if (stageChanged || status !== before.status) {
    await appendStageEvent(trx, ctx, before, after!);
    const from = stageChanged ? (await findStage(trx, ctx.accountId, before.stage_id))?.name : undefined;
    const note =
      status !== before.status
        ? { won: 'won', lost: `lost${after!.lost_reason ? ` (${after!.lost_reason})` : ''}`, open: `reopened in ${stage.name}` }[status]
        : `moved from ${from} to ${stage.name}`;
    await writeBack(trx, ctx, after!, stage.name, note);
  }
  await audit({
    action,
    resourceType: 'deal',
    resourceId: before.id,
    before: { stage_id: before.stage_id, pipeline_id: before.pipeline_id, status: before.status },
    after: { stage_id: after!.stage_id, pipeline_id: after!.pipeline_id, status: after!.status, ...(lostReason ? { lost_reason: lostReason } : {}) },
  });
  if (stageChanged) await enteredStage(trx, ctx, after!);
  return after!;
}

/**
 * Moves a deal to the top of a stage inside the caller's transaction, acting as `ctx` (automation
 * uses it with its system actor). Returns null when the deal is gone or already there. A move into
 * a lost stage records `lostReason` (by default: that an automation rule moved it).
 */
export async function moveDealInTransaction(trx: Knex.Transaction, ctx: RequestContext, audit: Audit, dealId: string, stageId: string, lostReason = 'Moved to a lost stage by an automation rule') {
  const before = (await trx('deals').where({ account_id: ctx.accountId, id: dealId }).whereNull('deleted_at').forUpdate().first(...dealColumns)) as DealRow | undefined;
  if (!before || before.stage_id === stageId) return null;
  const stage = await activeStage(trx, ctx, stageId);
  return moveWithin(trx, ctx, audit, before, stage, { lost_reason: lostReason }, 'deal.moved');
}

/** Moves a card to a stage (any pipeline of the account) and a place in its column; into a lost stage with a reason. */
export async function moveDeal(ctx: RequestContext, dealId: string, input: { stage_id: string; after_id?: string | null; before_id?: string | null; lost_reason?: string | null; version: number }) {
  return write(ctx, async (trx, audit) => {
    const before = await loadDeal(trx, ctx, dealId, { forUpdate: true });
    if (input.version !== before.version) throw staleVersion(before);
    const stage = await activeStage(trx, ctx, input.stage_id);
    return presentDeal(await moveWithin(trx, ctx, audit, before, stage, input));
  });
}

/** Wins, loses or reopens a deal. Won/lost go to the pipeline's first stage of that kind, if it has one. */
export async function setDealStatus(ctx: RequestContext, dealId: string, input: { status: DealStatus; lost_reason?: string; stage_id?: string; version: number }) {
  return write(ctx, async (trx, audit) => {
    const before = await loadDeal(trx, ctx, dealId, { forUpdate: true });
    if (input.version !== before.version) throw staleVersion(before);
    return presentDeal(await changeStatus(trx, ctx, audit, before, input));
  });
}

/**
 * Wins or loses an open deal inside the caller's transaction, acting as `ctx` (a client deciding on
 * a quote): the same stage move, history, write-back, audit and automation as setDealStatus. Returns
 * null when the deal is gone or no longer open (a closed deal keeps its status).
 */
export async function closeDealInTransaction(trx: Knex.Transaction, ctx: RequestContext, audit: Audit, dealId: string, status: 'won' | 'lost', lostReason?: string) {
  const before = (await trx('deals').where({ account_id: ctx.accountId, id: dealId }).whereNull('deleted_at').forUpdate().first(...dealColumns)) as DealRow | undefined;
  if (!before || before.status !== 'open') return null;
  return presentDeal(await changeStatus(trx, ctx, audit, before, { status, lost_reason: lostReason }));
}

async function changeStatus(trx: Knex.Transaction, ctx: RequestContext, audit: Audit, before: DealRow, input: { status: DealStatus; lost_reason?: string; stage_id?: string }): Promise<DealRow> {
  const dealId = before.id;
  if (!canTransition(before.status, input.status)) {
    throw new ConflictError('invalid_transition', `A ${before.status} deal cannot become ${input.status}`, { allowed: dealTransitions[before.status] });
  }
  if (input.status === 'lost' && !input.lost_reason) throw lostReasonMissing();
  let target: StageRow | undefined;
  if (input.status === 'open') {
    if (!input.stage_id) throw new InvalidFieldsError('Reopening needs a stage', [{ field: 'stage_id', message: 'Name the open stage to reopen into', code: 'required' }]);
    target = await activeStage(trx, ctx, input.stage_id);
    if (target.kind !== 'open') throw new InvalidFieldsError('Reopen into an open stage', [{ field: 'stage_id', message: 'That stage is not an open stage', code: 'not_open_stage' }]);
  } else {
    target = input.stage_id
      ? await activeStage(trx, ctx, input.stage_id)
      : await trx('stages').where({ account_id: ctx.accountId, pipeline_id: before.pipeline_id, kind: input.status }).whereNull('archived_at').orderBy('position').first('*');
    if (target && target.kind !== input.status) throw new InvalidFieldsError('Stage kind mismatch', [{ field: 'stage_id', message: `That stage is not a ${input.status} stage`, code: 'stage_kind_mismatch' }]);
  }
  if (target) return moveWithin(trx, ctx, audit, before, target, { lost_reason: input.lost_reason }, `deal.${input.status === 'open' ? 'reopened' : input.status}`);
  // A pipeline without a won/lost stage: the deal keeps its stage and changes status.
  const [after] = (await trx('deals')
    .where({ account_id: ctx.accountId, id: dealId })
    .update({ status: input.status, lost_reason: input.status === 'lost' ? input.lost_reason : null, version: before.version + 1, updated_at: trx.fn.now() })
    .returning([...dealColumns])) as DealRow[];
  await appendStageEvent(trx, ctx, before, after!);
  await audit({ action: `deal.${input.status}`, resourceType: 'deal', resourceId: dealId, before: { status: before.status }, after: { status: after!.status, lost_reason: after!.lost_reason } });
  return after!;
}

export async function deleteDeal(ctx: RequestContext, dealId: string, restore = false) {
  return write(ctx, async (trx, audit) => {
    const before = await loadDeal(trx, ctx, dealId, { forUpdate: true, withDeleted: true });
    if (restore ? !before.deleted_at : before.deleted_at) throw new NotFoundError('Deal');
    const [after] = (await trx('deals')
      .where({ account_id: ctx.accountId, id: dealId })
      .update({ deleted_at: restore ? null : trx.fn.now(), version: before.version + 1, updated_at: trx.fn.now() })
      .returning([...dealColumns])) as DealRow[];
    await audit({ action: restore ? 'deal.restored' : 'deal.deleted', resourceType: 'deal', resourceId: dealId, before: { deleted_at: before.deleted_at }, after: { deleted_at: after!.deleted_at } });
    return presentDeal(after!);
  });
}

/** Moves or reassigns many deals in one transaction: all or nothing. */
export async function bulkUpdateDeals(ctx: RequestContext, input: { deal_ids: string[]; stage_id?: string; owner_id?: string | null }) {
  return translateDbErrors(() =>
    write(ctx, async (trx, audit) => {
      const stage = input.stage_id ? await activeStage(trx, ctx, input.stage_id) : undefined;
      const results = [];
      let changed = false;
      for (const dealId of input.deal_ids) {
        let deal = await loadDeal(trx, ctx, dealId, { forUpdate: true });
        if (stage && stage.id !== deal.stage_id) {
          deal = await moveWithin(trx, ctx, audit, deal, stage, {}, 'deal.moved');
          changed = true;
        }
        if (input.owner_id !== undefined && input.owner_id !== deal.owner_id) {
          changed = true;
          const [after] = (await trx('deals')
            .where({ account_id: ctx.accountId, id: dealId })
            .update({ owner_id: input.owner_id, version: deal.version + 1, updated_at: trx.fn.now() })
            .returning([...dealColumns])) as DealRow[];
          await audit({ action: 'deal.assigned', resourceType: 'deal', resourceId: dealId, before: { owner_id: deal.owner_id }, after: { owner_id: after!.owner_id } });
          deal = after!;
        }
        results.push(presentDeal(deal));
      }
      if (!changed) audit.nothingChanged(); // every deal was already where and whose it should be
      return results;
    }),
  );
}

/** A note on the deal by the caller, inside the caller's unit of work (the caller audits); the deal's activity moves on. */
export async function insertDealNote(trx: Knex.Transaction, ctx: RequestContext, dealId: string, body: string) {
  const [note] = await trx('deal_notes')
    .insert({ account_id: ctx.accountId, deal_id: dealId, author_type: ctx.actor.type, author_id: ctx.actor.id, body })
    .returning(['id', 'deal_id', 'author_type', 'author_id', 'body', 'created_at']);
  await trx('deals').where({ account_id: ctx.accountId, id: dealId }).update({ last_activity_at: trx.fn.now() });
  return note;
}

export async function addDealNote(ctx: RequestContext, dealId: string, body: string) {
  return write(ctx, async (trx, audit) => {
    await loadDeal(trx, ctx, dealId);
    const note = await insertDealNote(trx, ctx, dealId, body);
    await audit({ action: 'deal.note_added', resourceType: 'deal', resourceId: dealId, after: { note_id: note.id } });
    return note;
  });
}

export async function listDealNotes(ctx: RequestContext, dealId: string) {
  return read(ctx, async (trx) => {
    await loadDeal(trx, ctx, dealId);
    return trx('deal_notes').where({ account_id: ctx.accountId, deal_id: dealId }).whereNull('deleted_at').orderBy('created_at', 'desc').select('id', 'deal_id', 'author_type', 'author_id', 'body', 'created_at');
  });
}

/** Stage history of a deal with the time spent in each stage. */
export async function dealStageHistory(ctx: RequestContext, dealId: string) {
  return read(ctx, async (trx) => {
    await loadDeal(trx, ctx, dealId);
    const events = await trx('deal_stage_events').where({ account_id: ctx.accountId, deal_id: dealId }).orderBy('id').select('id', 'from_stage_id', 'to_stage_id', 'from_status', 'to_status', 'actor_type', 'actor_id', 'occurred_at');
    return events.map((event: { occurred_at: Date }, i: number) => {
      const left = events[i + 1]?.occurred_at as Date | undefined;
      return { ...event, seconds_in_stage: Math.round(((left ?? new Date()).getTime() - event.occurred_at.getTime()) / 1000), current: !left };
    });
  });
}
