// Who wants what: the account's settings (senders, urgent events, customer opt-in, defaults) and each
// recipient's preferences (event × channel switches, quiet hours in their time zone). A channel is
// on for an event when the recipient says so, else the account, else the catalogue's default.
import type { Knex } from 'knex';
import { catalogue, definitionOf, eventNames, type Channel, type EventName, type RecipientKind } from './catalogue.ts';

export type ChannelSwitches = Partial<Record<EventName, Partial<Record<Channel, boolean>>>>;

export interface AccountNotificationSettings {
  email_reply_to: string | null;
  sms_from: string | null;
  sms_messaging_service_sid: string | null;
  /** Events that may break through quiet hours. */
  urgent_events: EventName[];
  /** Customer (client) events the account switched on; none until it does. */
  customer_events: EventName[];
  defaults: ChannelSwitches;
  /** Local hour at which dispatchers get their daily digest. */
  digest_hour: number;
  /** The account's time zone: for people who did not set their own. */
  time_zone: string;
}

export interface RecipientPreferences {
  channels: ChannelSwitches;
  quiet_start: string | null;
  quiet_end: string | null;
  time_zone: string | null;
  digest: boolean;
}

export const builtInUrgentEvents = eventNames.filter((e) => (catalogue[e] as { urgent?: boolean }).urgent);

export const noPreferences: RecipientPreferences = { channels: {}, quiet_start: null, quiet_end: null, time_zone: null, digest: true };

export async function accountNotificationSettings(trx: Knex.Transaction, accountId: number): Promise<AccountNotificationSettings> {
  const row = (await trx('notification_settings').where({ account_id: accountId }).first()) as AccountNotificationSettings | undefined;
  if (!row) {
    return {
      email_reply_to: null,
      sms_from: null,
      sms_messaging_service_sid: null,
      urgent_events: builtInUrgentEvents,
      customer_events: [],
      defaults: {},
      digest_hour: 8,
      time_zone: 'UTC',
    };
  }
  const known = (list: string[]) => list.filter((e): e is EventName => Object.hasOwn(catalogue, e));
  return {
    email_reply_to: row.email_reply_to,
    sms_from: row.sms_from,
    sms_messaging_service_sid: row.sms_messaging_service_sid,
    urgent_events: known(row.urgent_events),
    customer_events: known(row.customer_events),
    defaults: row.defaults ?? {},
    digest_hour: row.digest_hour,
    time_zone: row.time_zone,
  };
}

/** Preferences of many recipients of one kind at once (absent: none set). */
export async function preferencesOf(trx: Knex.Transaction, accountId: number, kind: RecipientKind, ids: string[]): Promise<Map<string, RecipientPreferences>> {
  if (!ids.length) return new Map();
  const rows = (await trx('notification_preferences')
    .where({ account_id: accountId, recipient_kind: kind })
    .whereIn('recipient_id', ids)
    .select('recipient_id', 'channels', 'quiet_start', 'quiet_end', 'time_zone', 'digest')) as Array<RecipientPreferences & { recipient_id: string }>;
  return new Map(rows.map(({ recipient_id, ...prefs }) => [recipient_id, prefs]));
}

/** Whether `channel` is on for `event`: the recipient's switch, else the account's, else the catalogue's default (in-app: on). */
export function channelOn(event: EventName, channel: Channel, settings: AccountNotificationSettings, prefs: RecipientPreferences): boolean {
  const own = prefs.channels[event]?.[channel];
  if (own !== undefined) return own;
  const account = settings.defaults[event]?.[channel];
  if (account !== undefined) return account;
  if (channel === 'in_app') return true;
  return definitionOf(event).defaults[channel] ?? false;
}

const minutesOf = (time: string) => {
  const [h, m] = time.split(':').map(Number);
  return h! * 60 + m!;
};

/** Minutes since local midnight of `now` in `timeZone`. */
export function localMinutes(now: Date, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(now);
  const value = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  return value('hour') * 60 + value('minute');
}

/** The local calendar date of `now` in `timeZone`, as YYYY-MM-DD. */
export function localDate(now: Date, timeZone: string): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(now);
}

/**
 * How long to hold a message back because the recipient is in their quiet hours (0: not quiet).
 * Quiet hours may run over midnight (22:00–07:00). The wait ends at the local end of the quiet hours.
 */
export function quietDelaySeconds(now: Date, prefs: Pick<RecipientPreferences, 'quiet_start' | 'quiet_end'>, timeZone: string): number {
  if (!prefs.quiet_start || !prefs.quiet_end) return 0;
  const start = minutesOf(prefs.quiet_start);
  const end = minutesOf(prefs.quiet_end);
  if (start === end) return 0;
  const local = localMinutes(now, timeZone);
  const quiet = start < end ? local >= start && local < end : local >= start || local < end;
  if (!quiet) return 0;
  return ((end - local + 1440) % 1440) * 60 - now.getUTCSeconds();
}

/** Whether a string names a time zone this runtime knows (IANA). */
export function isTimeZone(value: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: value });
    return true;
  } catch {
    return false;
  }
}
