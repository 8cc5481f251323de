import { describe, expect, it } from 'vitest';
import type { ActionBody, PortalJob } from '../types.ts';
import { applyAction, withPending } from './apply.ts';

const job: PortalJob = {
  id: 'job-1',
  reference: 'J-7',
  status: 'assigned',
  priority: 'normal',
  summary: 'Leaking tap',
  service_category: 'plumbing',
  window_starts_at: null,
  window_ends_at: null,
  sla_due_at: null,
  sla_state: 'none',
  checklist: { done: 0, total: 2 },
  postal_code: 'E1',
  address: '1 High St',
  maps_url: null,
  client: null,
  technician: null,
  offer: null,
  eta: null,
  started_at: null,
  updated_at: '2026-12-01T08:00:00.000Z',
  checklist_items: [
    { id: 'a', label: 'Water off', required: true, done_at: null },
    { id: 'b', label: 'Fixed', required: true, done_at: null },
  ],
  required_photos: [],
  artifacts: [],
  events: [],
  allowed_actions: ['en_route', 'start', 'check', 'uncheck', 'note'],
};

let n = 0;
const action = (kind: ActionBody['kind'], extra: Partial<ActionBody> = {}): ActionBody => ({
  id: `action-${++n}`,
  job_id: 'job-1',
  kind,
  happened_at: `2026-12-01T09:0${n}:00.000Z`,
  offline: true,
  ...extra,
});

describe('applying queued actions on the phone', () => {
  it('starts the job at the device time and offers the next steps', () => {
    const started = applyAction(job, action('start'));
    expect(started.status).toBe('in_progress');
    expect(started.started_at).toBe(started.updated_at);
    expect(started.allowed_actions).toEqual(expect.arrayContaining(['check', 'note', 'submit_for_review']));
    expect(started.allowed_actions).not.toContain('start');
    expect(job.status).toBe('assigned');
  });

  it('ticks and unticks items and keeps the progress count in step, counting a repeated tick once', () => {
    const ticked = withPending(job, [action('check', { item_id: 'a' }), action('check', { item_id: 'a' }), action('check', { item_id: 'b' }), action('uncheck', { item_id: 'b' })]);
    expect(ticked.checklist_items.map((i) => !!i.done_at)).toEqual([true, false]);
    expect(ticked.checklist.done).toBe(1);
  });

  it('shows a note at once, marked as not yet sent', () => {
    const noted = applyAction(job, action('note', { text: 'Side gate key with neighbour' }));
    expect(noted.events.at(-1)).toMatchObject({ kind: 'vendor_note', data: { text: 'Side gate key with neighbour', pending: true } });
  });

  it('applies only the actions of this job, in order', () => {
    const other = action('complete', { job_id: 'job-2' });
    const result = withPending(job, [action('start'), other, action('submit_for_review')]);
    expect(result.status).toBe('pending_review');
  });

  it('moves a list card too (status and checklist count), without details', () => {
    const { checklist_items: _i, required_photos: _p, artifacts: _a, events: _e, allowed_actions: _al, ...card } = job;
    const moved = withPending(card, [action('start'), action('check', { item_id: 'a' })]);
    expect([moved.status, moved.checklist.done]).toEqual(['in_progress', 1]);
  });
});
