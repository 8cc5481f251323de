// Processing a stored Twilio callback (retried from the queue with backoff when Chatwoot or the
// database is away; 'dead' after the last attempt, visible to admins with a replay action):
//   1. record what it says about the call (facts only accumulate; the status is derived),
//   2. once the call is settled, open its follow-ups exactly once: a call-back task for a caller
//      known not to have got through or who left a message, and a job when the account's rule
//      says so — even while Chatwoot is down,
//   3. thread the call into Chatwoot (the caller's contact and open conversation), with no
//      database transaction held while Chatwoot answers,
//   4. tell the conversation, once each: the call log, then the recording and the transcript.
// What the callbacks prove, the status, when a call is settled and the words for it live in
// extension/modules/calls/ (status.ts, outcome.ts). Each step is marked on the call in the
// transaction that does it, so a duplicate or retried callback finds it done. A delivery that can
// never be processed (Postgres refuses one of its values) is parked as failed at once.
import type { Knex } from 'knex';
import { displayNumber } from '../../extension/phones/e164.ts';
import { callerContext, type AccountRow } from '../../extension/accounts/service.ts';
import { recordAudit } from '../../extension/audit/writer.ts';
import { chatwootTargetFor, queueWriteBack } from '../../extension/chatwoot/outbox.ts';
import { withAccount, type RequestContext } from '../../extension/db/tenant.ts';
import { callbackTime, callerName, callSummary, factsFrom, followUpsFor, isSettled, minutes, startedAt, statusOf, type CallRow } from '../../extension/modules/calls/outcome.ts';
import { isFinal } from '../../extension/modules/calls/status.ts';
import { loadTwilioSettings, type TwilioSettingsRow } from '../../extension/modules/calls/settings.ts';
import { findOrCreateContact, findOrOpenConversation } from '../../extension/modules/calls/thread.ts';
import { jobReference } from '../../extension/modules/jobs/rules.ts';
import { appendJobEvent, insertJob, jobAttributes } from '../../extension/modules/jobs/service.ts';
import { insertTask } from '../../extension/modules/tasks/service.ts';
import type { UrlSigner, Sealer } from '../../extension/security/crypto.ts';
import { queues, type JobSender } from '../../extension/queue/names.ts';
import { PermanentFailure, permanentFailure } from '../permanent-failure.ts';
import type { DeliveryOutcome, DeliverySource } from '../worker.ts';
import type { TwilioEvent } from './routes.ts';

export const maxTwilioAttempts = 12;
/** How long the recording link in a Chatwoot note works (the API hands out fresh ones). */
export const noteLinkDays = 7;

export interface TwilioDeps {
  db: Knex;
  sealer: Sealer;
  urlSigner: UrlSigner;
  chatwootTimeoutMs: number;
  publicUrl: string;
  /** Schedules the settling check of a call whose outcome may still change. */
  jobs?: JobSender;
  /** How long after its final status a call without answer or voicemail is settled (default 20 s). */
  settleSeconds?: number;
}

export const defaultSettleSeconds = 20;

/** Step 1: what this callback adds to what is known of the call. */
async function recordFacts(trx: Knex.Transaction, ctx: RequestContext, event: TwilioEvent, f: Record<string, string>, receivedAt: Date): Promise<CallRow> {
  const at = callbackTime(f, receivedAt);
  await trx('calls')
    .insert({
      account_id: ctx.accountId,
      call_sid: f.CallSid,
      direction: f.Direction?.startsWith('outbound') ? 'outbound' : 'inbound',
      started_at: startedAt(event, f, at),
    })
    .onConflict(['account_id', 'call_sid'])
    .ignore();
  const before = (await trx('calls').where({ account_id: ctx.accountId, call_sid: f.CallSid }).forUpdate().first()) as CallRow;
  const next = factsFrom(event, f, before, at);
  const status = statusOf({ ...before, ...next });
  const [after] = (await trx('calls')
    .where({ account_id: ctx.accountId, id: before.id })
    .update({ ...next, status, updated_at: trx.fn.now() })
    .returning('*')) as CallRow[];
  if (status !== before.status || before.started_at === null) {
    await recordAudit(trx, ctx, { action: 'call.status_changed', resourceType: 'call', resourceId: before.id, before: { status: before.status }, after: { status, event } });
  }
  return after!;
}

