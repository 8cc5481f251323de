// Syncing the contact and conversation caches from Chatwoot's API, for what webhooks never
// brought: records from before the install, and events Chatwoot sent once and lost (it never
// retries a webhook).
//
// A full pass pages through the account's contacts (latest activity first) and its open
// conversations. After each page it writes the page and the next page's number in one
// transaction, so an interrupted pass resumes where it stopped. Offset paging over a list that
// changes may show an item twice (harmless: writes are idempotent) and, when items are deleted,
// skip one; the incremental pass and the webhooks cover those.
//
// An incremental pass asks for what had activity since the last complete pass (minus a margin for
// clock skew): contacts by latest activity, and conversations of each status by latest activity,
// stopping at the first page that reaches older items.
//
// Requests are spaced to at most `requestsPerMinute` (Chatwoot allows 3,000 a minute per IP by
// default, shared with everything else this host sends it); a 429 is retried after its
// Retry-After. Cache rows change only when Chatwoot's data differs and is not older than theirs.
import type { Knex } from 'knex';
import { accountPhoneCountry } from '../accounts/service.ts';
import type { RequestContext } from '../context.ts';
import { read, systemContext, write } from '../db/tenant.ts';
import type { SweepRun } from '../modules/system/sweeps.ts';
import type { CountryCode } from '../phones/e164.ts';
import type { Sealer } from '../security/crypto.ts';
import { cacheContacts, cacheConversations, chatwootContact, chatwootConversation, contactObservation, readConversation, recordActivity, type ContactObservation } from '../modules/conversations/cache.ts';
import { listContacts, listConversations, normaliseBaseUrl, type ChatwootTarget, type ConversationListQuery } from './client.ts';
import { chatwootTargetFor } from './outbox.ts';

export type SyncPhase = 'contacts' | 'conversations';
/** `auto`: a full pass until one has completed (resuming an interrupted one), then incremental. */
export type SyncMode = 'full' | 'incremental' | 'auto';

export const defaultRequestsPerMinute = 1200;
const incrementalMarginMs = 5 * 60_000;
/** Attempts per page when Chatwoot answers 429 or 5xx (each 429 waits its Retry-After). */
const pageRetries = 8;

export interface SyncProgress {
  accountId: number;
  chatwootAccountId: number;
  phase: SyncPhase;
  mode: 'full' | 'incremental';
  /** Items read in this pass so far (across resumptions of a full pass). */
  done: number;
  /** What Chatwoot says the list holds (full passes), when it says. */
  total: number | null;
  finished: boolean;
}

export interface PhaseReport { phase: SyncPhase; mode: 'full' | 'incremental'; pages: number; items: number; written: number; complete: boolean; resumedAtPage: number | null }
export interface SyncReport {
  accountId: number;
  chatwootAccountId: number;
  phases: PhaseReport[];
  interrupted: boolean;
  /** Another process was syncing this account: nothing was done. */
  alreadyRunning?: boolean;
}

/** Spaces request starts evenly: at most `requestsPerMinute` (0 or Infinity: no limit). */
export interface RateLimiter { take(): Promise<void>; readonly requests: number }
export function rateLimiter(requestsPerMinute: number): RateLimiter {
  const gapMs = requestsPerMinute > 0 && Number.isFinite(requestsPerMinute) ? 60_000 / requestsPerMinute : 0;
  let nextAt = 0;
  let requests = 0;
  return {
    get requests() {
      return requests;
    },
    async take() {
      requests++;
      if (!gapMs) return;
      const now = Date.now();
      const at = Math.max(now, nextAt);
      nextAt = at + gapMs;
      if (at > now) await new Promise((resolve) => setTimeout(resolve, at - now));
    },
  };
}

export interface SyncOptions {
  mode?: SyncMode;
  timeoutMs: number;
  /** Shared by every account synced with it (they are usually on the same Chatwoot). */
  limiter?: RateLimiter;
  onProgress?: (progress: SyncProgress) => void;
  /** Stops the pass after the page being written (a full pass resumes from the next one). */
  signal?: AbortSignal;
}

interface StateRow {
  account_id: number;
  phase: SyncPhase;
  run_started_at: Date | null;
  next_page: number | null;
  done: number;
  total: number | null;
  synced_through: Date | null;
  full_completed_at: Date | null;
}

interface Page { items: Array<Record<string, unknown>>; total: number | null; fetchedAt: Date }

interface AccountSync {
  db: Knex;
  accountId: number;
  /** The sync acts as the `chatwoot-sync` system process. */
  ctx: RequestContext;
  chatwootAccountId: number;
  target: ChatwootTarget;
  country: CountryCode;
  limiter: RateLimiter;
  options: SyncOptions;
}

