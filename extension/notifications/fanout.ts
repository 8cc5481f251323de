// The fan-out: turns each raised event into what its recipients get — an in-app notification, and a
// delivery per channel that is on for them — in one write per batch of events. Idempotent: an event
// fanned out twice (a worker that died before marking it) adds nothing, because notifications and
// deliveries are unique per (event, recipient[, channel]).
//
// Per recipient, the audience's chain (catalogue.ts audienceChannels) becomes: the first channel
// that is on and has an address 'pending'; the later ones 'held' (released only if the one before
// fails: deliver.ts); an escalation (push first, then SMS N minutes later unless read) 'pending'
// with a delay. Channels on but with no address are logged 'skipped' with the reason. Quiet hours
// delay every channel but in-app, unless the account lets the event break through.
import type { Knex } from 'knex';
import { systemContext, write } from '../db/tenant.ts';
import { accountsWithWork } from '../modules/system/sweeps.ts';
import {
  audienceChannels,
  definitionOf,
  isEventName,
  type DeliveryChannel,
  type EventDefinition,
  type RaisedEvent,
} from './catalogue.ts';
import type { StoredMessage } from './channels/types.ts';
import { digestFigures } from './digest.ts';
import { messageFor, templateValues, type MessageContext } from './messages.ts';
import { accountNotificationSettings, channelOn, noPreferences, preferencesOf, quietDelaySeconds, type AccountNotificationSettings } from './preferences.ts';
import { addressesOf, loadSubject, recipientsOf, type Addresses } from './recipients.ts';
import { fillTemplate, templateFor } from './templates.ts';

const batchSize = 100;
const maxFanOutAttempts = 5;

export interface FanOutDeps {
  publicUrl: string;
  now?: () => Date;
}

interface AccountFacts { name: string; locale: string }

const noAddress: Record<DeliveryChannel, string> = {
  email: 'no e-mail address on file',
  sms: 'no phone number on file',
  push: '',
  chatwoot: 'no open Chatwoot conversation for this client',
};

function addressFor(channel: DeliveryChannel, addresses: Addresses): string | null | undefined {
  switch (channel) {
    case 'email':
      return addresses.email;
    case 'sms':
      return addresses.phone;
    case 'chatwoot':
      return addresses.conversationId ? String(addresses.conversationId) : null;
    case 'push':
      return undefined; // push finds the recipient's subscriptions when it sends
  }
}

async function fanOutEvent(trx: Knex.Transaction, accountId: number, event: RaisedEvent, settings: AccountNotificationSettings, account: AccountFacts, deps: FanOutDeps) {
  const definition: EventDefinition = definitionOf(event.event);
  if (definition.audience === 'client' && !settings.customer_events.includes(event.event)) return;
  const subject = await loadSubject(trx, accountId, event);
  const recipients = await recipientsOf(trx, accountId, definition.to, event, subject);
  if (!recipients.length) return;
  const now = deps.now?.() ?? new Date();
  const kind = recipients[0]!.kind;
  const prefs = await preferencesOf(trx, accountId, kind, recipients.map((r) => r.id));
  const digest = event.event === 'staff.daily_digest' ? await digestFigures(trx, accountId, now) : undefined;
  const mayBreakQuiet = settings.urgent_events.includes(event.event);
  const customerTemplate = definition.audience === 'client' ? await templateFor(trx, accountId, event.event, account.locale) : null;

  const notifications: Array<Record<string, unknown>> = [];
  const deliveries: Array<Record<string, unknown>> = [];
  for (const recipient of recipients) {
    const own = prefs.get(recipient.id) ?? noPreferences;
    const addresses = await addressesOf(trx, accountId, recipient, subject);
    const timeZone = own.time_zone ?? addresses.timeZone ?? settings.time_zone;
    const context: MessageContext = { event, subject, recipient, publicUrl: deps.publicUrl, timeZone, locale: account.locale, accountName: account.name, digest };
    const said = messageFor(context);
    if (!said) continue; // what it was about is gone
    const message: StoredMessage = customerTemplate ? { ...said, customerText: fillTemplate(customerTemplate.body, templateValues(context)) } : said;
    const on = (channel: 'in_app' | DeliveryChannel) => channelOn(event.event, channel, settings, own);

    if (on('in_app')) {
      notifications.push({
        account_id: accountId,
        event_id: event.id,
        event: event.event,
        recipient_kind: recipient.kind,
        recipient_id: recipient.id,
        title: message.title,
        body: message.body,
        resource_type: message.link?.resource_type ?? null,
        resource_id: message.link?.resource_id ?? null,
        urgent: Boolean(definition.urgent),
      });
    }
    const delay = mayBreakQuiet ? 0 : quietDelaySeconds(now, own, timeZone);
    const row = (channel: DeliveryChannel, status: string, extra: Record<string, unknown> = {}) =>
      deliveries.push({
        account_id: accountId,
        event_id: event.id,
        event: event.event,
        recipient_kind: recipient.kind,
        recipient_id: recipient.id,
        recipient_name: recipient.name,
        channel,
        address: addressFor(channel, addresses) ?? null,
        message: JSON.stringify(message),
        status,
        // Held back from the database's now (the fan-out's clock only decides how long).
        next_attempt_at: trx.raw(`now() + make_interval(secs => ?)`, [delay]),
        ...extra,
      });

    const { chain, parallel } = audienceChannels[definition.audience];
    for (const channel of parallel) {
      if (!on(channel)) continue;
      if (addressFor(channel, addresses) === null) row(channel, 'skipped', { reason: noAddress[channel] });
      else row(channel, 'pending');
    }
    let position = 0;
    let primary: DeliveryChannel | null = null;
    let escalated = false;
    for (const channel of chain) {
      if (!on(channel)) continue;
      position++;
      if (addressFor(channel, addresses) === null) {
        row(channel, 'skipped', { reason: noAddress[channel], chain_position: position });
        continue;
      }
      if (!primary) {
        primary = channel;
        row(channel, 'pending', { chain_position: position });
      } else if (primary === 'push' && definition.escalateAfterMinutes && !escalated) {
        // Escalation: the next channel goes out later unless the notification has been read.
        escalated = true;
        row(channel, 'pending', { chain_position: position, unless_read: true, next_attempt_at: trx.raw(`now() + make_interval(secs => ?)`, [delay + definition.escalateAfterMinutes * 60]) });
      } else {
        row(channel, 'held', { chain_position: position });
      }
    }
  }
  if (notifications.length) await trx('notifications').insert(notifications).onConflict(['account_id', 'event_id', 'recipient_kind', 'recipient_id']).ignore();
  if (deliveries.length) {
    await trx.raw(`? on conflict (account_id, event_id, recipient_kind, recipient_id, channel) where resend_of is null do nothing`, [trx('notification_deliveries').insert(deliveries)]);
  }
}

