// The one table of who may do what. Permissions are `resource:action`; roles map to sets of them,
// following the role families of the product plan (client, vendor, CS agent, dispatch, admin, service).
export const permissions = [
  'me:read',
  'contacts:read',
  'conversations:read',
  'search:read',
  'deals:read',
  'deals:write',
  'pipelines:read',
  'pipelines:manage',
  'tasks:read',
  'tasks:write',
  'jobs:read',
  'jobs:write',
  'jobs:assign',
  'jobs:transition',
  'jobs:attach',
  'dispatch:configure',
  'vendors:read',
  'vendors:manage',
  'calls:read',
  'calls:write',
  'calls:configure',
  'portal:manage',
  'admin:capabilities',
  'admin:roles',
  'admin:tokens',
  'admin:automation',
  'admin:webhooks',
  'admin:system',
  'audit:read',
  'views:manage',
  'notifications:read',
  'admin:notifications',
  'vendor_team:manage',
  'client_portal:use',
  'reports:read',
  'reports:own',
] as const;
export type Permission = (typeof permissions)[number];

export const roles = ['admin', 'agent', 'dispatcher', 'vendor', 'client', 'service'] as const;
export type Role = (typeof roles)[number];

/** CS agents: the inbox's records — deals, tasks, jobs they create — and inviting clients to the portal. */
const agent: Permission[] = [
  'me:read',
  'contacts:read',
  'conversations:read',
  'search:read',
  'deals:read',
  'deals:write',
  'pipelines:read',
  'tasks:read',
  'tasks:write',
  'jobs:read',
  'jobs:write',
  'jobs:attach',
  'vendors:read',
  'calls:read',
  'calls:write',
  'portal:manage',
  'views:manage',
  'notifications:read',
  'reports:own',
];

/**
 * Dispatchers are agents who also assign vendors, drive job state and keep the vendor roster, and
 * read the account's reports (agents read only their own figures: reports:own).
 */
const dispatcher: Permission[] = [...agent, 'jobs:assign', 'jobs:transition', 'vendors:manage', 'dispatch:configure', 'reports:read'];

/**
 * What a vendor owner holds on top of the vendor role (see portalContext): their own vendor's team.
 * Admins hold every permission, but these routes act on the caller's own vendor, so staff find no
 * team there; staff manage vendor users through vendors:manage.
 */
export const vendorOwnerPermissions: readonly Permission[] = ['vendor_team:manage'];

export const rolePermissions: Record<Role, readonly Permission[]> = {
  admin: permissions,
  agent,
  dispatcher,
  // Portal users: every query they reach is further scoped to their vendor or their contact.
  vendor: ['me:read', 'jobs:read', 'jobs:transition', 'jobs:attach', 'notifications:read'],
  client: ['me:read', 'jobs:read', 'notifications:read', 'client_portal:use'],
  // A service token holds exactly the scopes it was created with (see serviceScopes).
  service: ['me:read'],
};

/** What an admin may grant a service token: anything but administration of the account itself.
 * Saved views and notifications belong to people, so they are not scopes either. */
export const serviceScopes: readonly Permission[] = permissions.filter(
  (p) => !p.startsWith('admin:') && p !== 'me:read' && p !== 'views:manage' && p !== 'notifications:read' && p !== 'client_portal:use' && p !== 'reports:own' && !vendorOwnerPermissions.includes(p),
);

export function permissionsFor(roleList: readonly Role[], extra: readonly Permission[] = []): Set<Permission> {
  const held = new Set([...roleList.flatMap((role) => rolePermissions[role]), ...extra]);
  // Whoever reads the account's reports may open the routes agents use for their own figures (a
  // service token is only ever granted reports:read; its scope is then the whole account).
  if (held.has('reports:read')) held.add('reports:own');
  return held;
}

/** Our roles for a Chatwoot agent: administrator → admin, agent → agent, plus roles an admin granted here. */
export function agentRoles(chatwootRole: 'administrator' | 'agent', granted: readonly string[]): Role[] {
  const base: Role = chatwootRole === 'administrator' ? 'admin' : 'agent';
  return [base, ...(granted.includes('dispatcher') && base !== 'admin' ? (['dispatcher'] as const) : [])];
}
