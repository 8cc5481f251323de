// Per-account human numbers (D-311, J-1042): one counter row per account and kind, bumped in
// the same transaction as the insert that uses it, so numbers never repeat.
import type { Knex } from 'knex';

export async function nextNumber(trx: Knex.Transaction, accountId: number, name: string): Promise<number> {
  const { rows } = await trx.raw<{ rows: Array<{ value: number }> }>(
    `insert into account_counters (account_id, name, value) values (?, ?, 1)
     on conflict (account_id, name) do update set value = account_counters.value + 1
     returning value`,
    [accountId, name],
  );
  return Number(rows[0]!.value);
}
