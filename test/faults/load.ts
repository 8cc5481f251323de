// The steady mixed load: signed Chatwoot webhooks, signed Twilio status callbacks and API writes,
// all through nginx, each carrying a key of its own so its effect can be found and counted later.
import { randomBytes } from 'node:crypto';
import twilio from 'twilio';
import { chatwootDelivery, contactEvent, conversationEvent } from '../fakes/chatwoot-webhooks.ts';
import type { FaultCluster } from './cluster.ts';
import type { Load, LoadTally } from './types.ts';

/** What each key's request proves once processed. */
export type LoadKind = 'contact' | 'conversation' | 'call' | 'task' | 'note';

export interface SentRequest {
  key: string;
  kind: LoadKind;
  sentAt: number;
  answeredAt?: number;
  /** The HTTP status, or 'none' when no answer came (refused, reset, timed out). */
  status?: number | 'none';
  /** The replica nginx passed it to (its X-Upstream header). */
  upstream?: string;
  /** The Chatwoot conversation a write-back goes to (kind 'note'). */
  conversationId?: number;
}

export interface FaultLoad extends Load {
  /** Every request of the current window (since the last reset), answered or not. */
  requests(): SentRequest[];
  /** Answers in 4xx: a valid request refused (a bug of the harness or the service). */
  rejected(): SentRequest[];
  /** Ticks not sent because too many requests were still waiting for an answer. */
  skipped(): number;
  /** What the last settle found lost or doubled, by kind: "lost call ×12, note ×3". Empty when nothing. */
  lastSettleInWords(): string;
}

// Round robin over the kinds: 20 requests a second are 4 of each.
const rotation: LoadKind[] = ['contact', 'task', 'call', 'conversation', 'note'];
const maxInFlight = 64;

