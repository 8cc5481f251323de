// Whether Chatwoot's deliveries get through: refused deliveries counted per installation and
// reason (never their bodies), and when each installation last accepted one. Chatwoot never
// retries a webhook, so without this a wrong secret or a stale address loses every event
// silently.
//
// Writes stay off the hot path: the receiver only bumps in-memory counters; they are written
// at most once a second per process, in one statement each. The first refusal after a quiet
// second is written at once, so the fact that refusals happen is never held back; a failed
// write keeps its counts and is tried again.
import type { Knex } from 'knex';

export const refusalReasons = ['invalid_signature', 'missing_signature', 'stale_timestamp', 'unknown_address', 'invalid_body'] as const;
export type RefusalReason = (typeof refusalReasons)[number];

/** Reasons that mean Chatwoot signs with a key other than the secret stored here (or not at all). */
export const signatureReasons: readonly RefusalReason[] = ['invalid_signature', 'missing_signature'];

/** A run of refusals older than this no longer raises the alarm (the counters stay). */
export const recentWindowMs = 24 * 3600 * 1000;

const noInstallation = '00000000-0000-0000-0000-000000000000';

/** Calls `write` at most once per `intervalMs`, at once when the last call is that old. */
function throttled(write: () => Promise<void>, intervalMs: number) {
  let lastRun = 0;
  let timer: NodeJS.Timeout | null = null;
  let running = false;
  const run = async () => {
    timer = null;
    if (running) return void schedule();
    running = true;
    lastRun = Date.now();
    try {
      await write();
    } finally {
      running = false;
    }
  };
  function schedule() {
    if (timer) return;
    timer = setTimeout(() => void run(), Math.max(0, lastRun + intervalMs - Date.now()));
    timer.unref();
  }
  return schedule;
}

export interface ReceiptRecorder {
  refused(installationId: string | null, reason: RefusalReason): void;
  accepted(installationId: string): void;
}

export function receiptRecorder(db: Knex, { intervalMs = 1000 } = {}): ReceiptRecorder {
  let refusals = new Map<string, { installationId: string | null; reason: RefusalReason; count: number }>();
  let accepted = new Set<string>();

  async function writeRefusals() {
    if (!refusals.size) return;
    const batch = [...refusals.values()];
    refusals = new Map();
    try {
      // A run restarts when the installation accepted a delivery after this reason's last refusal.
      await db.raw(
        `insert into webhook_refusals as r (installation_id, source, reason, refused, first_refused_at, last_refused_at, streak, streak_started_at)
         select u.installation_id, 'chatwoot', u.reason, u.n, now(), now(), u.n, now()
           from unnest(?::uuid[], ?::text[], ?::bigint[]) as u(installation_id, reason, n)
         on conflict ((coalesce(installation_id, '${noInstallation}'::uuid)), source, reason) do update set
           refused = r.refused + excluded.refused,
           last_refused_at = excluded.last_refused_at,
           streak = case when coalesce((select i.webhook_last_accepted_at from installations i where i.id = r.installation_id) > r.last_refused_at, false)
                         then excluded.streak else r.streak + excluded.streak end,
           streak_started_at = case when coalesce((select i.webhook_last_accepted_at from installations i where i.id = r.installation_id) > r.last_refused_at, false)
                                    then excluded.streak_started_at else r.streak_started_at end`,
        [batch.map((b) => b.installationId), batch.map((b) => b.reason), batch.map((b) => b.count)] as unknown as Knex.RawBinding[],
      );
    } catch {
      // Keep the counts for the next write (an installation deleted meanwhile drops out by its key).
      const existing = await db('installations').whereIn('id', batch.flatMap((b) => (b.installationId ? [b.installationId] : []))).pluck('id').catch(() => null);
      for (const b of batch) if (!b.installationId || !existing || existing.includes(b.installationId)) count(b.installationId, b.reason, b.count);
      scheduleRefusals();
    }
  }

  async function writeAccepted() {
    if (!accepted.size) return;
    const ids = [...accepted];
    accepted = new Set();
    await db('installations')
      .whereIn('id', ids)
      .update({ webhook_last_accepted_at: db.fn.now() })
      .catch(() => {
        for (const id of ids) accepted.add(id);
        scheduleAccepted();
      });
  }

  const scheduleRefusals = throttled(writeRefusals, intervalMs);
  const scheduleAccepted = throttled(writeAccepted, intervalMs);

  function count(installationId: string | null, reason: RefusalReason, n = 1) {
    const key = `${installationId ?? ''} ${reason}`;
    const entry = refusals.get(key);
    if (entry) entry.count += n;
    else refusals.set(key, { installationId, reason, count: n });
  }

  return {
    refused(installationId, reason) {
      count(installationId, reason);
      scheduleRefusals();
    },
    accepted(installationId) {
      if (accepted.has(installationId)) return;
      accepted.add(installationId);
      scheduleAccepted();
    },
  };
}

