// The action queue. Every job action (on my way, start, ticks, notes, send for review, complete)
// is written to IndexedDB first, with an id made here and the device's time, and shown at once;
// then it is sent, in the order taken. A network failure leaves it queued (retried when the
// browser says it is online, when the app opens, and on a timer that backs off); a refusal from
// the server stays on the item with the server's words until the person discards it. The server
// applies an id once, so sending an item again after a lost answer does no harm.
import { ref } from 'vue';
import { call, isTransient, ApiError } from '../../shared/http.ts';
import type { ActionBody, MissingThing, PortalJob } from '../types.ts';
import { addAction, deleteAction, putAction, queuedActions, type QueuedAction } from './db.ts';
import { withSenderLock } from './sender-lock.ts';

/** Actions not yet accepted by the server, in order (refused ones included). */
export const queue = ref<QueuedAction[]>([]);
/** True while a replay is running. */
export const sending = ref(false);
/** What the browser says of the connection (it may be wrong when "online" has no route out). */
export const online = ref(typeof navigator === 'undefined' ? true : navigator.onLine);
/** Queue seqs of finishing actions held back until their job's photos are uploaded. */
export const waitingForPhotos = ref<Set<number>>(new Set());

type Hooks = {
  /** The server's copy of a job after one of its actions was applied (null: the job is no longer this person's). */
  applied: (job: PortalJob | null, jobId: string) => void;
  /** Resolves once the job's photos are uploaded (the server checks required photos on these). */
  uploadsSettled: (jobId: string) => Promise<void>;
  /** How many of the job's photos are still on the phone. */
  uploadsPending?: (jobId: string) => Promise<number>;
};
let owner: string | null = null;
let hooks: Hooks = { applied: () => undefined, uploadsSettled: async () => undefined };
/** Jobs whose photos are being waited for (one waiter each). */
const photoWaits = new Set<string>();
let replayAgain = false;
let retryTimer: ReturnType<typeof setTimeout> | undefined;
let backoff = 0;
const maxBackoffMs = 5 * 60_000;

const needsUploads = (action: Pick<ActionBody, 'kind'>) => action.kind === 'submit_for_review' || action.kind === 'complete';

/** The same kind, on the same job and item (and, for notes, the same words). */
function sameAction(a: ActionBody, b: Omit<ActionBody, 'id' | 'happened_at' | 'offline'>) {
  return a.job_id === b.job_id && a.kind === b.kind && (a.item_id ?? null) === (b.item_id ?? null) && (a.text ?? null) === (b.text ?? null) && (a.eta ?? null) === (b.eta ?? null);
}

async function reload() {
  queue.value = owner ? await queuedActions(owner) : [];
}

/** Opens the queue for the signed-in person and replays what they left (called at start and at sign-in). */
export async function openQueue(person: string, with_: Hooks) {
  owner = person;
  hooks = with_;
  await reload();
  void replay();
}

export function closeQueue() {
  owner = null;
  queue.value = [];
  clearTimeout(retryTimer);
  photoWaits.clear();
  waitingForPhotos.value = new Set();
}

/** Takes an action: queued (and so shown) at once, then sent when the network lets it. */
export async function takeAction(action: Omit<ActionBody, 'id' | 'happened_at' | 'offline'>) {
  if (!owner) throw new Error('not signed in');
  const waiting = (await queuedActions(owner)).filter((item) => item.state === 'waiting');
  // A second tap on the same control before the first was sent is the same action: compared with
  // the latest one waiting on the same job and item (check, uncheck, check again is three).
  const latest = [...waiting].reverse().find((item) => item.body.job_id === action.job_id && (item.body.item_id ?? null) === (action.item_id ?? null));
  if (latest && sameAction(latest.body, action)) return latest.body.id;
  // The server takes the device's time only for an action flagged offline, and the body never
  // changes once sent (replays are compared): so it is decided now. Anything that cannot go out at
  // once — no signal, others waiting before it, photos still uploading — will arrive late.
  const holdsForPhotos = needsUploads(action) && ((await hooks.uploadsPending?.(action.job_id).catch(() => 1)) ?? 0) > 0;
  const offline = !navigator.onLine || waiting.length > 0 || holdsForPhotos;
  const body: ActionBody = { ...action, id: crypto.randomUUID(), happened_at: new Date().toISOString(), offline };
  await addAction({ owner, body, state: 'waiting', attempts: 0, error: null });
  await reload();
  void replay();
  return body.id;
}

