// The upload queue: every photo or document waits in IndexedDB (store.ts) and goes to the server
// one at a time over tus, resuming from the server's offset after a cut, a reload or a restart (the
// upload's address is kept with the file). It runs when the app opens, when the browser says it is
// back online, and on a growing back-off after a failed try; a file leaves the device only when the
// server has named the artifact it became. What the server refuses for good (type, size, job gone)
// stays on the device, marked failed with the reason, until the person removes it.
// Each file belongs to the person signed in when it was taken: on a shared phone the queue shows and
// sends only the signed-in person's files, and stops while nobody (or someone else) is signed in.
import { reactive, watch } from 'vue';
import { Upload, type DetailedError } from 'tus-js-client';
import { me } from '../session.ts';
import { withSenderLock } from '../offline/sender-lock.ts';
import { prepareFile } from './compress.ts';
import { allUploads, deleteUpload, getUpload, saveUpload, updateUpload, type StoredUpload } from './store.ts';

export const uploadEndpoint = '/api/v1/uploads';
/** Small enough that a bad connection keeps most of what it sent, big enough to be few requests. */
const chunkSize = 256 * 1024;
const backoff = [2_000, 5_000, 15_000, 30_000, 60_000];

export interface QueueEntry {
  client_id: string;
  job_id: string;
  kind: 'photo' | 'document';
  tag: string | null;
  filename: string;
  size: number;
  /** Bytes the server has, as far as we know. */
  sent: number;
  state: 'waiting' | 'uploading' | 'failed';
  error: string | null;
}

/** What the banner and the photo section show; the blobs stay in IndexedDB. */
export const uploadQueue = reactive({
  entries: [] as QueueEntry[],
  /** When the queue will try again after a failed try (ms since epoch), or null. */
  retryAt: null as number | null,
  /** Waiting because the session ended: the person must sign in again. */
  signedOut: false,
});

type Landed = { client_id: string; job_id: string; artifact_id: string };
const landedListeners = new Set<(landed: Landed) => void>();
const settleWaiters: Array<{ jobId: string | null; resolve: () => void }> = [];
let started = false;
let running = false;
let again = false;
let failures = 0;
let timer: ReturnType<typeof setTimeout> | undefined;
/** The upload on the wire and how to stop it (its promise settles, so the pump is not left hanging). */
let current: { upload: Upload; stop: () => void } | null = null;
/** Whose files `uploadQueue.entries` holds. */
let loadedFor: string | null = null;

const signedIn = () => me.value?.caller.id ?? null;
class Stopped extends Error {}

function entryOf(row: StoredUpload): QueueEntry {
  return {
    client_id: row.client_id,
    job_id: row.job_id,
    kind: row.kind,
    tag: row.tag,
    filename: row.filename,
    size: row.size,
    sent: 0,
    state: row.state,
    error: row.error,
  };
}

function find(clientId: string) {
  return uploadQueue.entries.find((e) => e.client_id === clientId);
}

function drop(entry: QueueEntry) {
  const at = uploadQueue.entries.indexOf(entry);
  if (at >= 0) uploadQueue.entries.splice(at, 1);
}

/** Shows and sends only this person's files (nobody: none); the file on the wire for someone else stops. */
async function openFor(person: string | null) {
  loadedFor = person;
  clearTimeout(timer);
  uploadQueue.retryAt = null;
  uploadQueue.signedOut = false;
  current?.stop();
  const rows = person ? await allUploads(person) : [];
  if (loadedFor !== person) return; // the person changed again meanwhile
  uploadQueue.entries.splice(0, uploadQueue.entries.length, ...rows.map(entryOf));
  if (person) kick();
}

/** Starts the queue once (main.ts): loads what the device still holds and sends it when it can. */
export async function startUploadQueue() {
  if (started) return;
  started = true;
  watch(signedIn, (person) => void openFor(person));
  await openFor(signedIn());
  window.addEventListener('online', () => kick());
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') kick();
  });
}

/** Tries now, forgetting the back-off (back online, a new file, the person asked). */
export function kick() {
  failures = 0;
  uploadQueue.retryAt = null;
  clearTimeout(timer);
  void pump();
}

/** Files waiting to reach the server for a job (failed ones are not waiting any more). */
export async function pendingUploads(jobId: string): Promise<number> {
  if (!started) {
    const person = signedIn();
    const rows = person ? await allUploads(person) : [];
    return rows.filter((r) => r.job_id === jobId && r.state === 'waiting').length;
  }
  return uploadQueue.entries.filter((e) => e.job_id === jobId && e.state !== 'failed').length;
}

/** Files of the signed-in person still on the phone (waiting or refused): the sign-out warning counts them. */
export async function unsentUploads(): Promise<number> {
  const person = signedIn();
  return person ? (await allUploads(person)).length : 0;
}

