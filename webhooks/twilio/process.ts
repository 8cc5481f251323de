// Processing a stored Twilio callback, from the queue (retried with backoff when Chatwoot or the
// database is away; 'dead' after the last attempt, visible to admins with a replay action):
//   1. record what it says about the call (facts only accumulate; the status is derived),
//   2. thread the call into Chatwoot — the caller's contact and open conversation,
//   3. follow up exactly once each: the call log note, the recording and transcript notes, the
//      call-back task for a missed call or voicemail, and a job when the account's rule says so.
// Each follow-up is recorded on the call row in the same transaction that queues it, so a
// duplicate or retried callback finds it done.
import type { Knex } from 'knex';
import parsePhoneNumber from 'libphonenumber-js/max';
import { callerContext, type AccountRow } from '../../extension/accounts/service.ts';
import { recordAudit } from '../../extension/audit/writer.ts';
import { chatwootTargetFor, queueWriteBack } from '../../extension/chatwoot/outbox.ts';
import { withAccount, type RequestContext } from '../../extension/db/tenant.ts';
import { deriveStatus, finalTwilioStatuses, isFinal, needsCallBack, type CallStatus } from '../../extension/modules/calls/status.ts';
import { loadTwilioSettings, type TwilioSettingsRow } from '../../extension/modules/calls/settings.ts';
import { displayNumber, findOrCreateContact, findOrOpenConversation } from '../../extension/modules/calls/thread.ts';
import { jobReference } from '../../extension/modules/jobs/rules.ts';
import { appendJobEvent, insertJob } from '../../extension/modules/jobs/service.ts';
import { insertTask } from '../../extension/modules/tasks/service.ts';
import type { UrlSigner, Sealer } from '../../extension/security/crypto.ts';
import { queues } from '../../extension/queue/names.ts';
import type { DeliveryOutcome, DeliverySource } from '../worker.ts';
import type { TwilioEvent } from './routes.ts';

export const maxTwilioAttempts = 12;
/** How long the recording link in a Chatwoot note works (the API hands out fresh ones). */
export const noteLinkDays = 7;

export interface TwilioDeps { db: Knex; sealer: Sealer; urlSigner: UrlSigner; chatwootTimeoutMs: number; publicUrl: string }

export interface CallRow {
  id: string;
  call_sid: string;
  direction: 'inbound' | 'outbound';
  from_e164: string | null;
  to_e164: string | null;
  status: CallStatus;
  twilio_final_status: string | null;
  answered: boolean;
  in_progress_seen: boolean;
  started_at: Date | null;
  ended_at: Date | null;
  duration_seconds: number | null;
  recording_sid: string | null;
  recording_source: string | null;
  recording_url: string | null;
  recording_duration_seconds: number | null;
  transcript: string | null;
  transcript_status: string | null;
  chatwoot_contact_id: number | null;
  chatwoot_conversation_id: number | null;
  job_id: string | null;
  callback_task_id: string | null;
  summary_noted_at: Date | null;
  recording_noted_at: Date | null;
  transcript_noted_at: Date | null;
}

const e164 = (raw: string | undefined) => {
  if (!raw) return null;
  const parsed = parsePhoneNumber(raw);
  return parsed?.isValid() ? parsed.number : null; // 'anonymous', 'client:…' and the like are no number
};
const whole = (raw: string | undefined) => (raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : null);
/** A voicemail is a recording our <Record> made that has some sound in it. */
const leftVoicemail = (c: Pick<CallRow, 'recording_source' | 'recording_duration_seconds'>) => c.recording_source === 'RecordVerb' && (c.recording_duration_seconds ?? 1) > 0;