/** Step 3: the caller's contact and open conversation in the account's call inbox. */
async function threadCall(deps: TwilioDeps, ctx: RequestContext, callId: string, settings: TwilioSettingsRow) {
  const { db } = deps;
  const inboxId = settings.chatwoot_inbox_id;
  // Claim the threading (one process at a time per call; a claim older than two minutes is stale).
  const [call] = (await withAccount(db, ctx.accountId, { readOnly: false }, (trx) =>
    trx('calls')
      .where({ account_id: ctx.accountId, id: callId })
      .whereNull('threaded_at')
      .where((q) => q.whereNull('threading_claimed_at').orWhere('threading_claimed_at', '<', trx.raw(`now() - interval '2 minutes'`)))
      .update({ threading_claimed_at: trx.fn.now() })
      .returning('*'),
  )) as CallRow[];
  if (!call) return;
  const release = () => withAccount(db, ctx.accountId, { readOnly: false }, (trx) => trx('calls').where({ account_id: ctx.accountId, id: callId }).update({ threading_claimed_at: null }));
  const phone = call.direction === 'inbound' ? call.from_e164 : call.to_e164;
  if (!inboxId || !phone) {
    await release(); // a withheld number, or no call inbox: the call stays in Onelink's log
    return;
  }
  try {
    // No transaction is held while Chatwoot answers.
    const { target, chatwootAccountId } = await chatwootTargetFor(db, deps.sealer, ctx.accountId, deps.chatwootTimeoutMs);
    const contactId =
      call.chatwoot_contact_id ??
      (await findOrCreateContact(target, chatwootAccountId, phone, inboxId, {
        find: async (e164) =>
          (await withAccount(db, ctx.accountId, { readOnly: true }, (trx) =>
            trx('chatwoot_contacts').where({ account_id: ctx.accountId, phone_e164: e164 }).orderBy('chatwoot_contact_id').first('chatwoot_contact_id'),
          ))?.chatwoot_contact_id as number | undefined,
        remember: async (id, e164) => {
          await withAccount(db, ctx.accountId, { readOnly: false }, (trx) =>
            trx('chatwoot_contacts').insert({ account_id: ctx.accountId, chatwoot_contact_id: id, name: displayNumber(e164), phone_e164: e164 }).onConflict(['account_id', 'chatwoot_contact_id']).ignore(),
          );
        },
      }));
    const conversationId = call.chatwoot_conversation_id ?? (await findOrOpenConversation(target, chatwootAccountId, contactId, inboxId));
    await withAccount(db, ctx.accountId, { readOnly: false }, async (trx) => {
      const fresh = (await trx('calls').where({ account_id: ctx.accountId, id: callId }).forUpdate().first()) as CallRow;
      await trx('calls')
        .where({ account_id: ctx.accountId, id: callId })
        .update({ chatwoot_contact_id: fresh.chatwoot_contact_id ?? contactId, chatwoot_conversation_id: fresh.chatwoot_conversation_id ?? conversationId, threaded_at: trx.fn.now(), updated_at: trx.fn.now() });
      // Follow-ups opened before the thread was known now point at it too.
      if (fresh.callback_task_id) {
        await trx('tasks').where({ account_id: ctx.accountId, id: fresh.callback_task_id }).whereNull('chatwoot_conversation_id').update({ chatwoot_conversation_id: conversationId, chatwoot_contact_id: trx.raw('coalesce(chatwoot_contact_id, ?)', [contactId]) });
      }
      if (fresh.job_id && fresh.job_created_at) {
        await trx('job_conversations').insert({ account_id: ctx.accountId, job_id: fresh.job_id, chatwoot_conversation_id: conversationId }).onConflict().ignore();
        await trx('jobs').where({ account_id: ctx.accountId, id: fresh.job_id }).whereNull('chatwoot_contact_id').update({ chatwoot_contact_id: contactId });
      }
      await recordAudit(trx, ctx, { action: 'call.threaded', resourceType: 'call', resourceId: callId, after: { chatwoot_contact_id: contactId, chatwoot_conversation_id: conversationId } });
    });
  } catch (err) {
    await release().catch(() => undefined);
    throw err;
  }
}

