// The service request being written, kept on the phone (IndexedDB: the photos are Blobs) under the
// person who writes it, so a closed tab, a lost signal or a failed send never loses it. It keeps
// the request's id too: sent again, it is the same request.
import { openDB, type IDBPDatabase } from 'idb';

export interface DraftPhoto { id: string; blob: Blob; filename: string }

export interface RequestDraft {
  /** The portal user who wrote it (a shared phone keeps each person's apart). */
  person: string;
  id: string;
  service_category: string;
  description: string;
  address: string;
  day: string;
  slot: 'any' | 'morning' | 'afternoon' | 'evening';
  photos: DraftPhoto[];
  /** Set when the person pressed send: it goes out as soon as there is signal. */
  sending: boolean;
  saved_at: string;
}

let database: Promise<IDBPDatabase> | null = null;
const open = () => (database ??= openDB('onelink-client-requests', 1, { upgrade: (db) => db.createObjectStore('drafts', { keyPath: 'person' }) }));

export async function readDraft(person: string): Promise<RequestDraft | null> {
  try {
    return ((await (await open()).get('drafts', person)) as RequestDraft | undefined) ?? null;
  } catch {
    return null;
  }
}

/** Keeps the draft; false when the phone would not (private mode, full storage). */
export async function keepDraft(draft: RequestDraft): Promise<boolean> {
  try {
    await (await open()).put('drafts', { ...draft, saved_at: new Date().toISOString() });
    return true;
  } catch {
    return false;
  }
}

export async function dropDraft(person: string) {
  try {
    await (await open()).delete('drafts', person);
  } catch {
    // nothing kept, nothing to drop
  }
}
