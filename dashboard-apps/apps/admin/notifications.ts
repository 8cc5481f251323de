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

export interface NotificationSettings {
  email_reply_to: string | null;
  sms_from: string | null;
  sms_messaging_service_sid: string | null;
  urgent_events: string[];
  customer_events: string[];
  digest_hour: number;
  time_zone: string;
  channels: Record<DeliveryChannel, { available: boolean; reason: string | null }>;
  events: Array<{ event: string; audience: Audience; describe: string }>;
}

export const statusTone = (status: DeliveryStatus) =>
  (({ held: 'neutral', pending: 'info', sent: 'success', delivered: 'success', failed: 'danger', skipped: 'warning', opted_out: 'neutral' }) as const)[status];

export const timeZones = () => (typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : []).map((zone) => ({ value: zone, label: zone.replaceAll('_', ' ') }));
