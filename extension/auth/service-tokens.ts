// Service tokens for integrations: created by admins with scopes, shown once, stored hashed, revocable.
import type { RequestContext } from '../context.ts';
import { read, write } from '../db/tenant.ts';
import { NotFoundError } from '../errors.ts';
import type { Permission } from './permissions.ts';
import { issueToken } from './tokens.ts';

const listed = ['id', 'name', 'scopes', 'token_hint', 'created_by', 'created_at', 'expires_at', 'last_used_at', 'revoked_at'] as const;

export async function createServiceToken(ctx: RequestContext, input: { name: string; scopes: Permission[]; expires_at?: Date | null }) {
  const { token, hash } = issueToken('service', ctx.accountId);
  return write(ctx, async (trx, audit) => {
    const [row] = await trx('service_tokens')
      .insert({
        account_id: ctx.accountId,
        name: input.name,
        scopes: [...new Set(input.scopes)].sort(),
        token_hash: hash,
        token_hint: token.slice(-4),
        created_by: ctx.actor.id,
        expires_at: input.expires_at ?? null,
      })
      .returning([...listed]);
    await audit({ action: 'service_token.created', resourceType: 'service_token', resourceId: row.id, after: { name: row.name, scopes: row.scopes, expires_at: row.expires_at } });
    return { ...row, token };
  });
}

export function listServiceTokens(ctx: RequestContext) {
  return read(ctx, (trx) => trx('service_tokens').where({ account_id: ctx.accountId }).select([...listed]).orderBy('created_at', 'desc'));
}

export async function revokeServiceToken(ctx: RequestContext, tokenId: string) {
  return write(ctx, async (trx, audit) => {
    const [row] = await trx('service_tokens')
      .where({ account_id: ctx.accountId, id: tokenId })
      .update({ revoked_at: trx.raw('coalesce(revoked_at, now())') })
      .returning([...listed]);
    if (!row) throw new NotFoundError('Service token');
    await audit({ action: 'service_token.revoked', resourceType: 'service_token', resourceId: tokenId, after: { revoked_at: row.revoked_at } });
    return row;
  });
}
