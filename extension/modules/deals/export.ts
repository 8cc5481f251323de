// Deals as CSV, with the same filters as the list and the board (a column is stage_id=…).
// Spreadsheet formula injection is neutralised: a cell that starts with = + - @ is prefixed
// with an apostrophe, so opening the file never runs what a customer typed into a title.
import { stringify } from 'csv-stringify/sync';
import type { RequestContext } from '../../context.ts';
import { read } from '../../db/tenant.ts';
import { applyDealFilters, type DealFilters } from './service.ts';
import { dealReference } from './rules.ts';

/** At most this many rows per export (the list API pages through more). */
export const exportLimit = 50_000;

const safe = (value: unknown) => {
  if (value === null || value === undefined) return '';
  const text = value instanceof Date ? value.toISOString() : String(value);
  return /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
};

export async function exportDealsCsv(ctx: RequestContext, filters: DealFilters) {
  interface Row { number: number; title: string; status: string; pipeline: string; stage: string; amount_minor: string | number | null; currency: string | null; owner: string | null; chatwoot_contact_id: number | null; chatwoot_conversation_id: number | null; expected_close_date: string | null; created_at: Date }
  const rows: Row[] = await read(ctx, (trx) =>
    applyDealFilters(
      trx('deals')
        .where({ 'deals.account_id': ctx.accountId })
        .whereNull('deals.deleted_at')
        .join('stages', (j) => j.on('stages.account_id', 'deals.account_id').andOn('stages.id', 'deals.stage_id'))
        .join('pipelines', (j) => j.on('pipelines.account_id', 'deals.account_id').andOn('pipelines.id', 'deals.pipeline_id'))
        .leftJoin('users', (j) => j.on('users.account_id', 'deals.account_id').andOn('users.id', 'deals.owner_id')),
      filters,
    )
      .orderBy([{ column: 'pipelines.position' }, { column: 'stages.position' }, { column: 'deals.rank' }, { column: 'deals.id' }])
      .limit(exportLimit + 1)
      .select(
        'deals.number', 'deals.title', 'deals.status', 'pipelines.name as pipeline', 'stages.name as stage', 'deals.amount_minor', 'deals.currency',
        'users.name as owner', 'deals.chatwoot_contact_id', 'deals.chatwoot_conversation_id', 'deals.expected_close_date', 'deals.created_at',
      ),
  );
  const header = ['reference', 'title', 'status', 'pipeline', 'stage', 'amount', 'currency', 'owner', 'chatwoot_contact_id', 'chatwoot_conversation_id', 'expected_close_date', 'created_at'];
  const lines = rows.slice(0, exportLimit).map((r) => [
    dealReference(r.number),
    r.title,
    r.status,
    r.pipeline,
    r.stage,
    r.amount_minor === null ? '' : (Number(r.amount_minor) / 100).toFixed(2),
    r.currency,
    r.owner,
    r.chatwoot_contact_id,
    r.chatwoot_conversation_id,
    r.expected_close_date,
    r.created_at,
  ].map(safe));
  return { csv: stringify([header, ...lines]), truncated: rows.length > exportLimit };
}
