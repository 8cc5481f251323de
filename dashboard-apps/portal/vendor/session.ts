// Who is signed in to the portal. The session is the HttpOnly cookie the server set at sign-in; the
// person's name, role and account are also kept on the device, so the portal opens (and shows the
// jobs it kept) with no network. A 401 from any request ends it.
import { computed, ref } from 'vue';
import { call, whenUnauthorized, ApiError } from '../shared/http.ts';
import type { PortalMe } from './types.ts';

const meKey = 'onelink.vendor-portal.me';
const accountKey = 'onelink.vendor-portal.account';

function stored<T>(key: string): T | null {
  try {
    const raw = localStorage.getItem(key);
    return raw ? (JSON.parse(raw) as T) : null;
  } catch {
    return null;
  }
}
function store(key: string, value: unknown) {
  try {
    if (value === null) localStorage.removeItem(key);
    else localStorage.setItem(key, JSON.stringify(value));
  } catch {
    // private mode or full: this page's memory still serves
  }
}

export const me = ref<PortalMe | null>(stored<PortalMe>(meKey));
/** Set when the server said the session is over (shown on the sign-in page). */
export const sessionEnded = ref(false);
export const isOwner = computed(() => me.value?.caller.vendor_role === 'owner');

function signedOut() {
  if (me.value) sessionEnded.value = true;
  me.value = null;
  store(meKey, null);
}
whenUnauthorized(signedOut);

/** The account the portal signs in to: from the address (?account=), a sign-in link's token, or the last sign-in. */
export function rememberedAccount(): number | null {
  return stored<number>(accountKey);
}
export function rememberAccount(accountId: number) {
  store(accountKey, accountId);
}
/** A sign-in link's token names its account (`olm_<account>_…`). */
export const accountOfToken = (token: string) => {
  const match = /^olm_(\d{1,15})_/.exec(token);
  return match ? Number(match[1]) : null;
};

/** Asks the server who this is; offline, the copy on the device stands. */
export async function loadMe() {
  try {
    const { data } = await call<PortalMe>('GET', '/me');
    if (data.caller.type !== 'portal_user' || !data.caller.vendor_id) {
      signedOut();
      return;
    }
    me.value = data;
    sessionEnded.value = false;
    store(meKey, data);
    rememberAccount(data.account.id);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) signedOut();
    // anything else (no network): keep what the device knows
  }
}

export type Address = { email: string } | { phone: string };

export async function requestCode(account: number, address: Address) {
  rememberAccount(account);
  await call('POST', '/portal/vendor/sign-in', { account, ...address });
}

export async function signInWithCode(account: number, address: Address, code: string) {
  await call('POST', '/portal/vendor/sessions', { account, ...address, code });
  await loadMe();
}

export async function signInWithLink(token: string) {
  const account = accountOfToken(token);
  if (account) rememberAccount(account);
  await call('POST', '/portal/vendor/sessions', { token });
  await loadMe();
}

/** Signs this device out (its session only). */
export async function signOut() {
  const { data } = await call<Array<{ id: string; current: boolean }>>('GET', '/portal/sessions');
  const current = data.find((s) => s.current);
  if (current) await call('DELETE', `/portal/sessions/${current.id}`);
  me.value = null;
  sessionEnded.value = false;
  store(meKey, null);
}
