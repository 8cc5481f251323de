// Who is signed in to the client portal. The session is the HttpOnly cookie the server set at
// sign-in; the person's name and account are also kept on the device, so the shell opens with no
// network. A 401 from any request ends it.
import { ref } from 'vue';
import { call, whenUnauthorized, ApiError } from '../shared/http.ts';
import { accountOfToken, store, stored } from '../shared/storage.ts';
import type { ClientMe } from './types.ts';

const meKey = 'onelink.client-portal.me';
const accountKey = 'onelink.client-portal.account';

export const me = ref<ClientMe | null>(stored<ClientMe>(meKey));
/** Set when the server said the session is over (shown on the sign-in page). */
export const sessionEnded = ref(false);

function signedOut() {
  if (me.value) sessionEnded.value = true;
  me.value = null;
  store(meKey, null);
}
whenUnauthorized(signedOut);

/** The account the portal signs in to: from the address (?account=), a sign-in link's token, or the last sign-in. */
export const rememberedAccount = () => stored<number>(accountKey);
export const rememberAccount = (accountId: number) => store(accountKey, accountId);

interface MeAnswer {
  caller: { type: string; id: string; kind?: string; name: string; contact_id?: number; chatwoot_contact_id?: number | null };
  account: { id: number; name: string; locale?: string | null; chatwoot_locale?: string | null };
}

/** Asks the server who this is; offline, the copy on the device stands. */
export async function loadMe() {
  try {
    const { data } = await call<MeAnswer>('GET', '/me');
    const contactId = data.caller.contact_id ?? data.caller.chatwoot_contact_id;
    // Only a client's session opens this portal (a vendor's or an agent's cookie does not).
    if (data.caller.type !== 'portal_user' || data.caller.kind === 'vendor' || !contactId) {
      signedOut();
      return;
    }
    const locale = data.account.locale ?? data.account.chatwoot_locale ?? null;
    me.value = { caller: { id: data.caller.id, name: data.caller.name, contact_id: contactId }, account: { id: data.account.id, name: data.account.name, locale } };
    sessionEnded.value = false;
    store(meKey, me.value);
    rememberAccount(data.account.id);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) signedOut();
    // anything else (no network): keep what the device knows
  }
}

/**
 * The languages to show the portal in, best first: the account's (the business writes to its
 * clients in it), then the phone's. Chatwoot names locales with an underscore ("pt_BR").
 */
export function preferredLanguages(): string[] {
  const account = me.value?.account.locale?.replace('_', '-');
  return [...(account ? [account] : []), ...(typeof navigator === 'undefined' ? [] : navigator.languages)];
}

export type Address = { email: string } | { phone: string };

/** Asks for a code and a link (the answer never says whether the address is known). */
export async function requestCode(account: number, address: Address) {
  rememberAccount(account);
  await call('POST', '/portal/client/sign-in', { account, ...address });
}

export async function signInWithCode(account: number, address: Address, code: string) {
  await call('POST', '/portal/client/sessions', { account, ...address, code });
  await loadMe();
}

export async function signInWithLink(token: string) {
  const account = accountOfToken(token);
  if (account) rememberAccount(account);
  await call('POST', '/portal/client/sessions', { token });
  await loadMe();
}

function forget() {
  me.value = null;
  sessionEnded.value = false;
  store(meKey, null);
}

/** Signs this device out (its session only). Offline it fails: the server must hear it. */
export async function signOut() {
  const { data } = await call<Array<{ id: string; current: boolean }>>('GET', '/portal/sessions').catch((err: unknown) => {
    if (err instanceof ApiError && err.status === 401) return { data: [] };
    throw err;
  });
  const current = data.find((s) => s.current);
  if (current) await call('DELETE', `/portal/sessions/${current.id}`);
  forget();
}

/** Ends every session of this person, on every device, this one included. */
export async function signOutEverywhere() {
  await call<{ revoked: number }>('DELETE', '/portal/sessions');
  forget();
}
