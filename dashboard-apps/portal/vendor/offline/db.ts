// The portal's own IndexedDB database: the action queue (what the person did, waiting for the
// server) and the last copy of their jobs (so the portal opens and shows them with no network).
// Everything is filed under the signed-in person, so a shared phone never mixes two people's work.
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { ActionBody, MissingThing, PortalJob, PortalJobCard } from '../types.ts';

export interface QueuedAction {
  /** Order of taking: replay follows it. */
  seq?: number;
  owner: string;
  body: ActionBody;
  /** waiting: not yet accepted by the server; refused: the server said no (kept until discarded). */
  state: 'waiting' | 'refused';
  attempts: number;
  error: { status: number; code: string; message: string; missing: MissingThing[] } | null;
}

interface VendorDb extends DBSchema {
  actions: { key: number; value: QueuedAction; indexes: { owner: string } };
  lists: { key: string; value: { key: string; cards: PortalJobCard[]; saved_at: string } };
  jobs: { key: string; value: { key: string; job: PortalJob; saved_at: string } };
}

export const databaseName = 'onelink-vendor-actions';
let opened: Promise<IDBPDatabase<VendorDb>> | null = null;

export function database() {
  opened ??= openDB<VendorDb>(databaseName, 1, {
    upgrade(db) {
      db.createObjectStore('actions', { keyPath: 'seq', autoIncrement: true }).createIndex('owner', 'owner');
      db.createObjectStore('lists', { keyPath: 'key' });
      db.createObjectStore('jobs', { keyPath: 'key' });
    },
  });
  return opened;
}

const keyOf = (owner: string, id: string) => `${owner}:${id}`;

export async function queuedActions(owner: string): Promise<QueuedAction[]> {
  const all = await (await database()).getAllFromIndex('actions', 'owner', owner);
  return all.sort((a, b) => a.seq! - b.seq!);
}

export async function addAction(action: QueuedAction): Promise<number> {
  return (await database()).add('actions', action);
}

export async function putAction(action: QueuedAction) {
  await (await database()).put('actions', action);
}

export async function deleteAction(seq: number) {
  await (await database()).delete('actions', seq);
}

export async function savedList(owner: string, tab: string) {
  return (await (await database()).get('lists', keyOf(owner, tab)))?.cards ?? null;
}

export async function saveList(owner: string, tab: string, cards: PortalJobCard[]) {
  await (await database()).put('lists', { key: keyOf(owner, tab), cards, saved_at: new Date().toISOString() });
}

export async function savedJob(owner: string, jobId: string) {
  return (await (await database()).get('jobs', keyOf(owner, jobId)))?.job ?? null;
}

export async function saveJob(owner: string, job: PortalJob) {
  await (await database()).put('jobs', { key: keyOf(owner, job.id), job, saved_at: new Date().toISOString() });
}

/** A job no longer the person's: its copy (with the client's details) leaves the phone. */
export async function forgetJob(owner: string, jobId: string) {
  await (await database()).delete('jobs', keyOf(owner, jobId));
}

/** The person left (signed out, session ended): their copies go; their unsent actions stay, filed under them. */
export async function forgetJobsOf(owner: string) {
  const db = await database();
  const mine = IDBKeyRange.bound(`${owner}:`, `${owner}:\uffff`);
  await db.delete('lists', mine);
  await db.delete('jobs', mine);
}
