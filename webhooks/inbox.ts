// Durable receipt of webhook deliveries into `webhook_deliveries`, shared by every source.
//
// Group commit: deliveries that arrive while an INSERT is in flight wait for it and are then
// written together, in one statement and one commit. Alone, a delivery is written at once (no
// added delay); under load, a busy receiver spends one round trip and one commit on many
// deliveries instead of one each. Each caller still answers its sender only after its own row
// is committed, so nothing acknowledged can be lost.
import type { Knex } from 'knex';

export interface IncomingDelivery {
  installationId: string;
  source: string;
  dedupeKey: string;
  event: string | null;
  headers: Record<string, string | null>;
  body: string;
  /** `failed` when the delivery verified but its body could not be read. */
  status: 'received' | 'failed';
  lastError: string | null;
  /** Our account, when the address already names it (Twilio); Chatwoot's is learnt when processed. */
  accountId?: number | null;
}

/** The stored row, or null when the same delivery (same dedupe key) was stored before. */
export type StoredDelivery = { id: string; status: string } | null;

interface Waiting {
  delivery: IncomingDelivery;
  resolve: (stored: StoredDelivery) => void;
  reject: (err: unknown) => void;
}

const columns = `(installation_id, source, dedupe_key, event, headers, body, status, last_error, account_id)`;

async function insertMany(db: Knex, deliveries: IncomingDelivery[]) {
  // unnest over one array per column: one statement shape whatever the batch size. In-batch
  // duplicates are fine: ON CONFLICT DO NOTHING skips the second of two equal keys.
  const { rows } = await db.raw<{ rows: Array<{ id: string; status: string; installation_id: string; source: string; dedupe_key: string }> }>(
    `insert into webhook_deliveries ${columns}
     select * from unnest(?::uuid[], ?::text[], ?::text[], ?::text[], ?::jsonb[], ?::text[], ?::text[], ?::text[], ?::bigint[])
     on conflict (installation_id, source, dedupe_key) do nothing
     returning id, status, installation_id, source, dedupe_key`,
    // Arrays bind as Postgres arrays; knex's binding type does not say so.
    [
      deliveries.map((d) => d.installationId),
      deliveries.map((d) => d.source),
      deliveries.map((d) => d.dedupeKey),
      deliveries.map((d) => d.event),
      deliveries.map((d) => JSON.stringify(d.headers)),
      deliveries.map((d) => d.body),
      deliveries.map((d) => d.status),
      deliveries.map((d) => d.lastError),
      deliveries.map((d) => d.accountId ?? null),
    ] as unknown as Knex.RawBinding[],
  );
  return new Map(rows.map((r) => [`${r.installation_id} ${r.source} ${r.dedupe_key}`, { id: r.id, status: r.status }]));
}

export function deliveryInbox(db: Knex, { maxBatch = 256 } = {}) {
  let waiting: Waiting[] = [];
  let writing = false;

  async function settle(batch: Waiting[]) {
    const stored = await insertMany(db, batch.map((w) => w.delivery));
    const answered = new Set<string>();
    for (const w of batch) {
      const key = `${w.delivery.installationId} ${w.delivery.source} ${w.delivery.dedupeKey}`;
      // Only the first of equal deliveries in a batch gets the stored row; the rest are duplicates.
      w.resolve(answered.has(key) ? null : (stored.get(key) ?? null));
      answered.add(key);
    }
  }

  async function settleAlone(w: Waiting) {
    const stored = await insertMany(db, [w.delivery]);
    const { installationId, source, dedupeKey } = w.delivery;
    const row =
      stored.get(`${installationId} ${source} ${dedupeKey}`) ??
      ((await db('webhook_deliveries').where({ installation_id: installationId, source, dedupe_key: dedupeKey }).first('id', 'status')) as { id: string; status: string } | undefined) ??
      null;
    w.resolve(row);
  }

  async function writeAll() {
    writing = true;
    while (waiting.length > 0) {
      const batch = waiting.slice(0, maxBatch);
      waiting = waiting.slice(batch.length);
      try {
        await settle(batch);
      } catch {
        // One bad row must not fail its neighbours: retry them one by one so each caller gets its
        // own answer. The failed batch may in fact have committed (a lost reply): a row found
        // already stored is then answered as stored, so its sender is not told "duplicate" and
        // the worker is still woken.
        await Promise.all(batch.map((w) => settleAlone(w).catch(w.reject)));
      }
    }
    writing = false;
  }

  return function store(delivery: IncomingDelivery): Promise<StoredDelivery> {
    return new Promise((resolve, reject) => {
      waiting.push({ delivery, resolve, reject });
      if (!writing) void writeAll();
    });
  };
}
