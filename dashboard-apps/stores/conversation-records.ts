// What Onelink holds about the conversation Chatwoot shows: the contact's open deals, jobs and
// tasks, and the actions an agent takes on them from the sidebar. Each section is loaded only
// when the account has its capability and the agent may read it.
// One request (GET /api/v1/sidebar) answers the boot payload and every section at once, so a cold
// frame paints real records after a single round trip. Until the answer for the conversation on
// screen has arrived, `ready` is false and nothing may claim "none": a switch to another
// conversation clears the lists, and an answer for a conversation no longer shown is dropped.
import { t } from '../i18n/index.ts';
import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import type { DealStatus } from '../../extension/modules/deals/rules.ts';
import type { JobPriority, JobStatus } from '../../extension/modules/jobs/rules.ts';
import type { TaskStatus } from '../../extension/modules/tasks/rules.ts';
import { api, ApiError, errorMessage, unwrap } from '../lib/api.ts';
import type { AppContext } from '../lib/chatwoot-bridge.ts';
import { useSessionStore, type Me } from './session.ts';

export interface Stage { id: string; name: string; kind: 'open' | 'won' | 'lost' }
export interface Pipeline { id: string; name: string; stages: Stage[] }
export interface Deal { id: string; reference: string; title: string; status: DealStatus; stage_id: string; pipeline_id: string; amount_minor: number | null; currency: string | null; version: number }
export interface Job { id: string; reference: string; summary: string; status: JobStatus; priority: JobPriority; sla_state: string; sla_due_at: string | null; vendor_id: string | null }
export interface Task { id: string; title: string; status: TaskStatus; due_at: string | null; priority: string }

interface Snapshot { me: Me; deals: Deal[] | null; jobs: Job[] | null; tasks: Task[] | null; pipelines: Pipeline[] | null }

/** Which conversation (and contact) a set of records belongs to. */
const keyOf = (context: AppContext | null) => (context ? `${context.conversation.id}:${context.conversation.contact_id ?? ''}` : null);

