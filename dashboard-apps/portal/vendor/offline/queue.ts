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

/** Actions not yet accepted by the server, in order (refused ones included). */
export const queue = ref<QueuedAction[]>([]);
/** True while a replay is running. */
export const sending = ref(false);
/** What the browser says of the connection (it may be wrong when "online" has no route out). */
export const online = ref(typeof navigator === 'undefined' ? true : navigator.onLine);

type Hooks = {
  /** The server's copy of a job after one of its actions was applied (null: the job is no longer this person's). */
  applied: (job: PortalJob | null, jobId: string) => void;
  /** Resolves once the job's photos are uploaded (the server checks required photos on these). */
  uploadsSettled: (jobId: string) => Promise<void>;
};
let owner: string | null = null;
let hooks: Hooks = { applied: () => undefined, uploadsSettled: async () => undefined };
let retryTimer: ReturnType<typeof setTimeout> | undefined;
let backoff = 0;
const maxBackoffMs = 5 * 60_000;

const needsUploads = (action: ActionBody) => action.kind === 'submit_for_review' || action.kind === 'complete';

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
}

/** Takes an action: queued (and so shown) at once, then sent when the network lets it. */
export async function takeAction(action: Omit<ActionBody, 'id' | 'happened_at' | 'offline'>) {
  if (!owner) throw new Error('not signed in');
  const body: ActionBody = { ...action, id: crypto.randomUUID(), happened_at: new Date().toISOString(), offline: !navigator.onLine };
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

async function nextWaiting() {
  return owner ? (await queuedActions(owner)).find((item) => item.state === 'waiting') : undefined;
}

/** Sends the waiting actions in order; stops at the first network failure (order is kept). */
export async function replay() {
  if (sending.value || !owner) return;
  sending.value = true;
  try {
    // Re-read after each one: actions taken while this runs join the end of the line.
    for (let item = await nextWaiting(); item; item = await nextWaiting()) {
      // The server counts the job's photos when it checks these: the ones taken must be there first.
      if (needsUploads(item.body)) await hooks.uploadsSettled(item.body.job_id).catch(() => undefined);
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
    sending.value = false;
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
