// The conversation sidebar's first answer in one round trip: the boot payload (who is looking,
// with what rights) and what Onelink holds about the conversation Chatwoot shows — the contact's
// open deals, jobs and tasks and whatever is linked to the conversation — so a cold frame paints
// real records after one request instead of a boot request followed by several list requests.
// Each section is there only when the caller may read it in this account (null otherwise), and
// comes from the same list functions, scoping and presentation as the list routes.
import { bootPayload } from '../../auth/boot.ts';
import type { Permission } from '../../auth/permissions.ts';
import type { Capability } from '../../capabilities/profiles.ts';
import type { RequestContext } from '../../context.ts';
import { listDeals } from '../deals/service.ts';
import { listJobs } from '../jobs/service.ts';
import { openJobStatuses } from '../jobs/rules.ts';
import { listPipelines } from '../pipelines/service.ts';
import { listTasks } from '../tasks/service.ts';

export interface SidebarTarget { conversationId?: number; contactId?: number }

// As many as a sidebar shows; an agent with more open items per contact opens the boards.
const perSection = 50;

const unique = <T extends { id: string }>(lists: T[][]) => [...new Map(lists.flat().map((item) => [item.id, item])).values()];

export async function sidebarSnapshot(ctx: RequestContext, { conversationId, contactId }: SidebarTarget) {
  const may = (permission: Permission, capability: Capability) => ctx.permissions.has(permission) && ctx.capabilities.has(capability);
  const none = Promise.resolve([]);
  const named = conversationId !== undefined || contactId !== undefined;
  const deals = async (filter: { contact_id?: number; conversation_id?: number }) =>
    (await listDeals(ctx, { ...filter, status: 'open' }, { limit: perSection })).items;
  const jobs = async (filter: { contact_id?: number; conversation_id?: number }) =>
    (await listJobs(ctx, { ...filter, status: [...openJobStatuses] }, { limit: perSection })).items;
  const showDeals = may('deals:read', 'crm.deals');
  const showJobs = may('jobs:read', 'dispatch.jobs');
  const showTasks = may('tasks:read', 'crm.tasks');
  const [me, linkedDeals, contactDeals, linkedJobs, contactJobs, contactTasks, pipelines] = await Promise.all([
    bootPayload(ctx),
    showDeals && conversationId !== undefined ? deals({ conversation_id: conversationId }) : none,
    showDeals && contactId !== undefined ? deals({ contact_id: contactId }) : none,
    showJobs && conversationId !== undefined ? jobs({ conversation_id: conversationId }) : none,
    showJobs && contactId !== undefined ? jobs({ contact_id: contactId }) : none,
    showTasks && named ? listTasks(ctx, { ...(contactId !== undefined ? { contact_id: contactId } : { conversation_id: conversationId }), limit: 100 }) : null,
    // Stage names and the stages a deal can move to.
    showDeals && may('pipelines:read', 'crm.pipelines') ? listPipelines(ctx) : null,
  ]);
  return {
    me,
    conversation_id: conversationId ?? null,
    contact_id: contactId ?? null,
    // Linked to this conversation first (possibly another contact's), then the contact's own.
    deals: showDeals ? unique([linkedDeals, contactDeals]) : null,
    jobs: showJobs ? unique([linkedJobs, contactJobs]) : null,
    tasks: showTasks ? (contactTasks?.items ?? []).filter((task) => task.status === 'open' || task.status === 'in_progress').slice(0, perSection) : null,
    pipelines,
  };
}
