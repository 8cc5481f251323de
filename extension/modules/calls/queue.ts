// The calls module's queue work: the delayed settling check of a call whose outcome could still
// change when its last callback was processed (a late "answered" or voicemail may follow a final
// status for some seconds).
import { queues } from '../../queue/names.ts';
import type { QueueWork } from '../../queue/work.ts';
import { settleCall, type CallsDeps } from './workflow.ts';

export function callsQueueWork(deps: Omit<CallsDeps, 'jobs'>): QueueWork[] {
  const settle: QueueWork<{ accountId: number; callId: string }> = {
    name: queues.twilioSettle,
    options: { retryLimit: 5, retryDelay: 10, retryBackoff: true },
    pollingIntervalSeconds: 1,
    async handle(jobs) {
      for (const { accountId, callId } of jobs) await settleCall(deps, accountId, callId);
    },
  };
  return [settle];
}
