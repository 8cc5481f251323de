// Quotes on deals: staff add one (title, amount, currency, optionally the document as a PDF or an
// image), share it with the deal's client in the client portal, or withdraw it. The client approves
// or declines it once, with a comment: the decision records who, when, from which address and
// device, notes it on the deal's timeline and wins or loses the deal through the deals service
// (stage history, audit, Chatwoot write-back and automation as for any status change).
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import type { Knex } from 'knex';
import type { RequestContext } from '../../context.ts';
import { announceToPortalUser } from '../../events/portal-feed.ts';
import { read, write } from '../../db/tenant.ts';
import { ConflictError, InvalidFieldsError, NotFoundError, UnprocessableError, type FieldProblem } from '../../errors.ts';
import { HttpError } from '../../http/errors.ts';
import { hasBadCharacters } from '../../http/schemas.ts';
import type { Services } from '../../services.ts';
import type { ReceivedFile } from '../artifacts/upload.ts';
import { closeDealInTransaction, insertDealNote } from '../deals/service.ts';
import { dealReference } from '../deals/rules.ts';
import { fromMinorUnits, toMinorUnits } from './money.ts';

export const quoteStatuses = ['draft', 'shared', 'approved', 'declined', 'withdrawn'] as const;
export type QuoteStatus = (typeof quoteStatuses)[number];
/** What a client may see: a draft is still staff's, a withdrawn quote is gone for them. */
export const clientStatuses: readonly QuoteStatus[] = ['shared', 'approved', 'declined'];
/** How long a document link works (rounded up to ten minutes, so a refetched list keeps its links). */
export const quoteLinkMinutes = 60;
/** A quote's document: what a client can open on any phone. */
const documentTypes = (type: string) => type === 'application/pdf' || type.startsWith('image/');

const columns = [
  'id', 'deal_id', 'title', 'amount_minor', 'currency', 'storage_key', 'filename', 'content_type', 'size_bytes', 'status', 'shared_at',
  'decided_at', 'decided_by_portal_user_id', 'decided_ip', 'decided_user_agent', 'decision_comment', 'version', 'created_by_type',
  'created_by_id', 'created_at', 'updated_at',
] as const;

export interface QuoteRow {
  id: string;
  deal_id: string;
  title: string;
  amount_minor: string | number;
  currency: string;
  storage_key: string | null;
  filename: string | null;
  content_type: string | null;
  size_bytes: string | number | null;
  status: QuoteStatus;
  shared_at: Date | null;
  decided_at: Date | null;
  decided_by_portal_user_id: string | null;
  decided_ip: string | null;
  decided_user_agent: string | null;
  decision_comment: string | null;
  version: number;
  created_by_type: string;
  created_by_id: string;
  created_at: Date;
  updated_at: Date;
}

type Signer = Pick<Services, 'urlSigner'>;

function documentLink(services: Signer, accountId: number, row: QuoteRow, audience: 'staff' | 'client') {
  if (!row.storage_key) return null;
  const step = 10 * 60_000;
  const expires = new Date(Math.ceil((Date.now() + quoteLinkMinutes * 60_000) / step) * step);
  const token = services.urlSigner.sign({ a: accountId, q: row.id, v: 'quote', c: audience === 'client' ? 1 : 0 }, expires);
  return { url: `/api/v1/quotes/content?token=${token}`, filename: row.filename!, content_type: row.content_type!, size_bytes: Number(row.size_bytes) };
}

