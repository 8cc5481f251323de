// Who is signed in to the portal. The session is the HttpOnly cookie the server set at sign-in; the
// person's name, role and account are also kept on the device, so the portal opens (and shows the
// jobs it kept) with no network. A 401 from any request ends it.
import { computed, ref } from 'vue';
import { call, whenUnauthorized, ApiError } from '../shared/http.ts';
import { accountOfToken, store, stored } from '../shared/storage.ts';
import type { PortalMe } from './types.ts';

export { accountOfToken };

const meKey = 'onelink.vendor-portal.me';
const accountKey = 'onelink.vendor-portal.account';
/** Who signed out when the server could not be reached: their session is ended on the next chance. */
const revokeKey = 'onelink.vendor-portal.revoke-pending';

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
/** Asks the server who this is; offline, the copy on the device stands. */
export async function loadMe() {
  try {
    const { data } = await call<PortalMe>('GET', '/me');
    if (data.caller.type !== 'portal_user' || !data.caller.vendor_id) {
      signedOut();
      return;
    }
    // Signed out without signal: that person's session must not sign them back in on this phone.
    if (stored<string>(revokeKey) === data.caller.id) {
      await revokeThisSession(data.caller.id);
      return;
    }
    store(revokeKey, null);
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
  store(revokeKey, null); // the new session replaced the old one on this phone
  await loadMe();
}

export async function signInWithLink(token: string) {
  const account = accountOfToken(token);
  if (account) rememberAccount(account);
  await call('POST', '/portal/vendor/sessions', { token });
  store(revokeKey, null); // the new session replaced the old one on this phone
  await loadMe();
}

/** Ends this phone's session (of `person`) on the server; failing that, remembers to end it at the next start. */
async function revokeThisSession(person: string | null) {
  try {
    const { data } = await call<Array<{ id: string; current: boolean }>>('GET', '/portal/sessions');
    const current = data.find((s) => s.current);
    if (current) await call('DELETE', `/portal/sessions/${current.id}`);
    store(revokeKey, null);
  } catch (err) {
    // 401: the session is over already; anything else (no signal): tried again at the next start.
    const over = err instanceof ApiError && err.status === 401;
    store(revokeKey, over ? null : person);
  }
}

/** Signs this device out (its session only): on the phone at once, on the server as soon as it can be reached. */
export async function signOut() {
  await revokeThisSession(me.value?.caller.id ?? null);
  me.value = null;
  sessionEnded.value = false;
  store(meKey, null);
}