/** Step 2: the call-back task and the job, once each, as soon as the call is settled. */
async function openFollowUps(deps: TwilioDeps, ctx: RequestContext, callId: string, settings: TwilioSettingsRow | undefined, now: Date) {
  return withAccount(deps.db, ctx.accountId, { readOnly: false }, async (trx) => {
    const call = (await trx('calls').where({ account_id: ctx.accountId, id: callId }).forUpdate().first()) as CallRow;
    const settled = isSettled(call, settings, now, deps.settleSeconds ?? defaultSettleSeconds);
    if (!settled || !settings) return { call, settled };
    const audit = (entry: Parameters<typeof recordAudit>[2]) => recordAudit(trx, ctx, entry);
    const marks: Partial<CallRow> = {};
    const followUps = followUpsFor(call, settings.create_job_on);
    // Created without their usual notes: the call's own note tells the conversation, in order.
    if (followUps && !call.callback_created_at && ctx.capabilities.has('crm.tasks')) {
      const task = await insertTask(trx, ctx, audit, {
        title: followUps.taskTitle,
        priority: 'high',
        due_at: new Date(now.getTime() + settings.callback_due_minutes * 60_000),
        assignee_id: settings.callback_assignee_id,
        chatwoot_team_id: settings.callback_team_id,
        chatwoot_contact_id: call.chatwoot_contact_id,
      });
      if (call.chatwoot_conversation_id) await trx('tasks').where({ account_id: ctx.accountId, id: task.id }).update({ chatwoot_conversation_id: call.chatwoot_conversation_id });
      Object.assign(marks, { callback_task_id: task.id, callback_created_at: now });
    }
    if (followUps?.jobSummary && !call.job_created_at && ctx.capabilities.has('dispatch.jobs')) {
      const job = await insertJob(trx, ctx, audit, { summary: followUps.jobSummary, source: 'call', chatwoot_contact_id: call.chatwoot_contact_id });
      await appendJobEvent(trx, ctx, job.id, 'call_linked', { call_id: call.id, from: call.from_e164, status: call.status, started_at: call.started_at });
      if (call.chatwoot_conversation_id) {
        await trx('job_conversations').insert({ account_id: ctx.accountId, job_id: job.id, chatwoot_conversation_id: call.chatwoot_conversation_id });
      }
      const taskId = marks.callback_task_id ?? call.callback_task_id;
      if (taskId) await trx('tasks').where({ account_id: ctx.accountId, id: taskId }).update({ job_id: job.id });
      Object.assign(marks, { job_id: job.id, job_created_at: now });
    }
    if (Object.keys(marks).length) {
      await trx('calls').where({ account_id: ctx.accountId, id: callId }).update({ ...marks, updated_at: trx.fn.now() });
      await audit({ action: 'call.followed_up', resourceType: 'call', resourceId: callId, after: { ...marks } });
    }
    return { call: { ...call, ...marks }, settled };
  });
}

