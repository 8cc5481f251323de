// Accounts: one per Chatwoot account of an installation, with its capability profile.
import type { Knex } from 'knex';
import { permissionsFor, type Permission, type Role } from '../auth/permissions.ts';
import type { Actor, RequestContext } from '../context.ts';
import { write } from '../db/tenant.ts';
import type { AccountField } from '../capabilities/field-packs.ts';
import { resolveCapabilities, type Capability, type CapabilityOverrides, type Profile } from '../capabilities/profiles.ts';
import { isPhoneCountry, type CountryCode } from '../phones/e164.ts';

export interface AccountRow {
  account_id: number;
  installation_id: string;
  chatwoot_account_id: number;
  name: string;
  profile: Profile;
  capability_overrides: CapabilityOverrides;
  field_definitions?: AccountField[];
  /** Set by an admin; null: follow the Chatwoot locale, else US. */
  default_phone_country?: string | null;
  /** The Chatwoot account's locale (e.g. 'pt_BR'), when Chatwoot told us. */
  chatwoot_locale?: string | null;
  updated_at?: Date;
}

// A language alone names no country; these are the countries its speakers most likely dial from.
const countryOfLanguage: Record<string, CountryCode> = {
  en: 'US', ar: 'SA', bg: 'BG', ca: 'ES', cs: 'CZ', da: 'DK', de: 'DE', el: 'GR', es: 'ES', fa: 'IR', fi: 'FI',
  fr: 'FR', he: 'IL', hi: 'IN', hu: 'HU', id: 'ID', it: 'IT', ja: 'JP', ko: 'KR', ml: 'IN', ms: 'MY', nl: 'NL',
  no: 'NO', nb: 'NO', pl: 'PL', pt: 'PT', ro: 'RO', ru: 'RU', sk: 'SK', sr: 'RS', sv: 'SE', ta: 'IN', th: 'TH',
  tr: 'TR', uk: 'UA', vi: 'VN', zh: 'CN',
};

/** The country of a locale: its region when it names one ('en_GB' → GB, 'pt-BR' → BR), else its language's. */
export function countryOfLocale(locale: string | null | undefined): CountryCode | null {
  if (!locale) return null;
  const [language, ...rest] = locale.split(/[_-]/);
  const region = rest.find((part) => /^[A-Za-z]{2}$/.test(part))?.toUpperCase();
  if (region && isPhoneCountry(region)) return region;
  return countryOfLanguage[language!.toLowerCase()] ?? null;
}

export type PhoneCountrySource = 'setting' | 'chatwoot_locale' | 'fallback';

/**
 * The country a phone number without a country code is read in, for this account: the admin's
 * choice, else the Chatwoot account's locale, else US.
 */
export function phoneCountryOf(account: Pick<AccountRow, 'default_phone_country' | 'chatwoot_locale'>): { country: CountryCode; source: PhoneCountrySource } {
  if (account.default_phone_country && isPhoneCountry(account.default_phone_country)) return { country: account.default_phone_country, source: 'setting' };
  const fromLocale = countryOfLocale(account.chatwoot_locale);
  if (fromLocale) return { country: fromLocale, source: 'chatwoot_locale' };
  return { country: 'US', source: 'fallback' };
}

/** The account's default phone country, read with `db` (any connection or transaction: account rows are readable to all). */
export async function accountPhoneCountry(db: Knex, accountId: number): Promise<CountryCode> {
  const row = await db<AccountRow>('accounts').where({ account_id: accountId }).first('default_phone_country', 'chatwoot_locale');
  return phoneCountryOf(row ?? {}).country;
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

/**
 * Onelink acting on an account's identity records — creating the account, syncing a signing-in
 * agent, revoking sessions — as the `onelink` system process. Unlike systemContext (db/tenant.ts),
 * which processors and sweeps use, it loads no capabilities: the account may not exist yet, and
 * identity is not behind any capability. Like every system context it holds no role and no permission.
 */
export function setupContext(db: Knex, accountId: number, requestId: string | null = null): RequestContext {
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
  chatwoot: { id: number; name: string; locale?: string | null },
  requestId: string | null,
): Promise<AccountRow> {
  // A locale is kept only when it looks like one (it only ever picks a default phone country).
  const locale = chatwoot.locale && /^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})*$/.test(chatwoot.locale) ? chatwoot.locale : null;
  const existing = await db<AccountRow>('accounts').where({ installation_id: installationId, chatwoot_account_id: chatwoot.id }).first();
  if (existing && locale && existing.chatwoot_locale !== locale) {
    return write(setupContext(db, existing.account_id, requestId), async (trx, audit) => {
      const [row] = await trx<AccountRow>('accounts').where({ account_id: existing.account_id }).update({ chatwoot_locale: locale, updated_at: trx.fn.now() }).returning('*');
      await audit({ action: 'account.chatwoot_locale_changed', resourceType: 'account', resourceId: existing.account_id, before: { chatwoot_locale: existing.chatwoot_locale ?? null }, after: { chatwoot_locale: locale } });
      return row!;
    });
  }
  if (existing) return existing;
  // The row must be inserted as the account it creates (row-level security), so take its id first.
  const { rows } = await db.raw<{ rows: Array<{ id: number }> }>(`select nextval(pg_get_serial_sequence('accounts', 'account_id')) as id`);
  const accountId = Number(rows[0]!.id);
  try {
    return await write(setupContext(db, accountId, requestId), async (trx, audit) => {
      const [row] = await trx<AccountRow>('accounts')
        .insert({ account_id: accountId, installation_id: installationId, chatwoot_account_id: chatwoot.id, name: chatwoot.name, chatwoot_locale: locale })
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
