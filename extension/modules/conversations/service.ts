// The conversation and contact caches as units of work: what Chatwoot's webhooks observed,
// written for a whole batch at once, and the contacts Onelink itself creates in Chatwoot. Each
// write is announced to the pages following the account once committed (an open sidebar sees a
// conversation's new status at once); none records an audit event per cached message — the
// stored delivery is its trail.
import type { Knex } from 'knex';
import type { RequestContext } from '../../context.ts';
import { write } from '../../db/tenant.ts';
import { displayNumber, type CountryCode } from '../../phones/e164.ts';
import { cacheContacts, cacheConversations, recordActivity, type ActivityObservation, type ContactObservation, type ConversationObservation } from './cache.ts';

/** What one delivery says about Chatwoot's records. */
export interface Observations {
  contacts: ContactObservation[];
  conversations: ConversationObservation[];
  activity: ActivityObservation[];
}

const sameContent = (a: { observedAt: Date }, b: { observedAt: Date }) => JSON.stringify({ ...a, observedAt: 0 }) === JSON.stringify({ ...b, observedAt: 0 });

/**
 * Folds repeated observations of one record that say the same thing, with nothing different seen
 * of it in between, into one dated by the later of them (a chatty customer's messages all carry
 * the same sender): writing it once leaves the row as writing each in turn would.
 */
function withoutRepeatedNews<T extends { id: number; observedAt: Date }>(items: T[]): T[] {
  const out: T[] = [];
  const lastOf = new Map<number, number>();
  for (const item of items) {
    const at = lastOf.get(item.id);
    const last = at === undefined ? undefined : out[at]!;
    if (last && sameContent(last, item)) {
      if (item.observedAt > last.observedAt) out[at!] = { ...last, observedAt: item.observedAt };
      continue;
    }
    lastOf.set(item.id, out.length);
    out.push(item);
  }
  return out;
}

/**
 * Splits `items` into runs in which no id repeats, keeping their order: each run is one statement
 * (which may touch a row once), and runs are written in the order the events came.
 */
function runsWithoutRepeats<T extends { id: number; observedAt: Date }>(all: T[]): T[][] {
  const items = withoutRepeatedNews(all);
  const runs: T[][] = [];
  let run: T[] = [];
  let ids = new Set<number>();
  for (const item of items) {
    if (ids.has(item.id)) {
      runs.push(run);
      run = [];
      ids = new Set();
    }
    run.push(item);
    ids.add(item.id);
  }
  if (run.length) runs.push(run);
  return runs;
}

/** Writes what deliveries observed: a few statements for all of them. Returns how many rows moved. */
async function writeObservations(trx: Knex.Transaction, accountId: number, country: CountryCode, observed: Observations[]) {
  let written = 0;
  for (const run of runsWithoutRepeats(observed.flatMap((o) => o.contacts))) written += await cacheContacts(trx, accountId, country, run);
  for (const run of runsWithoutRepeats(observed.flatMap((o) => o.conversations))) written += await cacheConversations(trx, accountId, run);
  return written + (await recordActivity(trx, accountId, observed.flatMap((o) => o.activity)));
}

/**
 * Writes a batch of observations (one entry per delivery) in one unit of work: all of them in a
 * few statements; when that fails, each on its own (in its own savepoint) so one that cannot be
 * written does not hold back the rest. Returns, per entry, null when written or the error that
 * kept it out. Throws (nothing written) when the unit of work itself fails: the database is away.
 */
export async function recordObservations(ctx: RequestContext, country: CountryCode, batch: Observations[]): Promise<Array<unknown | null>> {
  return write(ctx, async (trx, audit) => {
    let written = 0;
    let outcomes: Array<unknown | null>;
    try {
      written = await trx.transaction((savepoint) => writeObservations(savepoint, ctx.accountId, country, batch));
      outcomes = batch.map(() => null);
    } catch {
      outcomes = [];
      for (const observations of batch) {
        try {
          written += await trx.transaction((savepoint) => writeObservations(savepoint, ctx.accountId, country, [observations]));
          outcomes.push(null);
        } catch (err) {
          outcomes.push(err);
        }
      }
    }
    if (written > 0) audit.recordedElsewhere('webhook_deliveries');
    else audit.nothingChanged(); // duplicates and older news: no page needs to refresh
    return outcomes;
  });
}

/** The cached contact with this phone number (the lowest id when Chatwoot has several). */
export async function cachedContactWithPhone(trx: Knex.Transaction, accountId: number, e164: string): Promise<number | undefined> {
  const row = await trx('chatwoot_contacts').where({ account_id: accountId, phone_e164: e164 }).orderBy('chatwoot_contact_id').first('chatwoot_contact_id');
  return row?.chatwoot_contact_id as number | undefined;
}

/**
 * Caches a contact Onelink has just created in Chatwoot for a caller (named by the number), so the
 * next call finds it before Chatwoot's contact_created webhook arrives to confirm it.
 */
export async function rememberCreatedContact(ctx: RequestContext, contactId: number, e164: string) {
  await write(ctx, async (trx, audit) => {
    await trx('chatwoot_contacts').insert({ account_id: ctx.accountId, chatwoot_contact_id: contactId, name: displayNumber(e164), phone_e164: e164 }).onConflict(['account_id', 'chatwoot_contact_id']).ignore();
    audit.recordedElsewhere('calls'); // the call that needed it records the contact when threaded
  });
}
