// What people do with notifications: read their bell, mark items read, set their preferences;
// what admins do: account settings, customer templates, the delivery log and resending one delivery.
import type { Knex } from 'knex';
import type { RequestContext } from '../context.ts';
import { read, write } from '../db/tenant.ts';
import { ConflictError, ForbiddenByRuleError, InvalidFieldsError, NotFoundError } from '../errors.ts';
import { paginate } from '../http/pagination.ts';
import { catalogue, channels, deliveryChannels, eventNames, type Audience, type Channel, type DeliveryChannel, type EventName, type RecipientKind } from './catalogue.ts';
import type { ChannelSenders } from './channels/types.ts';
import { ownDoing, tookJobFrom } from './recipients.ts';
import { accountNotificationSettings, noPreferences, preferencesOf, type AccountNotificationSettings, type ChannelSwitches, type RecipientPreferences } from './preferences.ts';
import { wakeChannel } from './raise.ts';
import { customerEvents, defaultTemplates, fillTemplate, sampleValues, templateFor, unknownVariables } from './templates.ts';

/** The recipient a signed-in person is: a staff user, a vendor (portal), a client contact (portal). */
export function recipientOf(ctx: RequestContext): { kind: RecipientKind; id: string; audience: Audience } {
  if (ctx.actor.type === 'user') return { kind: 'user', id: ctx.actor.id, audience: 'staff' };
  if (ctx.actor.type === 'portal_user' && ctx.vendorId) return { kind: 'vendor', id: ctx.vendorId, audience: 'vendor' };
  if (ctx.actor.type === 'portal_user' && ctx.contactId !== undefined) return { kind: 'contact', id: String(ctx.contactId), audience: 'client' };
  throw new ForbiddenByRuleError('not_a_person', 'Notifications are for people: a service token has none');
}

const inboxColumns = ['id', 'event', 'title', 'body', 'resource_type', 'resource_id', 'urgent', 'created_at', 'read_at'] as const;

/**
 * A recipient's notifications as this caller may see them. A vendor's notifications are the
 * vendor's: its owners see them all, a technician only those about the jobs given to them.
 */
function mine(trx: Knex.Transaction, ctx: RequestContext, me: { kind: RecipientKind; id: string }) {
  const query = trx('notifications').where({ account_id: ctx.accountId, recipient_kind: me.kind, recipient_id: me.id });
  // Nobody hears of their own doing: a vendor's news reaches the vendor's people, less the one who
  // did it (an owner who gave a job to a technician).
  if (me.kind === 'vendor') query.whereNotExists(ownDoing(trx, ctx.accountId, trx.raw('notifications.event_id'), trx.raw('?', [ctx.actor.id])));
  if (me.kind === 'vendor' && ctx.vendorRole === 'technician') {
    query.where('resource_type', 'job').where((q) =>
      q
        .whereExists(trx('jobs as j').where('j.account_id', ctx.accountId).whereRaw('j.id::text = notifications.resource_id').where('j.technician_id', ctx.actor.id))
        // …and the news of a job taken from them (its event names them as the technician before).
        .orWhereExists(tookJobFrom(trx, ctx.accountId, trx.raw('notifications.event_id'), trx.raw('?', [ctx.actor.id]))),
    );
  }
  return query;
}

export async function listNotifications(ctx: RequestContext, page: { limit: number; cursor?: string; unread?: boolean }) {
  const me = recipientOf(ctx);
  return read(ctx, async (trx) => {
    const query = mine(trx, ctx, me).select([...inboxColumns]);
    if (page.unread) query.whereNull('read_at');
    const result = await paginate(query, { keys: { created_at: 'timestamptz', id: 'uuid' }, direction: 'desc', limit: page.limit, cursor: page.cursor });
    return { ...result, unread: await unreadCount(trx, ctx, me) };
  });
}

async function unreadCount(trx: Knex.Transaction, ctx: RequestContext, me: { kind: RecipientKind; id: string }) {
  const row = (await mine(trx, ctx, me).whereNull('read_at').count({ n: '*' }).first()) as { n: string };
  return Number(row.n);
}

export async function countUnread(ctx: RequestContext) {
  const me = recipientOf(ctx);
  return read(ctx, (trx) => unreadCount(trx, ctx, me));
}

// Reading is one's own bookkeeping: not audited, and not announced to the whole account.
export async function markRead(ctx: RequestContext, notificationId: string) {
  const me = recipientOf(ctx);
  return write(ctx, async (trx, audit) => {
    audit.bookkeeping('notifications');
    const [row] = await mine(trx, ctx, me)
      .where({ id: notificationId })
      .update({ read_at: trx.raw('coalesce(read_at, now())') })
      .returning([...inboxColumns]);
    if (!row) throw new NotFoundError('Notification');
    return { notification: row, unread: await unreadCount(trx, ctx, me) };
  });
}

