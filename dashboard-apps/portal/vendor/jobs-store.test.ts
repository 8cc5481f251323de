// The jobs store on a shared phone: an answer that comes back after the person changed is dropped,
// and a job no longer the person's leaves the phone's copy too. The network and IndexedDB are
// replaced by recorders; the store's own logic runs as in the portal.
import { createPinia, setActivePinia } from 'pinia';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError } from '../../lib/api.ts';
import type { PortalJob, PortalJobCard } from './types.ts';

const net = vi.hoisted(() => ({ answers: [] as Array<{ resolve: (v: unknown) => void; reject: (e: unknown) => void; path: string }> }));
vi.mock('../shared/http.ts', async () => {
  const { ApiError: Err } = await import('../../lib/api.ts');
  return {
    ApiError: Err,
    call: (_method: string, path: string) => new Promise((resolve, reject) => net.answers.push({ resolve, reject, path })),
  };
});
const saved = vi.hoisted(() => ({ lists: [] as Array<[string, string, unknown[]]>, jobs: [] as Array<[string, string]>, forgotten: [] as Array<[string, string]> }));
vi.mock('./offline/db.ts', () => ({
  savedList: async () => null,
  savedJob: async () => null,
  saveList: async (owner: string, tab: string, cards: unknown[]) => void saved.lists.push([owner, tab, cards]),
  saveJob: async (owner: string, job: { id: string }) => void saved.jobs.push([owner, job.id]),
  forgetJob: async (owner: string, jobId: string) => void saved.forgotten.push([owner, jobId]),
}));
vi.mock('./offline/queue.ts', async () => ({ queue: (await import('vue')).ref([]) }));
vi.mock('./session.ts', async () => ({ me: (await import('vue')).ref(null) }));

const { me } = await import('./session.ts');
const { useJobsStore } = await import('./jobs-store.ts');

const signIn = (id: string | null) => {
  me.value = id ? ({ caller: { id, type: 'portal_user', vendor_id: 'v1', vendor_role: 'technician', name: id }, account: { id: 1, name: 'A' } } as unknown as typeof me.value) : null;
};
const card = (id: string) => ({ id, reference: `J-${id}`, updated_at: '2026-12-01T08:00:00.000Z' }) as unknown as PortalJobCard;
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));
/** Answers the oldest request still open. */
async function answer(data: unknown) {
  await settle();
  net.answers.shift()!.resolve({ data, meta: { next_cursor: null } });
  await settle();
}

beforeEach(() => {
  setActivePinia(createPinia());
  net.answers.length = 0;
  saved.lists.length = 0;
  saved.jobs.length = 0;
  saved.forgotten.length = 0;
  signIn('alice');
});

describe('the jobs store on a shared phone', () => {
  it('drops a tab that arrives after its person signed out, and keeps nothing of it', async () => {
    const store = useJobsStore();
    const loading = store.loadTab('done');
    await settle();
    signIn(null);
    store.forget();
    await answer([card('j1')]);
    await loading;
    expect(store.lists.done).toBeNull();
    expect(saved.lists).toEqual([]);
  });

  it('drops a tab that arrives after someone else signed in: not shown to them, not saved under either', async () => {
    const store = useJobsStore();
    const loading = store.loadTab('done');
    await settle();
    signIn('bob');
    store.forget();
    await answer([card('j1')]);
    await loading;
    expect(store.lists.done).toBeNull();
    expect(saved.lists).toEqual([]);
  });

  it("drops a job's details that arrive after the person changed", async () => {
    const store = useJobsStore();
    const loading = store.loadJob('j1');
    await settle();
    signIn('bob');
    await answer({ ...card('j1'), checklist_items: [] });
    await loading;
    expect(store.jobs.j1).toBeUndefined();
    expect(saved.jobs).toEqual([]);
  });

  it('takes a job answered 404 off the lists and off the phone', async () => {
    const store = useJobsStore();
    const loading = store.loadTab('done');
    await answer([card('j1'), card('j2')]);
    await loading;
    saved.lists.length = 0;
    const opening = store.loadJob('j1');
    await settle();
    net.answers.shift()!.reject(new ApiError(404, 'not_found', 'Not found'));
    await expect(opening).rejects.toThrow('Not found');
    expect(store.lists.done?.map((c) => c.id)).toEqual(['j2']);
    expect(store.missing.has('j1')).toBe(true);
    expect(saved.forgotten).toEqual([['alice', 'j1']]);
    expect(saved.lists).toEqual([['alice', 'done', [expect.objectContaining({ id: 'j2' })]]]);
  });

  it('deletes the saved copy of a job an action answered with no job (lost)', async () => {
    const store = useJobsStore();
    await store.adopt({ ...card('j3'), checklist_items: [], required_photos: [], artifacts: [], events: [], allowed_actions: [] } as unknown as PortalJob);
    store.lost('j3');
    await settle();
    expect(store.jobs.j3).toBeUndefined();
    expect(saved.forgotten).toEqual([['alice', 'j3']]);
  });
});
