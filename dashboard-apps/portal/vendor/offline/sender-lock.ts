// One sender per queue per phone: two open tabs share the same IndexedDB queues, and both sending
// them would post each action, upload and message twice. Web Locks (where the browser has them) let
// one tab send a queue at a time; the other waits its turn and then finds what is left. Each queue
// has its own lock, so a long photo upload never holds back a tick or a message. Without Web Locks,
// it just runs.
export type SenderQueue = 'actions' | 'uploads' | 'messages';

export const senderLockName = (queue: SenderQueue) => `onelink-vendor-sender-${queue}`;

export function withSenderLock<T>(queue: SenderQueue, work: () => Promise<T>): Promise<T> {
  const locks = typeof navigator === 'undefined' ? undefined : navigator.locks;
  if (!locks?.request) return work();
  return locks.request(senderLockName(queue), () => work()) as Promise<T>;
}