export async function markAllRead(ctx: RequestContext) {
  const me = recipientOf(ctx);
  return write(ctx, async (trx, audit) => {
    audit.bookkeeping('notifications');
    const marked = await mine(trx, ctx, me).whereNull('read_at').update({ read_at: trx.fn.now() });
    return { marked, unread: 0 };
  });
}

/** The events an audience hears, with the channels it can use. */
function eventsFor(audience: Audience) {
  return eventNames.filter((e) => catalogue[e].audience === audience);
}

export const audienceChannelList: Record<Audience, Channel[]> = {
  staff: ['in_app', 'email'],
  vendor: ['in_app', 'push', 'sms', 'email'],
  client: ['in_app', 'chatwoot', 'push', 'sms', 'email'],
};

function presentPreferences(audience: Audience, settings: AccountNotificationSettings, prefs: RecipientPreferences) {
  return {
    events: eventsFor(audience)
      .filter((event) => audience !== 'client' || settings.customer_events.includes(event))
      .map((event) => ({
        event,
        describe: catalogue[event].describe,
        urgent: settings.urgent_events.includes(event),
        channels: Object.fromEntries(
          audienceChannelList[audience].map((channel) => [
            channel,
            prefs.channels[event]?.[channel] ?? settings.defaults[event]?.[channel] ?? (channel === 'in_app' ? true : ((catalogue[event].defaults as Partial<Record<Channel, boolean>>)[channel] ?? false)),
          ]),
        ),
      })),
    quiet_start: prefs.quiet_start?.slice(0, 5) ?? null,
    quiet_end: prefs.quiet_end?.slice(0, 5) ?? null,
    time_zone: prefs.time_zone,
    account_time_zone: settings.time_zone,
    digest: prefs.digest,
    digest_available: audience === 'staff',
  };
}

export async function getMyPreferences(ctx: RequestContext) {
  const me = recipientOf(ctx);
  return read(ctx, async (trx) => {
    const settings = await accountNotificationSettings(trx, ctx.accountId);
    const prefs = (await preferencesOf(trx, ctx.accountId, me.kind, [me.id])).get(me.id) ?? noPreferences;
    return presentPreferences(me.audience, settings, prefs);
  });
}

export interface PreferencesInput {
  channels?: ChannelSwitches;
  quiet_start?: string | null;
  quiet_end?: string | null;
  time_zone?: string | null;
  digest?: boolean;
}

function checkSwitches(switches: ChannelSwitches, allowedEvents: readonly EventName[], allowedChannels: readonly Channel[], field: string) {
  const problems: Array<{ field: string; message: string; code: string }> = [];
  for (const [event, byChannel] of Object.entries(switches)) {
    if (!allowedEvents.includes(event as EventName)) {
      problems.push({ field: `${field}.${event}`, message: 'is not an event you can be notified of', code: 'unknown_event' });
      continue;
    }
    for (const channel of Object.keys(byChannel ?? {})) {
      if (!allowedChannels.includes(channel as Channel)) problems.push({ field: `${field}.${event}.${channel}`, message: `is not a channel for this event (one of ${allowedChannels.join(', ')})`, code: 'unknown_channel' });
    }
  }
  if (problems.length) throw new InvalidFieldsError('Some switches name an unknown event or channel', problems);
}

export async function updateMyPreferences(ctx: RequestContext, input: PreferencesInput) {
  const me = recipientOf(ctx);
  // A vendor's preferences are the vendor's: its owners set them for everyone on the team.
  if (ctx.vendorRole === 'technician') throw new ForbiddenByRuleError('vendor_owners_only', "Your vendor's owner sets its notification preferences");
  if (input.channels) checkSwitches(input.channels, eventsFor(me.audience), audienceChannelList[me.audience], 'channels');
  return write(ctx, async (trx, audit) => {
    const before = (await preferencesOf(trx, ctx.accountId, me.kind, [me.id])).get(me.id) ?? noPreferences;
    const merged: ChannelSwitches = { ...before.channels };
    for (const [event, byChannel] of Object.entries(input.channels ?? {})) merged[event as EventName] = { ...merged[event as EventName], ...byChannel };
    const quietGiven = input.quiet_start !== undefined || input.quiet_end !== undefined;
    const quiet_start = quietGiven ? (input.quiet_start ?? null) : before.quiet_start;
    const quiet_end = quietGiven ? (input.quiet_end ?? null) : before.quiet_end;
    if ((quiet_start === null) !== (quiet_end === null)) {
      throw new InvalidFieldsError('Quiet hours need a start and an end', [{ field: quiet_start ? 'quiet_end' : 'quiet_start', message: 'is required with the other end of the quiet hours', code: 'required' }]);
    }
    const after = {
      channels: merged,
      quiet_start,
      quiet_end,
      time_zone: input.time_zone !== undefined ? input.time_zone : before.time_zone,
      digest: input.digest ?? before.digest,
    };
    await trx('notification_preferences')
      .insert({ account_id: ctx.accountId, recipient_kind: me.kind, recipient_id: me.id, ...after, channels: JSON.stringify(after.channels), updated_at: trx.fn.now() })
      .onConflict(['account_id', 'recipient_kind', 'recipient_id'])
      .merge();
    await audit({ action: 'notification.preferences_updated', resourceType: 'notification_preferences', resourceId: `${me.kind}:${me.id}`, before: { ...before }, after: { ...after } });
    const settings = await accountNotificationSettings(trx, ctx.accountId);
    return presentPreferences(me.audience, settings, { ...after, quiet_start: after.quiet_start, quiet_end: after.quiet_end });
  });
}

