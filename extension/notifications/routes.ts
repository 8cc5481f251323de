// Notifications over HTTP: the signed-in person's bell and preferences (staff in the dashboard apps,
// vendors and clients in their portals), and the admin's settings, customer templates and delivery log.
import { z } from 'zod';
import { sendData } from '../http/envelope.ts';
import { pageQuery } from '../http/pagination.ts';
import { defineRoute } from '../http/registry.ts';
import { text } from '../http/schemas.ts';
import type { Services } from '../services.ts';
import { deliveryChannels, eventNames } from './catalogue.ts';
import { isTimeZone } from './preferences.ts';
import { customerEvents } from './templates.ts';
import {
  countUnread,
  getAccountSettings,
  getMyPreferences,
  listDeliveries,
  listNotifications,
  listTemplates,
  markAllRead,
  markRead,
  previewTemplate,
  resendDelivery,
  resetTemplate,
  saveTemplate,
  updateAccountSettings,
  updateMyPreferences,
} from './service.ts';

const eventName = z.enum(eventNames as [string, ...string[]]);
const channelSwitches = z.record(z.string().max(64), z.record(z.string().max(16), z.boolean())).describe('{ event: { channel: on } }');
const clock = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be a time of day as HH:MM');
const timeZone = z.string().max(64).refine(isTimeZone, 'must be an IANA time zone such as Europe/Berlin');
const locale = z.string().regex(/^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})*$/, 'must be a locale such as en or pt_BR');
const e164 = z.string().regex(/^\+[1-9]\d{6,14}$/, 'must be a phone number in E.164 form, e.g. +15551234567');