/** Drops a refused (or still waiting) action: the person decided it will not happen. */
export async function discardAction(seq: number) {
  await deleteAction(seq);
  await reload();
}

function scheduleRetry() {
  clearTimeout(retryTimer);
  backoff = Math.min(maxBackoffMs, backoff ? backoff * 2 : 5_000);
  retryTimer = setTimeout(() => void replay(), backoff);
}

function refusal(err: ApiError): QueuedAction['error'] {
  const details = err.details as { missing?: MissingThing[] } | null;
  return { status: err.status, code: err.code, message: err.message, missing: Array.isArray(details?.missing) ? details.missing : [] };
}

/**
 * The next waiting action that may go: a job whose finishing action waits for its photos holds back
 * its own later actions (their order is kept), but not the other jobs'.
 */
async function nextWaiting(held: Set<string>) {
  const items = owner ? await queuedActions(owner) : [];
  return items.find((item) => item.state === 'waiting' && !held.has(item.body.job_id));
}

/** Replays again once the job's photos are up (or given up on). */
function waitForPhotos(jobId: string) {
  if (photoWaits.has(jobId)) return;
  photoWaits.add(jobId);
  void hooks
    .uploadsSettled(jobId)
    .catch(() => undefined)
    .finally(() => {
      photoWaits.delete(jobId);
      void replay();
    });
}

/** Sends the waiting actions in order; stops at the first network failure (order is kept). */
export async function replay() {
  if (!owner) return;
  if (sending.value) {
    // Asked during a run (e.g. a job's photos landed after the run passed it over): once more after it.
    replayAgain = true;
    return;
  }
  sending.value = true;
  replayAgain = false;
  const person = owner;
  try {
    await withSenderLock('actions', () => sendWaiting(person));
  } finally {
    sending.value = false;
  }
  // Someone else signed in while this ran: their line goes now.
  if (owner && (owner !== person || replayAgain)) void replay();
}

async function sendWaiting(person: string) {
  const held = new Set<string>();
  const photoHeld = new Set<number>();
  try {
    // Re-read after each one: actions taken while this runs join the end of the line.
    for (let item = await nextWaiting(held); item; item = await nextWaiting(held)) {
      // The server counts the job's photos when it checks these: the ones taken must be there first.
      if (needsUploads(item.body) && ((await hooks.uploadsPending?.(item.body.job_id).catch(() => 0)) ?? 0) > 0) {
        held.add(item.body.job_id);
        photoHeld.add(item.seq!);
        waitingForPhotos.value = new Set(photoHeld);
        waitForPhotos(item.body.job_id);
        continue;
      }
      // Only under the session of the person who took it: stop if someone else signed in meanwhile.
      if (owner !== person || item.owner !== person) return;
      try {
        // Sent exactly as first written: the server compares a replayed id's body with the first one.
        const { data } = await call<{ job: PortalJob | null }>('POST', '/portal/vendor/actions', item.body);
        // The server's copy first, then the item leaves the queue: the screen never loses the change in between.
        hooks.applied(data.job, item.body.job_id);
        await deleteAction(item.seq!);
        await reload();
      } catch (err) {
        if (isTransient(err) || (err instanceof ApiError && err.status === 401)) {
          await putAction({ ...item, attempts: item.attempts + 1 });
          await reload();
          scheduleRetry();
          return;
        }
        await putAction({ ...item, state: 'refused', attempts: item.attempts + 1, error: refusal(err as ApiError) });
        await reload();
      }
    }
    backoff = 0;
    clearTimeout(retryTimer);
  } finally {
    waitingForPhotos.value = photoHeld;
  }
}

if (typeof window !== 'undefined') {
  window.addEventListener('offline', () => (online.value = false));
  window.addEventListener('online', () => {
    online.value = true;
    backoff = 0;
    void replay();
  });
  document.addEventListener('visibilitychange', () => document.visibilityState === 'visible' && void replay());
}