// Admin: account settings.

async function channelStatus(ctx: RequestContext, senders: ChannelSenders | undefined) {
  const status: Record<string, { available: boolean; reason: string | null }> = {};
  for (const channel of deliveryChannels) {
    const reason = senders ? await senders[channel].unavailable(ctx.db, ctx.accountId) : 'not running in this process';
    status[channel] = { available: reason === null, reason };
  }
  return status;
}

export async function getAccountSettings(ctx: RequestContext, senders: ChannelSenders | undefined) {
  const settings = await read(ctx, (trx) => accountNotificationSettings(trx, ctx.accountId));
  return {
    ...settings,
    channels: await channelStatus(ctx, senders),
    events: eventNames.map((event) => ({ event, audience: catalogue[event].audience, describe: catalogue[event].describe, defaults: catalogue[event].defaults })),
  };
}

export type AccountSettingsInput = Partial<Omit<AccountNotificationSettings, 'defaults'>> & { defaults?: ChannelSwitches };

export async function updateAccountSettings(ctx: RequestContext, input: AccountSettingsInput, senders: ChannelSenders | undefined) {
  if (input.defaults) checkSwitches(input.defaults, eventNames, channels, 'defaults');
  const problems = [
    ...(input.urgent_events ?? []).filter((e) => !eventNames.includes(e)).map((e) => ({ field: 'urgent_events', message: `${e} is not an event`, code: 'unknown_event' })),
    ...(input.customer_events ?? []).filter((e) => !customerEvents.includes(e)).map((e) => ({ field: 'customer_events', message: `${e} is not a customer event`, code: 'unknown_event' })),
  ];
  if (problems.length) throw new InvalidFieldsError('Some events are unknown', problems);
  await write(ctx, async (trx, audit) => {
    const before = await accountNotificationSettings(trx, ctx.accountId);
    const after = { ...before, ...input };
    await trx('notification_settings')
      .insert({
        account_id: ctx.accountId,
        ...after,
        defaults: JSON.stringify(after.defaults),
        updated_at: trx.fn.now(),
      })
      .onConflict(['account_id'])
      .merge();
    await audit({ action: 'notification.settings_updated', resourceType: 'notification_settings', resourceId: ctx.accountId, before: { ...before }, after: { ...after } });
  });
  return getAccountSettings(ctx, senders);
}

// Admin: customer templates.

export async function listTemplates(ctx: RequestContext) {
  return read(ctx, async (trx) => {
    const account = await trx('accounts').where({ account_id: ctx.accountId }).first('chatwoot_locale', 'name');
    const locale = (account?.chatwoot_locale as string | null) ?? 'en';
    const settings = await accountNotificationSettings(trx, ctx.accountId);
    const items = [];
    for (const event of customerEvents) {
      const current = await templateFor(trx, ctx.accountId, event, locale);
      items.push({
        event,
        describe: catalogue[event].describe,
        enabled: settings.customer_events.includes(event),
        locale: current.custom ? current.locale : locale,
        body: current.body,
        custom: current.custom,
        default_body: defaultTemplates[event] ?? '',
        preview: fillTemplate(current.body, { ...sampleValues, account_name: account?.name ?? sampleValues.account_name }),
      });
    }
    return { locale, items };
  });
}

function customerEvent(event: string): EventName {
  if (!customerEvents.includes(event as EventName)) throw new NotFoundError('Customer message template');
  return event as EventName;
}

function checkVariables(body: string) {
  const unknown = unknownVariables(body);
  if (unknown.length) {
    throw new InvalidFieldsError('The text uses variables that do not exist', [{ field: 'body', message: `unknown variable${unknown.length > 1 ? 's' : ''}: ${unknown.map((v) => `{${v}}`).join(', ')}`, code: 'unknown_variable' }]);
  }
}