export function notificationRoutes(services: Services) {
  const senders = () => services.notifications.senders;
  return [
    defineRoute({
      method: 'get',
      path: '/notifications',
      summary: 'My notifications, newest first (meta.unread: how many are unread)',
      tags: ['notifications'],
      access: { permission: 'notifications:read', capability: null },
      query: pageQuery.extend({ unread: z.enum(['true', 'false']).optional().describe('true: only unread ones') }),
      handler: async ({ ctx, query, res }) => {
        const page = await listNotifications(ctx, { limit: query.limit, cursor: query.cursor, unread: query.unread === 'true' });
        sendData(res, page.items, { next_cursor: page.nextCursor, unread: page.unread });
      },
    }),
    defineRoute({
      method: 'get',
      path: '/notifications/unread-count',
      summary: 'How many of my notifications are unread (the bell)',
      tags: ['notifications'],
      access: { permission: 'notifications:read', capability: null },
      handler: async ({ ctx, res }) => sendData(res, { unread: await countUnread(ctx) }),
    }),
    defineRoute({
      method: 'post',
      path: '/notifications/read-all',
      summary: 'Mark all my notifications read',
      tags: ['notifications'],
      access: { permission: 'notifications:read', capability: null },
      handler: async ({ ctx, res }) => sendData(res, await markAllRead(ctx)),
    }),
    defineRoute({
      method: 'post',
      path: '/notifications/:notificationId/read',
      summary: 'Mark one of my notifications read',
      tags: ['notifications'],
      access: { permission: 'notifications:read', capability: null },
      params: z.object({ notificationId: z.uuid() }),
      handler: async ({ ctx, params, res }) => sendData(res, await markRead(ctx, params.notificationId)),
    }),
    defineRoute({
      method: 'get',
      path: '/notifications/preferences',
      summary: 'My notification preferences: event × channel, quiet hours, time zone, digest',
      tags: ['notifications'],
      access: { permission: 'notifications:read', capability: null },
      handler: async ({ ctx, res }) => sendData(res, await getMyPreferences(ctx)),
    }),
    defineRoute({
      method: 'put',
      path: '/notifications/preferences',
      summary: 'Change my notification preferences (switches given are merged into the ones I had)',
      tags: ['notifications'],
      access: { permission: 'notifications:read', capability: null },
      body: z.object({
        channels: channelSwitches.optional(),
        quiet_start: clock.nullable().optional(),
        quiet_end: clock.nullable().optional(),
        time_zone: timeZone.nullable().optional(),
        digest: z.boolean().optional(),
      }),
      handler: async ({ ctx, body, res }) => sendData(res, await updateMyPreferences(ctx, body)),
    }),
    defineRoute({
      method: 'get',
      path: '/admin/notifications/settings',
      summary: "The account's notification settings, and whether each channel can send",
      tags: ['notifications'],
      access: { permission: 'admin:notifications', capability: null },
      handler: async ({ ctx, res }) => sendData(res, await getAccountSettings(ctx, senders())),
    }),
    defineRoute({
      method: 'put',
      path: '/admin/notifications/settings',
      summary: "Change the account's notification settings",
      tags: ['notifications'],
      access: { permission: 'admin:notifications', capability: null },
      body: z.object({
        email_reply_to: z.email().max(320).nullable().optional(),
        sms_from: e164.nullable().optional(),
        sms_messaging_service_sid: z.string().regex(/^MG[0-9a-f]{32}$/, 'must be a Messaging Service SID (MG followed by 32 hex digits)').nullable().optional(),
        urgent_events: z.array(eventName).max(eventNames.length).optional(),
        customer_events: z.array(z.enum(customerEvents as [string, ...string[]])).max(customerEvents.length).optional(),
        defaults: channelSwitches.optional(),
        digest_hour: z.number().int().min(0).max(23).optional(),
        time_zone: timeZone.optional(),
      }),
      handler: async ({ ctx, body, res }) => sendData(res, await updateAccountSettings(ctx, body as Parameters<typeof updateAccountSettings>[1], senders())),
    }),
    defineRoute({
      method: 'get',
      path: '/admin/notifications/templates',
      summary: 'Customer message templates, with their previews on a sample job',
      tags: ['notifications'],
      access: { permission: 'admin:notifications', capability: null },
      handler: async ({ ctx, res }) => sendData(res, await listTemplates(ctx)),
    }),
    defineRoute({
      method: 'put',
      path: '/admin/notifications/templates/:event',
      summary: "Save the account's own text for a customer message (in its language unless a locale is given)",
      tags: ['notifications'],
      access: { permission: 'admin:notifications', capability: null },
      params: z.object({ event: z.string().max(64) }),
      body: z.object({ body: text({ min: 1, max: 1000 }), locale: locale.optional() }),
      handler: async ({ ctx, params, body, res }) => sendData(res, await saveTemplate(ctx, params.event, body)),
    }),
    defineRoute({
      method: 'delete',
      path: '/admin/notifications/templates/:event',
      summary: 'Reset a customer message to the built-in text',
      tags: ['notifications'],
      access: { permission: 'admin:notifications', capability: null },
      params: z.object({ event: z.string().max(64) }),
      query: z.object({ locale: locale.optional() }),
      handler: async ({ ctx, params, query, res }) => sendData(res, await resetTemplate(ctx, params.event, query.locale)),
    }),
    defineRoute({
      method: 'post',
      path: '/admin/notifications/templates/:event/preview',
      summary: 'Preview a customer message text on a sample job',
      tags: ['notifications'],
      access: { permission: 'admin:notifications', capability: null },
      params: z.object({ event: z.string().max(64) }),
      body: z.object({ body: text({ min: 1, max: 1000 }).optional() }),
      handler: async ({ params, body, res }) => sendData(res, previewTemplate(params.event, body.body)),
    }),
    defineRoute({
      method: 'get',
      path: '/admin/notifications/deliveries',
      summary: 'The delivery log, newest first (filter by channel, status, event, recipient)',
      tags: ['notifications'],
      access: { permission: 'admin:notifications', capability: null },
      query: pageQuery.extend({
        channel: z.enum(deliveryChannels).optional(),
        status: z.enum(['held', 'pending', 'sent', 'delivered', 'failed', 'skipped', 'opted_out']).optional(),
        event: eventName.optional(),
        recipient: text({ min: 1, max: 200 }).optional().describe('A name, address or recipient id'),
      }),
      handler: async ({ ctx, query, res }) => {
        const page = await listDeliveries(ctx, query as Parameters<typeof listDeliveries>[1]);
        sendData(res, page.items, { next_cursor: page.nextCursor });
      },
    }),
    defineRoute({
      method: 'post',
      path: '/admin/notifications/deliveries/:deliveryId/resend',
      summary: 'Send one delivery again (a new delivery in the log, naming the original)',
      tags: ['notifications'],
      access: { permission: 'admin:notifications', capability: null },
      params: z.object({ deliveryId: z.uuid() }),
      handler: async ({ ctx, params, res }) => sendData(res, await resendDelivery(ctx, params.deliveryId), {}, 201),
    }),
  ];
}

