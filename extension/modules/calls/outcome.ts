// What a call's callbacks add up to: the facts each callback brings, the status they prove
// (see status.ts), when the outcome can no longer change, and the words Onelink uses for it —
// the call-log note in Chatwoot and the titles of the follow-ups, which say what happened.
import { displayNumber, toE164 } from '../../phones/e164.ts';
import type { JobRule, TwilioSettingsRow } from './settings.ts';
import { finalTwilioStatuses, isFinal, needsCallBack, neverAnsweredTwilioStatuses, nextStatus, type CallStatus } from './status.ts';

/** Twilio's callbacks to us, by the URL they came to (voice, dial and voicemail answer our own TwiML). */
export type CallbackEvent = 'voice' | 'dial' | 'voicemail' | 'status' | 'recording' | 'transcription';

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
  dial_seen: boolean;
  routed_by_onelink: boolean;
  final_seen_at: Date | null;
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
  threading_claimed_at: Date | null;
  threaded_at: Date | null;
  callback_created_at: Date | null;
  job_created_at: Date | null;
  summary_noted_at: Date | null;
  /** The outcome the conversation was last told. */
  outcome_noted: CallStatus | null;
  recording_noted_at: Date | null;
  transcript_noted_at: Date | null;
}

export const callerName = (call: Pick<CallRow, 'from_e164'>) => (call.from_e164 ? displayNumber(call.from_e164) : 'a withheld number');
/** A whole number Twilio sent, within an integer column's range; anything else is no fact at all. */
const whole = (raw: string | undefined) => (raw !== undefined && /^\d{1,9}$/.test(raw) ? Number(raw) : null);
/** A voicemail is a recording a <Record> verb made that has some sound in it. */
export const leftVoicemail = (c: Pick<CallRow, 'recording_source' | 'recording_duration_seconds'>) => c.recording_source === 'RecordVerb' && (c.recording_duration_seconds ?? 1) > 0;

/** When a callback happened: Twilio's own Timestamp if sent, else when we received it (a backlog may be old). */
export function callbackTime(f: Record<string, string>, receivedAt: Date) {
  const at = f.Timestamp ? new Date(f.Timestamp) : null;
  // Only a sane date: a garbled one must not become a start time (or a date Postgres refuses).
  return at && !Number.isNaN(at.getTime()) && Math.abs(at.getTime() - receivedAt.getTime()) < 7 * 24 * 3600_000 ? at : receivedAt;
}

/** When the call started, as far as this callback tells: a final status comes its duration after the start. */
export function startedAt(event: CallbackEvent, f: Record<string, string>, at: Date) {
  const duration = whole(f.CallDuration);
  return event === 'status' && duration !== null && finalTwilioStatuses.includes(f.CallStatus ?? '') ? new Date(at.getTime() - duration * 1000) : at;
}

/** What one callback adds to what is known of the call; a fact once known is never replaced. */
export function factsFrom(event: CallbackEvent, f: Record<string, string>, before: CallRow, at: Date): Partial<CallRow> {
  const start = startedAt(event, f, at);
  const next: Partial<CallRow> = {
    from_e164: before.from_e164 ?? toE164(f.From),
    to_e164: before.to_e164 ?? toE164(f.To),
    started_at: before.started_at && before.started_at < start ? before.started_at : start,
  };
  if (event === 'voice' || event === 'dial' || event === 'voicemail') next.routed_by_onelink = true;
  if (f.AnsweredBy === 'human') next.answered = true;
  if (event === 'status') {
    if (f.CallStatus === 'in-progress') next.in_progress_seen = true;
    if (finalTwilioStatuses.includes(f.CallStatus ?? '')) {
      next.twilio_final_status = before.twilio_final_status ?? f.CallStatus!;
      next.ended_at = before.ended_at ?? at;
      next.duration_seconds = before.duration_seconds ?? whole(f.CallDuration);
      next.final_seen_at = before.final_seen_at ?? new Date();
      // Twilio puts a recording on a status callback only when the whole call was recorded.
      if (f.CallStatus === 'completed' && f.RecordingSid && !before.recording_sid) {
        Object.assign(next, { recording_sid: f.RecordingSid, recording_url: f.RecordingUrl ?? null, recording_duration_seconds: whole(f.RecordingDuration) });
      }
    }
  }
  if (event === 'dial') {
    next.dial_seen = true;
    if (f.DialCallStatus === 'completed' || f.DialCallStatus === 'answered') next.answered = true;
  }
  if ((event === 'recording' || event === 'voicemail') && f.RecordingSid && (event === 'voicemail' || f.RecordingStatus === 'completed')) {
    // One recording per call: the first one heard of (another one of the same call is left alone).
    if (!before.recording_sid || before.recording_sid === f.RecordingSid) {
      next.recording_sid = f.RecordingSid;
      next.recording_source = before.recording_source ?? f.RecordingSource ?? (event === 'voicemail' ? 'RecordVerb' : null);
      next.recording_duration_seconds = whole(f.RecordingDuration) ?? before.recording_duration_seconds;
      // The voicemail action comes before the file is ready: its link is taken from the recording callback.
      if (event === 'recording') next.recording_url = f.RecordingUrl ?? before.recording_url;
    }
  }
  if (event === 'transcription' && !before.transcript) {
    next.transcript_status = f.TranscriptionStatus ?? null;
    if (f.TranscriptionStatus === 'completed') next.transcript = (f.TranscriptionText ?? '').slice(0, 20_000);
  }
  return next;
}