const state = (s: AccountSync, phase: SyncPhase) => read(s.ctx, (trx) => trx<StateRow>('chatwoot_sync_state').where({ account_id: s.accountId, phase }).first());

async function saveState(s: AccountSync, phase: SyncPhase, changes: Partial<Omit<StateRow, 'account_id' | 'phase'>> & { last_error?: string | null }, trx?: Knex.Transaction) {
  const upsert = (t: Knex.Transaction) =>
    t('chatwoot_sync_state')
      .insert({ account_id: s.accountId, phase, ...changes, updated_at: t.fn.now() })
      .onConflict(['account_id', 'phase'])
      .merge({ ...changes, updated_at: t.fn.now() });
  if (trx) await upsert(trx);
  else {
    await write(s.ctx, async (t, audit) => {
      await upsert(t);
      audit.bookkeeping('chatwoot_sync_state'); // the sync's own progress
    });
  }
}

async function fetchContacts(s: AccountSync, page: number): Promise<Page> {
  await s.limiter.take();
  const { items, total } = await listContacts(s.target, s.chatwootAccountId, { sort: '-last_activity_at', page }, { retries: pageRetries });
  return { items, total, fetchedAt: new Date() };
}

async function fetchConversations(s: AccountSync, status: NonNullable<ConversationListQuery['status']>, page: number): Promise<Page> {
  await s.limiter.take();
  const { items, total } = await listConversations(s.target, s.chatwootAccountId, { status, page }, { retries: pageRetries });
  return { items: items as Array<Record<string, unknown>>, total, fetchedAt: new Date() };
}

/** Writes one page into the caches; returns how many rows changed. Items Chatwoot sent malformed are skipped. */
async function writePage(s: AccountSync, phase: SyncPhase, page: Page, trx: Knex.Transaction): Promise<number> {
  if (phase === 'contacts') {
    const contacts = page.items.flatMap((raw) => {
      const parsed = chatwootContact.safeParse(raw);
      return parsed.success ? [contactObservation(raw, { ...parsed.data, updated_at: null }, page.fetchedAt)] : [];
    });
    return cacheContacts(trx, s.accountId, s.country, contacts, { onlyIfChanged: true });
  }
  const contacts: ContactObservation[] = [];
  const conversations = [];
  const activity = [];
  for (const raw of page.items) {
    const parsed = chatwootConversation.safeParse(raw);
    if (!parsed.success) continue;
    const seen = readConversation(raw, parsed.data, page.fetchedAt);
    if (seen.contact) contacts.push(seen.contact);
    if (seen.conversation) conversations.push(seen.conversation);
    if (seen.activity) activity.push(seen.activity);
  }
  const written = (await cacheContacts(trx, s.accountId, s.country, contacts, { onlyIfChanged: true })) + (await cacheConversations(trx, s.accountId, conversations, { onlyIfChanged: true }));
  await recordActivity(trx, s.accountId, activity);
  return written;
}

/** Unix seconds (or an ISO string) of an item's latest activity, as a time; null when it has none. */
function lastActivity(item: Record<string, unknown>): number | null {
  const v = item.last_activity_at;
  if (typeof v === 'number') return v * 1000;
  if (typeof v === 'string') return /^\d+(\.\d+)?$/.test(v) ? Number(v) * 1000 : Date.parse(v) || null;
  return null;
}

/** Pages read ahead of the writer at most; the writer takes every page waiting in one transaction. */
const readAhead = 8;

/**
 * Reads pages from `firstPage` until the list ends (or `reachedOlder` says the rest is older).
 * Reading runs ahead of writing: while a batch is written, the next pages are fetched (within the
 * rate limit), and the writer then takes all that arrived — one statement per batch of one or
 * more pages, so a slow database costs fewer round trips rather than more. `afterPage` runs in
 * the batch's transaction with its last page (the full pass advances its cursor there).
 */
