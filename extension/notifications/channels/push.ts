// Web push to the portals: each browser a portal user allowed notifications in holds a subscription
// (an endpoint at its push service and the keys to encrypt for it). A delivery goes to every
// subscription of the recipient's active portal users; it is sent when at least one push service
// took it. Push services answer 404/410 for a subscription the browser dropped: it is deleted.
import { ECDH } from 'node:crypto';
import type https from 'node:https';
import type { Knex } from 'knex';
import webpush, { WebPushError } from 'web-push';
import { read, systemContext, write } from '../../db/tenant.ts';
import { definitionOf } from '../catalogue.ts';
import { ownDoing, tookJobFrom } from '../recipients.ts';
import type { VapidKeys } from '../vapid.ts';
import type { ChannelSender, OutgoingDelivery, SendResult } from './types.ts';

export interface PushChannelOptions {
  db: Knex;
  vapid: VapidKeys;
  /** Tests trust their own push endpoint's certificate through this. */
  agent?: https.Agent;
  /** Socket idle timeout per push request. */
  timeoutMs?: number;
}

interface SubscriptionRow {
  id: string;
  endpoint: string;
  p256dh: string;
  auth: string;
}

/** Push services keep an undelivered message this long (the phone may be off overnight). */
const ttlSeconds = 24 * 60 * 60;
// Push services refuse payloads above ~4 KB; the notification shows a few lines anyway.
const maxTitle = 200;
const maxBody = 1000;

const urlSafeBase64 = /^[A-Za-z0-9_-]+={0,2}$/;

/**
 * Why a browser's subscription keys cannot be used, or null: p256dh is an uncompressed P-256 point
 * (65 bytes), auth a 16-byte secret, both URL-safe base64 (the browser's PushSubscription.toJSON()).
 */
export function subscriptionKeysProblem(keys: { p256dh: string; auth: string }): { field: 'p256dh' | 'auth'; message: string } | null {
  if (!urlSafeBase64.test(keys.p256dh) || Buffer.from(keys.p256dh, 'base64url').length !== 65) {
    return { field: 'p256dh', message: 'must be the 65-byte P-256 public key of the subscription in URL-safe base64' };
  }
  try {
    ECDH.convertKey(Buffer.from(keys.p256dh, 'base64url'), 'prime256v1');
  } catch {
    return { field: 'p256dh', message: 'is not a point on the P-256 curve' };
  }
  if (!urlSafeBase64.test(keys.auth) || Buffer.from(keys.auth, 'base64url').length !== 16) {
    return { field: 'auth', message: 'must be the 16-byte auth secret of the subscription in URL-safe base64' };
  }
  return null;
}

type Attempt =
  | { subscription: string; result: 'sent' }
  | { subscription: string; result: 'gone' }
  | { subscription: string; result: 'transient'; reason: string; retryAfterSeconds?: number }
  | { subscription: string; result: 'refused'; reason: string };