/** Fans out every pending event of an account; returns how many events were handled. */
export async function fanOutEvents(db: Knex, accountId: number, deps: FanOutDeps): Promise<number> {
  const ctx = await systemContext(db, accountId, 'notifications');
  let handled = 0;
  for (;;) {
    let failed = false;
    const count = await write(ctx, async (trx, audit) => {
      const events = (await trx('notification_events')
        .where({ account_id: accountId })
        .whereNull('fanned_out_at')
        .orderBy('id')
        .limit(batchSize)
        .forUpdate()
        .skipLocked()
        .select('id', 'event', 'resource_type', 'resource_id', 'data', 'actor_type', 'actor_id', 'occurred_at', 'attempts')) as Array<RaisedEvent & { attempts: number }>;
      if (!events.length) {
        audit.nothingChanged();
        return 0;
      }
      const settings = await accountNotificationSettings(trx, accountId);
      const accountRow = await trx('accounts').where({ account_id: accountId }).first('name', 'chatwoot_locale');
      const account = { name: accountRow.name as string, locale: (accountRow.chatwoot_locale as string | null) ?? 'en' };
      for (const event of events) {
        try {
          // A savepoint per event: one event that cannot be fanned out does not hold back the others.
          if (isEventName(event.event)) await trx.transaction((inner) => fanOutEvent(inner, accountId, event, settings, account, deps));
          await trx('notification_events').where({ account_id: accountId, id: event.id }).update({ fanned_out_at: trx.fn.now(), last_error: null });
        } catch (err) {
          failed = true;
          const attempts = event.attempts + 1;
          await trx('notification_events')
            .where({ account_id: accountId, id: event.id })
            .update({ attempts, last_error: (err as Error).message, ...(attempts >= maxFanOutAttempts ? { fanned_out_at: trx.fn.now() } : {}) });
        }
      }
      // The notifications added are new in people's bells: the change is announced.
      audit.recordedElsewhere('notification_events');
      return events.length;
    });
    handled += count;
    // A failed event waits for the next run (the worker's sweep, 10 s on): retried at once, it would
    // use up its attempts in milliseconds on a passing failure (a deadlock, a timeout).
    if (count < batchSize || failed) return handled;
  }
}

/** Accounts with events not yet fanned out (the sweep's work list). */
export function accountsWithPendingEvents(db: Knex): Promise<number[]> {
  return accountsWithWork(db, (trx, accountId) => trx('notification_events').where({ account_id: accountId }).whereNull('fanned_out_at').select('id'));
}
