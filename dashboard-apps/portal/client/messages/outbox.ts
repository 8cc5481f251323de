// The client's messages, kept on the phone the way the vendor portal keeps its messages to dispatch
// (vendor/messages/outbox.ts): every message is written to IndexedDB with its id before it is
// sent, and sent again (same id: the server keeps one) until the server has it; the last copy of
// each thread and of the thread list is kept too, so they read with no signal. Files go with a
// message as blobs in the same record (photos already shrunk), sent as multipart/form-data.
// Everything is filed under the signed-in person: on a shared phone nobody sees or sends another
// person's. One tab sends at a time (Web Locks where the browser has them).
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import { ApiError, call, isTransient } from '../../shared/http.ts';
import { me } from '../session.ts';

export interface ThreadMessage {
  id: string;
  client_id: string | null;
  direction: 'from_client' | 'from_agent';
  author_name: string;
  content: string;
  attachments: Array<{ url: string; filename: string; content_type: string }>;
  status: 'sending' | 'sent' | 'failed';
  created_at: string;
}

export interface ThreadSummary {
  id: string;
  job: { id: string; reference: string; summary: string } | null;
  title: string;
  last_message: { content: string; direction: ThreadMessage['direction']; created_at: string } | null;
  unread: number;
}

export interface ThreadView { thread: ThreadSummary; messages: ThreadMessage[]; agent_typing: boolean }

/** A file waiting on the phone with its message. */
export interface OutgoingFile { filename: string; content_type: string; blob: Blob }

/** At most this many files go with one message (the server's limit). */
export const maxFilesPerMessage = 3;

export interface OutgoingMessage {
  id: string;
  owner: string;
  thread_id: string;
  content: string;
  files: OutgoingFile[];
  created_at: string;
  /** `failed`: the server refused it (not a network problem); kept until retried or removed. */
  state: 'queued' | 'failed';
  error: string | null;
}

interface MessagesDb extends DBSchema {
  outbox: { key: string; value: OutgoingMessage; indexes: { thread_id: string } };
  threads: { key: string; value: { key: string; owner: string; view: ThreadView; fetched_at: string } };
  lists: { key: string; value: { owner: string; threads: ThreadSummary[]; fetched_at: string } };
}

export const clientMessagesDbName = 'onelink-client-messages';
/** How many messages of a thread are kept for reading offline. */
const cachedPerThread = 100;
let opened: Promise<IDBPDatabase<MessagesDb>> | null = null;

function db() {
  opened ??= openDB<MessagesDb>(clientMessagesDbName, 1, {
    upgrade(database) {
      database.createObjectStore('outbox', { keyPath: 'id' }).createIndex('thread_id', 'thread_id');
      database.createObjectStore('threads', { keyPath: 'key' });
      database.createObjectStore('lists', { keyPath: 'owner' });
    },
  });
  return opened;
}

const signedIn = () => me.value?.caller.id ?? null;
const mine = (row: { owner?: string }) => Boolean(row.owner) && row.owner === signedIn();
const threadKey = (owner: string, threadId: string) => `${owner}:${threadId}`;

export const messagesPath = (threadId: string) => `/portal/client/threads/${encodeURIComponent(threadId)}/messages`;

/** The thread list from the server (and into the phone's copy); throws when it cannot be reached. */
export async function fetchThreads(): Promise<ThreadSummary[]> {
  const owner = signedIn();
  const { data } = await call<ThreadSummary[]>('GET', '/portal/client/threads');
  if (owner && owner === signedIn()) await (await db()).put('lists', { owner, threads: data, fetched_at: new Date().toISOString() });
  return data;
}

export async function cachedThreads() {
  const owner = signedIn();
  return owner ? ((await (await db()).get('lists', owner)) ?? null) : null;
}

/** A job's conversation (created on the server if it has none): its thread id. */
export async function threadOfJob(jobId: string): Promise<string> {
  const { data } = await call<ThreadSummary[]>('GET', `/portal/client/threads?job_id=${encodeURIComponent(jobId)}`);
  return data[0]!.id;
}

export async function fetchThread(threadId: string): Promise<ThreadView> {
  const owner = signedIn();
  const { data } = await call<ThreadView>('GET', messagesPath(threadId));
  if (owner && owner === signedIn()) {
    const kept = { ...data, messages: data.messages.slice(-cachedPerThread) };
    await (await db()).put('threads', { key: threadKey(owner, threadId), owner, view: kept, fetched_at: new Date().toISOString() });
  }
  return data;
}

export async function cachedThread(threadId: string) {
  const owner = signedIn();
  return owner ? ((await (await db()).get('threads', threadKey(owner, threadId))) ?? null) : null;
}

export async function outboxOf(threadId: string): Promise<OutgoingMessage[]> {
  const rows = (await (await db()).getAllFromIndex('outbox', 'thread_id', threadId)).filter(mine);
  return rows.sort((a, b) => a.created_at.localeCompare(b.created_at));
}

