// The boot payload every app loads first (GET /me, and the sidebar's combined first answer):
// who is calling, their account, role, permissions, capabilities and fields, and the Chatwoot address.
import { phoneCountryOf, type AccountRow } from '../accounts/service.ts';
import { activeFields } from '../capabilities/field-packs.ts';
import type { RequestContext } from '../context.ts';
import { read } from '../db/tenant.ts';
import { permissions } from './permissions.ts';
import { presentUser } from './users.ts';

export async function bootPayload(ctx: RequestContext) {
  const { account, chatwootUrl, subject } = await read(ctx, async (trx) => {
    const account = (await trx<AccountRow>('accounts').where({ account_id: ctx.accountId }).first())!;
    const installation = await trx('installations').where({ id: account.installation_id }).first('base_url');
    const table = { user: 'users', portal_user: 'portal_users', service: 'service_tokens', system: null }[ctx.actor.type];
    const subject = table ? await trx(table).where({ account_id: ctx.accountId, id: ctx.actor.id }).first() : null;
    return { account, chatwootUrl: installation?.base_url as string, subject };
  });
  const caller =
    ctx.actor.type === 'user'
      ? { type: 'user', ...presentUser({ id: subject.id, name: subject.name, email: subject.email, chatwoot_user_id: subject.chatwoot_user_id, chatwoot_role: subject.chatwoot_role, granted_roles: subject.granted_roles }) }
      : ctx.actor.type === 'portal_user'
        ? {
            type: 'portal_user',
            id: subject.id,
            kind: subject.kind,
            name: subject.name,
            vendor_id: subject.vendor_id,
            vendor_role: subject.vendor_role ?? null,
            chatwoot_contact_id: subject.chatwoot_contact_id,
            // What the client portal goes by: present for clients only.
            ...(subject.kind === 'client' ? { contact_id: subject.chatwoot_contact_id as number } : {}),
          }
        : { type: 'service', id: subject.id, name: subject.name };
  return {
    caller,
    account: { id: account.account_id, chatwoot_account_id: account.chatwoot_account_id, name: account.name, profile: account.profile, phone_country: phoneCountryOf(account).country },
    role: ctx.roles.includes('admin') ? 'admin' : ctx.roles.includes('dispatcher') ? 'dispatcher' : ctx.roles[0],
    roles: ctx.roles,
    permissions: permissions.filter((p) => ctx.permissions.has(p)),
    capabilities: [...ctx.capabilities].sort(),
    fields: { deal: activeFields(ctx, 'deal'), job: activeFields(ctx, 'job'), vendor: activeFields(ctx, 'vendor') },
    chatwoot: { base_url: chatwootUrl },
  };
}
