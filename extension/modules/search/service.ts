// One search box over deals, tasks and the cached Chatwoot contacts, ranked by trigram word
// similarity and limited to what the caller may see. Backed by GIN (account_id, … gin_trgm_ops).
import { read, type RequestContext } from '../../db/tenant.ts';

export type SearchType = 'deal' | 'task' | 'contact';

export interface SearchHit { type: SearchType; id: string; label: string; detail: string | null; score: number }

const contactText = `coalesce(name, '') || ' ' || coalesce(email::text, '') || ' ' || coalesce(phone_e164, '')`;

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
  const text = q.trim();
  const pattern = `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  const reference = /^d-?(\d+)$/i.exec(text);
  return read(ctx, async (trx) => {
    const parts: string[] = [];
    const bindings: Array<string | number> = [];
    if (allowed.includes('deal')) {
      parts.push(`(select 'deal' as type, id::text as id, title as label, 'D-' || number as detail,
                         case when number = ? then 1 else word_similarity(?, title) end as score
                    from deals
                   where account_id = ? and deleted_at is null and (number = ? or title ilike ? or ? <% title)
                   order by score desc limit ?)`);
      const number = reference ? Number(reference[1]) : -1;
      bindings.push(number, text, ctx.accountId, number, pattern, text, limit);
    }
    if (allowed.includes('task')) {
      parts.push(`(select 'task' as type, id::text as id, title as label, status as detail, word_similarity(?, title) as score
                    from tasks
                   where account_id = ? and deleted_at is null and (title ilike ? or ? <% title)
                   order by score desc limit ?)`);
      bindings.push(text, ctx.accountId, pattern, text, limit);
    }
    if (allowed.includes('contact')) {
      parts.push(`(select 'contact' as type, chatwoot_contact_id::text as id, coalesce(name, email::text, phone_e164) as label, coalesce(email::text, phone_e164) as detail,
                         word_similarity(?, ${contactText}) as score
                    from chatwoot_contacts
                   where account_id = ? and (${contactText} ilike ? or ? <% (${contactText}))
                   order by score desc limit ?)`);
      bindings.push(text, ctx.accountId, pattern, text, limit);
    }
    const { rows } = await trx.raw<{ rows: SearchHit[] }>(`select * from (${parts.join(' union all ')}) hits order by score desc, label limit ?`, [...bindings, limit]);
    return rows.map((row) => ({ ...row, score: Number(Number(row.score).toFixed(3)) }));
  });
}