export function createLoad(cluster: FaultCluster): FaultLoad {
  const run = randomBytes(3).toString('hex');
  let counter = 0;
  let window: SentRequest[] = [];
  const inFlight = new Set<Promise<void>>();
  let timer: NodeJS.Timeout | undefined;
  let skipped = 0;
  let lastSettle = '';
  const { chatwootWebhook, twilio: tw } = cluster;
  const account = { id: chatwootWebhook.chatwootAccountId, name: 'Acme' };

  const send = async (record: SentRequest, path: string, init: { headers: Record<string, string>; body: string }) => {
    try {
      const res = await fetch(`${cluster.baseUrl}${path}`, { method: 'POST', headers: init.headers, body: init.body, signal: AbortSignal.timeout(20_000) });
      await res.arrayBuffer();
      record.status = res.status;
      record.upstream = res.headers.get('x-upstream') ?? undefined;
    } catch {
      record.status = 'none';
    }
    record.answeredAt = Date.now();
  };

  /** One request of the given kind, with a fresh key. */
  const fire = (kind: LoadKind): Promise<void> => {
    const n = ++counter;
    const record: SentRequest = { key: '', kind, sentAt: Date.now() };
    window.push(record);
    if (kind === 'contact' || kind === 'conversation') {
      const id = (kind === 'contact' ? 20_000_000 : 30_000_000) + n;
      record.key = String(id);
      const payload =
        kind === 'contact'
          ? contactEvent('contact_created', { id, name: `Fault contact ${run}-${n}` }, account)
          : conversationEvent('conversation_created', { id, contactId: 40_000_000 + n }, account);
      const delivery = chatwootDelivery(payload, { secret: chatwootWebhook.secret });
      return send(record, chatwootWebhook.path, delivery);
    }
    if (kind === 'call') {
      const callSid = `CA${randomBytes(16).toString('hex')}`;
      record.key = callSid;
      // A call nobody answered: settled at once, it opens one call-back task.
      const fields = {
        AccountSid: tw.accountSid,
        CallSid: callSid,
        From: `+1415${String(2_000_000 + (n % 7_000_000)).padStart(7, '0')}`,
        To: tw.number,
        Direction: 'inbound',
        CallStatus: 'no-answer',
        CallDuration: '0',
        ApiVersion: '2010-04-01',
      };
      const signature = twilio.getExpectedTwilioSignature(tw.authToken, `${tw.publicUrl}${tw.statusPath}`, fields);
      return send(record, tw.statusPath, {
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Twilio-Signature': signature, 'User-Agent': 'TwilioProxy/1.1' },
        body: new URLSearchParams(fields).toString(),
      });
    }
    // API writes: a task, or a task on a conversation (its "task created" note is a write-back).
    record.key = `Fault ${kind} ${run}-${n}`;
    const body: Record<string, unknown> = { title: record.key, priority: 'normal' };
    if (kind === 'note') {
      record.conversationId = 50_000_000 + n;
      cluster.chatwoot.addConversation(account.id, record.conversationId);
      body.chatwoot_conversation_id = record.conversationId;
    }
    return send(record, '/api/v1/tasks', { headers: { 'Content-Type': 'application/json', ...cluster.adminHeaders }, body: JSON.stringify(body) });
  };

  const tick = () => {
    if (inFlight.size >= maxInFlight) {
      skipped++;
      return;
    }
    const sending = fire(rotation[counter % rotation.length]!).finally(() => inFlight.delete(sending));
    inFlight.add(sending);
  };

  const tallyOf = (records: SentRequest[]): LoadTally => ({
    offered: records.length,
    acknowledged: records.filter((r) => typeof r.status === 'number' && r.status < 300).length,
    serverErrors: records.filter((r) => typeof r.status === 'number' && r.status >= 500).length,
    failedToConnect: records.filter((r) => r.status === 'none').length,
  });

  const load: FaultLoad = {
    start(perSecond = 20) {
      if (timer) clearInterval(timer);
      timer = setInterval(tick, Math.max(5, Math.round(1000 / perSecond)));
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await Promise.all([...inFlight]);
      return tallyOf(window);
    },
    tally: () => tallyOf(window),
    requests: () => window,
    skipped: () => skipped,
    lastSettleInWords: () => lastSettle,
    rejected: () => window.filter((r) => typeof r.status === 'number' && r.status >= 300 && r.status < 500),
    async settle(timeoutMs) {
      // The requests answered so far; what is still in flight belongs to the next window.
      const acknowledged = window.filter((r) => typeof r.status === 'number' && r.status < 300);
      const until = Date.now() + timeoutMs;
      let counts = await countEffects(cluster, acknowledged);
      while (Date.now() < until && acknowledged.some((r) => !counts.get(r.key))) {
        await new Promise((r) => setTimeout(r, 1000));
        counts = await countEffects(cluster, acknowledged).catch(() => counts);
      }
      const processed = acknowledged.filter((r) => (counts.get(r.key) ?? 0) >= 1).length;
      const byKind = (records: SentRequest[]) => rotation.map((kind) => [kind, records.filter((r) => r.kind === kind).length] as const).filter(([, n]) => n > 0).map(([kind, n]) => `${kind} ×${n}`).join(', ');
      const lost = acknowledged.filter((r) => !counts.get(r.key));
      const doubled = acknowledged.filter((r) => (counts.get(r.key) ?? 0) > 1);
      lastSettle = [lost.length && `lost ${byKind(lost)}`, doubled.length && `doubled ${byKind(doubled)}`].filter(Boolean).join('; ');
      return { processed, lost: acknowledged.length - processed, duplicated: acknowledged.filter((r) => (counts.get(r.key) ?? 0) > 1).length };
    },
    reset() {
      window = [];
      skipped = 0;
    },
  };
  return load;
}

/**
 * How many times each key's effect exists: the cached contact or conversation, the call's
 * call-back task, the task, and for a task on a conversation the note Chatwoot received.
 */
