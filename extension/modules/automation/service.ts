// Automation rules per pipeline, configured by admins:
//   deal_entered_stage (stage X) → create_job (from a template) | create_task
//   job_completed (a job linked to a deal of this pipeline) → move_deal (to stage Y) | create_task
// Rules run inside the transaction of the change that triggers them, so they happen exactly
// when it does. Each rule acts at most once per deal or job (automation_runs), so a deal
// bouncing in and out of a stage creates no duplicate jobs. Their changes are audited with the
// actor `system` / `automation:<rule id>`.
import { raiseNotificationEvents, raisesNotifications } from '../../notifications/raise.ts';
import type { Knex } from 'knex';
import { recordAudit, type AuditEntry } from '../../audit/writer.ts';
import type { RequestContext } from '../../context.ts';
import { actingAsSystem, read, write, type Audit } from '../../db/tenant.ts';
import { NotFoundError, invalidField } from '../../errors.ts';
import { moveDealInTransaction, onDealEnteredStage, type DealRow } from '../deals/service.ts';
import { dealReference } from '../deals/rules.ts';
import { insertJob, onJobCompleted, type JobRow } from '../jobs/service.ts';
import { jobReference, type JobPriority } from '../jobs/rules.ts';
import { insertTask } from '../tasks/service.ts';

export const automationTriggers = ['deal_entered_stage', 'job_completed'] as const;
export type AutomationTrigger = (typeof automationTriggers)[number];
export const automationActions = ['create_job', 'move_deal', 'create_task'] as const;
export type AutomationAction = (typeof automationActions)[number];

export interface CreateJobConfig { summary: string; priority?: JobPriority; service_category?: string; checklist_template_id?: string }
export interface MoveDealConfig { stage_id: string }
export interface CreateTaskConfig { title: string; due_in_minutes?: number }
export type RuleConfig = CreateJobConfig | MoveDealConfig | CreateTaskConfig;

/** Which actions each trigger can drive. */
export const actionsFor: Record<AutomationTrigger, readonly AutomationAction[]> = {
  deal_entered_stage: ['create_job', 'create_task'],
  job_completed: ['move_deal', 'create_task'],
};

interface RuleRow {
  id: string;
  name: string;
  pipeline_id: string;
  trigger: AutomationTrigger;
  stage_id: string | null;
  action: AutomationAction;
  config: RuleConfig;
  active: boolean;
}

const ruleColumns = ['id', 'name', 'pipeline_id', 'trigger', 'stage_id', 'action', 'config', 'active', 'created_by_type', 'created_by_id', 'created_at', 'updated_at'];

/** `{deal_title}`, `{deal_reference}`, `{job_summary}`, `{job_reference}` in a template. */
function render(template: string, values: Record<string, string>) {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => values[key] ?? whole).slice(0, 300);
}

/** Claims the (rule, subject) pair; false when the rule already acted on this subject. */
async function claim(trx: Knex.Transaction, accountId: number, ruleId: string, subjectId: string) {
  const rows = await trx('automation_runs').insert({ account_id: accountId, rule_id: ruleId, subject_id: subjectId }).onConflict().ignore().returning('rule_id');
  return rows.length > 0;
}

/** The rule's own context: same account and capabilities, acting as the system, audited with the rule id. */
// It runs inside the unit of work of the change that triggered it (that write commits and announces
// it); its audit events name the rule. Like every system context it holds no role and no permission.
function asRule(trx: Knex.Transaction, ctx: RequestContext, rule: RuleRow) {
  const system = actingAsSystem(ctx, `automation:${rule.id}`);
  const audit: Audit = Object.assign(
    async (entry: AuditEntry) => {
      const recorded = { ...entry, after: { ...(entry.after ?? {}), automation_rule_id: rule.id } };
      await recordAudit(trx, system, recorded);
      // Its notifications are raised here, in the rule's savepoint, so a rule that fails raises none.
      if (raisesNotifications(entry.action)) await raiseNotificationEvents(trx, ctx.accountId, system.actor, [recorded]);
    },
    // The triggering change is audited already, so the rule's own "nothing to say" needs no mark.
    { nothingChanged: () => undefined, recordedElsewhere: () => undefined, bookkeeping: () => undefined },
  );
  return { system, audit };
}

/**
 * Runs one rule's action in a savepoint. A rule that can no longer act (its template was retired,
 * its target stage archived) must not block the person moving the deal or closing the job: the
 * run is recorded with the error and the change goes through.
 */
async function act(trx: Knex.Transaction, accountId: number, rule: RuleRow, subjectId: string, action: (trx: Knex.Transaction) => Promise<void>) {
  try {
    await trx.transaction((savepoint) => action(savepoint));
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    await recordResult(trx, accountId, rule, subjectId, 'error', reason.slice(0, 500));
  }
}

async function recordResult(trx: Knex.Transaction, accountId: number, rule: RuleRow, subjectId: string, type: string | null, id: string | null) {
  await trx('automation_runs').where({ account_id: accountId, rule_id: rule.id, subject_id: subjectId }).update({ result_type: type, result_id: id });
}

