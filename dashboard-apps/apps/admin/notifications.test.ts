import { describe, expect, it } from 'vitest';
import { builtInDefault, defaultsToSave, type NotificationSettings } from './notifications.ts';

const events: NotificationSettings['events'] = [
  { event: 'staff.job_assigned_to_me', audience: 'staff', describe: 'A job was put in my hands', defaults: { email: true } },
  { event: 'vendor.job_offered', audience: 'vendor', describe: 'A job was offered to us', defaults: { push: true, sms: true } },
  { event: 'client.visit_scheduled', audience: 'client', describe: 'A visit was scheduled', defaults: { sms: true } },
];

describe("the account's default channels", () => {
  it('starts from the built-in switches: in the app on, the others as the catalogue says', () => {
    expect(builtInDefault(events[0]!, 'in_app')).toBe(true);
    expect(builtInDefault(events[0]!, 'email')).toBe(true);
    expect(builtInDefault(events[1]!, 'email')).toBe(false);
    expect(builtInDefault(events[2]!, 'chatwoot')).toBe(false);
    expect(builtInDefault(events[2]!, 'sms')).toBe(true);
  });

  it('saves only what differs from the built-in switches, and only channels the audience hears on', () => {
    expect(defaultsToSave(events, {})).toEqual({});
    expect(
      defaultsToSave(events, {
        'staff.job_assigned_to_me': { in_app: true, email: false, sms: true },
        'vendor.job_offered': { in_app: false, push: true, sms: true, email: true },
        'client.visit_scheduled': { in_app: true, chatwoot: true, push: false, sms: true, email: false },
        'unknown.event': { email: true },
      }),
    ).toEqual({
      'staff.job_assigned_to_me': { email: false },
      'vendor.job_offered': { in_app: false, email: true },
      'client.visit_scheduled': { chatwoot: true },
    });
  });
});
