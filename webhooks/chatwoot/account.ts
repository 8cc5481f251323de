// The Chatwoot account a webhook payload names. One reading for both receiving (which account's
// secret must have signed it) and processing (whose caches it writes), so a payload can never be
// verified as one account (or none) and processed as another.

/** What a payload says about its account: none, one, or something that cannot be read as one. */
export type PayloadAccount = { kind: 'none' } | { kind: 'account'; id: number; name: string | null } | { kind: 'unreadable' };

/** A Chatwoot id as Chatwoot writes it: a positive integer, or its plain decimal digits. */
function chatwootId(raw: unknown): number | null {
  if (typeof raw === 'number') return Number.isSafeInteger(raw) && raw > 0 ? raw : null;
  if (typeof raw === 'string' && /^[1-9]\d{0,15}$/.test(raw)) {
    const n = Number(raw);
    return Number.isSafeInteger(n) ? n : null;
  }
  return null;
}

/**
 * Reads `account.id` and `account_id`. Either may be missing; any that is present must be a
 * plain id, and when both are present they must agree. Anything else is unreadable.
 */
export function payloadAccount(payload: Record<string, unknown> | null): PayloadAccount {
  if (!payload) return { kind: 'none' };
  let fromObject: number | null | undefined; // undefined: not given
  let name: string | null = null;
  if (payload.account !== undefined && payload.account !== null) {
    const account = payload.account;
    if (typeof account !== 'object' || Array.isArray(account)) return { kind: 'unreadable' };
    const fields = account as Record<string, unknown>;
    if (fields.id !== undefined && fields.id !== null) {
      fromObject = chatwootId(fields.id);
      if (fromObject === null) return { kind: 'unreadable' };
    }
    if (typeof fields.name === 'string') name = fields.name;
  }
  let fromField: number | undefined;
  if (payload.account_id !== undefined && payload.account_id !== null) {
    const n = chatwootId(payload.account_id);
    if (n === null) return { kind: 'unreadable' };
    fromField = n;
  }
  if (fromObject !== undefined && fromField !== undefined && fromObject !== fromField) return { kind: 'unreadable' };
  const id = fromObject ?? fromField;
  return id === undefined || id === null ? { kind: 'none' } : { kind: 'account', id, name };
}