/** Staff see everything about a quote but the storage key; the decider by name. */
export function presentQuote(services: Signer, accountId: number, row: QuoteRow & { decided_by_name?: string | null }) {
  return {
    id: row.id,
    deal_id: row.deal_id,
    title: row.title,
    amount: fromMinorUnits(row.amount_minor, row.currency),
    amount_minor: Number(row.amount_minor),
    currency: row.currency,
    status: row.status,
    document: documentLink(services, accountId, row, 'staff'),
    shared_at: row.shared_at,
    decided_at: row.decided_at,
    decided_by: row.decided_by_portal_user_id ? { id: row.decided_by_portal_user_id, name: row.decided_by_name ?? null } : null,
    decided_ip: row.decided_ip,
    decided_user_agent: row.decided_user_agent,
    decision_comment: row.decision_comment,
    version: row.version,
    created_by_type: row.created_by_type,
    created_by_id: row.created_by_id,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

/** The client's view: the quote, its document and the deal's reference; nothing about who on staff or where from. */
export function presentClientQuote(services: Signer, accountId: number, row: QuoteRow & { deal_number: number }) {
  const link = documentLink(services, accountId, row, 'client');
  return {
    id: row.id,
    title: row.title,
    amount: fromMinorUnits(row.amount_minor, row.currency),
    currency: row.currency,
    status: row.status,
    shared_at: row.shared_at,
    decided_at: row.decided_at,
    decision_comment: row.decision_comment,
    document: link && { url: link.url, filename: link.filename, content_type: link.content_type },
    deal: { reference: dealReference(row.deal_number) },
  };
}

async function liveDeal(trx: Knex.Transaction, ctx: RequestContext, dealId: string, forUpdate = false) {
  const query = trx('deals').where({ account_id: ctx.accountId, id: dealId }).whereNull('deleted_at');
  if (forUpdate) query.forUpdate();
  const deal = (await query.first('id', 'number', 'title', 'status', 'chatwoot_contact_id', 'currency')) as
    | { id: string; number: number; title: string; status: string; chatwoot_contact_id: number | null; currency: string | null }
    | undefined;
  if (!deal) throw new NotFoundError('Deal');
  return deal;
}

/** The deal exists for this caller (checked before a byte of an upload is read). */
export async function requireDeal(ctx: RequestContext, dealId: string) {
  await read(ctx, (trx) => liveDeal(trx, ctx, dealId));
}

async function staffQuote(trx: Knex.Transaction, ctx: RequestContext, dealId: string, quoteId: string) {
  await liveDeal(trx, ctx, dealId);
  const row = (await trx('deal_quotes').where({ account_id: ctx.accountId, deal_id: dealId, id: quoteId }).forUpdate().first(columns)) as QuoteRow | undefined;
  if (!row) throw new NotFoundError('Quote');
  return row;
}

const withDecider = (trx: Knex.Transaction, accountId: number) =>
  trx('deal_quotes as q')
    .leftJoin('portal_users as p', (on) => on.on('p.account_id', 'q.account_id').andOn('p.id', 'q.decided_by_portal_user_id'))
    .where('q.account_id', accountId)
    .select(...columns.map((c) => `q.${c}`), 'p.name as decided_by_name');

export async function listDealQuotes(services: Signer, ctx: RequestContext, dealId: string) {
  const rows = await read(ctx, async (trx) => {
    await liveDeal(trx, ctx, dealId);
    return (await withDecider(trx, ctx.accountId).where('q.deal_id', dealId).orderBy('q.created_at', 'desc')) as QuoteRow[];
  });
  return rows.map((row) => presentQuote(services, ctx.accountId, row));
}

export interface QuoteFields { title: string; amount: string; currency: string }

/** The fields of a new quote, from JSON or a multipart form (whose fields skip the JSON checks): 422 naming `body.<field>`. */
export function quoteFields(raw: Record<string, unknown>): { title: string; amount_minor: number; currency: string } {
  const problems: FieldProblem[] = [];
  const value = (key: string) => (typeof raw[key] === 'string' ? (raw[key] as string).trim() : '');
  const title = value('title');
  const amount = value('amount');
  const currency = value('currency').toUpperCase();
  for (const [field, text] of Object.entries({ title, amount, currency })) {
    if (hasBadCharacters(text)) problems.push({ field, message: 'must not contain NUL characters or unpaired UTF-16 surrogates', code: 'invalid_text' });
  }
  if (!title) problems.push({ field: 'title', message: 'Give the quote a title, e.g. "Roof repair, labour and materials"', code: 'required' });
  else if (title.length > 300) problems.push({ field: 'title', message: 'At most 300 characters', code: 'too_long' });
  if (!amount) problems.push({ field: 'amount', message: 'Give the amount, e.g. 1250.50', code: 'required' });
  if (!/^[A-Z]{3}$/.test(currency)) problems.push({ field: 'currency', message: 'a three-letter ISO 4217 code such as USD', code: 'invalid_currency' });
  if (problems.length) throw new InvalidFieldsError('Some fields of the quote are missing or invalid', problems);
  return { title, amount_minor: toMinorUnits(amount, currency), currency };
}

/**
 * A draft quote on a deal, with its document when one came. The file is scanned and stored under a
 * key of ours before the row is written, and removed again if the write fails.
 */
export async function createQuote(services: Services, ctx: RequestContext, dealId: string, raw: Record<string, unknown>, file: ReceivedFile | null) {
  const fields = quoteFields(raw);
  if (file && !documentTypes(file.contentType)) {
    throw new HttpError(415, 'file_type_not_allowed', `A quote's document is a PDF or a photo (JPEG, PNG, WebP, GIF, HEIC), not ${file.contentType}`, {
      detected: file.contentType,
    });
  }
  const id = randomUUID();
  const storageKey = file ? `${ctx.accountId}/deals/${dealId}/quotes/${id}` : null;
  let stored = false;
  try {
    if (file) {
      const scan = await services.scanFile({ path: file.path, contentType: file.contentType, size: file.size });
      if (scan === 'infected') throw new UnprocessableError('file_rejected', 'The file did not pass the virus scan');
      await services.files.put(storageKey!, fs.createReadStream(file.path, { highWaterMark: 1024 * 1024 }));
      stored = true;
    }
    const row = await write(ctx, async (trx, audit) => {
      await liveDeal(trx, ctx, dealId, true);
      const [inserted] = (await trx('deal_quotes')
        .insert({
          account_id: ctx.accountId,
          id,
          deal_id: dealId,
          ...fields,
          storage_key: storageKey,
          filename: file?.filename ?? null,
          content_type: file?.contentType ?? null,
          size_bytes: file?.size ?? null,
          created_by_type: ctx.actor.type,
          created_by_id: ctx.actor.id,
        })
        .returning([...columns])) as QuoteRow[];
      await audit({
        action: 'deal.quote_created',
        resourceType: 'deal_quote',
        resourceId: id,
        after: { deal_id: dealId, ...fields, filename: file?.filename ?? null, content_type: file?.contentType ?? null, size_bytes: file?.size ?? null, sha256: file?.sha256 ?? null },
      });
      return inserted!;
    });
    return presentQuote(services, ctx.accountId, row);
  } catch (err) {
    if (stored) await services.files.remove(storageKey!).catch(() => undefined);
    throw err;
  }
}

/** The deal's client in the portal: the active client portal user of its Chatwoot contact. */
async function clientOfDeal(trx: Knex.Transaction, ctx: RequestContext, deal: { chatwoot_contact_id: number | null }) {
  if (!deal.chatwoot_contact_id) {
    throw new ConflictError('no_contact', 'This deal has no Chatwoot contact: link the deal to the client’s contact, invite the contact to the client portal, then share the quote');
  }
  const user = await trx('portal_users').where({ account_id: ctx.accountId, kind: 'client', chatwoot_contact_id: deal.chatwoot_contact_id, active: true }).first('id');
  if (!user) {
    throw new ConflictError(
      'no_client_portal_user',
      'The deal’s contact has no client portal account yet: invite the contact to the portal (“Invite to portal” on the contact in the sidebar), then share the quote',
      { chatwoot_contact_id: deal.chatwoot_contact_id },
    );
  }
  return user.id as string;
}

/** Shares a draft with the deal's client; the client's open portal is told once it is committed. */
export async function shareQuote(services: Services, ctx: RequestContext, dealId: string, quoteId: string) {
  const { row, portalUserId } = await write(ctx, async (trx, audit) => {
    const before = await staffQuote(trx, ctx, dealId, quoteId);
    if (before.status === 'shared') {
      audit.nothingChanged();
      return { row: before, portalUserId: null };
    }
    if (before.status !== 'draft') throw stateConflict(before);
    const deal = await liveDeal(trx, ctx, dealId);
    const client = await clientOfDeal(trx, ctx, deal);
    const [after] = (await trx('deal_quotes')
      .where({ account_id: ctx.accountId, id: quoteId })
      .update({ status: 'shared', shared_at: trx.fn.now(), version: before.version + 1, updated_at: trx.fn.now() })
      .returning([...columns])) as QuoteRow[];
    await audit({ action: 'deal.quote_shared', resourceType: 'deal_quote', resourceId: quoteId, before: { status: before.status }, after: { status: 'shared', deal_id: dealId, portal_user_id: client } });
    return { row: after!, portalUserId: client };
  });
  if (portalUserId) announceQuote(services, ctx.accountId, portalUserId, row.id);
  return presentQuote(services, ctx.accountId, row);
}

/** Takes a quote back before the client decided (a draft or a shared one); the client no longer sees it. */
export async function withdrawQuote(services: Services, ctx: RequestContext, dealId: string, quoteId: string) {
  const { row, wasShared, contactId } = await write(ctx, async (trx, audit) => {
    const before = await staffQuote(trx, ctx, dealId, quoteId);
    if (before.status === 'withdrawn') {
      audit.nothingChanged();
      return { row: before, wasShared: false, contactId: null };
    }
    if (before.status !== 'draft' && before.status !== 'shared') throw stateConflict(before);
    const [after] = (await trx('deal_quotes')
      .where({ account_id: ctx.accountId, id: quoteId })
      .update({ status: 'withdrawn', version: before.version + 1, updated_at: trx.fn.now() })
      .returning([...columns])) as QuoteRow[];
    await audit({ action: 'deal.quote_withdrawn', resourceType: 'deal_quote', resourceId: quoteId, before: { status: before.status }, after: { status: 'withdrawn', deal_id: dealId } });
    const deal = await liveDeal(trx, ctx, dealId);
    return { row: after!, wasShared: before.status === 'shared', contactId: deal.chatwoot_contact_id };
  });
  if (wasShared && contactId) {
    // The client's open portal drops it.
    const users = await read(ctx, (trx) => trx('portal_users').where({ account_id: ctx.accountId, kind: 'client', chatwoot_contact_id: contactId }).pluck('id'));
    for (const id of users as string[]) announceQuote(services, ctx.accountId, id, row.id);
  }
  return presentQuote(services, ctx.accountId, row);
}

function stateConflict(row: QuoteRow) {
  if (row.status === 'approved' || row.status === 'declined') return new ConflictError('quote_decided', `The client already ${row.status} this quote; add a new quote instead`, { status: row.status });
  return new ConflictError('quote_withdrawn', 'This quote was withdrawn; add a new quote instead', { status: row.status });
}

/** Tells the client's open portal pages (after the commit: a lost notice only waits for the page's next load). */
function announceQuote(services: Pick<Services, 'db'>, accountId: number, portalUserId: string, quoteId: string) {
  announceToPortalUser(services.db, accountId, portalUserId, { type: 'quote', quote_id: quoteId });
}

// ---- The client's side -------------------------------------------------------------------------

/** A client portal user, or 404 for anyone else (staff included: these are a client's own routes). */
export function requireClient(ctx: RequestContext): number {
  if (ctx.contactId === undefined || ctx.actor.type !== 'portal_user') throw new NotFoundError('Quote');
  return ctx.contactId;
}

/** Quotes of the client's own live deals, shared with them (or decided): never a draft or a withdrawn one. */
function clientQuotes(trx: Knex.Transaction, ctx: RequestContext, contactId: number) {
  return trx('deal_quotes as q')
    .join('deals as d', (on) => on.on('d.account_id', 'q.account_id').andOn('d.id', 'q.deal_id'))
    .where({ 'q.account_id': ctx.accountId, 'd.chatwoot_contact_id': contactId })
    .whereNull('d.deleted_at')
    .whereIn('q.status', clientStatuses)
    .select(...columns.map((c) => `q.${c}`), 'd.number as deal_number');
}

export async function listClientQuotes(services: Signer, ctx: RequestContext) {
  const contactId = requireClient(ctx);
  const rows = (await read(ctx, (trx) => clientQuotes(trx, ctx, contactId).orderBy('q.shared_at', 'desc').limit(200))) as Array<QuoteRow & { deal_number: number }>;
  return rows.map((row) => presentClientQuote(services, ctx.accountId, row));
}

export async function getClientQuote(services: Signer, ctx: RequestContext, quoteId: string) {
  const contactId = requireClient(ctx);
  const row = (await read(ctx, (trx) => clientQuotes(trx, ctx, contactId).where('q.id', quoteId).first())) as (QuoteRow & { deal_number: number }) | undefined;
  if (!row) throw new NotFoundError('Quote');
  return presentClientQuote(services, ctx.accountId, row);
}

export interface Decision { decision: 'approve' | 'decline'; comment?: string | null }
/** Where the decision came from, as the request showed it. */
export interface DecisionDevice { ip: string | null; userAgent: string | null }

const moneyText = (row: QuoteRow) => `${row.currency} ${fromMinorUnits(row.amount_minor, row.currency)}`;

/**
 * The client's decision, once: the quote records who, when, from which address and device; a note
 * on the deal tells the team (it shows on the deal's timeline); approving wins the deal, declining
 * loses it with the client's comment as the reason (an open deal only: a deal closed meanwhile keeps
 * its status, and the note says so). A second decision is refused with 409 quote_decided.
 */
export async function decideQuote(services: Services, ctx: RequestContext, quoteId: string, input: Decision, device: DecisionDevice) {
  const contactId = requireClient(ctx);
  const comment = input.comment?.trim() || null;
  const row = await write(ctx, async (trx, audit) => {
    const before = (await clientQuotes(trx, ctx, contactId).where('q.id', quoteId).forUpdate('q').first()) as (QuoteRow & { deal_number: number }) | undefined;
    if (!before) throw new NotFoundError('Quote');
    if (before.status !== 'shared') throw stateConflict(before);
    const status = input.decision === 'approve' ? 'approved' : 'declined';
    const [after] = (await trx('deal_quotes')
      .where({ account_id: ctx.accountId, id: quoteId })
      .update({
        status,
        decided_at: trx.fn.now(),
        decided_by_portal_user_id: ctx.actor.id,
        decided_ip: device.ip,
        decided_user_agent: device.userAgent?.slice(0, 500) ?? null,
        decision_comment: comment,
        version: before.version + 1,
        updated_at: trx.fn.now(),
      })
      .returning([...columns])) as QuoteRow[];
    await audit({
      action: `deal.quote_${status}`,
      resourceType: 'deal_quote',
      resourceId: quoteId,
      before: { status: before.status },
      after: {
        status,
        deal_id: before.deal_id,
        deal_reference: dealReference(before.deal_number),
        title: before.title,
        amount: fromMinorUnits(before.amount_minor, before.currency),
        currency: before.currency,
        decided_at: after!.decided_at,
        decided_by_portal_user_id: ctx.actor.id,
        ip: device.ip,
        user_agent: after!.decided_user_agent,
        comment,
      },
    });
    const client = (await trx('portal_users').where({ account_id: ctx.accountId, id: ctx.actor.id }).first('name')) as { name: string } | undefined;
    const reason = comment ?? `Quote “${before.title}” declined in the client portal`;
    const deal = await closeDealInTransaction(trx, ctx, audit, before.deal_id, status === 'approved' ? 'won' : 'lost', status === 'declined' ? reason.slice(0, 500) : undefined);
    const said = [
      `Quote “${before.title}” (${moneyText(before)}) ${status} by ${client?.name ?? 'the client'} in the client portal`,
      comment ? `Comment: ${comment}` : null,
      deal ? null : 'The deal was not open, so its status was left as it was.',
    ].filter(Boolean);
    await insertDealNote(trx, ctx, before.deal_id, said.join('\n'));
    return { ...after!, deal_number: before.deal_number };
  });
  // The client's other devices show the decision too.
  announceQuote(services, ctx.accountId, ctx.actor.id, quoteId);
  return presentClientQuote(services, ctx.accountId, row);
}

/** The bytes behind a signed link, or null when the link is bad, expired, the quote no longer shown to a client, or the file gone. */
export async function openSignedQuote(services: Pick<Services, 'urlSigner' | 'db' | 'files'>, token: string) {
  const claims = services.urlSigner.verify(token);
  if (!claims || typeof claims.a !== 'number' || typeof claims.q !== 'string' || claims.v !== 'quote' || !/^[0-9a-f-]{36}$/i.test(claims.q)) return null;
  const row = (await read({ db: services.db, accountId: claims.a }, (trx) => trx('deal_quotes').where({ account_id: claims.a, id: claims.q }).first(columns))) as QuoteRow | undefined;
  if (!row?.storage_key) return null;
  if (claims.c === 1 && !clientStatuses.includes(row.status)) return null;
  try {
    return { stream: await services.files.open(row.storage_key), row };
  } catch {
    return null;
  }
}
