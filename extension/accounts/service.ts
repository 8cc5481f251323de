// Accounts: one per Chatwoot account of an installation, with its capability profile.
import type { Knex } from 'knex';
import { permissionsFor, type Permission, type Role } from '../auth/permissions.ts';
import { write, type Actor, type RequestContext } from '../db/tenant.ts';
import type { AccountField } from '../capabilities/field-packs.ts';
import { resolveCapabilities, type Capability, type CapabilityOverrides, type Profile } from '../capabilities/profiles.ts';

export interface AccountRow {
  account_id: number;
  installation_id: string;
  chatwoot_account_id: number;
  name: string;
  profile: Profile;
  capability_overrides: CapabilityOverrides;
  field_definitions?: AccountField[];
  updated_at?: Date;
}

export function accountCapabilities(account: Pick<AccountRow, 'profile' | 'capability_overrides'>): Set<Capability> {
  return resolveCapabilities(account.profile, account.capability_overrides);
}

/** The context of a caller acting in `account` with `roles` (and, for service tokens, their scopes). */
export function callerContext(
  db: Knex,
  account: AccountRow,
  actor: Actor,
  roles: readonly Role[],
  requestId: string | null,
  scopes: readonly Permission[] = [],
): RequestContext {
  return {
    db,
    accountId: account.account_id,
    actor,
    roles,
    permissions: permissionsFor(roles, scopes),
    capabilities: accountCapabilities(account),
    accountFields: account.field_definitions ?? [],
    requestId,
  };
}

export function systemContext(db: Knex, accountId: number, requestId: string | null = null): RequestContext {
  return {
    db,
    accountId,
    actor: { type: 'system', id: 'onelink' },
    roles: [],
    permissions: new Set(),
    capabilities: new Set(),
    requestId,
  };
}

/** Finds our account for a Chatwoot account, creating it (audited, as the system) on first sight. */
export async function ensureAccount(
  db: Knex,
  installationId: string,
  chatwoot: { id: number; name: string },
  requestId: string | null,
): Promise<AccountRow> {
  const existing = await db<AccountRow>('accounts').where({ installation_id: installationId, chatwoot_account_id: chatwoot.id }).first();
  if (existing) return existing;
  // The row must be inserted as the account it creates (row-level security), so take its id first.
  const { rows } = await db.raw<{ rows: Array<{ id: number }> }>(`select nextval(pg_get_serial_sequence('accounts', 'account_id')) as id`);
  const accountId = Number(rows[0]!.id);
  try {
    return await write(systemContext(db, accountId, requestId), async (trx, audit) => {
      const [row] = await trx<AccountRow>('accounts')
        .insert({ account_id: accountId, installation_id: installationId, chatwoot_account_id: chatwoot.id, name: chatwoot.name })
        .returning('*');
      await audit({ action: 'account.created', resourceType: 'account', resourceId: accountId, after: { ...row } });
      return row!;
    });
  } catch (err) {
    // Two first sign-ins at once: the other one created it.
    if ((err as { code?: string }).code === '23505') {
      return (await db<AccountRow>('accounts').where({ installation_id: installationId, chatwoot_account_id: chatwoot.id }).first())!;
    }
    throw err;
  }
}
