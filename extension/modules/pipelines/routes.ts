// HTTP routes for pipelines and their stages (the board of a pipeline is the deals module's).
import { z } from 'zod';
import { sendData } from '../../http/envelope.ts';
import { defineRoute } from '../../http/registry.ts';
import { smallInt, text } from '../../http/schemas.ts';
import { addStage, createPipeline, listPipelines, reorderStages, updatePipeline, updateStage } from './service.ts';

const stageKind = z.enum(['open', 'won', 'lost']);
const stageName = text({ min: 1, max: 100 });
const stageInput = z.object({ name: stageName, kind: stageKind.default('open'), win_probability: z.number().int().min(0).max(100).default(0) });
const pipelineParams = z.object({ pipelineId: z.uuid() });

export function pipelineRoutes() {
  return [
    defineRoute({
      method: 'get',
      path: '/pipelines',
      summary: 'Pipelines with their ordered stages (the default pipeline is created on first use)',
      tags: ['pipelines'],
      access: { permission: 'pipelines:read', capability: 'crm.pipelines' },
      query: z.object({ include_archived: z.enum(['true', 'false']).optional() }),
      handler: async ({ ctx, query, res }) => sendData(res, await listPipelines(ctx, { includeArchived: query.include_archived === 'true' })),
    }),
    defineRoute({
      method: 'post',
      path: '/pipelines',
      summary: 'Create a pipeline with its stages',
      tags: ['pipelines'],
      access: { permission: 'pipelines:manage', capability: 'crm.pipelines' },
      body: z.object({ name: stageName, stages: z.array(stageInput).min(1).max(30) }),
      handler: async ({ ctx, body, res }) => sendData(res, await createPipeline(ctx, body), {}, 201),
    }),
    defineRoute({
      method: 'patch',
      path: '/pipelines/:pipelineId',
      summary: 'Rename or archive a pipeline',
      tags: ['pipelines'],
      access: { permission: 'pipelines:manage', capability: 'crm.pipelines' },
      params: pipelineParams,
      body: z.object({ name: stageName.optional(), archived: z.boolean().optional() }),
      handler: async ({ ctx, params, body, res }) => sendData(res, await updatePipeline(ctx, params.pipelineId, body)),
    }),
    defineRoute({
      method: 'post',
      path: '/pipelines/:pipelineId/stages',
      summary: 'Add a stage (at a position, default last)',
      tags: ['pipelines'],
      access: { permission: 'pipelines:manage', capability: 'crm.pipelines' },
      params: pipelineParams,
      body: stageInput.extend({ position: smallInt(1000).optional() }),
      handler: async ({ ctx, params, body, res }) => sendData(res, await addStage(ctx, params.pipelineId, body), {}, 201),
    }),
    defineRoute({
      method: 'put',
      path: '/pipelines/:pipelineId/stage-order',
      summary: 'Reorder the active stages',
      tags: ['pipelines'],
      access: { permission: 'pipelines:manage', capability: 'crm.pipelines' },
      params: pipelineParams,
      body: z.object({ stage_ids: z.array(z.uuid()).min(1) }),
      handler: async ({ ctx, params, body, res }) => sendData(res, await reorderStages(ctx, params.pipelineId, body.stage_ids)),
    }),
    defineRoute({
      method: 'patch',
      path: '/stages/:stageId',
      summary: 'Rename a stage, change its probability or kind, or archive it (stages are never deleted)',
      tags: ['pipelines'],
      access: { permission: 'pipelines:manage', capability: 'crm.pipelines' },
      params: z.object({ stageId: z.uuid() }),
      body: z.object({ name: stageName.optional(), win_probability: z.number().int().min(0).max(100).optional(), kind: stageKind.optional(), archived: z.boolean().optional() }),
      handler: async ({ ctx, params, body, res }) => sendData(res, await updateStage(ctx, params.stageId, body)),
    }),
  ];
}
