// Task status as a state machine of its own (a task is never a kind of deal).
export const taskStatuses = ['open', 'in_progress', 'done', 'canceled'] as const;
export type TaskStatus = (typeof taskStatuses)[number];
export const taskPriorities = ['low', 'normal', 'high', 'urgent'] as const;

export const taskTransitions: Record<TaskStatus, readonly TaskStatus[]> = {
  open: ['in_progress', 'done', 'canceled'],
  in_progress: ['open', 'done', 'canceled'],
  done: ['open'],
  canceled: ['open'],
};

/** How long before the due time a task counts as due soon. */
export const dueSoonMinutes = 60;