/** Resolves once nothing of the job waits any more (each file landed, or failed for good). */
export async function whenUploadsSettled(jobId: string): Promise<void> {
  if ((await pendingUploads(jobId)) === 0) return;
  return new Promise((resolve) => settleWaiters.push({ jobId, resolve }));
}

function settle() {
  for (let i = settleWaiters.length - 1; i >= 0; i--) {
    const waiter = settleWaiters[i]!;
    const open = uploadQueue.entries.some((e) => (waiter.jobId === null || e.job_id === waiter.jobId) && e.state !== 'failed');
    if (!open) {
      settleWaiters.splice(i, 1);
      waiter.resolve();
    }
  }
}

/** Calls back each time a file of any job has landed on the server; answers how to stop. */
export function onUploadLanded(listener: (landed: Landed) => void) {
  landedListeners.add(listener);
  return () => landedListeners.delete(listener);
}

/**
 * Compresses and stores the files for a job — on the device, before any network — then queues them.
 * With `keepLocation` (the account keeps where photos were taken), a photo's position is read from
 * the original's EXIF first: the compressed copy carries none, so it travels beside it as metadata.
 * Answers the client ids given to them.
 */
export async function addFiles(jobId: string, files: Iterable<File>, tag: string | null = null, options: { keepLocation?: boolean } = {}): Promise<string[]> {
  const owner = signedIn();
  if (!owner) throw new Error('not signed in');
  const ids: string[] = [];
  for (const file of files) {
    const takenAt = new Date().toISOString();
    // Any image (a phone may give no type): the reader itself answers null for anything not a JPEG.
    const location = options.keepLocation && (!file.type || file.type.startsWith('image/')) ? await photoLocation(file) : null;
    const prepared = await prepareFile(file);
    const row: StoredUpload = {
      client_id: crypto.randomUUID(),
      owner,
      job_id: jobId,
      kind: prepared.kind,
      tag,
      taken_at: takenAt,
      location: prepared.kind === 'photo' ? location : null,
      filename: prepared.filename,
      content_type: prepared.content_type,
      blob: prepared.blob,
      size: prepared.blob.size,
      created_at: new Date().toISOString(),
      upload_url: null,
      state: 'waiting',
      error: null,
      attempts: 0,
    };
    await saveUpload(row);
    if (loadedFor === owner || !started) uploadQueue.entries.push(entryOf(row));
    ids.push(row.client_id);
  }
  if (started) kick();
  return ids;
}

/** The EXIF reader is loaded only when an account keeps positions: the first screen never pays for it. */
async function photoLocation(file: File) {
  try {
    const { readPhotoLocation } = await import('./exif-gps.ts');
    return await readPhotoLocation(file);
  } catch {
    return null; // the reader could not load (offline before it was cached): the photo goes without
  }
}

/** Sends a failed file again (after the person fixed what was wrong, e.g. the session). */
export async function retryUpload(clientId: string) {
  const entry = find(clientId);
  if (!entry) return;
  await updateUpload(clientId, { state: 'waiting', error: null });
  Object.assign(entry, { state: 'waiting', error: null });
  kick();
}

/** Removes a file from the device without sending it (only failed ones are offered this). */
export async function discardUpload(clientId: string) {
  const row = await getUpload(clientId);
  if (row && row.owner !== signedIn()) return;
  const onTheWire = Boolean(current && find(clientId)?.state === 'uploading');
  if (onTheWire) current?.stop();
  await deleteUpload(clientId);
  const entry = find(clientId);
  if (entry) drop(entry);
  settle();
  if (onTheWire) kick();
}

async function pump() {
  if (running) {
    again = true; // asked while a run was ending or stopping: run once more after it
    return;
  }
  running = true;
  again = false;
  try {
    // One tab sends at a time (offline/sender-lock.ts).
    await withSenderLock('uploads', async () => {
      for (;;) {
        const person = signedIn();
        if (!person || person !== loadedFor) break;
        const next = uploadQueue.entries.find((e) => e.state === 'waiting');
        if (!next) break;
        // Another tab sent (and removed) it while this one waited for its turn.
        if (!(await getUpload(next.client_id))) {
          drop(next);
          continue;
        }
        const outcome = await sendOne(next, person);
        if (outcome === 'stopped') break;
        if (outcome === 'retry-later') {
          scheduleRetry();
          break;
        }
      }
    });
  } finally {
    running = false;
    settle();
    if (again) void pump();
  }
}

function scheduleRetry() {
  const delay = backoff[Math.min(failures, backoff.length - 1)]!;
  failures += 1;
  uploadQueue.retryAt = Date.now() + delay;
  clearTimeout(timer);
  timer = setTimeout(() => {
    uploadQueue.retryAt = null;
    void pump();
  }, delay);
}

type Outcome = 'landed' | 'failed' | 'retry-later' | 'stopped';

