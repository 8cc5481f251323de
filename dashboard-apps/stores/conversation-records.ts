// What Onelink holds about the conversation Chatwoot shows: the contact's open deals, jobs and
// tasks, and the actions an agent takes on them from the sidebar. Each section is loaded only
// when the account has its capability and the agent may read it.
import { t } from '../i18n/index.ts';
import { defineStore } from 'pinia';
import { ref } from 'vue';
import { apiFetch, ApiError } from '../lib/api.ts';
import type { AppContext } from '../lib/chatwoot-bridge.ts';
import { useSessionStore } from './session.ts';

export interface Stage { id: string; name: string; kind: 'open' | 'won' | 'lost' }
export interface Pipeline { id: string; name: string; stages: Stage[] }
export interface Deal { id: string; reference: string; title: string; status: string; stage_id: string; pipeline_id: string; amount_minor: number | null; currency: string | null; version: number }
export interface Job { id: string; reference: string; summary: string; status: string; priority: string; sla_state: string; sla_due_at: string | null; vendor_id: string | null }
export interface Task { id: string; title: string; status: string; due_at: string | null; priority: string }

const openJobStatuses = 'new,triaged,assigned,in_progress,pending_review';

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

  const api = <T>(path: string, init: Parameters<typeof apiFetch>[1] = {}) => apiFetch<T>(path, { token: session.token, ...init });
  const show = (section: 'deals' | 'jobs' | 'tasks') =>
    ({ deals: session.has('crm.deals') && session.can('deals:read'), jobs: session.has('dispatch.jobs') && session.can('jobs:read'), tasks: session.has('crm.tasks') && session.can('tasks:read') })[section];

  async function load() {
    const contactId = context.value?.conversation.contact_id;
    if (!contactId || !session.signedIn) return;
    loading.value = true;
    try {
      const conversationId = context.value!.conversation.id;
      // The contact's open items, and whatever is linked to this conversation (possibly another contact's).
      const [dealPage, linkedDeals, jobPage, linkedJobs, taskPage, pipelineList] = await Promise.all([
        show('deals') ? api<Deal[]>(`/api/v1/deals?contact_id=${contactId}&status=open&limit=50`) : null,
        show('deals') ? api<Deal[]>(`/api/v1/deals?conversation_id=${conversationId}&status=open&limit=50`) : null,
        show('jobs') ? api<Job[]>(`/api/v1/jobs?contact_id=${contactId}&status=${openJobStatuses}&limit=50`) : null,
        show('jobs') ? api<Job[]>(`/api/v1/jobs?conversation_id=${conversationId}&status=${openJobStatuses}&limit=50`) : null,
        show('tasks') ? api<Task[]>(`/api/v1/tasks?contact_id=${contactId}&limit=100`) : null,
        show('deals') && !pipelines.value.length ? api<Pipeline[]>('/api/v1/pipelines') : null,
      ]);
      const unique = <T extends { id: string }>(lists: Array<T[] | undefined>) => [...new Map(lists.flatMap((l) => l ?? []).map((item) => [item.id, item])).values()];
      deals.value = unique([linkedDeals?.data, dealPage?.data]);
      jobs.value = unique([linkedJobs?.data, jobPage?.data]);
      tasks.value = (taskPage?.data ?? []).filter((t) => t.status === 'open' || t.status === 'in_progress');
      if (pipelineList) pipelines.value = pipelineList.data;
      error.value = null;
    } catch (err) {
      error.value = err instanceof ApiError ? err.message : t('common.unreachable');
      if (err instanceof ApiError && err.status === 401) await session.load();
    } finally {
      loading.value = false;
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
      error.value = err instanceof ApiError ? err.message : t('common.unreachable');
      if (err instanceof ApiError && err.code === 'stale_version') await load();
      return false;
    }
  }

  const conversation = () => context.value!.conversation;

  return {
    context,
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
          api('/api/v1/deals', {
            method: 'POST',
            json: { title, pipeline_id: pipelineId, chatwoot_contact_id: conversation().contact_id, chatwoot_conversation_id: conversation().id, custom_fields: customFields },
          }),
        t('sidebar.dealCreated'),
      ),
    createJob: (summary: string, priority: string, customFields: Record<string, unknown> = {}) =>
      act(
        () =>
          api('/api/v1/jobs', {
            method: 'POST',
            json: { summary, priority, source: 'chat', chatwoot_contact_id: conversation().contact_id, conversation_ids: [conversation().id], custom_fields: customFields },
          }),
        t('sidebar.jobCreated'),
      ),
    createTask: (title: string, dueAt: string | null) =>
      act(
        () =>
          api('/api/v1/tasks', {
            method: 'POST',
            json: { title, due_at: dueAt, chatwoot_contact_id: conversation().contact_id, chatwoot_conversation_id: conversation().id },
          }),
        t('sidebar.taskCreated'),
      ),
    /** Links an existing job (J-…) or deal (D-…) to this conversation. */
    link: (reference: string) =>
      act(async () => {
        const ref = reference.trim().toUpperCase();
        if (/^J-?\d+$/.test(ref)) {
          const [job] = (await api<Job[]>(`/api/v1/jobs?q=${encodeURIComponent(ref)}&limit=1`)).data;
          if (!job) throw new ApiError(404, 'not_found', t('sidebar.noSuchJob', { reference: ref }));
          await api(`/api/v1/jobs/${job.id}/conversations/${conversation().id}`, { method: 'PUT' });
        } else if (/^D-?\d+$/.test(ref)) {
          const [deal] = (await api<Deal[]>(`/api/v1/deals?q=${encodeURIComponent(ref)}&limit=1`)).data;
          if (!deal) throw new ApiError(404, 'not_found', t('sidebar.noSuchDeal', { reference: ref }));
          await api(`/api/v1/deals/${deal.id}`, { method: 'PATCH', json: { chatwoot_conversation_id: conversation().id, version: deal.version } });
        } else {
          throw new ApiError(422, 'validation_failed', t('sidebar.referenceInvalid'));
        }
      }, t('sidebar.linked', { reference: reference.trim().toUpperCase() })),
    completeTask: (task: Task) => act(() => api(`/api/v1/tasks/${task.id}/status`, { method: 'POST', json: { status: 'done' } }), t('sidebar.taskDone', { title: task.title })),
    moveDeal: (deal: Deal, stageId: string) =>
      act(() => api(`/api/v1/deals/${deal.id}/move`, { method: 'POST', json: { stage_id: stageId, version: deal.version } }), t('sidebar.dealMoved', { reference: deal.reference })),
  };
});
