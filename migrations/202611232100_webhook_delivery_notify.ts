// Deliveries are processed the moment they are stored: a trigger notifies the delivery worker.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create function webhook_deliveries_notify() returns trigger language plpgsql as $$
    begin
      perform pg_notify('onelink_delivery', new.id::text);
      return null;
    end $$;
    create trigger webhook_deliveries_notify after insert on webhook_deliveries
      for each row when (new.status = 'received') execute function webhook_deliveries_notify();
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop trigger if exists webhook_deliveries_notify on webhook_deliveries');
  await knex.raw('drop function if exists webhook_deliveries_notify()');
}