async function pageThrough(
  s: AccountSync,
  phase: SyncPhase,
  firstPage: number,
  fetch: (page: number) => Promise<Page>,
  afterPage: (trx: Knex.Transaction, page: number, result: Page, last: boolean) => Promise<void>,
  reachedOlder: (result: Page) => boolean = () => false,
) {
  const waiting: Array<{ page: number; result: Page; last: boolean }> = [];
  let failure: { error: unknown } | null = null;
  let stopped = false;
  let wake: () => void = () => undefined;
  const changed = () => new Promise<void>((resolve) => (wake = resolve));
  const reader = (async () => {
    let pageSize = 0;
    for (let page = firstPage; !stopped; page++) {
      while (waiting.length >= readAhead && !stopped) await changed();
      if (stopped) return;
      const result = await fetch(page);
      pageSize = Math.max(pageSize, result.items.length);
      const last =
        result.items.length === 0 ||
        result.items.length < pageSize ||
        (result.total !== null && (page - 1) * pageSize + result.items.length >= result.total) ||
        reachedOlder(result);
      waiting.push({ page, result, last });
      wake();
      if (last) return;
    }
  })().catch((error: unknown) => {
    failure = { error };
    wake();
  });

  let pages = 0;
  let items = 0;
  let written = 0;
  try {
    for (;;) {
      while (!waiting.length && !failure) await changed();
      if (s.options.signal?.aborted) return { pages, items, written, complete: false };
      if (!waiting.length && failure) throw (failure as { error: unknown }).error;
      const batch = waiting.splice(0);
      wake(); // room to read ahead again
      const lastOne = batch.at(-1)!;
      const result: Page = { items: batch.flatMap((b) => b.result.items), total: lastOne.result.total, fetchedAt: batch[0]!.result.fetchedAt };
      written += await write(s.ctx, async (trx, audit) => {
        const count = await writePage(s, phase, result, trx);
        await afterPage(trx, lastOne.page, result, lastOne.last);
        // Cached copies of Chatwoot's records are not audited one by one: the sync state is their
        // trail. Pages that changed a cached record are announced (open sidebars refresh).
        if (count) audit.recordedElsewhere('chatwoot_sync_state');
        else audit.bookkeeping('chatwoot_sync_state');
        return count;
      });
      pages += batch.length;
      items += result.items.length;
      if (lastOne.last) return { pages, items, written, complete: true };
    }
  } finally {
    stopped = true;
    wake();
    await reader;
  }
}

async function fullPass(s: AccountSync, phase: SyncPhase): Promise<PhaseReport> {
  let current = await state(s, phase);
  const resumedAtPage = current?.run_started_at && current.next_page ? current.next_page : null;
  if (!resumedAtPage) {
    await saveState(s, phase, { run_started_at: new Date(), next_page: 1, done: 0, total: null, last_error: null });
    current = (await state(s, phase))!;
  }
  let done = current!.done;
  let total = current!.total;
  const report = (finished: boolean) =>
    s.options.onProgress?.({ accountId: s.accountId, chatwootAccountId: s.chatwootAccountId, phase, mode: 'full', done, total, finished });
  report(false);
  const fetch = phase === 'contacts' ? (page: number) => fetchContacts(s, page) : (page: number) => fetchConversations(s, 'open', page);
  const result = await pageThrough(s, phase, resumedAtPage ?? 1, fetch, async (trx, page, result, last) => {
    done += result.items.length;
    total = result.total ?? total;
    if (last) {
      // The pass is complete: what changed after it started is the incremental pass's.
      await trx('chatwoot_sync_state')
        .where({ account_id: s.accountId, phase })
        .update({ synced_through: trx.ref('run_started_at'), full_completed_at: trx.fn.now(), run_started_at: null, next_page: null, done, total, last_error: null, updated_at: trx.fn.now() });
    } else {
      await saveState(s, phase, { next_page: page + 1, done, total }, trx);
    }
    report(last);
  });
  return { phase, mode: 'full', ...result, resumedAtPage };
}

const conversationStatuses: Array<NonNullable<ConversationListQuery['status']>> = ['open', 'pending', 'snoozed', 'resolved'];

async function incrementalPass(s: AccountSync, phase: SyncPhase, since: Date): Promise<PhaseReport> {
  const startedAt = new Date();
  const olderThanSince = (result: Page) => {
    const lastItem = result.items.at(-1);
    const at = lastItem ? lastActivity(lastItem) : null;
    return at === null || at < since.getTime();
  };
  let done = 0;
  const progress = (finished: boolean) =>
    s.options.onProgress?.({ accountId: s.accountId, chatwootAccountId: s.chatwootAccountId, phase, mode: 'incremental', done, total: null, finished });
  const totals = { pages: 0, items: 0, written: 0, complete: true };
  const lists = phase === 'contacts' ? [(page: number) => fetchContacts(s, page)] : conversationStatuses.map((status) => (page: number) => fetchConversations(s, status, page));
  for (const fetch of lists) {
    const result = await pageThrough(s, phase, 1, fetch, async (_trx, _page, page) => {
      done += page.items.length;
      progress(false);
    }, olderThanSince);
    totals.pages += result.pages;
    totals.items += result.items;
    totals.written += result.written;
    if (!result.complete) return { phase, mode: 'incremental', ...totals, complete: false, resumedAtPage: null };
  }
  await saveState(s, phase, { synced_through: startedAt, last_error: null });
  progress(true);
  return { phase, mode: 'incremental', ...totals, resumedAtPage: null };
}

