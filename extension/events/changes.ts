// "Something changed in this account": a NOTIFY after each committed write (one per account per
// 200 ms burst, never one per row), heard by every process and passed to the pages that follow
// the account over server-sent events, so open sidebars and boards refresh without polling.
// write() (db/tenant.ts) calls announceChange once its transaction has committed — for people and
// for Onelink's own processes alike — so no caller announces anything itself.
import { EventEmitter } from 'node:events';
import type { Knex } from 'knex';
import pg from 'pg';
import { portalChannel, portalNoticeFrom, type PortalEvent } from './portal-feed.ts';

export const changeChannel = 'onelink_changes';

/**
 * A NOTIFY on `channel` with the account id as payload, sent after the caller's commit and folded
 * per account over `ms` (one NOTIFY per account per burst, never one per transaction). A lost one
 * only waits for its listener's fallback (a page's timer, a worker's sweep).
 */
export function debouncedNotify(channel: string, ms: number) {
  const pending = new Map<Knex, Set<number>>();
  return (db: Knex, accountId: number) => {
    let accounts = pending.get(db);
    if (accounts) {
      accounts.add(accountId);
      return;
    }
    accounts = new Set([accountId]);
    pending.set(db, accounts);
    setTimeout(() => {
      pending.delete(db);
      for (const id of accounts!) void db.raw('select pg_notify(?, ?)', [channel, String(id)]).catch(() => undefined);
    }, ms);
  };
}

/** Announces that `accountId` changed (debounced; a lost announcement only delays a refresh). */
export const announceChange = debouncedNotify(changeChannel, 200);

export interface ChangeFeed {
  subscribe(accountId: number, listener: () => void): () => void;
  /** One portal user's own events (portal-feed.ts), nobody else's. */
  subscribePortal(accountId: number, portalUserId: string, listener: (event: PortalEvent) => void): () => void;
  /** Runs when the LISTEN connection is lost (streams then end so their pages reconnect). */
  onLost(listener: () => void): void;
  close(): Promise<void>;
}

/** One LISTEN connection per process for both channels, shared by every open stream (started on first use). */
export function changeFeed(connectionString: string): ChangeFeed {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  let client: pg.Client | null = null;
  let starting: Promise<void> | null = null;
  let closing = false;
  const start = () => {
    starting ??= (async () => {
      client = new pg.Client({ connectionString, application_name: 'onelink-changes' });
      client.on('notification', (message) => {
        if (message.channel === changeChannel) {
          emitter.emit(`account:${message.payload}`);
          return;
        }
        const notice = portalNoticeFrom(message.payload);
        // Keyed by account AND person: a person's id is only ever heard in their own account.
        if (notice) emitter.emit(`portal:${notice.a}:${notice.p}`, notice.e);
      });
      const lost = () => {
        // The feed is a convenience: pages fall back to polling; the next subscriber reconnects.
        // Open streams would hear nothing more, so they are told to end (their pages reconnect).
        if (closing || client !== listening) return;
        client = null;
        starting = null;
        emitter.emit('lost');
      };
      const listening = client;
      client.on('error', lost);
      client.on('end', lost);
      await client.connect();
      await client.query(`listen ${changeChannel}`);
      await client.query(`listen ${portalChannel}`);
    })().catch(() => {
      client = null;
      starting = null;
    });
    return starting;
  };
  return {
    subscribe(accountId, listener) {
      void start();
      emitter.on(`account:${accountId}`, listener);
      return () => emitter.off(`account:${accountId}`, listener);
    },
    subscribePortal(accountId, portalUserId, listener) {
      void start();
      const key = `portal:${accountId}:${portalUserId}`;
      emitter.on(key, listener);
      return () => emitter.off(key, listener);
    },
    onLost(listener) {
      emitter.on('lost', listener);
    },
    async close() {
      closing = true;
      await starting;
      await client?.end().catch(() => undefined);
    },
  };
}
