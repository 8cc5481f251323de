// Reading and changing an account's profile and capability overrides.
import { accountCapabilities, phoneCountryOf, type AccountRow } from '../accounts/service.ts';
import type { RequestContext } from '../context.ts';
import { read, write } from '../db/tenant.ts';
import { activeFields, fieldEntities } from './field-packs.ts';
import { capabilities, profileDefaults, profiles, type Capability, type CapabilityOverrides, type Profile } from './profiles.ts';

function present(account: AccountRow) {
  const resolved = accountCapabilities(account);
  return {
    profile: account.profile,
    profiles,
    defaults: profileDefaults[account.profile],
    overrides: account.capability_overrides,
    capabilities: capabilities.map((flag) => ({ flag, enabled: resolved.has(flag), default: profileDefaults[account.profile].includes(flag) })),
    fields: Object.fromEntries(fieldEntities.map((entity) => [entity, activeFields({ capabilities: resolved, accountFields: account.field_definitions }, entity)])),
    // Where national phone numbers ("(510) 555-0177") are read: the setting, else Chatwoot's locale, else US.
    phone_country: { ...phoneCountryOf(account), setting: account.default_phone_country ?? null, chatwoot_locale: account.chatwoot_locale ?? null },
  };
}

export async function getAccountCapabilities(ctx: RequestContext) {
  const account = await read(ctx, (trx) => trx<AccountRow>('accounts').where({ account_id: ctx.accountId }).first());
  return present(account!);
}

/** Changes the profile and/or overrides; an override of `null` returns a flag to its profile default. */
export async function updateAccountCapabilities(
  ctx: RequestContext,
  input: { profile?: Profile; overrides?: Partial<Record<Capability, boolean | null>>; phone_country?: string | null },
) {
  return write(ctx, async (trx, audit) => {
    const before = (await trx<AccountRow>('accounts').where({ account_id: ctx.accountId }).forUpdate().first())!;
    const overrides: CapabilityOverrides = { ...before.capability_overrides };
    for (const [flag, value] of Object.entries(input.overrides ?? {}) as Array<[Capability, boolean | null]>) {
      if (value === null) delete overrides[flag];
      else overrides[flag] = value;
    }
    const profile = input.profile ?? before.profile;
    const [after] = await trx<AccountRow>('accounts')
      .where({ account_id: ctx.accountId })
      .update({
        profile,
        capability_overrides: JSON.stringify(overrides) as unknown as CapabilityOverrides,
        ...(input.phone_country !== undefined ? { default_phone_country: input.phone_country } : {}),
        updated_at: trx.fn.now(),
      })
      .returning('*');
    await audit({
      action: 'account.capabilities_changed',
      resourceType: 'account',
      resourceId: ctx.accountId,
      before: { profile: before.profile, overrides: before.capability_overrides, enabled: [...accountCapabilities(before)].sort(), default_phone_country: before.default_phone_country ?? null },
      after: { profile, overrides, enabled: [...accountCapabilities(after!)].sort(), default_phone_country: after!.default_phone_country ?? null },
    });
    return present(after!);
  });
}
