// Messages to dispatch, kept on the phone: every message is written to IndexedDB with its id before
// it is sent, and sent again (same id: the server keeps one) until the server has it; the last
// thread of each job is kept too, so it can be read with no signal. Files go with a message as
// blobs in the same record (photos already compressed), so a reload with no signal loses nothing;
// a message with files is sent as multipart/form-data. Messages and threads are filed under the
// signed-in person: on a shared phone nobody sees or sends another person's.
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import { withSenderLock } from '../offline/sender-lock.ts';
import { me } from '../session.ts';
import { isOffline, portalCall, ApiError } from '../uploads/request.ts';

export interface ThreadMessage {
  id: string;
  client_id: string | null;
  direction: 'from_vendor' | 'from_dispatch';
  author_name: string | null;
  content: string;
  attachments: Array<{ url: string; filename: string; content_type: string }>;
  status: 'sending' | 'sent' | 'failed';
  created_at: string;
}

/** A file waiting on the phone with its message (a compressed photo or a document as picked). */
export interface OutgoingFile { filename: string; content_type: string; blob: Blob }

/** At most this many files go with one message (the server's limit). */
export const maxFilesPerMessage = 3;

export interface OutgoingMessage {
  id: string;
  /** The person who wrote it (portal user id); rows kept before this belong to nobody and never go. */
  owner?: string;
  job_id: string;
  content: string;
  /** Absent on messages kept before files could be attached. */
  files?: OutgoingFile[];
  created_at: string;
  /** `failed`: the server refused it (not a network problem); kept until retried or removed. */
  state: 'queued' | 'failed';
  error: string | null;
}

interface MessagesDb extends DBSchema {
  outbox: { key: string; value: OutgoingMessage; indexes: { job_id: string } };
  threads: { key: string; value: { job_id: string; owner?: string; messages: ThreadMessage[]; fetched_at: string } };
}

export const messagesDbName = 'onelink-vendor-messages';
/** How many messages of a thread are kept for reading offline. */
const cachedPerThread = 100;
let opened: Promise<IDBPDatabase<MessagesDb>> | null = null;

function db() {
  opened ??= openDB<MessagesDb>(messagesDbName, 1, {
    upgrade(database) {
      database.createObjectStore('outbox', { keyPath: 'id' }).createIndex('job_id', 'job_id');
      database.createObjectStore('threads', { keyPath: 'job_id' });
    },
  });
  return opened;
}

const signedIn = () => me.value?.caller.id ?? null;
const mine = (row: { owner?: string }) => Boolean(row.owner) && row.owner === signedIn();

export const threadPath = (jobId: string) => `/portal/vendor/jobs/${encodeURIComponent(jobId)}/messages`;

export async function cachedThread(jobId: string) {
  const row = await (await db()).get('threads', jobId);
  return row && mine(row) ? row : null;
}

/** The thread from the server (and into the cache); throws when it cannot be reached. */
export async function fetchThread(jobId: string): Promise<ThreadMessage[]> {
  const owner = signedIn();
  const messages = await portalCall<ThreadMessage[]>('GET', threadPath(jobId));
  // Kept only for the person it was fetched for (it may have changed during the request).
  if (owner && owner === signedIn()) await (await db()).put('threads', { job_id: jobId, owner, messages: messages.slice(-cachedPerThread), fetched_at: new Date().toISOString() });
  return messages;
}

export async function outboxOf(jobId: string): Promise<OutgoingMessage[]> {
  const rows = (await (await db()).getAllFromIndex('outbox', 'job_id', jobId)).filter(mine);
  return rows.sort((a, b) => a.created_at.localeCompare(b.created_at));
}