/** Step 1: what this callback adds to what is known of the call. */
async function recordFacts(trx: Knex.Transaction, ctx: RequestContext, event: TwilioEvent, f: Record<string, string>): Promise<CallRow> {
  const at = f.Timestamp && !Number.isNaN(Date.parse(f.Timestamp)) ? new Date(f.Timestamp) : new Date();
  await trx('calls')
    .insert({
      account_id: ctx.accountId,
      call_sid: f.CallSid,
      direction: f.Direction?.startsWith('outbound') ? 'outbound' : 'inbound',
      from_e164: e164(f.From),
      to_e164: e164(f.To),
      started_at: at,
    })
    .onConflict(['account_id', 'call_sid'])
    .ignore();
  const before = (await trx('calls').where({ account_id: ctx.accountId, call_sid: f.CallSid }).forUpdate().first()) as CallRow;
  const next: Partial<CallRow> = {
    from_e164: before.from_e164 ?? e164(f.From),
    to_e164: before.to_e164 ?? e164(f.To),
    started_at: before.started_at && before.started_at < at ? before.started_at : at,
  };
  if (event === 'status') {
    if (f.CallStatus === 'in-progress') next.in_progress_seen = true;
    if (finalTwilioStatuses.includes(f.CallStatus ?? '')) {
      next.twilio_final_status = before.twilio_final_status ?? f.CallStatus!;
      next.ended_at = before.ended_at ?? at;
      next.duration_seconds = before.duration_seconds ?? whole(f.CallDuration);
    }
  }
  if (event === 'dial' && (f.DialCallStatus === 'completed' || f.DialCallStatus === 'answered')) next.answered = true;
  if (event === 'recording' || event === 'voicemail') {
    if (f.RecordingSid && (event === 'voicemail' || f.RecordingStatus === 'completed')) {
      next.recording_sid = before.recording_sid ?? f.RecordingSid;
      next.recording_source = before.recording_source ?? f.RecordingSource ?? (event === 'voicemail' ? 'RecordVerb' : null);
      next.recording_duration_seconds = whole(f.RecordingDuration) ?? before.recording_duration_seconds;
      if (event === 'recording') next.recording_url = f.RecordingUrl ?? before.recording_url;
    }
  }
  if (event === 'transcription' && !before.transcript) {
    next.transcript_status = f.TranscriptionStatus ?? null;
    if (f.TranscriptionStatus === 'completed') next.transcript = (f.TranscriptionText ?? '').slice(0, 20_000);
  }
  const facts = { ...before, ...next };
  const status = deriveStatus({ twilio_final_status: facts.twilio_final_status, answered: facts.answered, in_progress_seen: facts.in_progress_seen, voicemail: leftVoicemail(facts) });
  const [after] = (await trx('calls')
    .where({ account_id: ctx.accountId, id: before.id })
    .update({ ...next, status, updated_at: trx.fn.now() })
    .returning('*')) as CallRow[];
  if (status !== before.status || before.started_at === null) {
    await recordAudit(trx, ctx, { action: 'call.status_changed', resourceType: 'call', resourceId: before.id, before: { status: before.status }, after: { status, event } });
  }
  return after!;
}

/** Step 2: the caller's contact and open conversation in the account's call inbox. */
async function threadCall(deps: TwilioDeps, ctx: RequestContext, call: CallRow, settings: TwilioSettingsRow) {
  if (call.chatwoot_conversation_id || !settings.chatwoot_inbox_id) return;
  const phone = call.direction === 'inbound' ? call.from_e164 : call.to_e164;
  if (!phone) return; // a withheld number cannot be threaded; the call stays in Onelink's log
  const { target, chatwootAccountId } = await chatwootTargetFor(deps.db, deps.sealer, ctx.accountId, deps.chatwootTimeoutMs);
  await withAccount(deps.db, ctx.accountId, { readOnly: false }, async (trx) => {
    // One caller at a time per number: two callbacks of one call (or two calls from one number)
    // must not both create the contact or the conversation.
    await trx.raw('select pg_advisory_xact_lock(hashtext(?))', [`onelink:call-thread:${ctx.accountId}:${phone}`]);
    const fresh = (await trx('calls').where({ account_id: ctx.accountId, id: call.id }).first('chatwoot_contact_id', 'chatwoot_conversation_id')) as CallRow;
    if (fresh.chatwoot_conversation_id) return;
    const contactId = fresh.chatwoot_contact_id ?? (await findOrCreateContact(trx, target, { accountId: ctx.accountId, chatwootAccountId }, phone, settings.chatwoot_inbox_id!));
    const conversationId = await findOrOpenConversation(target, chatwootAccountId, contactId, settings.chatwoot_inbox_id!);
    await trx('calls').where({ account_id: ctx.accountId, id: call.id }).update({ chatwoot_contact_id: contactId, chatwoot_conversation_id: conversationId, updated_at: trx.fn.now() });
    await recordAudit(trx, ctx, { action: 'call.threaded', resourceType: 'call', resourceId: call.id, after: { chatwoot_contact_id: contactId, chatwoot_conversation_id: conversationId } });
  });
}

const minutes = (seconds: number) => (seconds >= 60 ? `${Math.floor(seconds / 60)} min ${seconds % 60} s` : `${seconds} s`);