export interface RefusalCount { reason: RefusalReason; refused: number; first_refused_at: string; last_refused_at: string }

export interface ReceiptHealth {
  webhook_url: string | null;
  webhook_registered_at: string | null;
  last_accepted_at: string | null;
  /** Set while deliveries are being refused with none accepted since (and the last refusal is recent). */
  failing: { since: string; refused: number; reason: RefusalReason; reasons: RefusalReason[]; last_refused_at: string } | null;
  /** Every reason ever seen, with its totals. */
  refusals: RefusalCount[];
}

const iso = (value: Date | string | null) => (value === null ? null : new Date(value).toISOString());

/** How one installation's deliveries fare; `now` decides what counts as recent. */
export async function receiptHealth(db: Knex, installationId: string, now = new Date()): Promise<ReceiptHealth | null> {
  const installation = await db('installations').where({ id: installationId }).first('webhook_url', 'webhook_registered_at', 'webhook_last_accepted_at');
  if (!installation) return null;
  const rows: Array<{ reason: RefusalReason; refused: number; first_refused_at: Date; last_refused_at: Date; streak: number; streak_started_at: Date }> = await db('webhook_refusals')
    .where({ installation_id: installationId, source: 'chatwoot' })
    .select('reason', 'refused', 'first_refused_at', 'last_refused_at', 'streak', 'streak_started_at');
  const lastAccepted: Date | null = installation.webhook_last_accepted_at;
  // A reason is failing when refused after the last accepted delivery; its run started after it.
  const current = rows.filter(
    (r) => (!lastAccepted || r.last_refused_at > lastAccepted) && now.getTime() - r.last_refused_at.getTime() < recentWindowMs,
  );
  const main = [...current].sort((a, b) => b.streak - a.streak)[0];
  return {
    webhook_url: installation.webhook_url,
    webhook_registered_at: iso(installation.webhook_registered_at),
    last_accepted_at: iso(lastAccepted),
    failing: main
      ? {
          since: new Date(Math.min(...current.map((r) => r.streak_started_at.getTime()))).toISOString(),
          refused: current.reduce((sum, r) => sum + r.streak, 0),
          reason: main.reason,
          reasons: current.map((r) => r.reason),
          last_refused_at: new Date(Math.max(...current.map((r) => r.last_refused_at.getTime()))).toISOString(),
        }
      : null,
    refusals: rows
      .map((r) => ({ reason: r.reason, refused: r.refused, first_refused_at: iso(r.first_refused_at)!, last_refused_at: iso(r.last_refused_at)! }))
      .sort((a, b) => b.last_refused_at.localeCompare(a.last_refused_at)),
  };
}

/** Deliveries to addresses no installation owns (a stale webhook left in Chatwoot, or probing). */
export async function unknownAddressRefusals(db: Knex): Promise<RefusalCount | null> {
  const row = await db('webhook_refusals').whereNull('installation_id').andWhere({ source: 'chatwoot', reason: 'unknown_address' }).first('reason', 'refused', 'first_refused_at', 'last_refused_at');
  return row ? { ...row, first_refused_at: iso(row.first_refused_at)!, last_refused_at: iso(row.last_refused_at)! } : null;
}

/** Total refusals per reason for an installation, for before/after comparisons. */
export async function refusalTotals(db: Knex, installationId: string): Promise<Partial<Record<RefusalReason, number>>> {
  const rows: Array<{ reason: RefusalReason; refused: number }> = await db('webhook_refusals').where({ installation_id: installationId, source: 'chatwoot' }).select('reason', 'refused');
  return Object.fromEntries(rows.map((r) => [r.reason, r.refused]));
}

// --- The installer's round-trip check ---
// The installer creates (and then deletes) a Chatwoot contact with this identifier prefix and
// waits for its signed delivery. The receiver records that delivery under a key the installer
// can look up, as `ignored`, so the throw-away contact never reaches the caches.
export const connectionCheckPrefix = 'onelink-connection-check-';

export const connectionCheckDedupeKey = (nonce: string) => `connection-check:${nonce}`;

/** The dedupe key of a verified payload that is the installer's check contact, else null. */
export function connectionCheckKey(payload: Record<string, unknown> | null): string | null {
  if (!payload || (payload.event !== 'contact_created' && payload.event !== 'contact_updated')) return null;
  const identifier = payload.identifier;
  if (typeof identifier !== 'string' || !identifier.startsWith(connectionCheckPrefix)) return null;
  const nonce = identifier.slice(connectionCheckPrefix.length);
  return /^[A-Za-z0-9_-]{8,64}$/.test(nonce) ? connectionCheckDedupeKey(nonce) : null;
}
