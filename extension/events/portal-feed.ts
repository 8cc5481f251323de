// "Something happened for this portal user": a reply in one of their threads, an agent typing, a
// job or quote of theirs that moved. A NOTIFY on its own channel, heard by the one LISTEN
// connection of every process (changes.ts) and passed to that person's open streams only
// (routes.ts), so the client portal updates live without polling.
//
// The payload names ids only (never content): a page refetches what it shows through its scoped
// routes, so nothing a person may not read travels over the stream, and the payload stays far
// below NOTIFY's 8000-byte limit.
import type { Knex } from 'knex';

export const portalChannel = 'onelink_portal';

export type PortalEvent =
  | { type: 'message'; thread_id: string }
  | { type: 'typing'; thread_id: string; on: boolean }
  | { type: 'read'; thread_id: string }
  | { type: 'job'; job_id: string }
  | { type: 'quote'; quote_id: string };

/** What travels on the channel: the account, the person and their event. */
export interface PortalNotice {
  a: number;
  p: string;
  e: PortalEvent;
}

// Ids are UUIDs; the bound keeps a careless caller from reaching NOTIFY's limit.
const maxId = 100;
const idOk = (value: unknown) => typeof value === 'string' && value.length > 0 && value.length <= maxId;

/** The event as sent, or null when it is not one of the known shapes (never passed on). */
export function portalEventFrom(value: unknown): PortalEvent | null {
  if (!value || typeof value !== 'object') return null;
  const event = value as Record<string, unknown>;
  switch (event.type) {
    case 'message':
    case 'read':
      return idOk(event.thread_id) ? { type: event.type, thread_id: event.thread_id as string } : null;
    case 'typing':
      return idOk(event.thread_id) && typeof event.on === 'boolean' ? { type: 'typing', thread_id: event.thread_id as string, on: event.on } : null;
    case 'job':
      return idOk(event.job_id) ? { type: 'job', job_id: event.job_id as string } : null;
    case 'quote':
      return idOk(event.quote_id) ? { type: 'quote', quote_id: event.quote_id as string } : null;
    default:
      return null;
  }
}

/** Reads a notice off the channel; null for anything malformed. */
export function portalNoticeFrom(payload: string | undefined): PortalNotice | null {
  try {
    const notice = JSON.parse(payload ?? '') as Record<string, unknown>;
    const event = portalEventFrom(notice.e);
    return Number.isInteger(notice.a) && idOk(notice.p) && event ? { a: notice.a as number, p: notice.p as string, e: event } : null;
  } catch {
    return null;
  }
}

/**
 * Tells `portalUserId`'s open pages about `event`. Call it AFTER the write committed (once
 * `await write(...)` returned), never inside the transaction: the page refetches on hearing it
 * and must find the change there. Fire and forget — a lost event only waits for the page's
 * next refetch (it reconciles when opened and on every reconnect).
 */
export function announceToPortalUser(db: Knex, accountId: number, portalUserId: string, event: PortalEvent): void {
  const clean = portalEventFrom(event);
  if (!Number.isInteger(accountId) || !idOk(portalUserId) || !clean) return;
  const notice: PortalNotice = { a: accountId, p: portalUserId, e: clean };
  void db.raw('select pg_notify(?, ?)', [portalChannel, JSON.stringify(notice)]).catch(() => undefined);
}