/** Keeps a new message (and its files) on the device first, then tries to send it. */
export async function queueMessage(jobId: string, content: string, files: OutgoingFile[] = []): Promise<OutgoingMessage> {
  const owner = signedIn();
  if (!owner) throw new Error('not signed in');
  const message: OutgoingMessage = { id: crypto.randomUUID(), owner, job_id: jobId, content, files, created_at: new Date().toISOString(), state: 'queued', error: null };
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

/** The signed-in person's messages still on the phone (queued or refused): the sign-out warning counts them. */
export async function unsentMessages(): Promise<number> {
  return (await (await db()).getAll('outbox')).filter(mine).length;
}

/** The person left (signed out, session ended): their kept threads go; their unsent messages stay for them. */
export async function forgetThreadsOf(owner: string) {
  const database = await db();
  for (const row of await database.getAll('threads')) if (row.owner === owner) await database.delete('threads', row.job_id);
}

const changeListeners = new Set<() => void>();
/** Calls back whenever the outbox sent or gave up on a message; answers how to stop. */
export function onOutboxChange(listener: () => void) {
  changeListeners.add(listener);
  return () => changeListeners.delete(listener);
}
const changed = () => changeListeners.forEach((listener) => listener());

/** JSON for text alone; with files, a form: id, content, then each file under `file`. */
function bodyOf(row: OutgoingMessage): FormData | { id: string; content: string } {
  if (!row.files?.length) return { id: row.id, content: row.content };
  const form = new FormData();
  form.append('id', row.id);
  form.append('content', row.content);
  for (const file of row.files) form.append('file', new File([file.blob], file.filename, { type: file.content_type }));
  return form;
}

let flushing: Promise<void> | null = null;
/** A flush was asked for while one ran: run once more after it (a message queued meanwhile). */
let again = false;
let retryTimer: ReturnType<typeof setTimeout> | undefined;
let backoff = 0;
const maxBackoffMs = 5 * 60_000;

function scheduleRetry() {
  clearTimeout(retryTimer);
  backoff = Math.min(maxBackoffMs, backoff ? backoff * 2 : 5_000);
  retryTimer = setTimeout(() => void flushOutbox(), backoff);
}

/** A failure worth trying again later (the network, a timeout, a server down or busy). */
const worthRetrying = (err: unknown) => isOffline(err) || (err instanceof ApiError && (err.status === 408 || err.status === 429 || err.status >= 500));

/** Sends what waits, oldest first; stops at the first network failure and tries again later. */
async function sendQueued() {
  const person = signedIn();
  if (!person) return;
  const database = await db();
  const rows = (await database.getAll('outbox')).filter((r) => r.owner === person && r.state === 'queued').sort((a, b) => a.created_at.localeCompare(b.created_at));
  for (const row of rows) {
    // Another tab may have sent it while this one waited for its turn.
    if (!(await database.get('outbox', row.id))) continue;
    // Sent only under the session of the person who wrote it: stop when someone else signs in.
    if (signedIn() !== person) return;
    try {
      await portalCall<ThreadMessage>('POST', threadPath(row.job_id), bodyOf(row));
      await database.delete('outbox', row.id);
      changed();
    } catch (err) {
      if (worthRetrying(err)) {
        scheduleRetry();
        return;
      }
      // A lost session: sent again after the next sign-in (which starts the outbox).
      if (err instanceof ApiError && err.status === 401) return;
      await database.put('outbox', { ...row, state: 'failed', error: err instanceof Error ? err.message : String(err) });
      changed();
    }
  }
  backoff = 0;
  clearTimeout(retryTimer);
}

/** Sends every message that waits (all jobs, oldest first); resolves when this round is done. */
export function flushOutbox(): Promise<void> {
  if (flushing) {
    again = true;
    return flushing;
  }
  flushing = (async () => {
    try {
      do {
        again = false;
        await withSenderLock('messages', sendQueued);
      } while (again);
    } finally {
      flushing = null;
    }
  })();
  return flushing;
}

let listening = false;
/** Sends the outbox now and again whenever the browser is back online or the app is shown (listens once per page). */
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
