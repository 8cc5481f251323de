// One sender per phone: two open tabs share the same IndexedDB queues, and both sending them would
// post each action, upload and message twice. Web Locks (where the browser has them) let one tab
// send at a time; the other waits its turn and then finds what is left. Without them, it just runs.
export const senderLockName = 'onelink-vendor-sender';

export function withSenderLock<T>(work: () => Promise<T>): Promise<T> {
  const locks = typeof navigator === 'undefined' ? undefined : navigator.locks;
  if (!locks?.request) return work();
  return locks.request(senderLockName, () => work()) as Promise<T>;
}
