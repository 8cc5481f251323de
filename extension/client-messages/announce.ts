// Telling a client's open pages that one of their threads changed (a reply, a sent or failed
// message, an agent typing), after the change committed (events/portal-feed.ts).
import type { Knex } from 'knex';
import { announceToPortalUser } from '../events/portal-feed.ts';

export function announceClientThread(db: Knex, accountId: number, portalUserId: string, threadId: string) {
  announceToPortalUser(db, accountId, portalUserId, { type: 'message', thread_id: threadId });
}

/**
 * Agents typing, per thread, for the few seconds Chatwoot's typing events hold (a thread opened
 * meanwhile shows it). Kept in this process only: other processes' pages hear the live event.
 */
const typing = new Map<string, number>();
const typingMs = 30_000;

export function agentTypingIn(threadId: string): boolean {
  const until = typing.get(threadId);
  return until !== undefined && until > Date.now();
}

export function announceAgentTyping(db: Knex, accountId: number, portalUserId: string, threadId: string, on: boolean) {
  if (typing.size > 10_000) typing.clear();
  if (on) typing.set(threadId, Date.now() + typingMs);
  else typing.delete(threadId);
  announceToPortalUser(db, accountId, portalUserId, { type: 'typing', thread_id: threadId, on });
}
