// HTTP routes for tasks.
import { z } from 'zod';
import { sendData } from '../../http/envelope.ts';
import { pageQuery } from '../../http/pagination.ts';
import { defineRoute } from '../../http/registry.ts';
import { chatwootId, chatwootIdParam, rowVersion, text, timeZone, timestamp } from '../../http/schemas.ts';
import { taskPriorities, taskStatuses } from './rules.ts';
import { createTask, deleteTask, getTask, listTasks, setTaskStatus, updateTask } from './service.ts';

const taskFields = {
  title: text({ min: 1, max: 300 }),
  description: text({ max: 10_000, trim: false }).nullable().optional(),
  priority: z.enum(taskPriorities).optional(),
  due_at: timestamp.nullable().optional(),
  assignee_id: z.uuid().nullable().optional(),
  chatwoot_team_id: chatwootId.nullable().optional(),
  chatwoot_contact_id: chatwootId.nullable().optional(),
  deal_id: z.uuid().nullable().optional(),
  chatwoot_conversation_id: chatwootId.nullable().optional(),
};
const taskParams = z.object({ taskId: z.uuid() });

export function taskRoutes() {
  const readTasks = { permission: 'tasks:read', capability: 'crm.tasks' } as const;
  const writeTasks = { permission: 'tasks:write', capability: 'crm.tasks' } as const;
  return [
    defineRoute({
      method: 'get',
      path: '/tasks',
      summary: 'Tasks, soonest due first; views: mine, overdue, due_today (in tz)',
      tags: ['tasks'],
      access: readTasks,
      query: pageQuery.extend({
        view: z.enum(['mine', 'overdue', 'due_today']).optional(),
        tz: timeZone.optional(),
        status: z.enum(taskStatuses).optional(),
        assignee_id: z.uuid().optional(),
        deal_id: z.uuid().optional(),
        contact_id: chatwootIdParam.optional(),
        conversation_id: chatwootIdParam.optional(),
      }),
      handler: async ({ ctx, query, res }) => {
        const page = await listTasks(ctx, query);
        sendData(res, page.items, { next_cursor: page.nextCursor });
      },
    }),
    defineRoute({
      method: 'post',
      path: '/tasks',
      summary: 'Create a task, optionally linked to a contact, deal and conversation',
      tags: ['tasks'],
      access: writeTasks,
      body: z.object(taskFields),
      handler: async ({ ctx, body, res }) => sendData(res, await createTask(ctx, body), {}, 201),
    }),
    defineRoute({
      method: 'get',
      path: '/tasks/:taskId',
      summary: 'One task',
      tags: ['tasks'],
      access: readTasks,
      params: taskParams,
      handler: async ({ ctx, params, res }) => sendData(res, await getTask(ctx, params.taskId)),
    }),
    defineRoute({
      method: 'patch',
      path: '/tasks/:taskId',
      summary: 'Edit a task; send the version you loaded',
      tags: ['tasks'],
      access: writeTasks,
      params: taskParams,
      body: z.object({ ...taskFields, title: taskFields.title.optional(), version: rowVersion }),
      handler: async ({ ctx, params, body, res }) => sendData(res, await updateTask(ctx, params.taskId, body)),
    }),
    defineRoute({
      method: 'post',
      path: '/tasks/:taskId/status',
      summary: 'Start, complete, cancel or reopen a task',
      tags: ['tasks'],
      access: writeTasks,
      params: taskParams,
      body: z.object({ status: z.enum(taskStatuses) }),
      successStatus: 200,
      handler: async ({ ctx, params, body, res }) => sendData(res, await setTaskStatus(ctx, params.taskId, body.status)),
    }),
    defineRoute({
      method: 'delete',
      path: '/tasks/:taskId',
      summary: 'Delete a task (soft)',
      tags: ['tasks'],
      access: writeTasks,
      params: taskParams,
      successStatus: 200,
      handler: async ({ ctx, params, res }) => sendData(res, await deleteTask(ctx, params.taskId)),
    }),
  ];
}