export const useConversationRecords = defineStore('conversation-records', () => {
  const session = useSessionStore();
  const context = ref<AppContext | null>(null);
  const pipelines = ref<Pipeline[]>([]);
  const deals = ref<Deal[]>([]);
  const jobs = ref<Job[]>([]);
  const tasks = ref<Task[]>([]);
  const loading = ref(false);
  const error = ref<string | null>(null);
  const notice = ref<string | null>(null);
  /** The conversation the lists above are the answer for (null: no answer yet for the one on screen). */
  const answeredFor = ref<string | null>(null);
  const ready = computed(() => answeredFor.value !== null && answeredFor.value === keyOf(context.value));

  const show = (section: 'deals' | 'jobs' | 'tasks') =>
    ({ deals: session.has('crm.deals') && session.can('deals:read'), jobs: session.has('dispatch.jobs') && session.can('jobs:read'), tasks: session.has('crm.tasks') && session.can('tasks:read') })[section];

  /** Shows another conversation: nothing of the previous one stays on screen while its records load. */
  function setContext(next: AppContext | null) {
    if (keyOf(next) !== keyOf(context.value)) {
      answeredFor.value = null;
      deals.value = [];
      jobs.value = [];
      tasks.value = [];
      error.value = null;
      notice.value = null;
    }
    context.value = next;
  }

  // Overlapping loads (a switch, the change stream, the timer): only the latest one's answer counts.
  let latest = 0;
  async function load() {
    const current = context.value;
    if (!current) return;
    const key = keyOf(current)!;
    const ticket = ++latest;
    loading.value = true;
    try {
      const { id, contact_id } = current.conversation;
      const query = { conversation_id: String(id), ...(contact_id ? { contact_id: String(contact_id) } : {}) };
      const { data } = await unwrap<Snapshot>(api.GET('/api/v1/sidebar', { params: { query } }));
      if (ticket !== latest || key !== keyOf(context.value)) return;
      session.adopt(data.me);
      deals.value = data.deals ?? [];
      jobs.value = data.jobs ?? [];
      tasks.value = data.tasks ?? [];
      if (data.pipelines) pipelines.value = data.pipelines;
      answeredFor.value = key;
      error.value = null;
      performance.mark('onelink:records'); // for the browser tests' timing
    } catch (err) {
      if (ticket !== latest) return;
      // A 401 has ended the session already (lib/api.ts); the sign-in card says so.
      if (!(err instanceof ApiError && err.status === 401)) error.value = errorMessage(err, t('common.unreachable'));
    } finally {
      if (ticket === latest) loading.value = false;
    }
  }

  async function act(work: () => Promise<unknown>, done: string) {
    try {
      await work();
      notice.value = done;
      error.value = null;
      await load();
      return true;
    } catch (err) {
      error.value = errorMessage(err, t('common.unreachable'));
      if (err instanceof ApiError && err.code === 'stale_version') await load();
      return false;
    }
  }

  const conversation = () => context.value!.conversation;

  return {
    context,
    setContext,
    ready,
    pipelines,
    deals,
    jobs,
    tasks,
    loading,
    error,
    notice,
    show,
    load,
    createDeal: (title: string, pipelineId: string, customFields: Record<string, unknown> = {}) =>
      act(
        () =>
          unwrap(
            api.POST('/api/v1/deals', {
              body: { title, pipeline_id: pipelineId, chatwoot_contact_id: conversation().contact_id, chatwoot_conversation_id: conversation().id, custom_fields: customFields },
            }),
          ),
        t('sidebar.dealCreated'),
      ),
    createJob: (summary: string, priority: JobPriority, customFields: Record<string, unknown> = {}) =>
      act(
        () =>
          unwrap(
            api.POST('/api/v1/jobs', {
              body: { summary, priority, source: 'chat', chatwoot_contact_id: conversation().contact_id, conversation_ids: [conversation().id], custom_fields: customFields },
            }),
          ),
        t('sidebar.jobCreated'),
      ),
    createTask: (title: string, dueAt: string | null) =>
      act(
        () =>
          unwrap(
            api.POST('/api/v1/tasks', {
              body: { title, due_at: dueAt, chatwoot_contact_id: conversation().contact_id, chatwoot_conversation_id: conversation().id },
            }),
          ),
        t('sidebar.taskCreated'),
      ),
    /** Links an existing job (J-…) or deal (D-…) to this conversation. */
    link: (reference: string) =>
      act(async () => {
        const ref = reference.trim().toUpperCase();
        if (/^J-?\d+$/.test(ref)) {
          const [job] = (await unwrap<Job[]>(api.GET('/api/v1/jobs', { params: { query: { q: ref, limit: 1 } } }))).data;
          if (!job) throw new ApiError(404, 'not_found', t('sidebar.noSuchJob', { reference: ref }));
          await unwrap(api.PUT('/api/v1/jobs/{jobId}/conversations/{conversationId}', { params: { path: { jobId: job.id, conversationId: String(conversation().id) } } }));
        } else if (/^D-?\d+$/.test(ref)) {
          const [deal] = (await unwrap<Deal[]>(api.GET('/api/v1/deals', { params: { query: { q: ref, limit: 1 } } }))).data;
          if (!deal) throw new ApiError(404, 'not_found', t('sidebar.noSuchDeal', { reference: ref }));
          await unwrap(api.PATCH('/api/v1/deals/{dealId}', { params: { path: { dealId: deal.id } }, body: { chatwoot_conversation_id: conversation().id, version: deal.version } }));
        } else {
          throw new ApiError(422, 'validation_failed', t('sidebar.referenceInvalid'));
        }
      }, t('sidebar.linked', { reference: reference.trim().toUpperCase() })),
    completeTask: (task: Task) =>
      act(() => unwrap(api.POST('/api/v1/tasks/{taskId}/status', { params: { path: { taskId: task.id } }, body: { status: 'done' } })), t('sidebar.taskDone', { title: task.title })),
    moveDeal: (deal: Deal, stageId: string) =>
      act(
        () => unwrap(api.POST('/api/v1/deals/{dealId}/move', { params: { path: { dealId: deal.id } }, body: { stage_id: stageId, version: deal.version } })),
        t('sidebar.dealMoved', { reference: deal.reference }),
      ),
  };
});
