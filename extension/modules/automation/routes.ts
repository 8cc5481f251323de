// HTTP routes for automation rules (admins).
import { z } from 'zod';
import { sendData } from '../../http/envelope.ts';
import { defineRoute } from '../../http/registry.ts';
import { jobPriorities } from '../jobs/rules.ts';
import { invalid } from '../../http/errors.ts';
import { jsonbRecord, text } from '../../http/schemas.ts';
import { automationTriggers, createRule, deleteRule, listRules, updateRule, type AutomationAction, type RuleConfig } from './service.ts';

const createJobConfig = z.object({
  summary: text({ min: 1, max: 300 }).describe('May use {deal_title} and {deal_reference}'),
  priority: z.enum(jobPriorities).optional(),
  service_category: text({ min: 1, max: 100 }).toLowerCase().optional(),
  checklist_template_id: z.uuid().optional(),
});
const moveDealConfig = z.object({ stage_id: z.uuid() });
const createTaskConfig = z.object({
  title: text({ min: 1, max: 300 }).describe('May use {deal_title}, {deal_reference}, {job_summary}, {job_reference}'),
  due_in_minutes: z.number().int().min(1).max(525_600).optional(),
});
const ruleParams = z.object({ ruleId: z.uuid() });
const configSchemas = { create_job: createJobConfig, move_deal: moveDealConfig, create_task: createTaskConfig } as const;

/** A new config checked against the shape of the rule's own action (422 naming the fields otherwise). */
function parseConfig(action: AutomationAction, config: unknown): RuleConfig {
  const parsed = configSchemas[action].safeParse(config);
  if (!parsed.success) {
    throw invalid(
      `That config does not fit a ${action} rule`,
      parsed.error.issues.map((issue) => ({ path: ['body', 'config', ...issue.path.map(String)].join('.'), message: issue.message, code: issue.code })),
    );
  }
  return parsed.data;
}

const ruleBody = z.discriminatedUnion('action', [
  z.object({ action: z.literal('create_job'), config: createJobConfig }),
  z.object({ action: z.literal('move_deal'), config: moveDealConfig }),
  z.object({ action: z.literal('create_task'), config: createTaskConfig }),
]);

export function automationRoutes() {
  const manage = { permission: 'admin:automation', capability: 'crm.pipelines' } as const;
  return [
    defineRoute({
      method: 'get',
      path: '/automation-rules',
      summary: 'Automation rules, optionally of one pipeline',
      tags: ['automation'],
      access: manage,
      query: z.object({ pipeline_id: z.uuid().optional() }),
      handler: async ({ ctx, query, res }) => sendData(res, await listRules(ctx, query.pipeline_id)),
    }),
    defineRoute({
      method: 'post',
      path: '/automation-rules',
      summary: 'Create a rule: deal_entered_stage → create_job | create_task; job_completed → move_deal | create_task',
      tags: ['automation'],
      access: manage,
      body: z.intersection(
        z.object({
          name: text({ min: 1, max: 200 }),
          pipeline_id: z.uuid(),
          trigger: z.enum(automationTriggers),
          stage_id: z.uuid().nullable().optional(),
          active: z.boolean().optional(),
        }),
        ruleBody,
      ),
      handler: async ({ ctx, body, res }) => sendData(res, await createRule(ctx, body), {}, 201),
    }),
    defineRoute({
      method: 'patch',
      path: '/automation-rules/:ruleId',
      summary: 'Rename, reconfigure, pause or resume a rule',
      tags: ['automation'],
      access: manage,
      params: ruleParams,
      body: z.object({
        name: text({ min: 1, max: 200 }).optional(),
        stage_id: z.uuid().nullable().optional(),
        active: z.boolean().optional(),
        config: jsonbRecord.optional().describe('The whole new config, in the shape the rule’s action takes'),
      }),
      handler: async ({ ctx, params, body, res }) => sendData(res, await updateRule(ctx, params.ruleId, body, (action, config) => parseConfig(action, config))),
    }),
    defineRoute({
      method: 'delete',
      path: '/automation-rules/:ruleId',
      summary: 'Delete a rule (what it already did stays)',
      tags: ['automation'],
      access: manage,
      params: ruleParams,
      handler: async ({ ctx, params, res }) => sendData(res, await deleteRule(ctx, params.ruleId)),
    }),
  ];
}
