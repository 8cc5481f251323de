// Who is acting, for which account, with what rights. Every layer may import this module (routes,
// services, processors, sweeps, the database helpers); it holds types only, so it can never be part
// of an import circle.
import type { Knex } from 'knex';
import type { AccountField } from './capabilities/field-packs.ts';
import type { Capability } from './capabilities/profiles.ts';
import type { Permission, Role } from './auth/permissions.ts';

/**
 * `user`: a person signed in through Chatwoot; `portal_user`: a vendor or client in a portal;
 * `service`: an API token; `system`: Onelink itself (processors, sweeps, automation), whose id
 * names the process ('twilio-calls', 'sla-sweep', 'automation:<rule id>', …).
 */
export type ActorType = 'user' | 'portal_user' | 'service' | 'system';
export interface Actor { type: ActorType; id: string }

/** Who is acting, for which account, with what rights. Services and queries take it; nothing runs without it. */
export interface RequestContext {
  db: Knex;
  accountId: number;
  actor: Actor;
  /** Roles of a person or token. A system context has none (see systemContext in db/tenant.ts). */
  roles: readonly Role[];
  permissions: ReadonlySet<Permission>;
  capabilities: ReadonlySet<Capability>;
  /** Fields the account defined itself (next to its field packs'). */
  accountFields?: readonly AccountField[];
  requestId: string | null;
  /** The session behind the request (people only; service tokens have none). */
  sessionId?: string;
  /** Relationship scope of portal users: the vendor or the Chatwoot contact they are bound to. */
  vendorId?: string;
  /** A vendor user's place in their vendor: the owner runs the team, technicians work the jobs given to them. */
  vendorRole?: 'owner' | 'technician';
  contactId?: number;
}
