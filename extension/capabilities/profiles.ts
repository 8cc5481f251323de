// Account profiles resolve into flat capability flags. Code asks can('dispatch.jobs'), never
// which profile an account has; the defaults per profile live here and nowhere else.
export const capabilities = [
  'crm.deals',
  'crm.pipelines',
  'crm.tasks',
  'dispatch.jobs',
  'dispatch.vendors',
  'calls.twilio',
  'portal.vendor',
  'portal.client',
  'fields.construction',
  'fields.healthcare',
] as const;
export type Capability = (typeof capabilities)[number];

export const profiles = ['generic', 'healthcare', 'construction'] as const;
export type Profile = (typeof profiles)[number];

export const profileDefaults: Record<Profile, readonly Capability[]> = {
  // Sales-style CRM over the inbox; dispatch is opt-in.
  generic: ['crm.deals', 'crm.pipelines', 'crm.tasks', 'portal.client'],
  // Referrals and appointments: tasks and pipelines, client portal, calls; no vendor dispatch by default.
  healthcare: ['crm.deals', 'crm.pipelines', 'crm.tasks', 'calls.twilio', 'portal.client', 'fields.healthcare'],
  // Field service: everything, with vendors dispatched to job sites.
  construction: [
    'crm.deals',
    'crm.pipelines',
    'crm.tasks',
    'dispatch.jobs',
    'dispatch.vendors',
    'calls.twilio',
    'portal.vendor',
    'portal.client',
    'fields.construction',
  ],
};

export type CapabilityOverrides = Partial<Record<Capability, boolean>>;

export function resolveCapabilities(profile: Profile, overrides: CapabilityOverrides): Set<Capability> {
  const resolved = new Set(profileDefaults[profile]);
  for (const [flag, enabled] of Object.entries(overrides) as Array<[Capability, boolean]>) {
    if (!capabilities.includes(flag)) continue; // a flag removed from code is ignored, not fatal
    if (enabled) resolved.add(flag);
    else resolved.delete(flag);
  }
  return resolved;
}
