// The calls workflow: what Onelink does with each Twilio callback once the webhook adapter has
// verified, stored and handed it over (webhooks/twilio/process.ts):
//   1. record what it says about the call (facts only accumulate; the status is derived),
//   2. once the call is settled, open its follow-ups exactly once (follow-ups.ts): a call-back
//      task for a caller known not to have got through or who left a message, and a job when the
//      account's rule says so — even while Chatwoot is down,
//   3. thread the call into Chatwoot (thread.ts): the caller's contact and open conversation, with
//      no database transaction held while Chatwoot answers,
//   4. tell the conversation, once each (notes.ts): the call log, then the recording and the
//      transcript.
// Each step is one unit of work (write()) in a system context: it is audited or names its trail,
// it is marked on the call so a duplicate or retried callback finds it done, and once committed
// it is announced to the pages following the account (a missed call's job reaches an open
// dispatch board at once).
import type { Knex } from 'knex';
import type { RequestContext } from '../../context.ts';
import { read, systemContext, write, type Audit } from '../../db/tenant.ts';
import type { JobSender } from '../../queue/names.ts';
import { queues } from '../../queue/names.ts';
import type { Sealer, UrlSigner } from '../../security/crypto.ts';
import { openFollowUps } from './follow-ups.ts';
import { tellConversation } from './notes.ts';
import { callbackTime, factsFrom, startedAt, statusOf, type CallbackEvent, type CallRow } from './outcome.ts';
import { loadTwilioSettings } from './settings.ts';
import { isFinal } from './status.ts';
import { threadCall } from './thread.ts';

/** The actor id of everything the workflow does (audit events, tasks and jobs it creates). */
export const callsProcess = 'twilio-calls';
export const defaultSettleSeconds = 20;

export interface CallsDeps {
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

/** Step 1: what this callback adds to what is known of the call. */
async function recordFacts(trx: Knex.Transaction, ctx: RequestContext, audit: Audit, event: CallbackEvent, f: Record<string, string>, receivedAt: Date): Promise<CallRow> {
  const at = callbackTime(f, receivedAt);
  await trx('calls')
    .insert({ account_id: ctx.accountId, call_sid: f.CallSid, direction: f.Direction?.startsWith('outbound') ? 'outbound' : 'inbound', started_at: startedAt(event, f, at) })
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
    await audit({ action: 'call.status_changed', resourceType: 'call', resourceId: before.id, before: { status: before.status }, after: { status, event } });
  } else {
    // A fact that does not change the status (a duplicate "ringing", a recording's progress): the
    // call row and the stored callback are its trail.
    audit.recordedElsewhere('calls');
  }
  return after!;
}

/** Steps 2–4 for one call; schedules a later settling check while its outcome may still change. */
async function followThrough(deps: CallsDeps, ctx: RequestContext, callId: string, now: Date) {
  const settings = await read(ctx, (trx) => loadTwilioSettings(trx, ctx.accountId));
  const { call, settled } = await openFollowUps(ctx, callId, settings, now, deps.settleSeconds ?? defaultSettleSeconds);
  const threads = Boolean(settings?.chatwoot_inbox_id) && ctx.capabilities.has('calls.twilio');
  if (threads && !call.threaded_at) await threadCall(deps, ctx, callId, settings!);
  if (threads || call.chatwoot_conversation_id) await tellConversation(deps, ctx, callId, settled);
  if (!settled && isFinal(call.status) && deps.jobs) {
    await deps.jobs.send(queues.twilioSettle, { accountId: ctx.accountId, callId }, { startAfter: (deps.settleSeconds ?? defaultSettleSeconds) + 1 });
  }
}

/**
 * What the webhook hands over: one verified, stored Twilio callback of `accountId` (its event and
 * form fields, and when it reached us). Throws when it should be retried.
 */
export async function handleCallback(deps: CallsDeps, accountId: number, event: CallbackEvent, fields: Record<string, string>, receivedAt: Date) {
  const ctx = await systemContext(deps.db, accountId, callsProcess);
  const call = await write(ctx, (trx, audit) => recordFacts(trx, ctx, audit, event, fields, receivedAt));
  await followThrough(deps, ctx, call.id, new Date());
}

/** The delayed check of a call that was not settled when its last callback was processed. */
export async function settleCall(deps: CallsDeps, accountId: number, callId: string, now = new Date()) {
  await followThrough({ ...deps, jobs: undefined }, await systemContext(deps.db, accountId, callsProcess), callId, now);
}
