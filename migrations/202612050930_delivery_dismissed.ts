// A failed or dead webhook delivery an admin has looked at and decided not to replay can be
// dismissed: status 'dismissed', so retention may prune it like a processed one (dead deliveries
// are otherwise kept until someone acts on them).
import type { Knex } from 'knex';

const statuses = (list: string[]) => list.map((s) => `'${s}'`).join(', ');
const before = ['received', 'processing', 'processed', 'ignored', 'retrying', 'failed', 'dead'];

/** The status check's name, whatever knex called it when the table was made. */
async function statusCheckName(knex: Knex): Promise<string> {
  const { rows } = await knex.raw<{ rows: Array<{ conname: string }> }>(
    `select conname from pg_constraint
      where conrelid = 'webhook_deliveries'::regclass and contype = 'c' and pg_get_constraintdef(oid) like '%status%'`,
  );
  if (rows.length !== 1) throw new Error(`expected one status check on webhook_deliveries, found ${rows.length}`);
  return rows[0]!.conname;
}

export async function up(knex: Knex): Promise<void> {
  const name = await statusCheckName(knex);
  await knex.raw(`alter table webhook_deliveries drop constraint ??`, [name]);
  await knex.raw(`alter table webhook_deliveries add constraint webhook_deliveries_status_check check (status in (${statuses([...before, 'dismissed'])}))`);
}

export async function down(knex: Knex): Promise<void> {
  // Dismissed ones were dead or failed before; 'dead' keeps them out of every queue.
  await knex('webhook_deliveries').where({ status: 'dismissed' }).update({ status: 'dead' });
  await knex.raw(`alter table webhook_deliveries drop constraint webhook_deliveries_status_check`);
  await knex.raw(`alter table webhook_deliveries add constraint webhook_deliveries_status_check check (status in (${statuses(before)}))`);
}
