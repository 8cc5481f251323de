// A call's status, derived only from what Twilio's callbacks prove. Callbacks arrive late, twice
// or out of order; facts only ever accumulate (a call that was answered stays answered, a final
// status once known stays known), so deriving the status from all of them never goes backwards.
//
// What each callback can prove:
// - Our own TwiML (the number's voice URL points at Onelink, which dials the account's people and
//   then takes a voicemail): the <Dial> outcome says whether a person answered; our <Record> says
//   whether a message was left. Answered, missed and voicemail are certain.
// - A status callback alone (the call is handled elsewhere: Studio, another IVR or call centre):
//   Twilio answers every incoming call whose first verb is not <Reject>, so `completed` with a
//   duration only says the caller was connected to *something* — a menu, a person or a voicemail
//   greeting. That outcome is `unknown`. A status callback carries a recording only when the whole
//   call was recorded (Record=true on a REST call, or `record` on a <Dial>): the call is `recorded`,
//   and the recording may hold a conversation or a voicemail. `busy`, `no-answer`, `canceled` and
//   `failed` mean the call was never answered: those are certain.
// - A recording callback saying RecordingSource=RecordVerb (our voicemail, or another app's
//   <Record> pointed at our recording URL, like Studio's Record Voicemail widget) proves a message.
// - AnsweredBy=human (answering-machine detection on calls the account places) proves a person.
export const callStatuses = ['ringing', 'in_progress', 'completed', 'missed', 'voicemail', 'busy', 'failed', 'unknown', 'recorded'] as const;
export type CallStatus = (typeof callStatuses)[number];
export const callDispositions = ['booked', 'follow_up', 'quote', 'complaint', 'wrong_number', 'spam', 'other'] as const;
export type CallDisposition = (typeof callDispositions)[number];

export interface CallFacts {
  /** Twilio's final CallStatus for the caller's leg, once it ended. */
  twilio_final_status: string | null;
  /** A person picked up: our <Dial> said so, or answering-machine detection said `human`. */
  answered: boolean;
  in_progress_seen: boolean;
  /** Our TwiML handled the call (our voice, dial or voicemail URL was asked): nobody else could answer it. */
  routed_by_onelink: boolean;
  /** A voicemail was left (a recording made by a <Record> verb, with some sound in it). */
  voicemail: boolean;
  /** A recording of the call exists that is not known to be a voicemail. */
  recorded: boolean;
}

export const finalTwilioStatuses = ['completed', 'busy', 'no-answer', 'canceled', 'failed'];
/** Final statuses of a call Twilio never answered: no person, no voicemail can follow them. */
export const neverAnsweredTwilioStatuses = ['busy', 'no-answer', 'canceled', 'failed'];

export function deriveStatus(f: CallFacts): CallStatus {
  if (f.voicemail) return 'voicemail';
  switch (f.twilio_final_status) {
    case 'completed':
      if (f.answered) return 'completed';
      if (f.routed_by_onelink) return 'missed'; // our <Dial> reached nobody and no message was left
      return f.recorded ? 'recorded' : 'unknown';
    case 'busy':
      return 'busy';
    case 'failed':
      return 'failed';
    case 'no-answer':
    case 'canceled': // the caller hung up before anything answered
      return 'missed';
  }
  return f.in_progress_seen ? 'in_progress' : 'ringing';
}

/** How much a status knows: a later callback may only move a call up this scale. */
const knowledge: Record<CallStatus, number> = { ringing: 0, in_progress: 1, unknown: 2, recorded: 3, missed: 4, busy: 4, failed: 4, voicemail: 5, completed: 5 };

/** The status from all facts so far, never below the one already recorded. */
export function nextStatus(current: CallStatus, facts: CallFacts): CallStatus {
  const derived = deriveStatus(facts);
  return knowledge[derived] >= knowledge[current] ? derived : current;
}

export const isFinal = (status: CallStatus) => !['ringing', 'in_progress'].includes(status);
/** Callers someone should ring back: they did not get through (missed, busy line) or left a message. */
export const needsCallBack = (status: CallStatus) => status === 'missed' || status === 'voicemail' || status === 'busy';
