// Step 4 of the calls workflow: what the call's Chatwoot conversation is told, once each — the
// call log (again, once, if later facts changed its outcome), then the recording and the
// transcript as they arrive. Notes go through the write-back outbox in the same unit of work as
// the marks that say they were queued.
import { queueWriteBack } from '../../chatwoot/outbox-queue.ts';
import type { RequestContext } from '../../context.ts';
import { write } from '../../db/tenant.ts';
import type { UrlSigner } from '../../security/crypto.ts';
import { jobReference } from '../jobs/rules.ts';
import { jobAttributes } from '../jobs/service.ts';
import { callerName, callSummary, minutes, type CallRow } from './outcome.ts';

/** How long the recording link in a Chatwoot note works (the API hands out fresh ones). */
export const noteLinkDays = 7;

/** The call log, then its recording and transcript, told to the conversation once each. */
export async function tellConversation(deps: { publicUrl: string; urlSigner: UrlSigner }, ctx: RequestContext, callId: string, settled: boolean) {
  await write(ctx, async (trx, audit) => {
    const call = (await trx('calls').where({ account_id: ctx.accountId, id: callId }).forUpdate().first()) as CallRow;
    const conversation = call.chatwoot_conversation_id;
    const marks: Partial<CallRow> = {};
    const lines: string[] = [];
    // Told again, once, when later facts changed the outcome (a voicemail reported after the call was logged, a late "answered").
    const outcomeChanged = call.summary_noted_at !== null && call.outcome_noted !== null && call.outcome_noted !== call.status;
    if (conversation && settled && (!call.summary_noted_at || outcomeChanged)) {
      const location = call.to_e164 ? ((await trx('twilio_numbers').where({ account_id: ctx.accountId, e164: call.to_e164 }).first('location'))?.location ?? null) : null;
      const extras: string[] = [];
      const task = call.callback_created_at && call.callback_task_id ? await trx('tasks').where({ account_id: ctx.accountId, id: call.callback_task_id }).first('due_at') : null;
      if (task?.due_at) extras.push(`call-back task due ${(task.due_at as Date).toISOString().slice(11, 16)} UTC`);
      const job = call.job_created_at && call.job_id ? await trx('jobs').where({ account_id: ctx.accountId, id: call.job_id }).first('number', 'status') : null;
      if (job) {
        extras.push(`job ${jobReference(job.number)} opened`);
        await queueWriteBack(trx, ctx, conversation, [jobAttributes(job)]);
      }
      lines.push(`${callSummary(call, location, outcomeChanged)}${extras.length ? ` → ${extras.join(', ')}` : ''}`);
      Object.assign(marks, { summary_noted_at: new Date(), outcome_noted: call.status });
    }
    const summarised = Boolean(conversation && settled && (call.summary_noted_at || marks.summary_noted_at));
    if (summarised && call.recording_url && !call.recording_noted_at) {
      const expires = new Date(Date.now() + noteLinkDays * 24 * 3600_000);
      const link = `${deps.publicUrl}/api/v1/calls/recording?token=${deps.urlSigner.sign({ a: ctx.accountId, c: call.id }, expires)}`;
      lines.push(`🎙 ${call.status === 'voicemail' ? 'Voicemail' : 'Recording'}${call.recording_duration_seconds ? ` (${minutes(call.recording_duration_seconds)})` : ''}: ${link} (this link works for ${noteLinkDays} days)`);
      marks.recording_noted_at = new Date();
    }
    if (summarised && call.transcript && !call.transcript_noted_at) {
      lines.push(`📝 Transcript: “${call.transcript}”`);
      marks.transcript_noted_at = new Date();
    }
    if (!lines.length) {
      audit.nothingChanged();
      return;
    }
    // One note per step keeps the conversation's story in order.
    const content = lines[0]!.startsWith('Onelink · ') ? lines.join('\n\n') : [`Onelink · 📞 Call from ${callerName(call)}:`, ...lines].join('\n\n');
    await queueWriteBack(trx, ctx, conversation, [{ kind: 'note', content }]);
    await trx('calls').where({ account_id: ctx.accountId, id: callId }).update({ ...marks, updated_at: trx.fn.now() });
    await audit({ action: 'call.noted', resourceType: 'call', resourceId: callId, after: { ...marks } });
  });
}