/** Step 4: the call log, then its recording and transcript, told to the conversation once each (the log again if its outcome changed). */
async function tellConversation(deps: TwilioDeps, ctx: RequestContext, callId: string, settled: boolean) {
  await withAccount(deps.db, ctx.accountId, { readOnly: false }, async (trx) => {
    const call = (await trx('calls').where({ account_id: ctx.accountId, id: callId }).forUpdate().first()) as CallRow;
    const conversation = call.chatwoot_conversation_id;
    if (!conversation || !settled) return;
    const caller = callerName(call);
    const marks: Partial<CallRow> = {};
    const lines: string[] = [];
    // Told again, once, when later facts changed the outcome (a voicemail reported after the call was logged, a late "answered").
    const outcomeChanged = call.summary_noted_at !== null && call.outcome_noted !== null && call.outcome_noted !== call.status;
    if (!call.summary_noted_at || outcomeChanged) {
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
    if (!lines.length) return;
    // One note per step keeps the conversation's story in order.
    const content = lines[0]!.startsWith('Onelink · ') ? lines.join('\n\n') : [`Onelink · 📞 Call from ${caller}:`, ...lines].join('\n\n');
    await queueWriteBack(trx, ctx, conversation, [{ kind: 'note', content }]);
    await trx('calls').where({ account_id: ctx.accountId, id: callId }).update({ ...marks, updated_at: trx.fn.now() });
    await recordAudit(trx, ctx, { action: 'call.noted', resourceType: 'call', resourceId: callId, after: { ...marks } });
  });
}

/** Steps 2–4 for one call; schedules a later settling check while its outcome may still change. */
async function followThrough(deps: TwilioDeps, ctx: RequestContext, callId: string, now: Date) {
  const settings = await withAccount(deps.db, ctx.accountId, { readOnly: true }, (trx) => loadTwilioSettings(trx, ctx.accountId));
  const { call, settled } = await openFollowUps(deps, ctx, callId, settings, now);
  const threads = Boolean(settings?.chatwoot_inbox_id) && ctx.capabilities.has('calls.twilio');
  if (threads && !call.threaded_at) await threadCall(deps, ctx, callId, settings!);
  if (threads || call.chatwoot_conversation_id) await tellConversation(deps, ctx, callId, settled);
  if (!settled && isFinal(call.status) && deps.jobs) {
    await deps.jobs.send(queues.twilioSettle, { accountId: ctx.accountId, callId }, { startAfter: (deps.settleSeconds ?? defaultSettleSeconds) + 1 });
  }
}

async function systemContextFor(db: Knex, accountId: number) {
  const account = (await db<AccountRow>('accounts').where({ account_id: accountId }).first())!;
  return callerContext(db, account, { type: 'system', id: 'twilio' }, ['admin'], null);
}

/** The delayed check of a call that was not settled when its last callback was processed. */
export async function settleCall(deps: TwilioDeps, accountId: number, callId: string, now = new Date()) {
  await followThrough({ ...deps, jobs: undefined }, await systemContextFor(deps.db, accountId), callId, now);
}

/** Processes one stored Twilio callback; throws when it should be retried (the queue backs off). */
export async function processTwilioDelivery(deps: TwilioDeps, deliveryId: string): Promise<'processed' | 'skipped' | 'failed' | 'dead'> {
  const { db } = deps;
  const [delivery] = (await db('webhook_deliveries')
    .where({ id: deliveryId, source: 'twilio' })
    .whereIn('status', ['received', 'retrying'])
    .update({ status: 'processing', attempts: db.raw('attempts + 1') })
    .returning(['id', 'account_id', 'event', 'body', 'attempts', 'received_at'])) as Array<{ id: string; account_id: number; event: string; body: string; attempts: number; received_at: Date }>;
  if (!delivery) return 'skipped';
  const finish = (status: string, lastError: string | null) =>
    db('webhook_deliveries').where({ id: deliveryId }).update({ status, last_error: lastError, processed_at: status === 'retrying' ? null : db.fn.now() });
  try {
    const fields = Object.fromEntries(new URLSearchParams(delivery.body));
    const event = delivery.event.replace(/^twilio\./, '') as TwilioEvent;
    if (!fields.CallSid) throw new PermanentFailure('no CallSid');
    const ctx = await systemContextFor(db, delivery.account_id);
    const call = await withAccount(db, ctx.accountId, { readOnly: false }, (trx) => recordFacts(trx, ctx, event, fields, delivery.received_at));
    await followThrough(deps, ctx, call.id, new Date());
    await finish('processed', null);
    return 'processed';
  } catch (err) {
    // What no retry can fix is parked at once, with the reason; the rest waits for its retry.
    const permanent = permanentFailure(err);
    const status = permanent ? 'failed' : delivery.attempts >= maxTwilioAttempts ? 'dead' : 'retrying';
    await finish(status, (permanent ? `permanent: ${permanent}` : String((err as Error)?.message ?? err)).slice(0, 1000));
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
      const keyOf = new Map(rows.map((r) => [r.id, r.dedupe_key.split(':')[1]!])); // dedupe keys are account:CallSid:…
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