async function onStageEntered(trx: Knex.Transaction, ctx: RequestContext, deal: DealRow) {
  const rules = (await trx('automation_rules')
    .where({ account_id: ctx.accountId, pipeline_id: deal.pipeline_id, trigger: 'deal_entered_stage', stage_id: deal.stage_id, active: true })
    .orderBy('created_at')
    .select(ruleColumns)) as RuleRow[];
  for (const rule of rules) {
    if (!(await claim(trx, ctx.accountId, rule.id, deal.id))) continue;
    const values = { deal_title: String(deal.title), deal_reference: dealReference(Number(deal.number)) };
    await act(trx, ctx.accountId, rule, deal.id, async (sp) => {
      const { system, audit } = asRule(sp, ctx, rule);
      if (rule.action === 'create_job' && ctx.capabilities.has('dispatch.jobs')) {
        const config = rule.config as CreateJobConfig;
        const job = await insertJob(sp, system, audit, {
          summary: render(config.summary, values),
          priority: config.priority,
          service_category: config.service_category ?? null,
          checklist_template_id: config.checklist_template_id ?? null,
          source: 'pipeline',
          chatwoot_contact_id: (deal.chatwoot_contact_id as number | null) ?? null,
          conversation_ids: deal.chatwoot_conversation_id ? [deal.chatwoot_conversation_id as number] : [],
          deal_ids: [deal.id],
        });
        await recordResult(sp, ctx.accountId, rule, deal.id, 'job', job.id);
      } else if (rule.action === 'create_task' && ctx.capabilities.has('crm.tasks')) {
        const config = rule.config as CreateTaskConfig;
        const task = await insertTask(sp, system, audit, {
          title: render(config.title, values),
          deal_id: deal.id,
          assignee_id: (deal.owner_id as string | null) ?? null,
          chatwoot_contact_id: (deal.chatwoot_contact_id as number | null) ?? null,
          chatwoot_conversation_id: (deal.chatwoot_conversation_id as number | null) ?? null,
          due_at: config.due_in_minutes ? new Date(Date.now() + config.due_in_minutes * 60_000) : null,
        });
        await recordResult(sp, ctx.accountId, rule, deal.id, 'task', task.id);
      } else {
        await recordResult(sp, ctx.accountId, rule, deal.id, 'skipped', 'capability off');
      }
    });
  }
}

async function onCompleted(trx: Knex.Transaction, ctx: RequestContext, job: JobRow) {
  const deals: Array<{ id: string; pipeline_id: string; owner_id: string | null; title: string; number: number; chatwoot_contact_id: number | null; chatwoot_conversation_id: number | null }> =
    await trx('job_deals')
      .join('deals', (j) => j.on('deals.account_id', 'job_deals.account_id').andOn('deals.id', 'job_deals.deal_id'))
      .where({ 'job_deals.account_id': ctx.accountId, 'job_deals.job_id': job.id })
      .whereNull('deals.deleted_at')
      .select('deals.id', 'deals.pipeline_id', 'deals.owner_id', 'deals.title', 'deals.number', 'deals.chatwoot_contact_id', 'deals.chatwoot_conversation_id');
  if (!deals.length) return;
  const rules = (await trx('automation_rules')
    .where({ account_id: ctx.accountId, trigger: 'job_completed', active: true })
    .whereIn('pipeline_id', [...new Set(deals.map((d) => d.pipeline_id))])
    .orderBy('created_at')
    .select(ruleColumns)) as RuleRow[];
  for (const rule of rules) {
    if (!(await claim(trx, ctx.accountId, rule.id, job.id))) continue;
    const ruleDeals = deals.filter((d) => d.pipeline_id === rule.pipeline_id);
    await act(trx, ctx.accountId, rule, job.id, async (sp) => {
      const { system, audit } = asRule(sp, ctx, rule);
      if (rule.action === 'move_deal') {
        const moved: string[] = [];
        for (const deal of ruleDeals) {
          if (await moveDealInTransaction(sp, system, audit, deal.id, (rule.config as MoveDealConfig).stage_id)) moved.push(deal.id);
        }
        await recordResult(sp, ctx.accountId, rule, job.id, 'deals', moved.join(',') || null);
      } else if (rule.action === 'create_task' && ctx.capabilities.has('crm.tasks')) {
        const config = rule.config as CreateTaskConfig;
        const deal = ruleDeals[0]!;
        const task = await insertTask(sp, system, audit, {
          title: render(config.title, { deal_title: deal.title, deal_reference: dealReference(deal.number), job_summary: String(job.summary), job_reference: jobReference(job.number) }),
          deal_id: deal.id,
          job_id: job.id,
          assignee_id: deal.owner_id,
          chatwoot_contact_id: job.chatwoot_contact_id ?? deal.chatwoot_contact_id,
          chatwoot_conversation_id: deal.chatwoot_conversation_id,
          due_at: config.due_in_minutes ? new Date(Date.now() + config.due_in_minutes * 60_000) : null,
        });
        await recordResult(sp, ctx.accountId, rule, job.id, 'task', task.id);
      } else {
        await recordResult(sp, ctx.accountId, rule, job.id, 'skipped', 'capability off');
      }
    });
  }
}