export function callSummary(call: CallRow, location: string | null) {
  const who = call.direction === 'inbound' ? `from ${call.from_e164 ? displayNumber(call.from_e164) : 'a withheld number'}` : `to ${call.to_e164 ? displayNumber(call.to_e164) : 'an unknown number'}`;
  const outcome: Record<CallStatus, string> = {
    completed: `answered${call.duration_seconds ? `, ${minutes(call.duration_seconds)}` : ''}`,
    missed: 'missed',
    voicemail: `missed — voicemail left${call.recording_duration_seconds ? ` (${minutes(call.recording_duration_seconds)})` : ''}`,
    busy: 'busy',
    failed: 'failed',
    in_progress: 'in progress',
    ringing: 'ringing',
  };
  const when = (call.started_at ?? new Date()).toISOString().slice(0, 16).replace('T', ' ');
  return `Onelink · 📞 ${call.direction === 'inbound' ? 'Call' : 'Outgoing call'} ${who}${location ? ` (${location})` : ''}: ${outcome[call.status]} · ${when} UTC`;
}

/** Step 3: each follow-up once, recorded on the call in the transaction that queues it. */
async function followUp(deps: TwilioDeps, ctx: RequestContext, callId: string, settings: TwilioSettingsRow | undefined) {
  await withAccount(deps.db, ctx.accountId, { readOnly: false }, async (trx) => {
    const call = (await trx('calls').where({ account_id: ctx.accountId, id: callId }).forUpdate().first()) as CallRow;
    if (!isFinal(call.status)) return;
    const audit = (entry: Parameters<typeof recordAudit>[2]) => recordAudit(trx, ctx, entry);
    const marks: Partial<CallRow> = {};
    const conversation = call.chatwoot_conversation_id;
    const location = call.to_e164 ? ((await trx('twilio_numbers').where({ account_id: ctx.accountId, e164: call.to_e164 }).first('location'))?.location ?? null) : null;
    const caller = call.from_e164 ? displayNumber(call.from_e164) : 'a withheld number';

    // The task and the job are told to the conversation in the call's own note (one note, in
    // order), so they are created without their usual notes and linked afterwards.
    const extras: string[] = [];
    if (needsCallBack(call.status) && !call.callback_task_id && ctx.capabilities.has('crm.tasks') && settings) {
      const task = await insertTask(trx, ctx, audit, {
        title: `Call back ${caller} (${call.status === 'voicemail' ? 'voicemail' : 'missed call'})`,
        priority: 'high',
        due_at: new Date(Date.now() + settings.callback_due_minutes * 60_000),
        assignee_id: settings.callback_assignee_id,
        chatwoot_team_id: settings.callback_team_id,
        chatwoot_contact_id: call.chatwoot_contact_id,
      });
      await trx('tasks').where({ account_id: ctx.accountId, id: task.id }).update({ chatwoot_conversation_id: conversation });
      marks.callback_task_id = task.id;
      extras.push(`call-back task due ${(task.due_at as Date).toISOString().slice(11, 16)} UTC`);
    }
    const rule = settings?.create_job_on ?? 'never';
    const wantsJob = (rule === 'missed' && call.status === 'missed') || (rule === 'voicemail' && call.status === 'voicemail') || (rule === 'missed_or_voicemail' && needsCallBack(call.status));
    if (wantsJob && !call.job_id && ctx.capabilities.has('dispatch.jobs')) {
      const job = await insertJob(trx, ctx, audit, {
        summary: `${call.status === 'voicemail' ? 'Voicemail' : 'Missed call'} from ${caller}`,
        source: 'call',
        chatwoot_contact_id: call.chatwoot_contact_id,
      });
      if (conversation) {
        await trx('job_conversations').insert({ account_id: ctx.accountId, job_id: job.id, chatwoot_conversation_id: conversation });
        await queueWriteBack(trx, ctx, conversation, [{ kind: 'attributes', attributes: { onelink_job: jobReference(job.number), onelink_job_status: job.status } }]);
      }
      marks.job_id = job.id;
      await appendJobEvent(trx, ctx, job.id, 'call_linked', { call_id: call.id, from: call.from_e164, status: call.status, started_at: call.started_at });
      const taskId = marks.callback_task_id ?? call.callback_task_id;
      if (taskId) await trx('tasks').where({ account_id: ctx.accountId, id: taskId }).update({ job_id: job.id });
      extras.push(`job ${jobReference(job.number)} opened`);
    }

    if (conversation) {
      const lines: string[] = [];
      if (!call.summary_noted_at) {
        lines.push(`${callSummary(call, location)}${extras.length ? ` → ${extras.join(', ')}` : ''}`);
        marks.summary_noted_at = new Date();
      }
      const summarised = Boolean(call.summary_noted_at || marks.summary_noted_at);
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
      // One note per follow-up keeps the conversation's story in order.
      if (lines.length) {
        const content = lines[0]!.startsWith('Onelink · ') ? lines.join('\n\n') : [`Onelink · 📞 Call from ${caller}:`, ...lines].join('\n\n');
        await queueWriteBack(trx, ctx, conversation, [{ kind: 'note', content }]);
      }
    }
    if (Object.keys(marks).length) {
      await trx('calls').where({ account_id: ctx.accountId, id: callId }).update({ ...marks, updated_at: trx.fn.now() });
      await audit({ action: 'call.followed_up', resourceType: 'call', resourceId: callId, after: { ...marks } });
    }
  });
}