/** Keeps a new message (and its files) on the phone first; flushOutbox then sends it. */
export async function queueMessage(threadId: string, content: string, files: OutgoingFile[] = []): Promise<OutgoingMessage> {
  const owner = signedIn();
  if (!owner) throw new Error('not signed in');
  const message: OutgoingMessage = { id: crypto.randomUUID(), owner, thread_id: threadId, content, files, created_at: new Date().toISOString(), state: 'queued', error: null };
  await (await db()).put('outbox', message);
  return message;
}

export async function retryMessage(id: string) {
  const database = await db();
  const row = await database.get('outbox', id);
  if (row && mine(row)) await database.put('outbox', { ...row, state: 'queued', error: null });
}

export async function removeMessage(id: string) {
  const database = await db();
  const row = await database.get('outbox', id);
  if (row && mine(row)) await database.delete('outbox', id);
}

const changeListeners = new Set<() => void>();
/** Calls back whenever the outbox sent or gave up on a message; answers how to stop. */
export function onOutboxChange(listener: () => void) {
  changeListeners.add(listener);
  return () => changeListeners.delete(listener);
}
const changed = () => changeListeners.forEach((listener) => listener());

/** Sends a message with files as a form (id, content, then each file under `attachments`), in the envelope call() reads. */
async function postForm(path: string, form: FormData) {
  let response: Response;
  try {
    response = await fetch(`/api/v1${path}`, { method: 'POST', credentials: 'same-origin', headers: { 'X-Requested-With': 'onelink', Accept: 'application/json' }, body: form });
  } catch {
    throw new ApiError(0, 'network_error', 'No connection');
  }
  const payload = (await response.json().catch(() => null)) as { error?: { code: string; message: string } } | null;
  if (!response.ok) throw new ApiError(response.status, payload?.error?.code ?? 'http_error', payload?.error?.message ?? `The service answered ${response.status}`);
}

async function post(row: OutgoingMessage) {
  if (!row.files.length) {
    await call('POST', messagesPath(row.thread_id), { id: row.id, content: row.content });
    return;
  }
  const form = new FormData();
  form.append('id', row.id);
  form.append('content', row.content);
  for (const file of row.files) form.append('attachments', new File([file.blob], file.filename, { type: file.content_type }));
  await postForm(messagesPath(row.thread_id), form);
}

let flushing: Promise<void> | null = null;
let again = false;
let retryTimer: ReturnType<typeof setTimeout> | undefined;
let backoff = 0;
const maxBackoffMs = 5 * 60_000;

function scheduleRetry() {
  clearTimeout(retryTimer);
  backoff = Math.min(maxBackoffMs, backoff ? backoff * 2 : 5_000);
  retryTimer = setTimeout(() => void flushOutbox(), backoff);
}

/** Sends what waits, oldest first; stops at the first network failure and tries again later. */
async function sendQueued() {
  const person = signedIn();
  if (!person) return;
  const database = await db();
  const rows = (await database.getAll('outbox')).filter((r) => r.owner === person && r.state === 'queued').sort((a, b) => a.created_at.localeCompare(b.created_at));
  for (const row of rows) {
    // Another tab may have sent it while this one waited for its turn.
    if (!(await database.get('outbox', row.id))) continue;
    // Sent only under the session of the person who wrote it.
    if (signedIn() !== person) return;
    try {
      await post(row);
      await database.delete('outbox', row.id);
      changed();
    } catch (err) {
      if (isTransient(err)) {
        scheduleRetry();
        return;
      }
      // A lost session: sent again after the next sign-in.
      if (err instanceof ApiError && err.status === 401) return;
      await database.put('outbox', { ...row, state: 'failed', error: err instanceof Error ? err.message : String(err) });
      changed();
    }
  }
  backoff = 0;
  clearTimeout(retryTimer);
}

function withSenderLock(work: () => Promise<void>): Promise<void> {
  const locks = typeof navigator === 'undefined' ? undefined : navigator.locks;
  if (!locks?.request) return work();
  return locks.request('onelink-client-sender-messages', () => work()).then(() => undefined);
}

/** Sends every message that waits (all threads, oldest first); resolves when this round is done. */
export function flushOutbox(): Promise<void> {
  if (flushing) {
    again = true;
    return flushing;
  }
  flushing = (async () => {
    try {
      do {
        again = false;
        await withSenderLock(sendQueued);
      } while (again);
    } finally {
      flushing = null;
    }
  })();
  return flushing;
}

let listening = false;
/** Sends the outbox now and again whenever the browser is back online or the app is shown. */
export function startOutbox() {
  if (!listening) {
    listening = true;
    const now = () => {
      backoff = 0;
      void flushOutbox();
    };
    window.addEventListener('online', now);
    document.addEventListener('visibilitychange', () => document.visibilityState === 'visible' && now());
  }
  return flushOutbox();
}
