// A vendor's portal users as dispatch manages them: the owners and technicians of each vendor,
// inviting one (the answer says whether the sign-in code went out), deactivating or reactivating
// (deactivating signs them out everywhere), and each person's signed-in devices with a sign-out.
// Loaded with the vendors drawer's portal section only, so the board's first load stays small.
import { defineStore } from 'pinia';
import { ref } from 'vue';
import { api, errorMessage, unwrap } from '../../lib/api.ts';
import { vendorUsers } from '../../i18n/en/vendor-users.ts';
import { addEnglish, t } from '../../i18n/index.ts';

addEnglish(vendorUsers);

export type VendorRole = 'owner' | 'technician';
export const vendorRoles: readonly VendorRole[] = ['owner', 'technician'];
export interface PortalUser { id: string; vendor_id: string; vendor_role: VendorRole; name: string; email: string | null; phone: string | null; active: boolean; created_at: string }
export interface PortalSession { id: string; created_at: string; last_used_at: string; expires_at: string; user_agent: string | null; ip: string | null }
export interface Invitation { channel: 'email' | 'sms'; sent: boolean; reason?: string }
export interface Invited extends PortalUser { invitation: Invitation }
export interface NewPortalUser { name: string; email?: string; phone?: string; role: VendorRole }

/** "Chrome · Android" from a user agent, roughly: enough to tell one person's devices apart. */
export function deviceName(userAgent: string | null) {
  if (!userAgent) return t('vendorUsers.unknownDevice');
  const browser = /Edg\//.test(userAgent) ? 'Edge' : /Firefox\//.test(userAgent) ? 'Firefox' : /Chrom(e|ium)\//.test(userAgent) ? 'Chrome' : /Safari\//.test(userAgent) ? 'Safari' : null;
  const system = /Android/.test(userAgent) ? 'Android' : /iPhone|iPad/.test(userAgent) ? 'iOS' : /Windows/.test(userAgent) ? 'Windows' : /Mac OS X/.test(userAgent) ? 'macOS' : /Linux/.test(userAgent) ? 'Linux' : null;
  if (browser && system) return `${browser} · ${system}`;
  return browser ?? system ?? t('vendorUsers.unknownDevice');
}

/** Owners first, then by name. */
export const byRoleThenName = (a: PortalUser, b: PortalUser) => (a.vendor_role === b.vendor_role ? a.name.localeCompare(b.name) : a.vendor_role === 'owner' ? -1 : 1);

/** Where vendors sign in; with the account, so they need not type it. */
export const portalAddress = (origin: string, accountId: number | null) => `${origin}/portal/vendor/${accountId ? `?account=${accountId}` : ''}`;

export const useVendorUsers = defineStore('dispatch-vendor-users', () => {
  /** Per vendor; absent until asked for. */
  const users = ref<Record<string, PortalUser[]>>({});
  /** Per portal user, while their devices are shown. */
  const sessions = ref<Record<string, PortalSession[]>>({});
  const errors = ref<Record<string, string | null>>({});
  const fail = (vendorId: string, err: unknown) => {
    errors.value = { ...errors.value, [vendorId]: errorMessage(err, t('common.unreachable')) };
  };
  const ok = (vendorId: string) => {
    if (errors.value[vendorId]) errors.value = { ...errors.value, [vendorId]: null };
  };

  async function load(vendorId: string) {
    try {
      const page = await unwrap<PortalUser[]>(api.GET('/api/v1/vendors/{vendorId}/users', { params: { path: { vendorId }, query: { limit: 100 } } }));
      users.value = { ...users.value, [vendorId]: [...page.data].sort(byRoleThenName) };
      ok(vendorId);
    } catch (err) {
      fail(vendorId, err);
    }
  }

  /** Invites someone: the new user (with whether the code went out), or why it failed. */
  async function invite(vendorId: string, person: NewPortalUser): Promise<Invited | string> {
    try {
      const invited = (await unwrap<Invited>(api.POST('/api/v1/vendors/{vendorId}/users', { params: { path: { vendorId } }, body: person }))).data;
      await load(vendorId);
      return invited;
    } catch (err) {
      return errorMessage(err, t('common.unreachable'));
    }
  }

  async function setActive(user: PortalUser, active: boolean) {
    try {
      const updated = (await unwrap<PortalUser>(api.PUT('/api/v1/vendors/{vendorId}/users/{portalUserId}/active', { params: { path: { vendorId: user.vendor_id, portalUserId: user.id } }, body: { active } }))).data;
      users.value = { ...users.value, [user.vendor_id]: (users.value[user.vendor_id] ?? []).map((u) => (u.id === user.id ? { ...u, ...updated } : u)) };
      ok(user.vendor_id);
      // Deactivating ended every session: the devices shown are gone.
      if (!active && user.id in sessions.value) sessions.value = { ...sessions.value, [user.id]: [] };
      return true;
    } catch (err) {
      fail(user.vendor_id, err);
      return false;
    }
  }

  async function loadSessions(user: PortalUser) {
    try {
      const list = (await unwrap<PortalSession[]>(api.GET('/api/v1/vendors/{vendorId}/users/{portalUserId}/sessions', { params: { path: { vendorId: user.vendor_id, portalUserId: user.id } } }))).data;
      sessions.value = { ...sessions.value, [user.id]: list };
      ok(user.vendor_id);
    } catch (err) {
      fail(user.vendor_id, err);
    }
  }

  function hideSessions(user: PortalUser) {
    const { [user.id]: _gone, ...rest } = sessions.value;
    sessions.value = rest;
  }

  async function signOut(user: PortalUser, session: PortalSession) {
    try {
      await unwrap(
        api.DELETE('/api/v1/vendors/{vendorId}/users/{portalUserId}/sessions/{sessionId}', { params: { path: { vendorId: user.vendor_id, portalUserId: user.id, sessionId: session.id } } }),
      );
      sessions.value = { ...sessions.value, [user.id]: (sessions.value[user.id] ?? []).filter((s) => s.id !== session.id) };
      ok(user.vendor_id);
      return true;
    } catch (err) {
      fail(user.vendor_id, err);
      return false;
    }
  }

  return { users, sessions, errors, load, invite, setActive, loadSessions, hideSessions, signOut };
});