export async function countEffects(cluster: FaultCluster, records: SentRequest[]): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const keysOf = (kind: LoadKind) => records.filter((r) => r.kind === kind).map((r) => r.key);
  const { query } = cluster.database;
  const account = cluster.accountId;
  const add = (rows: Array<{ key: string; n: number }>) => {
    for (const row of rows) counts.set(String(row.key), Math.max(counts.get(String(row.key)) ?? 0, Number(row.n)));
  };
  add(await query(`select chatwoot_contact_id::text as key, count(*)::int as n from chatwoot_contacts where account_id = $1 and chatwoot_contact_id = any($2::bigint[]) group by 1`, [account, keysOf('contact')]));
  add(await query(`select chatwoot_conversation_id::text as key, count(*)::int as n from chatwoot_conversations where account_id = $1 and chatwoot_conversation_id = any($2::bigint[]) group by 1`, [account, keysOf('conversation')]));
  // A call counts once its call-back task exists; a second call row or a second task of the same
  // title (the caller's number is unique per key) is a duplicate.
  add(await query(
    `select c.call_sid as key,
            greatest(count(distinct c.id), max((select count(*) from tasks t2 where t2.account_id = c.account_id and t2.title = t.title and t2.deleted_at is null)))::int as n
       from calls c join tasks t on t.account_id = c.account_id and t.id = c.callback_task_id
      where c.account_id = $1 and c.call_sid = any($2::text[]) group by c.call_sid`,
    [account, keysOf('call')],
  ));
  const titles = [...keysOf('task'), ...keysOf('note')];
  const tasks = new Map<string, number>();
  for (const row of await query<{ key: string; n: number }>(`select title as key, count(*)::int as n from tasks where account_id = $1 and title = any($2::text[]) and deleted_at is null group by 1`, [account, titles])) {
    tasks.set(row.key, Number(row.n));
  }
  for (const key of keysOf('task')) if (tasks.has(key)) counts.set(key, tasks.get(key)!);
  for (const record of records.filter((r) => r.kind === 'note')) {
    const conversation = cluster.chatwoot.conversations.get(`${cluster.chatwootWebhook.chatwootAccountId}:${record.conversationId}`);
    const notes = conversation?.messages.filter((m) => m.private && m.content.includes(record.key)).length ?? 0;
    // No note yet is no effect yet, even though the task exists; two tasks or two notes are doubled.
    if (notes > 0) counts.set(record.key, Math.max(notes, tasks.get(record.key) ?? 0));
  }
  return counts;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** "N requests over S s (r/s)": the load a scenario's window offered. */
export function loadInWords(load: FaultLoad, sinceMs: number): string {
  const seconds = Math.max(1, (Date.now() - sinceMs) / 1000);
  const offered = load.tally().offered;
  return `${offered} requests over ${Math.round(seconds)} s (${(offered / seconds).toFixed(1)}/s)`;
}

/** The refused requests in a few words: "12 refused (4xx: call 404 ×7, task 401 ×5)". */
export function rejectedInWords(load: FaultLoad): string | false {
  const rejected = load.rejected();
  if (!rejected.length) return false;
  const groups = new Map<string, number>();
  for (const r of rejected) groups.set(`${r.kind} ${String(r.status)}`, (groups.get(`${r.kind} ${String(r.status)}`) ?? 0) + 1);
  return `${rejected.length} valid requests refused (${[...groups].map(([what, n]) => `${what} ×${n}`).join(', ')})`;
}

/** Requests that got no acknowledgement (5xx or no answer) and were sent from `fromMs` on; the last one's answer time. */
export function lastFailureAfter(load: FaultLoad, fromMs: number): number | null {
  const failed = load.requests().filter((r) => r.sentAt >= fromMs && (r.status === 'none' || (typeof r.status === 'number' && r.status >= 500)));
  return failed.length ? Math.max(...failed.map((r) => r.answeredAt ?? r.sentAt)) : null;
}

/** The counts every scenario's row reports: what the load had acknowledged and what came of it. */
export function figures(tally: LoadTally, effects: { processed: number; lost: number; duplicated: number }, extraServerErrors = 0) {
  return { acknowledged: tally.acknowledged, processed: effects.processed, lost: effects.lost, duplicated: effects.duplicated, serverErrors: tally.serverErrors + extraServerErrors };
}