export function pushChannel(options: PushChannelOptions): ChannelSender {
  const { db, vapid, agent, timeoutMs = 10_000 } = options;

  async function subscriptionsOf(delivery: OutgoingDelivery): Promise<SubscriptionRow[]> {
    const { kind, id } = delivery.recipient;
    const accountId = delivery.accountId;
    return read({ db, accountId }, (trx) => {
      const query = trx('push_subscriptions as s')
        .join('portal_users as u', function () {
          this.on('u.account_id', 's.account_id').andOn('u.id', 's.portal_user_id');
        })
        .where({ 's.account_id': accountId, 'u.active': true })
        // A subscription registered in a session stops with it (signed out, revoked, expired).
        .andWhere((q) =>
          q.whereNull('s.session_id').orWhereExists(
            trx('sessions as x').whereRaw('x.account_id = s.account_id and x.id = s.session_id').whereNull('x.revoked_at').andWhere('x.expires_at', '>', trx.fn.now()),
          ),
        )
        .select('s.id', 's.endpoint', 's.p256dh', 's.auth')
        .orderBy('s.created_at');
      // Recipient ids come from the fan-out; a malformed one simply has no subscriptions.
      if (kind === 'vendor') {
        if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) return Promise.resolve([]);
        query.where({ 'u.kind': 'vendor', 'u.vendor_id': id });
        // The vendor's owners hear of every job; a technician only of the jobs given to them.
        const link = delivery.message.link;
        const jobId = link?.resource_type === 'job' && /^[0-9a-f-]{36}$/i.test(link.resource_id) ? link.resource_id : null;
        const eventId = delivery.untracked ? null : trx.raw('(select d.event_id from notification_deliveries d where d.account_id = ? and d.id = ?)', [accountId, delivery.id]);
        // Nobody hears of their own doing (an owner who gave a job to a technician).
        if (eventId) query.whereNotExists(ownDoing(trx, accountId, eventId, trx.raw('u.id::text')));
        return query.andWhere((q) => {
          q.where('u.vendor_role', 'owner');
          if (jobId) q.orWhereExists(trx('jobs as j').where({ 'j.account_id': accountId, 'j.id': jobId }).whereRaw('j.technician_id = u.id'));
          // …and the technician a job was taken from, of that news.
          if (jobId && eventId) q.orWhereExists(tookJobFrom(trx, accountId, eventId, trx.raw('u.id::text')));
        });
      }
      if (!/^[1-9][0-9]{0,15}$/.test(id)) return Promise.resolve([]);
      return query.where({ 'u.kind': 'client', 'u.chatwoot_contact_id': Number(id) });
    });
  }

  async function attempt(subscription: SubscriptionRow, payload: string, urgent: boolean): Promise<Attempt> {
    const keys = { p256dh: subscription.p256dh, auth: subscription.auth };
    const problem = subscriptionKeysProblem(keys);
    if (problem) return { subscription: subscription.id, result: 'refused', reason: `stored subscription ${problem.field} ${problem.message}` };
    try {
      await webpush.sendNotification({ endpoint: subscription.endpoint, keys }, payload, {
        vapidDetails: vapid,
        TTL: ttlSeconds,
        urgency: urgent ? 'high' : 'normal',
        contentEncoding: 'aes128gcm',
        timeout: timeoutMs,
        ...(agent ? { agent } : {}),
      });
      return { subscription: subscription.id, result: 'sent' };
    } catch (err) {
      if (err instanceof WebPushError) {
        const status = err.statusCode;
        if (status === 404 || status === 410) return { subscription: subscription.id, result: 'gone' };
        if (status === 429 || status >= 500) {
          const retryAfter = Number(err.headers?.['retry-after']);
          return {
            subscription: subscription.id,
            result: 'transient',
            reason: `push service answered ${status}`,
            ...(Number.isInteger(retryAfter) && retryAfter > 0 ? { retryAfterSeconds: retryAfter } : {}),
          };
        }
        // 400 (malformed), 403 (signed with another VAPID key), 413 (too large): sending again will not help.
        return { subscription: subscription.id, result: 'refused', reason: `push service answered ${status}` };
      }
      // Connection refused or reset, DNS failure, socket timeout.
      return { subscription: subscription.id, result: 'transient', reason: `push service unreachable: ${(err as Error).message}` };
    }
  }

  async function bookkeep(accountId: number, sent: string[], gone: string[]) {
    if (!sent.length && !gone.length) return;
    await write(await systemContext(db, accountId, 'notifications-push'), async (trx, audit) => {
      if (gone.length) await trx('push_subscriptions').where({ account_id: accountId }).whereIn('id', gone).delete();
      if (sent.length) await trx('push_subscriptions').where({ account_id: accountId }).whereIn('id', sent).update({ last_success_at: trx.fn.now() });
      audit.bookkeeping('push_subscriptions');
    });
  }

  return {
    // The key pair is resolved at start-up (the server does not start without one).
    unavailable: async () => null,

    async send(delivery: OutgoingDelivery): Promise<SendResult> {
      if (delivery.recipient.kind === 'user') return { outcome: 'failed', reason: 'staff receive no web push' };
      const subscriptions = await subscriptionsOf(delivery);
      if (!subscriptions.length) return { outcome: 'failed', reason: 'no push subscription' };

      const { message } = delivery;
      const payload = JSON.stringify({
        title: message.title.slice(0, maxTitle),
        body: message.body.slice(0, maxBody),
        url: message.url,
        tag: delivery.id,
      });
      const urgent = Boolean(definitionOf(delivery.event).urgent);
      const attempts = await Promise.all(subscriptions.map((s) => attempt(s, payload, urgent)));
      const ids = (result: Attempt['result']) => attempts.filter((a) => a.result === result).map((a) => a.subscription);
      await bookkeep(delivery.accountId, ids('sent'), ids('gone'));

      if (ids('sent').length) return { outcome: 'sent', providerId: null };
      const transient = attempts.filter((a): a is Extract<Attempt, { result: 'transient' }> => a.result === 'transient');
      if (transient.length) {
        const waits = transient.map((a) => a.retryAfterSeconds).filter((s): s is number => s !== undefined);
        return { outcome: 'retry', reason: transient[0]!.reason, ...(waits.length ? { retryAfterSeconds: Math.max(...waits) } : {}) };
      }
      const refused = attempts.find((a): a is Extract<Attempt, { result: 'refused' }> => a.result === 'refused');
      return { outcome: 'failed', reason: refused ? refused.reason : 'no push subscription' };
    },
  };
}
