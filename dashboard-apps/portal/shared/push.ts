// Web push on this device for a portal person: the browser subscribes with the server's VAPID key
// through the portal's own service worker, and the subscription is handed to /push/subscriptions
// (tied to this session: signing it out stops the pushes). Off: unsubscribed on both sides.
import { ref } from 'vue';
import { call } from './http.ts';

export type PushState = 'unsupported' | 'denied' | 'off' | 'on';
export const pushState = ref<PushState>('off');

const supported = () => typeof window !== 'undefined' && 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;

async function registration(scope: string) {
  const found = await navigator.serviceWorker.getRegistration(scope);
  if (!found) throw new Error('The portal is not installed on this device yet');
  return found;
}

/** What this device says now (reads only: never asks the person anything). */
export async function readPushState(scope: string): Promise<PushState> {
  if (!supported()) return (pushState.value = 'unsupported');
  if (Notification.permission === 'denied') return (pushState.value = 'denied');
  const found = await navigator.serviceWorker.getRegistration(scope);
  const subscription = await found?.pushManager.getSubscription();
  return (pushState.value = subscription ? 'on' : 'off');
}

function keyBytes(base64url: string) {
  const raw = atob(base64url.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(base64url.length / 4) * 4, '='));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}
const base64url = (buffer: ArrayBuffer | null) => (buffer ? btoa(String.fromCharCode(...new Uint8Array(buffer))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '') : '');

export async function enablePush(scope: string): Promise<PushState> {
  if (!supported()) return (pushState.value = 'unsupported');
  if ((await Notification.requestPermission()) !== 'granted') return (pushState.value = 'denied');
  const worker = await registration(scope);
  const { data } = await call<{ public_key: string }>('GET', '/push/public-key');
  const subscription = (await worker.pushManager.getSubscription()) ?? (await worker.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(data.public_key) }));
  await call('POST', '/push/subscriptions', {
    endpoint: subscription.endpoint,
    keys: { p256dh: base64url(subscription.getKey('p256dh')), auth: base64url(subscription.getKey('auth')) },
  });
  return (pushState.value = 'on');
}

export async function disablePush(scope: string): Promise<PushState> {
  const worker = await navigator.serviceWorker.getRegistration(scope);
  const subscription = await worker?.pushManager.getSubscription();
  if (subscription) {
    // The server first: a failure there leaves the browser subscribed, so the switch stays true to fact.
    await call('DELETE', '/push/subscriptions', { endpoint: subscription.endpoint }).catch((err: unknown) => {
      if (!(err instanceof Error && 'status' in err && (err as { status: number }).status === 404)) throw err;
    });
    await subscription.unsubscribe();
  }
  return (pushState.value = 'off');
}
