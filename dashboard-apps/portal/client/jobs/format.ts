// Dates and windows in the phone's own locale, and each stage's words and tone.
import { jt, type ClientJobsKey } from './text.ts';
import type { Stage, TimeWindow } from './types.ts';

// One formatter each, made once (a long history would otherwise build hundreds).
const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric', month: 'short' });
const dateFormat = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', year: 'numeric' });
const clockFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayClockFormat = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });

export const stageLabel = (stage: Stage) => jt(`cp.stage.${stage}` as ClientJobsKey);
export const stageSays = (stage: Stage) => jt(`cp.stageSays.${stage}` as ClientJobsKey);
export const stageTone = (stage: Stage) =>
  stage === 'done' ? 'success' : stage === 'on_the_way' || stage === 'in_progress' ? 'info' : stage === 'scheduled' ? 'warning' : 'neutral';

export const dateText = (at: string) => dateFormat.format(new Date(at));
export const clockText = (at: string) => clockFormat.format(new Date(at));
export const momentText = (at: string) => dayClockFormat.format(new Date(at));

/** "Tue 3 Dec, 08:00–12:00"; null without a start. */
export function windowText(window: TimeWindow | null): string | null {
  if (!window?.starts_at) return null;
  const from = new Date(window.starts_at);
  const day = dayFormat.format(from);
  if (!window.ends_at) return `${day}, ${clockFormat.format(from)}`;
  const to = new Date(window.ends_at);
  const sameDay = from.toDateString() === to.toDateString();
  return sameDay ? `${day}, ${clockFormat.format(from)}–${clockFormat.format(to)}` : `${day}, ${clockFormat.format(from)} – ${dayClockFormat.format(to)}`;
}