async function sendOne(entry: QueueEntry, person: string): Promise<Outcome> {
  const row = await getUpload(entry.client_id);
  if (!row) {
    drop(entry);
    return 'landed';
  }
  // Only under the session of the person who took it (checked again after the read above).
  if (row.owner !== person || signedIn() !== person) return 'stopped';
  entry.state = 'uploading';
  try {
    const artifactId = await tusUpload(row, entry);
    await deleteUpload(row.client_id);
    drop(entry);
    failures = 0;
    uploadQueue.signedOut = false;
    for (const listener of landedListeners) listener({ client_id: row.client_id, job_id: row.job_id, artifact_id: artifactId });
    return 'landed';
  } catch (err) {
    if (err instanceof Stopped) {
      entry.state = 'waiting';
      return 'stopped';
    }
    const status = (err as DetailedError).originalResponse?.getStatus?.() ?? 0;
    if (status === 401) {
      entry.state = 'waiting';
      uploadQueue.signedOut = true;
      return 'retry-later';
    }
    if (isRefusal(status)) {
      const reason = refusalText(err as DetailedError, status);
      entry.state = 'failed';
      entry.error = reason;
      await updateUpload(row.client_id, { state: 'failed', error: reason, attempts: row.attempts + 1 });
      return 'failed';
    }
    entry.state = 'waiting';
    await updateUpload(row.client_id, { attempts: row.attempts + 1 });
    return 'retry-later';
  } finally {
    current = null;
  }
}

/** 4xx answers that another try will not change (a 409/423/429 may pass later; 404 is handled by tus). */
function isRefusal(status: number) {
  return status >= 400 && status < 500 && ![401, 408, 409, 423, 429].includes(status);
}

function refusalText(err: DetailedError, status: number) {
  try {
    const body = JSON.parse(err.originalResponse?.getBody() ?? '') as { error?: { message?: string } };
    if (body.error?.message) return body.error.message;
  } catch {
    // not our envelope: fall through to the status
  }
  return status === 413 ? 'The file is too large' : status === 415 ? 'This type of file is not accepted' : `Refused by the server (${status})`;
}

function tusUpload(row: StoredUpload, entry: QueueEntry): Promise<string> {
  return new Promise((resolve, reject) => {
    let artifactId: string | null = null;
    const metadata: Record<string, string> = {
      job_id: row.job_id,
      filename: row.filename,
      filetype: row.content_type,
      client_id: row.client_id,
      taken_at: row.taken_at,
    };
    if (row.tag) metadata.tag = row.tag;
    if (row.location) {
      metadata.taken_lat = String(row.location.lat);
      metadata.taken_lng = String(row.location.lng);
      if (row.location.accuracy_m !== null) metadata.taken_accuracy_m = String(row.location.accuracy_m);
    }
    const upload = new Upload(row.blob, {
      endpoint: uploadEndpoint,
      uploadUrl: row.upload_url,
      headers: { 'X-Requested-With': 'onelink' },
      metadata,
      chunkSize,
      retryDelays: [0, 1_000, 3_000],
      // One fingerprint per device file, so tus finds this very upload again after a restart.
      fingerprint: async () => `onelink-upload:${row.client_id}`,
      storeFingerprintForResuming: true,
      removeFingerprintOnSuccess: true,
      onUploadUrlAvailable: () => {
        if (upload.url && upload.url !== row.upload_url) void updateUpload(row.client_id, { upload_url: upload.url });
      },
      onAfterResponse: (_req, res) => {
        const id = res.getHeader('Onelink-Artifact-Id');
        if (id) artifactId = id;
        const offset = Number(res.getHeader('Upload-Offset'));
        if (Number.isFinite(offset) && offset > entry.sent) entry.sent = offset;
      },
      onProgress: (bytesSent) => {
        entry.sent = Math.max(entry.sent, bytesSent);
      },
      onSuccess: () => {
        entry.sent = row.size;
        if (artifactId) resolve(artifactId);
        else if (upload.url) confirmByHead(upload.url).then(resolve, reject);
        else reject(new Error('The server did not confirm the file'));
      },
      onError: reject,
    });
    current = {
      upload,
      stop: () => {
        void upload.abort();
        reject(new Stopped('stopped'));
      },
    };
    const begin = async () => {
      if (!row.upload_url) {
        const previous = await upload.findPreviousUploads().catch(() => []);
        if (previous[0]) upload.resumeFromPreviousUpload(previous[0]);
      }
      upload.start();
    };
    void begin();
  });
}

/** A finished upload whose answer was lost: the server names its artifact on a HEAD too. */
async function confirmByHead(url: string): Promise<string> {
  const response = await fetch(url, { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0', 'X-Requested-With': 'onelink' } });
  const id = response.headers.get('Onelink-Artifact-Id');
  if (!response.ok || !id) throw new Error('The server did not confirm the file');
  return id;
}
