// The vendor's jobs: each tab's cards and each opened job, first from the copy on this phone, then
// from the server (which replaces the copy). What the screen shows is that copy with the queued,
// not yet accepted actions applied on top, so a tick shows at once, with or without signal.
import { defineStore } from 'pinia';
import { computed, reactive, ref } from 'vue';
import { call, ApiError } from '../shared/http.ts';
import { forgetJob, saveJob, saveList, savedJob, savedList } from './offline/db.ts';
import { withPending } from './offline/apply.ts';
import { queue } from './offline/queue.ts';
import { me } from './session.ts';
import { jobTabs, type JobTab, type PortalJob, type PortalJobCard } from './types.ts';

/** The server's largest page: one request holds a busy vendor's whole tab. */
const pageSize = 200;
/** Open jobs whose details (checklist) are kept on the phone ahead of being opened. */
const prefetchLimit = 40;

export const useJobsStore = defineStore('vendor-jobs', () => {
  const lists = reactive<Record<JobTab, PortalJobCard[] | null>>({ offered: null, today: null, upcoming: null, done: null });
  const nextCursor = reactive<Record<JobTab, string | null>>({ offered: null, today: null, upcoming: null, done: null });
  /** Tabs whose cards come from the phone's copy (the server could not be reached). */
  const stale = reactive<Record<JobTab, boolean>>({ offered: false, today: false, upcoming: false, done: false });
  const failed = reactive<Record<JobTab, string | null>>({ offered: null, today: null, upcoming: null, done: null });
  const jobs = reactive<Record<string, PortalJob>>({});
  const missing = ref<Set<string>>(new Set());

  const owner = () => me.value?.caller.id ?? '';
  // Each load is for the person signed in when it began: if someone else (or nobody) is signed in
  // by the time an answer comes, it is dropped, so one person's jobs never land under another.
  const still = (person: string) => person !== '' && owner() === person;
  const pending = computed(() => queue.value.filter((item) => item.state === 'waiting').map((item) => item.body));

  const cards = (tab: JobTab) => (lists[tab] ?? []).map((card) => withPending(card, pending.value));
  const job = (jobId: string) => (jobs[jobId] ? withPending(jobs[jobId], pending.value) : null);

  async function loadTab(tab: JobTab, more = false) {
    const person = owner();
    if (!person) return;
    if (!lists[tab]) {
      const saved = await savedList(person, tab);
      if (!still(person)) return;
      if (saved && !lists[tab]) lists[tab] = saved;
    }
    try {
      const cursor = more && nextCursor[tab] ? `&cursor=${encodeURIComponent(nextCursor[tab])}` : '';
      const { data, meta } = await call<PortalJobCard[]>('GET', `/portal/vendor/jobs?tab=${tab}&limit=${pageSize}${cursor}`);
      if (!still(person)) return;
      lists[tab] = more ? [...(lists[tab] ?? []), ...data] : data;
      nextCursor[tab] = typeof meta.next_cursor === 'string' ? meta.next_cursor : null;
      stale[tab] = false;
      failed[tab] = null;
      await saveList(person, tab, JSON.parse(JSON.stringify(lists[tab])) as PortalJobCard[]);
      if (tab === 'today' || tab === 'upcoming') void keepDetails(person, data);
    } catch (err) {
      if (!still(person)) return;
      stale[tab] = lists[tab] !== null;
      failed[tab] = lists[tab] === null ? (err instanceof ApiError ? err.message : String(err)) : null;
    }
  }

  /** Keeps each open job's details (its checklist) on the phone, so it can be worked without signal. */
  async function keepDetails(person: string, list: PortalJobCard[]) {
    for (const card of list.slice(0, prefetchLimit)) {
      if (!still(person)) return;
      if (jobs[card.id]?.updated_at === card.updated_at) continue;
      const saved = await savedJob(person, card.id);
      if (!still(person)) return;
      if (saved?.updated_at === card.updated_at) continue;
      await loadJob(card.id).catch(() => undefined);
    }
  }

  async function loadJob(jobId: string) {
    const person = owner();
    if (!person) return;
    if (!jobs[jobId]) {
      const saved = await savedJob(person, jobId);
      if (!still(person)) return;
      if (saved && !jobs[jobId]) jobs[jobId] = saved;
    }
    try {
      const { data } = await call<PortalJob>('GET', `/portal/vendor/jobs/${jobId}`);
      if (!still(person)) return;
      await adopt(data);
    } catch (err) {
      if (!still(person)) return;
      // Not theirs any more (or gone): off the lists and off the phone.
      if (err instanceof ApiError && err.status === 404) lost(jobId);
      if (!jobs[jobId]) throw err;
    }
  }

  /** The server's copy of a job (after a fetch or an accepted action): kept, and its card updated. */
  async function adopt(data: PortalJob) {
    if (!owner()) return;
    jobs[data.id] = data;
    for (const tab of jobTabs) {
      const list = lists[tab];
      const at = list?.findIndex((card) => card.id === data.id) ?? -1;
      if (list && at >= 0) list[at] = cardOf(data);
    }
    await saveJob(owner(), JSON.parse(JSON.stringify(data)) as PortalJob);
  }

  async function acceptOffer(card: PortalJobCard) {
    await call('POST', `/offers/${card.offer!.id}/accept`);
    await Promise.all([loadTab('offered'), loadTab('today'), loadTab('upcoming')]);
  }

  async function declineOffer(card: PortalJobCard, reason: string) {
    await call('POST', `/offers/${card.offer!.id}/decline`, { reason });
    lists.offered = (lists.offered ?? []).filter((c) => c.id !== card.id);
    await loadTab('offered');
  }

  /** A job no longer this person's (given to someone else, or an answer to an action sent long ago): off every list. */
  function lost(jobId: string) {
    const person = owner();
    missing.value = new Set([...missing.value, jobId]);
    for (const tab of jobTabs) {
      const list = lists[tab];
      if (!list) continue;
      lists[tab] = list.filter((card) => card.id !== jobId);
      // The saved tab loses its card too (it carries the client's details).
      if (person && list.length !== lists[tab].length) void saveList(person, tab, JSON.parse(JSON.stringify(lists[tab])) as PortalJobCard[]).catch(() => undefined);
    }
    delete jobs[jobId];
    if (person) void forgetJob(person, jobId).catch(() => undefined);
  }

  /** Another person (or nobody) is signed in: nothing of the last one stays on screen. */
  function forget() {
    for (const tab of jobTabs) {
      lists[tab] = null;
      nextCursor[tab] = null;
      stale[tab] = false;
      failed[tab] = null;
    }
    for (const id of Object.keys(jobs)) delete jobs[id];
    missing.value = new Set();
  }

  return { lists, nextCursor, stale, failed, jobs, missing, cards, job, loadTab, loadJob, adopt, lost, acceptOffer, declineOffer, forget };
});

function cardOf(job: PortalJob): PortalJobCard {
  const { checklist_items: _items, required_photos: _photos, artifacts: _artifacts, events: _events, allowed_actions: _allowed, ...card } = job;
  return card;
}