/** The status all facts so far prove (never lower than the one recorded before). */
export function statusOf(call: CallRow): CallStatus {
  return nextStatus(call.status, {
    twilio_final_status: call.twilio_final_status,
    answered: call.answered,
    in_progress_seen: call.in_progress_seen,
    routed_by_onelink: call.routed_by_onelink || call.dial_seen,
    voicemail: leftVoicemail(call),
    recorded: call.recording_sid !== null && !leftVoicemail(call),
  });
}

/**
 * Whether the call's outcome can no longer change: answered, a voicemail left, never answered by
 * Twilio at all (busy, no answer, hung up, failed: nothing can follow), or its final status some
 * seconds old — Twilio's callbacks come in any order, and a missed call must not be acted on
 * before a late "answered" or voicemail could arrive.
 */
export function isSettled(call: CallRow, settings: TwilioSettingsRow | undefined, now: Date, settleSeconds: number) {
  if (!isFinal(call.status)) return false;
  if (call.answered || leftVoicemail(call)) return true;
  if (neverAnsweredTwilioStatuses.includes(call.twilio_final_status ?? '')) return true;
  if (call.dial_seen && settings && !settings.voicemail_enabled) return true; // nothing more can come
  return call.final_seen_at !== null && now.getTime() - call.final_seen_at.getTime() >= settleSeconds * 1000;
}

export const minutes = (seconds: number) => (seconds >= 60 ? `${Math.floor(seconds / 60)} min ${seconds % 60} s` : `${seconds} s`);

/** The one-line call log posted to the conversation (`updated` when later facts changed the outcome told before). */
export function callSummary(call: CallRow, location: string | null, updated = false) {
  const who = call.direction === 'inbound' ? `from ${callerName(call)}` : `to ${call.to_e164 ? displayNumber(call.to_e164) : 'an unknown number'}`;
  const lasted = call.duration_seconds ? minutes(call.duration_seconds) : null;
  const outcome: Record<CallStatus, string> = {
    completed: `answered${lasted ? `, ${lasted}` : ''}`,
    missed: 'missed',
    voicemail: `missed — voicemail left${call.recording_duration_seconds ? ` (${minutes(call.recording_duration_seconds)})` : ''}`,
    busy: call.direction === 'inbound' ? 'busy line, the caller did not get through' : 'busy line',
    failed: 'failed',
    unknown: `${lasted ? `ended after ${lasted}` : 'ended'}, outcome unknown (only status callbacks were received, and they do not say whether anyone answered)`,
    recorded: `recorded${lasted ? `, ${lasted}` : ''}, outcome unknown (only status callbacks were received; listen to the recording: it may hold a conversation or a voicemail)`,
    in_progress: 'in progress',
    ringing: 'ringing',
  };
  const when = (call.started_at ?? new Date()).toISOString().slice(0, 16).replace('T', ' ');
  return `Onelink · 📞 ${call.direction === 'inbound' ? 'Call' : 'Outgoing call'} ${who}${location ? ` (${location})` : ''}${updated ? ', updated' : ''}: ${outcome[call.status]} · ${when} UTC`;
}

/**
 * The follow-ups a settled call gets, titled by what happened: only callers known not to have got
 * through (missed, busy line) or to have left a message get a call-back. An `unknown` or
 * `recorded` call gets none: nothing says the caller is waiting for one. Calls the account placed
 * get none either (their "caller" is the account itself).
 */
export function followUpsFor(call: CallRow, rule: JobRule) {
  if (call.direction !== 'inbound' || !needsCallBack(call.status)) return null;
  const caller = callerName(call);
  const what = { missed: ['missed call', `Missed call from ${caller}`], voicemail: ['voicemail', `Voicemail from ${caller}`], busy: ['busy line', `Busy line: call from ${caller}`] }[
    call.status as 'missed' | 'voicemail' | 'busy'
  ];
  // A busy line is a caller who did not get through: it counts as missed for the job rule.
  const job = rule === 'missed_or_voicemail' || (rule === 'missed' && call.status !== 'voicemail') || (rule === 'voicemail' && call.status === 'voicemail');
  return { taskTitle: `Call back ${caller} (${what[0]})`, jobSummary: job ? what[1]! : null };
}