/**
 * Runs `work` holding a session lock on the account's sync, or returns null when another process
 * (the installer's backfill, a scheduled run, a second `sync`) holds it: two passes over one
 * cursor would only repeat each other's pages.
 */
async function withSyncLock<T>(db: Knex, accountId: number, work: () => Promise<T>): Promise<T | null> {
  const key = `onelink_chatwoot_sync:${accountId}`;
  const conn = await db.client.acquireConnection();
  try {
    const { rows } = await conn.query('select pg_try_advisory_lock(hashtext($1)) as locked', [key]);
    if (!rows[0].locked) return null;
    try {
      return await work();
    } finally {
      await conn.query('select pg_advisory_unlock(hashtext($1))', [key]).catch(() => undefined);
    }
  } finally {
    await db.client.releaseConnection(conn);
  }
}

/** Syncs one of our accounts from its Chatwoot account: contacts, then conversations. */
export async function syncAccount(db: Knex, sealer: Sealer, accountId: number, options: SyncOptions): Promise<SyncReport> {
  const { target, chatwootAccountId } = await chatwootTargetFor(db, sealer, accountId, options.timeoutMs);
  const report = await withSyncLock(db, accountId, () => syncLocked(db, accountId, chatwootAccountId, target, options));
  return report ?? { accountId, chatwootAccountId, phases: [], interrupted: false, alreadyRunning: true };
}

async function syncLocked(db: Knex, accountId: number, chatwootAccountId: number, target: ChatwootTarget, options: SyncOptions): Promise<SyncReport> {
  const s: AccountSync = {
    db,
    accountId,
    ctx: await systemContext(db, accountId, 'chatwoot-sync'),
    chatwootAccountId,
    target,
    country: await accountPhoneCountry(db, accountId),
    limiter: options.limiter ?? rateLimiter(defaultRequestsPerMinute),
    options,
  };
  const phases: PhaseReport[] = [];
  for (const phase of ['contacts', 'conversations'] as const) {
    try {
      const current = await state(s, phase);
      const mode = options.mode ?? 'auto';
      const incremental = mode === 'incremental' || (mode === 'auto' && current?.synced_through && !current.run_started_at);
      const since = current?.synced_through ? new Date(current.synced_through.getTime() - incrementalMarginMs) : null;
      const report = incremental && since ? await incrementalPass(s, phase, since) : await fullPass(s, phase);
      phases.push(report);
      if (!report.complete) return { accountId, chatwootAccountId, phases, interrupted: true };
    } catch (err) {
      await saveState(s, phase, { last_error: (err as Error).message }).catch(() => undefined);
      throw err;
    }
  }
  return { accountId, chatwootAccountId, phases, interrupted: false };
}

export interface SyncTarget { account_id: number; chatwoot_account_id: number; base_url: string }

/** Our accounts to sync: one Chatwoot account (of the named installation, or the only one), or every connected account. */
export async function accountsToSync(db: Knex, filter: { chatwootUrl?: string; chatwootAccountId?: number } = {}): Promise<SyncTarget[]> {
  const query = db('accounts as a').join('installations as i', 'i.id', 'a.installation_id').orderBy('a.account_id').select('a.account_id', 'a.chatwoot_account_id', 'i.base_url');
  if (filter.chatwootUrl) query.where('i.base_url', normaliseBaseUrl(filter.chatwootUrl));
  if (filter.chatwootAccountId !== undefined) query.where('a.chatwoot_account_id', filter.chatwootAccountId);
  return (await query).map((r: SyncTarget) => ({ ...r, account_id: Number(r.account_id) }));
}

/**
 * Syncs each account in turn, sharing one rate limit. A failing account does not stop the others;
 * its error is kept in its sync state and returned, for the caller to report.
 */
export async function syncAccounts(db: Knex, sealer: Sealer, accounts: SyncTarget[], options: SyncOptions & { requestsPerMinute?: number }) {
  const limiter = options.limiter ?? rateLimiter(options.requestsPerMinute ?? defaultRequestsPerMinute);
  const reports: SyncReport[] = [];
  const failures: Array<{ account: SyncTarget; error: Error }> = [];
  for (const account of accounts) {
    if (options.signal?.aborted) break;
    try {
      reports.push(await syncAccount(db, sealer, account.account_id, { ...options, limiter }));
    } catch (err) {
      failures.push({ account, error: err as Error });
    }
  }
  return { reports, failures, requests: limiter.requests };
}