let registered = false;
/** Subscribes the rules to deal and job changes; called once when the app is built. */
export function registerAutomation() {
  if (registered) return;
  registered = true;
  onDealEnteredStage(onStageEntered);
  onJobCompleted(onCompleted);
}

// --- Administration of rules ---

export interface RuleInput {
  name: string;
  pipeline_id: string;
  trigger: AutomationTrigger;
  stage_id?: string | null;
  action: AutomationAction;
  config: RuleConfig;
  active?: boolean;
}

async function checkRule(trx: Knex.Transaction, accountId: number, input: RuleInput) {
  const issue = (field: string, message: string, code: string) => invalidField(field, message, code);
  if (!actionsFor[input.trigger].includes(input.action)) {
    throw issue('action', `${input.trigger} rules can ${actionsFor[input.trigger].join(' or ')}`, 'action_not_allowed');
  }
  const pipeline = await trx('pipelines').where({ account_id: accountId, id: input.pipeline_id }).first('id');
  if (!pipeline) throw issue('pipeline_id', 'No such pipeline in this account', 'unknown_pipeline');
  const stageOfPipeline = async (stageId: string | null | undefined) =>
    Boolean(stageId && (await trx('stages').where({ account_id: accountId, id: stageId, pipeline_id: input.pipeline_id }).whereNull('archived_at').first('id')));
  if (input.trigger === 'deal_entered_stage' && !(await stageOfPipeline(input.stage_id))) throw issue('stage_id', 'Name a stage of this pipeline', 'unknown_stage');
  if (input.trigger !== 'deal_entered_stage' && input.stage_id) throw issue('stage_id', 'Only deal_entered_stage rules name a stage', 'unexpected_stage');
  if (input.action === 'move_deal' && !(await stageOfPipeline((input.config as MoveDealConfig).stage_id))) {
    throw issue('config.stage_id', 'Name a stage of this pipeline', 'unknown_stage');
  }
  const templateId = input.action === 'create_job' ? (input.config as CreateJobConfig).checklist_template_id : undefined;
  if (templateId && !(await trx('checklist_templates').where({ account_id: accountId, id: templateId, active: true }).first('id'))) {
    throw issue('config.checklist_template_id', 'No such active checklist template', 'unknown_template');
  }
}

export async function createRule(ctx: RequestContext, input: RuleInput) {
  return write(ctx, async (trx, audit) => {
    await checkRule(trx, ctx.accountId, input);
    const [rule] = await trx('automation_rules')
      .insert({ ...input, stage_id: input.stage_id ?? null, account_id: ctx.accountId, created_by_type: ctx.actor.type, created_by_id: ctx.actor.id })
      .returning(ruleColumns);
    await audit({ action: 'automation_rule.created', resourceType: 'automation_rule', resourceId: rule.id, after: { ...rule } });
    return rule;
  });
}

export async function listRules(ctx: RequestContext, pipelineId?: string) {
  return read(ctx, (trx) => {
    const q = trx('automation_rules').where({ account_id: ctx.accountId }).orderBy('created_at').select(ruleColumns);
    if (pipelineId) q.where({ pipeline_id: pipelineId });
    return q;
  });
}

export async function updateRule(
  ctx: RequestContext,
  ruleId: string,
  input: Partial<Pick<RuleInput, 'name' | 'active' | 'stage_id'>> & { config?: unknown },
  parseConfig: (action: AutomationAction, config: unknown) => RuleConfig,
) {
  return write(ctx, async (trx, audit) => {
    const before = (await trx('automation_rules').where({ account_id: ctx.accountId, id: ruleId }).forUpdate().first(ruleColumns)) as RuleRow | undefined;
    if (!before) throw new NotFoundError('Automation rule');
    const { config, ...rest } = input;
    const patch = { ...rest, ...(config === undefined ? {} : { config: parseConfig(before.action, config) }) };
    const merged = { ...before, ...patch };
    await checkRule(trx, ctx.accountId, merged);
    const [after] = await trx('automation_rules').where({ account_id: ctx.accountId, id: ruleId }).update({ ...patch, updated_at: trx.fn.now() }).returning(ruleColumns);
    await audit({ action: 'automation_rule.updated', resourceType: 'automation_rule', resourceId: ruleId, before: { ...before }, after: { ...after } });
    return after;
  });
}

export async function deleteRule(ctx: RequestContext, ruleId: string) {
  return write(ctx, async (trx, audit) => {
    const [before] = await trx('automation_rules').where({ account_id: ctx.accountId, id: ruleId }).delete().returning(ruleColumns);
    if (!before) throw new NotFoundError('Automation rule');
    await audit({ action: 'automation_rule.deleted', resourceType: 'automation_rule', resourceId: ruleId, before: { ...before } });
    return { id: ruleId, deleted: true };
  });
}
