// Pipelines and their ordered stages. Stages with history are archived, never deleted.
import type { Knex } from 'knex';
import type { RequestContext } from '../../context.ts';
import { read, write } from '../../db/tenant.ts';
import { ConflictError, InvalidFieldsError, NotFoundError } from '../../errors.ts';
import { defaultPipeline, type StageTemplate } from './templates.ts';

export interface StageRow {
  id: string;
  pipeline_id: string;
  name: string;
  position: number;
  win_probability: number;
  kind: 'open' | 'won' | 'lost';
  archived_at: Date | null;
}
export interface PipelineRow { id: string; name: string; position: number; archived_at: Date | null }

const stageColumns = ['id', 'pipeline_id', 'name', 'position', 'win_probability', 'kind', 'archived_at'] as const;

export async function findStage(trx: Knex.Transaction, accountId: number, stageId: string): Promise<StageRow | undefined> {
  return trx('stages').where({ account_id: accountId, id: stageId }).first(...stageColumns);
}

export async function findPipeline(trx: Knex.Transaction, accountId: number, pipelineId: string): Promise<PipelineRow | undefined> {
  return trx('pipelines').where({ account_id: accountId, id: pipelineId }).first('id', 'name', 'position', 'archived_at');
}

async function insertPipeline(trx: Knex.Transaction, ctx: RequestContext, name: string, stages: StageTemplate[], position: number) {
  const [pipeline] = await trx('pipelines').insert({ account_id: ctx.accountId, name, position }).returning(['id', 'name', 'position', 'archived_at']);
  const rows = await trx('stages')
    .insert(stages.map((s, i) => ({ account_id: ctx.accountId, pipeline_id: pipeline.id, name: s.name, kind: s.kind, win_probability: s.win_probability, position: i })))
    .returning([...stageColumns]);
  return { ...(pipeline as PipelineRow), stages: rows as StageRow[] };
}

/** Pipelines with their stages in order; the account's default pipeline is created on first use. */
export async function listPipelines(ctx: RequestContext, { includeArchived = false } = {}) {
  // One transaction is one connection: its queries run one after another.
  const load = async (trx: Knex.Transaction) => [
    await trx('pipelines').where({ account_id: ctx.accountId }).modify((q) => includeArchived || q.whereNull('archived_at')).orderBy(['position', 'created_at']).select('id', 'name', 'position', 'archived_at'),
    await trx('stages').where({ account_id: ctx.accountId }).modify((q) => includeArchived || q.whereNull('archived_at')).orderBy(['pipeline_id', 'position']).select(...stageColumns),
  ];
  let [pipelines, stages] = await read(ctx, load);
  if (pipelines.length === 0 && !includeArchived) {
    const anyPipeline = await read(ctx, (trx) => trx('pipelines').where({ account_id: ctx.accountId }).first('id'));
    if (!anyPipeline) {
      await write(ctx, async (trx, audit) => {
        // Serialise first use so two agents opening the board together seed one pipeline.
        await trx.raw('select pg_advisory_xact_lock(hashtext(?))', [`onelink:default-pipeline:${ctx.accountId}`]);
        if (await trx('pipelines').where({ account_id: ctx.accountId }).first('id')) return audit.nothingChanged();
        const template = defaultPipeline(ctx.capabilities);
        const created = await insertPipeline(trx, ctx, template.name, template.stages, 0);
        await audit({ action: 'pipeline.created', resourceType: 'pipeline', resourceId: created.id, after: { name: created.name, stages: template.stages.map((s) => s.name), seeded: true } });
      });
      [pipelines, stages] = await read(ctx, load);
    }
  }
  return (pipelines as PipelineRow[]).map((p) => ({ ...p, stages: (stages as StageRow[]).filter((s) => s.pipeline_id === p.id) }));
}

export async function createPipeline(ctx: RequestContext, input: { name: string; stages: StageTemplate[] }) {
  return write(ctx, async (trx, audit) => {
    const last = await trx('pipelines').where({ account_id: ctx.accountId }).max<{ max: number | null }[]>('position as max');
    const created = await insertPipeline(trx, ctx, input.name, input.stages, (last[0]?.max ?? -1) + 1);
    await audit({ action: 'pipeline.created', resourceType: 'pipeline', resourceId: created.id, after: { name: created.name, stages: input.stages.map((s) => s.name) } });
    return created;
  });
}

