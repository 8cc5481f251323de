// A deal's last activity: the newest customer message in its Chatwoot conversation, stamped by
// the conversations cache as messages are seen (webhooks and the reconciliation sync).
import type { Knex } from 'knex';

/**
 * Moves `last_activity_at` of the live deals on these conversations forward to their newest
 * customer message (forward only, so replays change nothing). `rows` are conversation ids with
 * that message's time (ISO); returns how many deals changed.
 */
export async function stampDealActivity(trx: Knex.Transaction, accountId: number, rows: Array<{ id: number; customer_at: string | null }>): Promise<number> {
  const customer = rows.filter((r) => r.customer_at).map((r) => ({ id: r.id, customer_at: r.customer_at }));
  if (!customer.length) return 0;
  const result = await trx.raw(
    `update deals d set last_activity_at = i.customer_at
       from (select id, max(customer_at) as customer_at
               from jsonb_to_recordset(?::jsonb) as r(id bigint, customer_at timestamptz) group by id) i
      where d.account_id = ? and d.chatwoot_conversation_id = i.id and d.deleted_at is null
        and (d.last_activity_at is null or d.last_activity_at < i.customer_at)`,
    [JSON.stringify(customer), accountId],
  );
  return result.rowCount ?? 0;
}
