// One search box over deals, tasks and the cached Chatwoot contacts, limited to what the caller
// may see. Matching cascades, each step on a GIN index that leads with account_id:
//   1. every word, as a word or word prefix (full text: `search_vector`): names, numbers, e-mails,
//      phone digits (stored whole and as their last 7 and 10 digits);
//   2. otherwise any of the words;
//   3. otherwise, for one word, trigram word similarity on the text itself (typos: "harington").
// A query that looks like a phone number ("555-0142", "(510) 555-0177", "+1 510 555 0177") is
// searched by its digits instead, in each form the number may be stored under (see phoneTerms).
// Each source hands over at most `candidateCap` rows, ranked by word similarity to the query.
import type { Knex } from 'knex';
import { accountPhoneCountry } from '../../accounts/service.ts';
import type { RequestContext } from '../../context.ts';
import { read } from '../../db/tenant.ts';
import { phoneQueryDigits, toE164, type CountryCode } from '../../phones/e164.ts';

export type SearchType = 'deal' | 'task' | 'contact';

export interface SearchHit { type: SearchType; id: string; label: string; detail: string | null; score: number }

const candidateCap = 200;

interface Source { type: SearchType; select: string; from: string; scope: string; text: string }

const sources: Source[] = [
  { type: 'deal', select: `id::text as id, title as label, 'D-' || number as detail`, from: 'deals', scope: 'deleted_at is null', text: 'title' },
  { type: 'task', select: 'id::text as id, title as label, status as detail', from: 'tasks', scope: 'deleted_at is null', text: 'title' },
  {
    type: 'contact',
    select: 'chatwoot_contact_id::text as id, coalesce(name, email::text, phone_e164) as label, coalesce(email::text, phone_e164) as detail',
    from: 'chatwoot_contacts',
    scope: 'true',
    text: `(coalesce(name, '') || ' ' || coalesce(email::text, '') || ' ' || coalesce(phone_e164, ''))`,
  },
];

export function searchableTypes(ctx: RequestContext): SearchType[] {
  const types: SearchType[] = [];
  if (ctx.permissions.has('deals:read') && ctx.capabilities.has('crm.deals')) types.push('deal');
  if (ctx.permissions.has('tasks:read') && ctx.capabilities.has('crm.tasks')) types.push('task');
  if (ctx.permissions.has('contacts:read')) types.push('contact');
  return types;
}

/** A prefix query for one word, safe to hand to to_tsquery. */
const prefixTerm = (word: string) => `'${word.replace(/'/g, "''").replace(/\\/g, '')}':*`;

type Step = 'all' | 'any' | 'fuzzy';

/**
 * The digit strings a phone-number query may be stored under, any of which is a match: the digits
 * as typed (a whole number, or its last 7 or 10 digits, which the index keeps too), without a
 * national trunk prefix ("020 7946 0958" → 2079460958) or an international one ("00 44 …"), and
 * the number read in the account's country.
 */
export function phoneTerms(digits: string, country: CountryCode): string[] {
  const terms = new Set([digits]);
  if (digits.startsWith('00')) terms.add(digits.slice(2));
  else if (digits.startsWith('0')) terms.add(digits.slice(1));
  const e164 = toE164(digits.length >= 7 ? digits : '', country);
  if (e164) terms.add(e164.slice(1));
  return [...terms].filter((term) => term.length >= 4);
}

async function runStep(trx: Knex.Transaction, accountId: number, types: SearchType[], q: string, step: Step, words: string[], limit: number) {
  const parts: string[] = [];
  const bindings: Array<string | number> = [];
  for (const source of sources.filter((s) => types.includes(s.type))) {
    const condition = step === 'fuzzy' ? `? <% ${source.text}` : `search_vector @@ to_tsquery('simple', ?)`;
    parts.push(`(select '${source.type}' as type, id, label, detail, word_similarity(?, label || ' ' || coalesce(detail, '')) as score
                   from (select ${source.select} from ${source.from}
                          where account_id = ? and ${source.scope} and ${condition} limit ${candidateCap}) candidates)`);
    bindings.push(q, accountId, step === 'fuzzy' ? q : words.map(prefixTerm).join(step === 'all' ? ' & ' : ' | '));
  }
  const { rows } = await trx.raw<{ rows: SearchHit[] }>(`select * from (${parts.join(' union all ')}) hits order by score desc, label limit ?`, [...bindings, limit]);
  return rows;
}

export async function search(ctx: RequestContext, q: string, { limit, types }: { limit: number; types?: SearchType[] }): Promise<SearchHit[]> {
  const allowed = searchableTypes(ctx).filter((t) => !types || types.includes(t));
  const text = q.trim().toLowerCase();
  const reference = /^d-?(\d+)$/i.exec(text);
  // A deal number is looked up directly; its digits are still searched (they may be in a title).
  const terms = reference ? reference[1]! : text;
  const phoneDigits = reference ? null : phoneQueryDigits(text);
  const words = [...new Set(terms.split(/\s+/).map((w) => w.replace(/[^\p{L}\p{N}@._-]/gu, '').replace(/^[-.@_]+/, '')).filter((w) => w.length >= 2))].slice(0, 6);
  if (!allowed.length || (!words.length && !phoneDigits && !reference)) return [];
  return read(ctx, async (trx) => {
    if (phoneDigits) {
      // Alternative forms of one number: any of them is a match; no fuzzy step (similar digits are another person).
      await trx.raw('set local enable_seqscan = off');
      const forms = phoneTerms(phoneDigits, await accountPhoneCountry(trx, ctx.accountId));
      const found = await runStep(trx, ctx.accountId, allowed, text, 'any', forms, limit);
      return found.map((row) => ({ ...row, score: Number(Number(row.score).toFixed(3)) }));
    }
    // Each candidate query has a LIMIT, so the planner may bet on a sequential scan meeting
    // matches early; a rare word (or a typo) then reads every row. The indexes must serve it:
    // sequential scans are switched off for this read-only search transaction only.
    await trx.raw('set local enable_seqscan = off');
    const hits: SearchHit[] = [];
    if (reference && allowed.includes('deal')) {
      const deal = await trx('deals').where({ account_id: ctx.accountId, number: Number(reference[1]) }).whereNull('deleted_at').first('id', 'title', 'number');
      if (deal) hits.push({ type: 'deal', id: deal.id, label: deal.title, detail: `D-${deal.number}`, score: 1 });
    }
    // A one-digit deal number ("D-7") has no word to search for besides itself.
    let found = words.length ? await runStep(trx, ctx.accountId, allowed, text, 'all', words, limit) : [];
    if (!found.length && words.length > 1) found = await runStep(trx, ctx.accountId, allowed, text, 'any', words, limit);
    if (!found.length && !hits.length && words.length === 1 && text.length >= 4) found = await runStep(trx, ctx.accountId, allowed, text, 'fuzzy', words, limit);
    for (const hit of found) if (!hits.some((h) => h.type === hit.type && h.id === hit.id)) hits.push(hit);
    return hits.slice(0, limit).map((row) => ({ ...row, score: Number(Number(row.score).toFixed(3)) }));
  });
}
