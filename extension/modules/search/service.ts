// One search box over deals, tasks and the cached Chatwoot contacts, best match first, limited
// to what the caller may see. Each source is read through a GiST trigram index in distance
// order (`<<->`, word similarity), so only the top matches are touched, whatever the table size.
import { read, type RequestContext } from '../../db/tenant.ts';

export type SearchType = 'deal' | 'task' | 'contact';

export interface SearchHit { type: SearchType; id: string; label: string; detail: string | null; score: number }

const contactText = `(coalesce(name, '') || ' ' || coalesce(email::text, '') || ' ' || coalesce(phone_e164, ''))`;

export function searchableTypes(ctx: RequestContext): SearchType[] {
  const types: SearchType[] = [];
  if (ctx.permissions.has('deals:read') && ctx.capabilities.has('crm.deals')) types.push('deal');
  if (ctx.permissions.has('tasks:read') && ctx.capabilities.has('crm.tasks')) types.push('task');
  if (ctx.permissions.has('contacts:read')) types.push('contact');
  return types;
}

export async function search(ctx: RequestContext, q: string, { limit, types }: { limit: number; types?: SearchType[] }): Promise<SearchHit[]> {
  const allowed = searchableTypes(ctx).filter((t) => !types || types.includes(t));
  if (!allowed.length) return [];
  const reference = /^d-?(\d+)$/i.exec(q.trim());
  return read(ctx, async (trx) => {
    const parts: string[] = [];
    const bindings: Array<string | number> = [];
    const add = (sql: string, ...values: Array<string | number>) => {
      parts.push(`(${sql})`);
      bindings.push(...values);
    };
    // Nearest first straight from the index; matches weaker than word similarity 0.5 are dropped.
    const nearest = (select: string, from: string, where: string, text: string, scopeBindings: Array<string | number>) =>
      add(
        // The query must stand left of <<-> for the index to serve the ordering.
        `select * from (select ${select}, ? <<-> ${text} as distance from ${from} where ${where} order by ? <<-> ${text} limit ?) nearest where distance <= 0.5`,
        q.trim().toLowerCase(),
        ...scopeBindings,
        q.trim().toLowerCase(),
        limit,
      );
    if (allowed.includes('deal')) {
      if (reference) {
        add(`select 'deal' as type, id::text as id, title as label, 'D-' || number as detail, 0::float8 as distance
               from deals where account_id = ? and number = ? and deleted_at is null`, ctx.accountId, Number(reference[1]));
      }
      nearest(`'deal' as type, id::text as id, title as label, 'D-' || number as detail`, 'deals', 'account_id = ? and deleted_at is null', 'title', [ctx.accountId]);
    }
    if (allowed.includes('task')) {
      nearest(`'task' as type, id::text as id, title as label, status as detail`, 'tasks', 'account_id = ? and deleted_at is null', 'title', [ctx.accountId]);
    }
    if (allowed.includes('contact')) {
      nearest(
        `'contact' as type, chatwoot_contact_id::text as id, coalesce(name, email::text, phone_e164) as label, coalesce(email::text, phone_e164) as detail`,
        'chatwoot_contacts',
        'account_id = ?',
        contactText,
        [ctx.accountId],
      );
    }
    const { rows } = await trx.raw<{ rows: SearchHit[] }>(
      // A deal found by its number and by its title appears once, with its best score.
      `select type, id, label, detail, 1 - distance as score
         from (select distinct on (type, id) * from (${parts.join(' union all ')}) hits order by type, id, distance) best
        order by distance, label limit ?`,
      [...bindings, limit],
    );
    return rows.map((row) => ({ ...row, score: Number(Number(row.score).toFixed(3)) }));
  });
}
