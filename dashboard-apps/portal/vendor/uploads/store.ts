// The device's copy of every photo and document not yet confirmed by the server. A file is written
// here, compressed, before the first byte goes on the network, and deleted only once the server has
// answered with the artifact it became — so a dead battery, a reload or a basement loses nothing.
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { PhotoLocation } from './exif-gps.ts';

export interface StoredUpload {
  client_id: string;
  /** The signed-in person who took it (portal user id): only they see it, and it goes only under their session. */
  owner: string;
  job_id: string;
  kind: 'photo' | 'document';
  tag: string | null;
  /** When it was taken, by the device's clock. */
  taken_at: string;
  /** Where a photo was taken, from its EXIF; only when the account keeps it (absent in older rows). */
  location?: PhotoLocation | null;
  filename: string;
  content_type: string;
  blob: Blob;
  size: number;
  created_at: string;
  /** The server's address for this upload once it has one (resumes from its offset). */
  upload_url: string | null;
  /** `failed`: the server refused it for good (type, size, job gone); it stays until removed. */
  state: 'waiting' | 'failed';
  error: string | null;
  attempts: number;
}

interface UploadsDb extends DBSchema {
  uploads: { key: string; value: StoredUpload; indexes: { job_id: string } };
}

export const uploadsDbName = 'onelink-vendor-uploads';
let opened: Promise<IDBPDatabase<UploadsDb>> | null = null;

function db() {
  opened ??= openDB<UploadsDb>(uploadsDbName, 1, {
    upgrade(database) {
      const store = database.createObjectStore('uploads', { keyPath: 'client_id' });
      store.createIndex('job_id', 'job_id');
    },
  });
  return opened;
}

export async function saveUpload(upload: StoredUpload) {
  await (await db()).put('uploads', upload);
}

/** One person's files (rows kept before files had an owner belong to nobody: never sent, never shown). */
export async function allUploads(owner: string): Promise<StoredUpload[]> {
  const rows = (await (await db()).getAll('uploads')).filter((row) => row.owner === owner);
  return rows.sort((a, b) => a.created_at.localeCompare(b.created_at));
}

export async function uploadsOfJob(owner: string, jobId: string): Promise<StoredUpload[]> {
  const rows = (await (await db()).getAllFromIndex('uploads', 'job_id', jobId)).filter((row) => row.owner === owner);
  return rows.sort((a, b) => a.created_at.localeCompare(b.created_at));
}

export async function getUpload(clientId: string) {
  return (await db()).get('uploads', clientId);
}

export async function updateUpload(clientId: string, change: Partial<StoredUpload>) {
  const database = await db();
  const tx = database.transaction('uploads', 'readwrite');
  const row = await tx.store.get(clientId);
  if (row) await tx.store.put({ ...row, ...change, client_id: clientId });
  await tx.done;
}

export async function deleteUpload(clientId: string) {
  await (await db()).delete('uploads', clientId);
}