export class UnprocessableCallback extends Error {}

/** Processes one stored Twilio callback; throws when it should be retried (the queue backs off). */
export async function processTwilioDelivery(deps: TwilioDeps, deliveryId: string): Promise<'processed' | 'skipped' | 'failed' | 'dead'> {
  const { db } = deps;
  const [delivery] = (await db('webhook_deliveries')
    .where({ id: deliveryId, source: 'twilio' })
    .whereIn('status', ['received', 'retrying'])
    .update({ status: 'processing', attempts: db.raw('attempts + 1') })
    .returning(['id', 'account_id', 'event', 'body', 'attempts'])) as Array<{ id: string; account_id: number; event: string; body: string; attempts: number }>;
  if (!delivery) return 'skipped';
  const finish = (status: string, lastError: string | null) =>
    db('webhook_deliveries').where({ id: deliveryId }).update({ status, last_error: lastError, processed_at: status === 'retrying' ? null : db.fn.now() });
  try {
    const fields = Object.fromEntries(new URLSearchParams(delivery.body));
    const event = delivery.event.replace(/^twilio\./, '') as TwilioEvent;
    if (!fields.CallSid) throw new UnprocessableCallback('no CallSid');
    const account = (await db<AccountRow>('accounts').where({ account_id: delivery.account_id }).first())!;
    const ctx = callerContext(db, account, { type: 'system', id: 'twilio' }, ['admin'], null);
    const { call, settings } = await withAccount(db, ctx.accountId, { readOnly: false }, async (trx) => ({
      call: await recordFacts(trx, ctx, event, fields),
      settings: await loadTwilioSettings(trx, ctx.accountId),
    }));
    if (settings && ctx.capabilities.has('calls.twilio')) await threadCall(deps, ctx, call, settings);
    await followUp(deps, ctx, call.id, settings);
    await finish('processed', null);
    return 'processed';
  } catch (err) {
    const permanent = err instanceof UnprocessableCallback;
    const status = permanent ? 'failed' : delivery.attempts >= maxTwilioAttempts ? 'dead' : 'retrying';
    await finish(status, (err as Error).message.slice(0, 1000));
    if (status === 'retrying') throw err;
    return status;
  }
}

/**
 * Twilio callbacks, for the delivery worker. One call's callbacks are processed one at a time,
 * in the order they arrived; different calls go side by side (a few at once: the web side
 * shares the connection pool).
 */
export function twilioDeliverySource(deps: TwilioDeps, parallelCalls = 4): DeliverySource {
  return {
    source: 'twilio',
    retryQueue: queues.twilioEvent,
    async process(ids) {
      const outcomes = new Map<string, DeliveryOutcome>();
      const rows: Array<{ id: string; dedupe_key: string }> = await deps.db('webhook_deliveries').whereIn('id', ids).select('id', 'dedupe_key');
      const keyOf = new Map(rows.map((r) => [r.id, r.dedupe_key.split(':')[0]!])); // dedupe keys start with the CallSid
      const byCall = new Map<string, string[]>();
      for (const id of ids) byCall.set(keyOf.get(id) ?? id, [...(byCall.get(keyOf.get(id) ?? id) ?? []), id]);
      const calls = [...byCall.values()];
      const lane = async () => {
        for (let next = calls.shift(); next; next = calls.shift()) {
          for (const id of next) outcomes.set(id, await processTwilioDelivery(deps, id).catch(() => 'retry' as const));
        }
      };
      await Promise.all(Array.from({ length: parallelCalls }, lane));
      return outcomes;
    },
  };
}
