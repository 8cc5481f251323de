// What the client portal's shell reads from the server (GET /me, the profile, sessions).
export interface ClientMe {
  caller: { id: string; name: string; contact_id: number };
  /** locale: the account's language (Chatwoot's, e.g. "pt_BR") when the server names it. */
  account: { id: number; name: string; locale?: string | null };
}

export interface ClientProfile {
  name: string;
  email: string | null;
  phone: string | null;
  contact_sync: { status: 'synced' | 'pending' | 'failed'; error?: string };
}

export interface PortalSession {
  id: string;
  current: boolean;
  created_at: string;
  last_used_at: string | null;
  expires_at: string;
  user_agent: string | null;
}
