// The parts of the portal built in their own folders (photos and uploads, messages, the business
// and team pages), loaded when first needed so the first screen stays small. A part that is not
// there (a build without it) leaves its place saying so, rather than breaking the portal.
import { defineAsyncComponent, type Component } from 'vue';
import MissingPart from './components/MissingPart.vue';

const parts = import.meta.glob([
  './uploads/PhotoSection.vue',
  './uploads/UploadQueueBanner.vue',
  './messages/MessagesPanel.vue',
  './business/BusinessPage.vue',
  './team/TeamPage.vue',
]);
const uploadQueue = import.meta.glob('./uploads/queue.ts');

export type PartName = 'uploads/PhotoSection' | 'uploads/UploadQueueBanner' | 'messages/MessagesPanel' | 'business/BusinessPage' | 'team/TeamPage';

export const hasPart = (name: PartName) => `./${name}.vue` in parts;

/** The part as an async component (or a "not installed" note). */
export function part(name: PartName): Component {
  const load = parts[`./${name}.vue`];
  if (!load) return MissingPart;
  return defineAsyncComponent(() => load() as Promise<{ default: Component }>);
}

/** What the action queue needs of the upload queue (uploads/queue.ts). */
export interface UploadQueue {
  startUploadQueue(): unknown;
  pendingUploads(jobId: string): Promise<number>;
  whenUploadsSettled(jobId: string): Promise<void>;
  unsentUploads(): Promise<number>;
}

let uploads: Promise<UploadQueue | null> | null = null;
export function loadUploadQueue(): Promise<UploadQueue | null> {
  const load = uploadQueue['./uploads/queue.ts'];
  uploads ??= load ? (load() as Promise<UploadQueue>) : Promise.resolve(null);
  return uploads;
}

/** Resolves once the job's photos are on the server (at once when there is no upload queue). */
export async function whenUploadsSettled(jobId: string) {
  await (await loadUploadQueue())?.whenUploadsSettled(jobId);
}

/** How many of the job's files are still on the phone (none when there is no upload queue). */
export async function pendingUploads(jobId: string) {
  return (await (await loadUploadQueue())?.pendingUploads(jobId)) ?? 0;
}

const outbox = import.meta.glob('./messages/outbox.ts');
/** Starts sending the messages kept on the phone (at sign-in, not only when a thread is open). */
export async function startMessageOutbox() {
  const load = outbox['./messages/outbox.ts'];
  if (load) await ((await load()) as { startOutbox(): Promise<void> }).startOutbox();
}

/** What the signed-in person's messages part offers the rest of the portal (messages/outbox.ts). */
interface MessageStore {
  unsentMessages(): Promise<number>;
  forgetThreadsOf(person: string): Promise<void>;
}
const messageStore = import.meta.glob('./messages/outbox.ts');
const loadMessageStore = async () => ((await messageStore['./messages/outbox.ts']?.()) as MessageStore | undefined) ?? null;

/** The signed-in person's photos and messages still on the phone (the sign-out warning counts them). */
export async function unsentOnPhone(): Promise<number> {
  const [uploads, messages] = await Promise.all([loadUploadQueue(), loadMessageStore()]);
  return ((await uploads?.unsentUploads()) ?? 0) + ((await messages?.unsentMessages()) ?? 0);
}

/** The person left (signed out, session ended): the message threads kept for them leave the phone. */
export async function forgetThreadsOf(person: string) {
  await (await loadMessageStore())?.forgetThreadsOf(person);
}
