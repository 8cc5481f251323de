// The TwiML Onelink answers a call with, built with the twilio library: ring the account's
// people (the number's own forwarding, else the account's) for a while, then take a voicemail.
import twilio from 'twilio';

export interface CallRouting {
  forwardTo: string[];
  timeout: number;
  voicemail: boolean;
  greeting: string | null;
  transcribe: boolean;
  /** Our callback addresses for this account. */
  urls: { dial: string; voicemail: string; recording: string; transcription: string };
}

const defaultGreeting = 'Sorry, no one can take your call right now. Please leave a message after the tone, and we will call you back.';

function voicemail(response: twilio.twiml.VoiceResponse, routing: CallRouting) {
  if (!routing.voicemail) {
    response.say('Sorry, no one can take your call right now. We will call you back.');
    response.hangup();
    return;
  }
  response.say(routing.greeting ?? defaultGreeting);
  response.record({
    maxLength: routing.transcribe ? 120 : 300, // Twilio transcribes recordings of up to two minutes
    playBeep: true,
    action: routing.urls.voicemail,
    recordingStatusCallback: routing.urls.recording,
    recordingStatusCallbackEvent: ['completed'],
    ...(routing.transcribe ? { transcribe: true, transcribeCallback: routing.urls.transcription } : {}),
  });
  response.hangup();
}

/** An incoming call: ring the forwarding numbers together; Twilio asks `dial` how it went. */
export function answerCall(routing: CallRouting) {
  const response = new twilio.twiml.VoiceResponse();
  if (routing.forwardTo.length === 0) {
    voicemail(response, routing);
    return response.toString();
  }
  const dial = response.dial({ timeout: routing.timeout, action: routing.urls.dial, answerOnBridge: true });
  for (const number of routing.forwardTo) dial.number(number);
  return response.toString();
}

/** After the forwarded leg: done if someone answered, else voicemail. */
export function afterDial(routing: CallRouting, dialStatus: string | undefined) {
  const response = new twilio.twiml.VoiceResponse();
  if (dialStatus === 'completed' || dialStatus === 'answered') response.hangup();
  else voicemail(response, routing);
  return response.toString();
}

export function hangUp() {
  const response = new twilio.twiml.VoiceResponse();
  response.hangup();
  return response.toString();
}
