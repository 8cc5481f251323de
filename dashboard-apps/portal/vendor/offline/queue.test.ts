import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ActionBody } from '../types.ts';
import type { QueuedAction } from './db.ts';

// The queue's IndexedDB file kept in memory, and the server answering each post (recorded).
const rows: QueuedAction[] = [];
let nextSeq = 1;
vi.mock('./db.ts', () => ({
  queuedActions: async (owner: string) => rows.filter((r) => r.owner === owner).map((r) => ({ ...r })),
  addAction: async (row: QueuedAction) => {
    rows.push({ ...row, seq: nextSeq });
    return nextSeq++;
  },
  putAction: async (row: QueuedAction) => {
    const at = rows.findIndex((r) => r.seq === row.seq);
    if (at >= 0) rows[at] = { ...row };
  },
  deleteAction: async (seq: number) => {
    const at = rows.findIndex((r) => r.seq === seq);
    if (at >= 0) rows.splice(at, 1);
  },
}));
const posted: ActionBody[] = [];
let answer: () => Promise<unknown> = async () => ({ data: { job: null }, status: 200, meta: {} });
vi.mock('../../shared/http.ts', async (original) => ({
  ...(await original<typeof import('../../shared/http.ts')>()),
  call: async (_method: string, _path: string, body: ActionBody) => {
    posted.push(body);
    return answer();
  },
}));

const { closeQueue, openQueue, queue, replay, takeAction, waitingForPhotos } = await import('./queue.ts');

let pending: Record<string, number> = {};
let settleUploads: Record<string, () => void> = {};
const hooks = {
  applied: () => undefined,
  uploadsPending: async (jobId: string) => pending[jobId] ?? 0,
  uploadsSettled: (jobId: string) => new Promise<void>((resolve) => (settleUploads[jobId] = resolve)),
};
const flush = () => new Promise((resolve) => setTimeout(resolve, 0));

beforeEach(async () => {
  rows.length = 0;
  posted.length = 0;
  pending = {};
  settleUploads = {};
  answer = async () => ({ data: { job: null }, status: 200, meta: {} });
  await openQueue('person-1', hooks);
});
afterEach(() => closeQueue());

describe('the offline flag, decided when the action is taken', () => {
  it('is false for an action that goes out at once, true for one queued behind another', async () => {
    let release: () => void = () => undefined;
    answer = () => new Promise((resolve) => (release = () => resolve({ data: { job: null }, status: 200, meta: {} })));
    await takeAction({ kind: 'check', job_id: 'job-1', item_id: 'a' });
    await takeAction({ kind: 'check', job_id: 'job-1', item_id: 'b' });
    await flush();
    release();
    await flush();
    release();
    await flush();
    expect(posted.map((b) => [b.item_id, b.offline])).toEqual([
      ['a', false],
      ['b', true],
    ]);
    expect(rows).toEqual([]);
  });

  it('is true for a finishing action whose photos are still uploading', async () => {
    pending['job-1'] = 2;
    await takeAction({ kind: 'complete', job_id: 'job-1' });
    expect(rows[0]!.body.offline).toBe(true);
  });

  it('keeps the body of a failed send unchanged for the next try', async () => {
    answer = async () => {
      throw new (await import('../../shared/http.ts')).ApiError(0, 'timeout', 'The service did not answer in time');
    };
    await takeAction({ kind: 'note', job_id: 'job-1', text: 'On site' });
    await flush();
    answer = async () => ({ data: { job: null }, status: 200, meta: {} });
    await replay();
    expect(posted).toHaveLength(2);
    expect(posted[1]).toEqual(posted[0]);
  });
});

describe('replay', () => {
  it('sends other jobs while one waits for its photos, and that one after them (its own order kept)', async () => {
    pending['job-1'] = 1;
    await takeAction({ kind: 'complete', job_id: 'job-1' });
    await takeAction({ kind: 'note', job_id: 'job-1', text: 'Left the key' });
    await takeAction({ kind: 'check', job_id: 'job-2', item_id: 'a' });
    await flush();
    expect(posted.map((b) => `${b.job_id}:${b.kind}`)).toEqual(['job-2:check']);
    const held = rows.find((r) => r.body.kind === 'complete')!;
    expect([...waitingForPhotos.value]).toEqual([held.seq]);

    pending['job-1'] = 0;
    settleUploads['job-1']!();
    await flush();
    await flush();
    expect(posted.map((b) => `${b.job_id}:${b.kind}`)).toEqual(['job-2:check', 'job-1:complete', 'job-1:note']);
    expect(waitingForPhotos.value.size).toBe(0);
    expect(queue.value).toEqual([]);
  });
});

describe('replay, photos landing while another job is being sent', () => {
  it('sends the held action after that run', async () => {
    let release: () => void = () => undefined;
    answer = () => new Promise((resolve) => (release = () => resolve({ data: { job: null }, status: 200, meta: {} })));
    pending['job-1'] = 1;
    await takeAction({ kind: 'complete', job_id: 'job-1' });
    await takeAction({ kind: 'check', job_id: 'job-2', item_id: 'a' });
    await flush();
    expect(posted.map((b) => b.job_id)).toEqual(['job-2']); // in flight
    pending['job-1'] = 0;
    settleUploads['job-1']!();
    await flush();
    release();
    await flush();
    await flush();
    expect(posted.map((b) => `${b.job_id}:${b.kind}`)).toEqual(['job-2:check', 'job-1:complete']);
  });
});

describe('a double tap', () => {
  it('queues the same action once', async () => {
    pending['job-1'] = 1; // held: both taps find the first still waiting
    const first = await takeAction({ kind: 'submit_for_review', job_id: 'job-1' });
    const second = await takeAction({ kind: 'submit_for_review', job_id: 'job-1' });
    expect(second).toBe(first);
    expect(rows).toHaveLength(1);
  });

  it('still queues check, uncheck, check again', async () => {
    answer = () => new Promise(() => undefined); // nothing leaves: all three wait
    await takeAction({ kind: 'check', job_id: 'job-1', item_id: 'a' });
    await takeAction({ kind: 'uncheck', job_id: 'job-1', item_id: 'a' });
    await takeAction({ kind: 'check', job_id: 'job-1', item_id: 'a' });
    expect(rows.map((r) => r.body.kind)).toEqual(['check', 'uncheck', 'check']);
  });
});
