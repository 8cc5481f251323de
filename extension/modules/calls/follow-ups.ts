// Step 2 of the calls workflow: the follow-ups of a settled call — a call-back task and, when the
// account's rule says so, a job — opened exactly once each, through the tasks and jobs modules,
// in one unit of work with the marks that say they exist.
import type { Knex } from 'knex';
import type { RequestContext } from '../../context.ts';
import { write, type Audit } from '../../db/tenant.ts';
import { appendJobEvent, insertJob, linkConversationToJob } from '../jobs/service.ts';
import { insertTask, linkTask } from '../tasks/service.ts';
import { followUpsFor, isSettled, type CallRow } from './outcome.ts';
import type { TwilioSettingsRow } from './settings.ts';

async function openJob(trx: Knex.Transaction, ctx: RequestContext, audit: Audit, call: CallRow, summary: string) {
  const job = await insertJob(trx, ctx, audit, { summary, source: 'call', chatwoot_contact_id: call.chatwoot_contact_id });
  await appendJobEvent(trx, ctx, job.id, 'call_linked', { call_id: call.id, from: call.from_e164, status: call.status, started_at: call.started_at });
  if (call.chatwoot_conversation_id) await linkConversationToJob(trx, ctx, audit, job.id, call.chatwoot_conversation_id);
  return job;
}

/** The call-back task and the job, once each, as soon as the call is settled. */
export async function openFollowUps(ctx: RequestContext, callId: string, settings: TwilioSettingsRow | undefined, now: Date, settleSeconds: number) {
  return write(ctx, async (trx, audit) => {
    const call = (await trx('calls').where({ account_id: ctx.accountId, id: callId }).forUpdate().first()) as CallRow;
    const settled = isSettled(call, settings, now, settleSeconds);
    const followUps = settled && settings ? followUpsFor(call, settings.create_job_on) : null;
    const marks: Partial<CallRow> = {};
    // The job first, so the task is opened already pointing at it.
    if (followUps?.jobSummary && !call.job_created_at && ctx.capabilities.has('dispatch.jobs')) {
      const job = await openJob(trx, ctx, audit, call, followUps.jobSummary);
      Object.assign(marks, { job_id: job.id, job_created_at: now });
      if (call.callback_task_id) await linkTask(trx, ctx, audit, call.callback_task_id, { jobId: job.id }); // a task opened before jobs were switched on
    }
    if (followUps && !call.callback_created_at && ctx.capabilities.has('crm.tasks')) {
      // Opened without its conversation (so without its usual note), which is pointed at below.
      const task = await insertTask(trx, ctx, audit, {
        title: followUps.taskTitle,
        priority: 'high',
        due_at: new Date(now.getTime() + settings!.callback_due_minutes * 60_000),
        assignee_id: settings!.callback_assignee_id,
        chatwoot_team_id: settings!.callback_team_id,
        chatwoot_contact_id: call.chatwoot_contact_id,
        job_id: marks.job_id ?? (call.job_created_at ? call.job_id : null),
      });
      if (call.chatwoot_conversation_id) await linkTask(trx, ctx, audit, task.id, { conversationId: call.chatwoot_conversation_id });
      Object.assign(marks, { callback_task_id: task.id, callback_created_at: now });
    }
    if (!Object.keys(marks).length) {
      audit.nothingChanged();
      return { call, settled };
    }
    await trx('calls').where({ account_id: ctx.accountId, id: callId }).update({ ...marks, updated_at: trx.fn.now() });
    await audit({ action: 'call.followed_up', resourceType: 'call', resourceId: callId, after: { ...marks } });
    return { call: { ...call, ...marks }, settled };
  });
}
