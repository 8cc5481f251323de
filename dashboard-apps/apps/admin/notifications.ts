// What the admin's notification panels share: the account's settings as the API answers them, and
// the channel and status vocabulary.
import type { RequestBody } from '../../lib/api.ts';

/** What PUT /admin/notifications/settings takes (the event names are the server's). */
export type SettingsBody = RequestBody<'/api/v1/admin/notifications/settings', 'put'>;
export type DeliveryChannel = 'email' | 'sms' | 'push' | 'chatwoot';
export const deliveryChannels: DeliveryChannel[] = ['email', 'sms', 'push', 'chatwoot'];
export type DeliveryStatus = 'held' | 'pending' | 'sent' | 'delivered' | 'failed' | 'skipped' | 'opted_out';
export const deliveryStatuses: DeliveryStatus[] = ['held', 'pending', 'sent', 'delivered', 'failed', 'skipped', 'opted_out'];
export type Audience = 'staff' | 'vendor' | 'client';
export type Channel = 'in_app' | DeliveryChannel;
/** The channels each audience hears on, in the order they are shown (the server's list). */
export const audienceChannels: Record<Audience, Channel[]> = {
  staff: ['in_app', 'email'],
  vendor: ['in_app', 'push', 'sms', 'email'],
  client: ['in_app', 'chatwoot', 'push', 'sms', 'email'],
};
/** `{ event: { channel: on } }`: the account's own defaults (an event or channel left out keeps the built-in one). */
export type ChannelSwitches = Record<string, Partial<Record<Channel, boolean>>>;

export interface NotificationSettings {
  email_reply_to: string | null;
  sms_from: string | null;
  sms_messaging_service_sid: string | null;
  urgent_events: string[];
  customer_events: string[];
  digest_hour: number;
  time_zone: string;
  channels: Record<DeliveryChannel, { available: boolean; reason: string | null }>;
  defaults: ChannelSwitches;
  /** The catalogue: `defaults` are the built-in channel switches (in the app: on unless said otherwise). */
  events: Array<{ event: string; audience: Audience; describe: string; defaults?: Partial<Record<DeliveryChannel, boolean>> }>;
}

/** An event's built-in switch for a channel: in the app on, the others as the catalogue says (else off). */
export const builtInDefault = (event: NotificationSettings['events'][number], channel: Channel) => (channel === 'in_app' ? true : (event.defaults?.[channel] ?? false));

/** The switches on screen as the account's defaults: only where they differ from the built-in ones. */
export function defaultsToSave(events: NotificationSettings['events'], switches: Record<string, Partial<Record<Channel, boolean>>>): ChannelSwitches {
  const out: ChannelSwitches = {};
  for (const e of events) {
    for (const channel of audienceChannels[e.audience]) {
      const on = switches[e.event]?.[channel];
      if (on !== undefined && on !== builtInDefault(e, channel)) (out[e.event] ??= {})[channel] = on;
    }
  }
  return out;
}

export const statusTone = (status: DeliveryStatus) =>
  (({ held: 'neutral', pending: 'info', sent: 'success', delivered: 'success', failed: 'danger', skipped: 'warning', opted_out: 'neutral' }) as const)[status];

export const timeZones = () => (typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : []).map((zone) => ({ value: zone, label: zone.replaceAll('_', ' ') }));
