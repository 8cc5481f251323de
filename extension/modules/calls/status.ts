// A call's status, derived from the facts Twilio's callbacks bring. Callbacks arrive late, twice
// or out of order; facts only ever accumulate (a call that was answered stays answered, a final
// status once known stays known), so deriving the status from all of them never goes backwards.
export const callStatuses = ['ringing', 'in_progress', 'completed', 'missed', 'voicemail', 'busy', 'failed'] as const;
export type CallStatus = (typeof callStatuses)[number];
export const callDispositions = ['booked', 'follow_up', 'quote', 'complaint', 'wrong_number', 'spam', 'other'] as const;
export type CallDisposition = (typeof callDispositions)[number];

export interface CallFacts {
  /** Twilio's final CallStatus for the caller's leg, once it ended. */
  twilio_final_status: string | null;
  /** Someone picked up (the forwarded leg completed, or the call was in progress with a person). */
  answered: boolean;
  in_progress_seen: boolean;
  /** A voicemail was left (a recording made by our <Record>). */
  voicemail: boolean;
}

export const finalTwilioStatuses = ['completed', 'busy', 'no-answer', 'canceled', 'failed'];

export function deriveStatus(f: CallFacts): CallStatus {
  if (f.voicemail) return 'voicemail';
  switch (f.twilio_final_status) {
    case 'completed':
      return f.answered ? 'completed' : 'missed';
    case 'busy':
      return 'busy';
    case 'failed':
      return 'failed';
    case 'no-answer':
    case 'canceled':
      return 'missed';
  }
  return f.in_progress_seen ? 'in_progress' : 'ringing';
}

export const isFinal = (status: CallStatus) => !['ringing', 'in_progress'].includes(status);
/** Calls someone should ring back. */
export const needsCallBack = (status: CallStatus) => status === 'missed' || status === 'voicemail' || status === 'busy';