export async function updatePipeline(ctx: RequestContext, pipelineId: string, input: { name?: string; archived?: boolean }) {
  return write(ctx, async (trx, audit) => {
    const before = await findPipeline(trx, ctx.accountId, pipelineId);
    if (!before) throw new NotFoundError('Pipeline');
    const changes: Record<string, unknown> = {};
    if (input.name !== undefined) changes.name = input.name;
    if (input.archived !== undefined) changes.archived_at = input.archived ? (before.archived_at ?? trx.fn.now()) : null;
    const [after] = await trx('pipelines').where({ account_id: ctx.accountId, id: pipelineId }).update({ ...changes, updated_at: trx.fn.now() }).returning(['id', 'name', 'position', 'archived_at']);
    await audit({ action: 'pipeline.updated', resourceType: 'pipeline', resourceId: pipelineId, before: { ...before }, after: { ...after } });
    return after as PipelineRow;
  });
}

export async function addStage(ctx: RequestContext, pipelineId: string, input: StageTemplate & { position?: number }) {
  return write(ctx, async (trx, audit) => {
    const pipeline = await findPipeline(trx, ctx.accountId, pipelineId);
    if (!pipeline) throw new NotFoundError('Pipeline');
    const stages: StageRow[] = await trx('stages').where({ account_id: ctx.accountId, pipeline_id: pipelineId }).whereNull('archived_at').orderBy('position').select(...stageColumns);
    const position = Math.min(input.position ?? stages.length, stages.length);
    // Make room: stages at or after the new position move down one.
    await trx('stages').where({ account_id: ctx.accountId, pipeline_id: pipelineId }).andWhere('position', '>=', position).increment('position', 1);
    const [stage] = await trx('stages')
      .insert({ account_id: ctx.accountId, pipeline_id: pipelineId, name: input.name, kind: input.kind, win_probability: input.win_probability, position })
      .returning([...stageColumns]);
    await audit({ action: 'stage.created', resourceType: 'stage', resourceId: stage.id, after: { ...stage } });
    return stage as StageRow;
  });
}

export async function updateStage(ctx: RequestContext, stageId: string, input: { name?: string; win_probability?: number; kind?: StageRow['kind']; archived?: boolean }) {
  return write(ctx, async (trx, audit) => {
    const before = await findStage(trx, ctx.accountId, stageId);
    if (!before) throw new NotFoundError('Stage');
    if (input.archived) {
      const inUse = await trx('deals').where({ account_id: ctx.accountId, stage_id: stageId }).whereNull('deleted_at').first('id');
      if (inUse) throw new ConflictError('stage_not_empty', 'Move the deals out of this stage before archiving it');
    }
    const changes: Record<string, unknown> = {};
    for (const key of ['name', 'win_probability', 'kind'] as const) if (input[key] !== undefined) changes[key] = input[key];
    if (input.archived !== undefined) changes.archived_at = input.archived ? (before.archived_at ?? trx.fn.now()) : null;
    const [after] = await trx('stages').where({ account_id: ctx.accountId, id: stageId }).update({ ...changes, updated_at: trx.fn.now() }).returning([...stageColumns]);
    await audit({ action: input.archived ? 'stage.archived' : 'stage.updated', resourceType: 'stage', resourceId: stageId, before: { ...before }, after: { ...after } });
    return after as StageRow;
  });
}

/** Sets the order of a pipeline's active stages; the list must name each of them exactly once. */
export async function reorderStages(ctx: RequestContext, pipelineId: string, stageIds: string[]) {
  return write(ctx, async (trx, audit) => {
    if (!(await findPipeline(trx, ctx.accountId, pipelineId))) throw new NotFoundError('Pipeline');
    const current: StageRow[] = await trx('stages').where({ account_id: ctx.accountId, pipeline_id: pipelineId }).whereNull('archived_at').orderBy('position').select(...stageColumns);
    const same = current.length === stageIds.length && new Set(stageIds).size === stageIds.length && current.every((s) => stageIds.includes(s.id));
    if (!same) {
      throw new InvalidFieldsError('The new order must list every active stage of this pipeline exactly once', [
        { field: 'stage_ids', message: `Expected these ids in any order: ${current.map((s) => s.id).join(', ')}`, code: 'stage_set_mismatch' },
      ]);
    }
    for (const [position, id] of stageIds.entries()) {
      await trx('stages').where({ account_id: ctx.accountId, id }).update({ position, updated_at: trx.fn.now() });
    }
    await audit({ action: 'pipeline.stages_reordered', resourceType: 'pipeline', resourceId: pipelineId, before: { order: current.map((s) => s.id) }, after: { order: stageIds } });
    return trx('stages').where({ account_id: ctx.accountId, pipeline_id: pipelineId }).whereNull('archived_at').orderBy('position').select(...stageColumns);
  });
}
