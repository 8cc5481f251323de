// Wakes the delivery workers after deliveries are stored. One NOTIFY per burst rather than one
// per row: notifying serialises commits in Postgres, and a worker reads every pending delivery
// when woken anyway.
import type { Knex } from 'knex';

export const deliveryChannel = 'onelink_delivery';

export function deliveryNudger(db: Knex, intervalMs = 20) {
  let scheduled = false;
  return () => {
    if (scheduled) return;
    scheduled = true;
    setTimeout(() => {
      scheduled = false;
      void db.raw('select pg_notify(?, ?)', [deliveryChannel, '']).catch(() => undefined); // the sweep covers a lost nudge
    }, intervalMs);
  };
}
