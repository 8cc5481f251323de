// The signed-in caller. After sign-in the server sets a partitioned, HttpOnly session cookie,
// which keeps working inside Chatwoot's cross-site iframe where third-party cookies and even
// localStorage can be blocked. The token is also kept as a bearer for this page's lifetime
// (and in localStorage when the browser allows it), for browsers without partitioned cookies.
// It is never put in a URL.
import { t } from '../i18n/index.ts';
import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import type { Capability } from '../../extension/capabilities/profiles.ts';
import type { Permission } from '../../extension/auth/permissions.ts';
import { api, ApiError, connectSession, unwrap } from '../lib/api.ts';

export interface Me {
  caller: { type: 'user' | 'portal_user' | 'service'; id: string; name: string; email?: string | null; roles?: string[] };
  /** `phone_country`: where numbers without a country code are read; such numbers are shown in national form. */
  account: { id: number; chatwoot_account_id: number; name: string; profile: string; phone_country?: string };
  role: string;
  roles: string[];
  permissions: Permission[];
  capabilities: Capability[];
  chatwoot: { base_url: string };
  fields: { deal: FieldDefinition[]; job: FieldDefinition[]; vendor: FieldDefinition[] };
}

/** One of the account's extra fields (from its field packs), as /me describes it. */
export interface FieldDefinition { key: string; label: string; type: 'text' | 'number' | 'date' | 'boolean' | 'choice'; options?: readonly string[]; required?: boolean; sensitive?: boolean }

export interface AccountChoice { id: number; name: string | null }

export const useSessionStore = defineStore('session', () => {
  const token = storedToken('onelink.session');
  const me = ref<Me | null>(null);
  const error = ref<string | null>(null);
  const loading = ref(false);
  const accountChoices = ref<AccountChoice[]>([]);

  // The names are the server's own (a renamed permission or capability fails the typecheck).
  const can = (permission: Permission) => me.value?.permissions.includes(permission) ?? false;
  const has = (capability: Capability) => me.value?.capabilities.includes(capability) ?? false;
  const signedIn = computed(() => me.value !== null);

  async function load() {
    loading.value = true;
    try {
      me.value = (await unwrap<Me>(api.GET('/api/v1/me'))).data;
      error.value = null;
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) {
        // Not signed in (or no longer): only worth saying when we thought we were.
        ended();
      } else {
        error.value = err instanceof ApiError ? err.message : t('common.unexpected');
      }
    } finally {
      loading.value = false;
    }
  }

  async function signIn(input: { accessToken: string; chatwootUrl?: string; accountId?: number }) {
    loading.value = true;
    error.value = null;
    try {
      const { data } = await unwrap<{ token: string }>(
        api.POST('/api/v1/auth/chatwoot', { body: { access_token: input.accessToken, chatwoot_url: input.chatwootUrl, account_id: input.accountId } }),
      );
      token.value = data.token;
      accountChoices.value = [];
      await load();
    } catch (err) {
      if (err instanceof ApiError && err.code === 'account_required') {
        accountChoices.value = (err.details as { accounts: AccountChoice[] }).accounts;
        error.value = t('signIn.severalAccounts');
      } else {
        error.value = err instanceof ApiError ? err.message : t('common.unexpected');
      }
    } finally {
      loading.value = false;
    }
  }

  /** Takes a boot payload that came with another answer (the sidebar's first request carries one). */
  function adopt(next: Me) {
    me.value = next;
    error.value = null;
  }

  /** The session turned out to be missing or over (a 401 from any request). */
  function ended() {
    if (token.value || me.value) error.value = t('signIn.sessionEnded');
    token.value = null;
    me.value = null;
  }

  async function signOut() {
    await unwrap(api.DELETE('/api/v1/auth/session')).catch(() => undefined);
    token.value = null;
    me.value = null;
  }

  // Every request (lib/api.ts) carries this page's token, and any 401 ends the session here.
  connectSession({ token: () => token.value, ended });

  return { token, me, error, loading, accountChoices, signedIn, can, has, load, adopt, ended, signIn, signOut };
});

/** A ref persisted in localStorage when the browser allows it (a blocked third-party frame throws). */
function storedToken(key: string) {
  const value = ref<string | null>(null);
  let storage: Storage | null = null;
  try {
    storage = window.localStorage;
    value.value = storage.getItem(key);
  } catch {
    storage = null;
  }
  return computed<string | null>({
    get: () => value.value,
    set: (next) => {
      value.value = next;
      try {
        if (next) storage?.setItem(key, next);
        else storage?.removeItem(key);
      } catch {
        // storage went away (quota, privacy mode): the in-memory value still serves this page
      }
    },
  });
}