const count = (n: number) => n.toLocaleString('en-US');

/**
 * The sync as the command line runs it: progress printed about once a second per phase
 * ("account 1 contacts 4,500 / 50,000 (full)"), a summary per account, each failure named with
 * its account. Ctrl-C stops after the page being written. Returns false when an account failed.
 */
export async function syncWithProgress(
  db: Knex,
  sealer: Sealer,
  filter: { chatwootUrl?: string; chatwootAccountId?: number },
  options: { mode: SyncMode; timeoutMs: number; requestsPerMinute: number },
  print: (line: string) => void = console.log,
): Promise<boolean> {
  const accounts = await accountsToSync(db, filter);
  if (!accounts.length) {
    print(filter.chatwootAccountId === undefined ? 'No Chatwoot account is connected yet: run the installer first.' : `No connected Chatwoot account ${filter.chatwootAccountId}: run the installer for it first.`);
    return false;
  }
  const controller = new AbortController();
  const stop = () => {
    print('Stopping after the page being written… (run `npm run onelink -- sync` to continue)');
    controller.abort();
  };
  process.once('SIGINT', stop);
  let lastPrint = 0;
  const onProgress = (p: SyncProgress) => {
    if (!p.finished && Date.now() - lastPrint < 1000) return;
    lastPrint = Date.now();
    const of = p.total !== null ? ` / ${count(p.total)}` : '';
    print(`account ${p.chatwootAccountId} ${p.phase} ${count(p.done)}${of} (${p.mode}${p.finished ? ', done' : ''})`);
  };
  const started = Date.now();
  print(`Syncing contacts and conversations from Chatwoot (${accounts.length} account${accounts.length > 1 ? 's' : ''}, at most ${count(options.requestsPerMinute)} requests a minute)…`);
  try {
    const { reports, failures, requests } = await syncAccounts(db, sealer, accounts, { ...options, onProgress, signal: controller.signal });
    for (const r of reports) {
      const summary = r.phases.map((p) => `${p.phase}: ${count(p.items)} read, ${count(p.written)} changed${p.resumedAtPage ? ` (resumed at page ${p.resumedAtPage})` : ''}`).join('; ');
      print(`account ${r.chatwootAccountId}: ${r.alreadyRunning ? 'skipped, another sync of it is running' : `${r.interrupted ? 'stopped' : 'synced'} — ${summary}`}`);
    }
    for (const f of failures) print(`account ${f.account.chatwoot_account_id} at ${f.account.base_url}: sync failed: ${f.error.message}`);
    print(`${count(requests)} requests in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
    return failures.length === 0;
  } finally {
    process.off('SIGINT', stop);
  }
}

/**
 * The scheduled sync (the queue runs it): every account, incremental once a full pass has
 * completed. Each failure is logged with its account; the run then fails as a whole so the
 * queue records it too.
 */
/**
 * The scheduled pass over every account. Run as a sweep (`sweep` given), each account's failure is
 * recorded for that account and the pass goes on; without one (the CLI), failures end in a throw.
 */
export async function runScheduledSync(
  db: Knex,
  sealer: Sealer,
  options: { timeoutMs: number; requestsPerMinute: number; logger: { info: (o: object, m: string) => void; error: (o: object, m: string) => void }; sweep?: SweepRun },
) {
  const accounts = await accountsToSync(db);
  const { reports, failures, requests } = await syncAccounts(db, sealer, accounts, { mode: 'auto', timeoutMs: options.timeoutMs, requestsPerMinute: options.requestsPerMinute });
  const changed = reports.reduce((n, r) => n + r.phases.reduce((m, p) => m + p.written, 0), 0);
  if (changed) options.logger.info({ accounts: reports.length, changed, requests }, 'Chatwoot caches healed from the API');
  for (const f of failures) {
    if (options.sweep) await options.sweep.accountFailed(f.account.account_id, f.error);
    else options.logger.error({ err: f.error, accountId: f.account.account_id, chatwootAccountId: f.account.chatwoot_account_id, chatwootUrl: f.account.base_url }, 'Chatwoot sync failed for this account');
  }
  if (failures.length && !options.sweep) throw new Error(`Chatwoot sync failed for ${failures.length} of ${accounts.length} accounts`);
  return { reports, requests };
}