export async function saveTemplate(ctx: RequestContext, eventName: string, input: { body: string; locale?: string }) {
  const event = customerEvent(eventName);
  checkVariables(input.body);
  return write(ctx, async (trx, audit) => {
    const locale = input.locale ?? ((await trx('accounts').where({ account_id: ctx.accountId }).first('chatwoot_locale'))?.chatwoot_locale as string | null) ?? 'en';
    const before = await trx('notification_templates').where({ account_id: ctx.accountId, event, locale }).first('body');
    await trx('notification_templates').insert({ account_id: ctx.accountId, event, locale, body: input.body, updated_at: trx.fn.now() }).onConflict(['account_id', 'event', 'locale']).merge();
    await audit({ action: 'notification.template_saved', resourceType: 'notification_template', resourceId: `${event}:${locale}`, before: before ? { body: before.body } : null, after: { body: input.body } });
    return { event, locale, body: input.body, custom: true, preview: fillTemplate(input.body, sampleValues) };
  });
}

export async function resetTemplate(ctx: RequestContext, eventName: string, locale: string | undefined) {
  const event = customerEvent(eventName);
  return write(ctx, async (trx, audit) => {
    const query = trx('notification_templates').where({ account_id: ctx.accountId, event });
    if (locale) query.where({ locale });
    const removed = await query.delete().returning(['locale', 'body']);
    if (!removed.length) audit.nothingChanged();
    else await audit({ action: 'notification.template_reset', resourceType: 'notification_template', resourceId: event, before: { texts: removed } });
    return { event, body: defaultTemplates[event] ?? '', custom: false, preview: fillTemplate(defaultTemplates[event] ?? '', sampleValues) };
  });
}

export function previewTemplate(eventName: string, body: string | undefined) {
  const event = customerEvent(eventName);
  const text = body ?? defaultTemplates[event] ?? '';
  checkVariables(text);
  return { event, preview: fillTemplate(text, sampleValues), values: sampleValues };
}

// Admin: the delivery log.

const logColumns = [
  'id', 'event_id', 'event', 'recipient_kind', 'recipient_id', 'recipient_name', 'channel', 'address', 'status', 'reason', 'attempts',
  'next_attempt_at', 'chain_position', 'provider_id', 'resend_of', 'created_at', 'sent_at', 'updated_at',
] as const;

export interface DeliveryFilters { channel?: DeliveryChannel; status?: string; event?: EventName; recipient?: string; limit: number; cursor?: string }

export async function listDeliveries(ctx: RequestContext, filters: DeliveryFilters) {
  return read(ctx, (trx) => {
    const query = trx('notification_deliveries').where({ account_id: ctx.accountId }).select([...logColumns, trx.raw(`message->>'title' as title`)]);
    if (filters.channel) query.where({ channel: filters.channel });
    if (filters.status) query.where({ status: filters.status });
    if (filters.event) query.where({ event: filters.event });
    if (filters.recipient) {
      const term = `%${filters.recipient.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      query.where((q) => q.whereILike('recipient_name', term).orWhereILike('address', term).orWhere('recipient_id', filters.recipient!));
    }
    return paginate(query, { keys: { created_at: 'timestamptz', id: 'uuid' }, direction: 'desc', limit: filters.limit, cursor: filters.cursor });
  });
}

/** Sends one delivery again, as a new delivery that names the original (the log keeps both). */
export async function resendDelivery(ctx: RequestContext, deliveryId: string) {
  return write(ctx, async (trx, audit) => {
    const original = await trx('notification_deliveries').where({ account_id: ctx.accountId, id: deliveryId }).first();
    if (!original) throw new NotFoundError('Delivery');
    if (original.status === 'opted_out') throw new ConflictError('opted_out', 'The recipient opted out of this channel; it cannot be sent again');
    if (original.status === 'pending' || original.status === 'held') throw new ConflictError('not_settled', 'This delivery has not been settled yet; it is still going to be sent or is standing by');
    if (!original.address && original.channel !== 'push') throw new ConflictError('no_address', 'There is no address to send this delivery to');
    const [copy] = await trx('notification_deliveries')
      .insert({
        account_id: ctx.accountId,
        event_id: original.event_id,
        event: original.event,
        recipient_kind: original.recipient_kind,
        recipient_id: original.recipient_id,
        recipient_name: original.recipient_name,
        channel: original.channel,
        address: original.address,
        message: JSON.stringify(original.message),
        status: 'pending',
        resend_of: original.id,
      })
      .returning([...logColumns]);
    await audit({ action: 'notification.resent', resourceType: 'notification_delivery', resourceId: deliveryId, after: { resend_id: copy.id, channel: original.channel } });
    // Wakes the worker as a new event would (the NOTIFY is delivered at commit).
    await trx.raw(`select pg_notify(?, ?)`, [wakeChannel, String(ctx.accountId)]);
    return copy;
  });
}

