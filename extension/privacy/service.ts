// Erasing a person on request. Chatwoot sends no delete events, so an admin erases a contact here
// (and, if the person still exists there, in Chatwoot too). In one unit of work:
//
//   cached contact        deleted (nothing references the cache row)
//   client portal users   deleted, with what hangs on them: sessions, push subscriptions, magic
//                         links, threads and messages, portal actions; their notifications,
//                         delivery log and preferences (kept per contact)
//   calls                 the person's number (our own numbers stay), the contact link, the
//                         recording sid and url and the transcript cleared; existence, times,
//                         status, duration and disposition kept for the figures; the recordings
//                         deleted at Twilio once the erasure committed (with the account's
//                         credentials; those Twilio would not delete are named in the answer)
//   files                 job files their portal user uploaded and their message attachments:
//                         rows deleted, the stored objects removed once the erasure committed
//   deals, jobs, tasks    kept for the figures, de-identified: the contact link cleared; names,
//                         e-mail addresses and numbers scrubbed from titles, summaries and custom
//                         fields; a job's address, postal code and position, its notes and the
//                         portal user who asked for it cleared; a task's description cleared;
//                         the deals' notes deleted; a quote decision's address, device and
//                         comment cleared
//   write-backs           pending ones for the person (their contact details, their messages,
//                         notes on their conversations) cancelled; sent or dead ones scrubbed
//   vendor client links   deleted
//   erased_contacts       a tombstone, so a stale webhook or the next sync does not cache the
//                         contact again
//
// The audit event names the contact id and how many rows of each kind went, never the erased data.
// Audit events and job events are append-only (a trigger refuses changes); the erasure is the one
// writer allowed to redact what earlier events copied about the person (their strings become
// "[erased]", nothing else changes), and it counts those rows in its answer and its own event.
import type { RequestContext } from '../context.ts';
import { read, write } from '../db/tenant.ts';
import { NotFoundError } from '../errors.ts';
import type { Services } from '../services.ts';
import { deIdentifyDeals } from '../modules/deals/erasure.ts';
import { deIdentifyJobs, forgetJobRequesters } from '../modules/jobs/erasure.ts';
import { deIdentifyTasks } from '../modules/tasks/erasure.ts';
import { findPerson, isKnown, scrubJson, scrubText, type PersonRows } from './person.ts';
import type { Knex } from 'knex';

export interface ErasureCounts {
  contact: number;
  portal_users: number;
  sessions: number;
  push_subscriptions: number;
  client_messages: number;
  notifications: number;
  notification_deliveries: number;
  notification_preferences: number;
  calls: number;
  files: number;
  deals: number;
  deal_notes: number;
  deal_quotes: number;
  jobs: number;
  tasks: number;
  write_backs_cancelled: number;
  write_backs_scrubbed: number;
  vendor_client_links: number;
}

export interface Erasure {
  chatwoot_contact_id: number;
  erased_at: Date;
  /** True when the contact had been erased before (the counts are then what was found since). */
  already_erased: boolean;
  counts: ErasureCounts;
  /** Rows of the append-only trails that quoted the person, redacted (see the module comment). */
  redacted_in_trails: { audit_events: number; job_events: number };
  /** Stored objects whose removal failed after the commit (their rows are gone). */
  files_not_removed: number;
  /** Recording sids Twilio did not delete (or no Twilio credentials are stored): remove them in Twilio's console. */
  recordings_left_at_twilio: string[];
}

interface TwilioCredentials { account_sid: string; auth_token_sealed: string }

/** Deletes recordings at Twilio (a recording already gone counts as deleted); returns the sids that remain there. */
async function deleteRecordings(services: Pick<Services, 'sealer' | 'config'>, credentials: TwilioCredentials | undefined, sids: string[]): Promise<string[]> {
  if (!credentials) return sids;
  const auth = Buffer.from(`${credentials.account_sid}:${services.sealer.open(credentials.auth_token_sealed)}`).toString('base64');
  const left: string[] = [];
  for (const sid of sids) {
    // Only well-formed sids of this account, on Twilio's API host.
    const url = new URL(`/2010-04-01/Accounts/${encodeURIComponent(credentials.account_sid)}/Recordings/${sid}.json`, services.config.ONELINK_TWILIO_API_URL);
    try {
      const response = await fetch(url, { method: 'DELETE', headers: { Authorization: `Basic ${auth}` }, signal: AbortSignal.timeout(services.config.ONELINK_CHATWOOT_TIMEOUT_MS) });
      if (!response.ok && response.status !== 404) left.push(sid);
    } catch {
      left.push(sid);
    }
  }
  return left;
}

/** Storage keys of the files the person uploaded: job files by their portal users and their threads' attachments. */
async function personsFiles(trx: Knex.Transaction, accountId: number, person: PersonRows) {
  if (!person.portalUserIds.length) return { artifactIds: [] as string[], keys: [] as string[], files: 0, messages: 0 };
  const artifacts = (await trx('job_artifacts')
    .where({ account_id: accountId, uploaded_by_type: 'portal_user' })
    .whereIn('uploaded_by_id', person.portalUserIds)
    .select('id', 'storage_key', 'thumbnail_key')) as Array<{ id: string; storage_key: string; thumbnail_key: string | null }>;
  const messages = (await trx('client_messages').where({ account_id: accountId }).whereIn('portal_user_id', person.portalUserIds).select('attachments')) as Array<{ attachments: Array<{ storage_key?: string }> | null }>;
  const messageKeys = messages.flatMap((m) => (m.attachments ?? []).flatMap((a) => (typeof a?.storage_key === 'string' ? [a.storage_key] : [])));
  return {
    artifactIds: artifacts.map((a) => a.id),
    keys: [...artifacts.flatMap((a) => [a.storage_key, ...(a.thumbnail_key ? [a.thumbnail_key] : [])]), ...messageKeys],
    files: artifacts.length + messageKeys.length,
    messages: messages.length,
  };
}

/** Write-backs that carry the person's text: their contact details, their portal messages, notes on their conversations. */
function personsWriteBacks(trx: Knex.Transaction, accountId: number, person: PersonRows, messageIds: string[]) {
  return trx('chatwoot_outbox')
    .where({ account_id: accountId })
    .andWhere((q) => {
      q.where((c) => c.where({ kind: 'contact' }).andWhereRaw(`payload->>'contactId' = ?`, [String(person.contactId)]));
      if (messageIds.length) q.orWhere((c) => c.where({ kind: 'client_message' }).andWhereRaw(`payload->>'messageId' in (select jsonb_array_elements_text(?::jsonb))`, [JSON.stringify(messageIds)]));
      if (person.conversationIds.length) q.orWhere((c) => c.where({ kind: 'note' }).whereIn('chatwoot_conversation_id', person.conversationIds));
    });
}

/** Payload fields of the person's own records that the erasure clears, cleared in their trails too. */
const personalFields: Record<string, readonly string[]> = {
  contact: ['name', 'email', 'phone', 'phone_e164'],
  portal_user: ['name', 'email', 'phone'],
  job: ['address', 'postal_code', 'lat', 'lng', 'notes'],
  task: ['description'],
  call: ['from_e164', 'to_e164', 'transcript', 'recording_sid', 'recording_url'],
  deal: [],
};
const personalJobEventFields = ['address', 'postal_code', 'lat', 'lng'];

/** A payload with the person's strings replaced by "[erased]" and the given fields emptied. */
function redactPayload(value: unknown, personal: readonly string[], fields: readonly string[]): unknown {
  const scrubbed = scrubJson(value, personal);
  if (!scrubbed || typeof scrubbed !== 'object' || Array.isArray(scrubbed)) return scrubbed;
  const out = { ...(scrubbed as Record<string, unknown>) };
  for (const field of fields) if (out[field] !== undefined && out[field] !== null) out[field] = null;
  return out;
}

/**
 * The earlier audit events and job events of the person's records (contact, portal users, deals,
 * jobs, tasks, calls), redacted in place: their strings become "[erased]" and the fields the erasure
 * clears are emptied. It is the one update those append-only tables allow, only with
 * `onelink.redacting` on in this transaction and nothing but the payload changed (migration
 * 202612050940_redactable_trails). Returns how many rows changed.
 */
async function redactTrails(trx: Knex.Transaction, accountId: number, person: PersonRows) {
  const personal = person.personalStrings;
  const resources: Array<[string, Array<string | number>]> = [
    ['contact', [person.contactId]],
    ['portal_user', person.portalUserIds],
    ['deal', person.dealIds],
    ['job', person.jobIds],
    ['task', person.taskIds],
    ['call', person.callIds],
  ];
  const auditRows: Array<{ id: string; resource_type: string; before: unknown; after: unknown }> = await trx('audit_events')
    .where({ account_id: accountId })
    .andWhere((q) => {
      for (const [type, list] of resources) if (list.length) q.orWhere((r) => r.where({ resource_type: type }).whereIn('resource_id', list.map(String)));
    })
    .select('id', 'resource_type', 'before', 'after');
  const jobRows: Array<{ id: string; data: unknown }> = person.jobIds.length
    ? await trx('job_events').where({ account_id: accountId }).whereIn('job_id', person.jobIds).select('id', 'data')
    : [];
  const asJson = (value: unknown) => (value === null || value === undefined ? null : JSON.stringify(value));
  const changedAudit = auditRows.flatMap((row) => {
    const fields = personalFields[row.resource_type] ?? [];
    const before = redactPayload(row.before, personal, fields);
    const after = redactPayload(row.after, personal, fields);
    return asJson(before) === asJson(row.before) && asJson(after) === asJson(row.after) ? [] : [{ id: row.id, before: asJson(before), after: asJson(after) }];
  });
  const changedJobEvents = jobRows.flatMap((row) => {
    const data = redactPayload(row.data, personal, personalJobEventFields);
    return asJson(data) === asJson(row.data) ? [] : [{ id: row.id, data: asJson(data) }];
  });
  if (changedAudit.length || changedJobEvents.length) {
    await trx.raw(`select set_config('onelink.redacting', 'on', true)`);
    for (const row of changedAudit) await trx('audit_events').where({ account_id: accountId, id: row.id }).update({ before: row.before, after: row.after });
    for (const row of changedJobEvents) await trx('job_events').where({ account_id: accountId, id: row.id }).update({ data: row.data });
    await trx.raw(`select set_config('onelink.redacting', 'off', true)`);
  }
  return { audit_events: changedAudit.length, job_events: changedJobEvents.length };
}

/**
 * Erases what Onelink holds about the Chatwoot contact `contactId` in the context's account (see
 * the module comment). 404 (NotFoundError) when nothing here names the contact. Erasing again
 * answers the counts of what was found since (zero when nothing was), with `already_erased`.
 */
export async function forgetContact(services: Pick<Services, 'files' | 'sealer' | 'config'>, ctx: RequestContext, contactId: number): Promise<Erasure> {
  const { accountId } = ctx;
  const { result, keys, recordings, credentials } = await write(ctx, async (trx, audit) => {
    const person = await findPerson(trx, accountId, contactId);
    if (!isKnown(person)) throw new NotFoundError('Contact');
    // The tombstone first: a second erasure of the same contact waits here for this one to finish.
    // (xmax is set on a row the conflict clause updated: the contact was erased before.)
    const { rows } = await trx.raw<{ rows: Array<{ erased_at: Date; existed: boolean }> }>(
      `insert into erased_contacts (account_id, chatwoot_contact_id, erased_by_type, erased_by_id) values (?, ?, ?, ?)
       on conflict (account_id, chatwoot_contact_id) do update set erased_at = erased_contacts.erased_at
       returning erased_at, xmax <> 0 as existed`,
      [accountId, contactId, ctx.actor.type, ctx.actor.id],
    );
    const tombstone = rows[0]!;
    const personal = person.personalStrings;
    const portalUsers = person.portalUserIds;
    const recipient = { account_id: accountId, recipient_kind: 'contact', recipient_id: String(contactId) };

    // Earlier audit and job events that quote the person: redacted, and counted in the erasure's own event.
    const redacted = await redactTrails(trx, accountId, person);
    const files = await personsFiles(trx, accountId, person);
    const messageIds = portalUsers.length ? ((await trx('client_messages').where({ account_id: accountId }).whereIn('portal_user_id', portalUsers).pluck('id')) as string[]) : [];

    const writeBacks = personsWriteBacks(trx, accountId, person, messageIds);
    const cancelled = await writeBacks.clone().where({ status: 'pending' }).delete();
    const scrubbed = await writeBacks.clone().whereNot({ status: 'pending' }).update({ payload: trx.raw(`jsonb_build_object('kind', kind, 'erased', true)`) });

    if (files.artifactIds.length) await trx('job_artifacts').where({ account_id: accountId }).whereIn('id', files.artifactIds).delete();
    const pushSubscriptions = portalUsers.length ? await trx('push_subscriptions').where({ account_id: accountId }).whereIn('portal_user_id', portalUsers).delete() : 0;
    const sessions = portalUsers.length ? await trx('sessions').where({ account_id: accountId, subject_type: 'portal_user' }).whereIn('subject_id', portalUsers).delete() : 0;
    const quotes = portalUsers.length
      ? await trx('deal_quotes')
          .where({ account_id: accountId })
          .whereIn('decided_by_portal_user_id', portalUsers)
          .update({ decided_by_portal_user_id: null, decided_ip: null, decided_user_agent: null, decision_comment: null, updated_at: trx.fn.now() })
      : 0;
    await forgetJobRequesters(trx, accountId, portalUsers);
    // Threads, messages, magic links, chat contacts and portal actions go with their portal user.
    const portalUsersDeleted = portalUsers.length ? await trx('portal_users').where({ account_id: accountId }).whereIn('id', portalUsers).delete() : 0;
    const notifications = await trx('notifications').where(recipient).delete();
    const deliveries = await trx('notification_deliveries').where(recipient).delete();
    const preferences = await trx('notification_preferences').where(recipient).delete();

    // Our own numbers stay on a call: they say which line rang, not who called.
    const ours = (await trx('twilio_numbers').where({ account_id: accountId }).pluck('e164')) as string[];
    const recordingSids = person.callIds.length
      ? ((await trx('calls').where({ account_id: accountId }).whereIn('id', person.callIds).whereNotNull('recording_sid').pluck('recording_sid')) as string[]).filter((sid) => /^RE[0-9a-f]{32}$/.test(sid))
      : [];
    const twilioCredentials = recordingSids.length ? ((await trx('twilio_settings').where({ account_id: accountId }).first('account_sid', 'auth_token_sealed')) as TwilioCredentials | undefined) : undefined;
    const keepOurs = (column: string) => trx.raw(`case when ?? in (select jsonb_array_elements_text(?::jsonb)) then ?? else null end`, [column, JSON.stringify(ours), column]);
    const calls = person.callIds.length
      ? await trx('calls')
          .where({ account_id: accountId })
          .whereIn('id', person.callIds)
          .update({ from_e164: keepOurs('from_e164'), to_e164: keepOurs('to_e164'), chatwoot_contact_id: null, recording_sid: null, recording_url: null, transcript: null, updated_at: trx.fn.now() })
      : 0;

    const dealNotes = await deIdentifyDeals(trx, accountId, person.dealIds, personal);

    await deIdentifyJobs(trx, accountId, person.jobIds, personal);
    const tasks = await deIdentifyTasks(trx, accountId, person.taskIds, personal);
    const vendorLinks = await trx('vendor_client_links').where({ account_id: accountId, chatwoot_contact_id: contactId }).delete();
    const contact = await trx('chatwoot_contacts').where({ account_id: accountId, chatwoot_contact_id: contactId }).delete();

    const counts: ErasureCounts = {
      contact,
      portal_users: portalUsersDeleted,
      sessions,
      push_subscriptions: pushSubscriptions,
      client_messages: files.messages,
      notifications,
      notification_deliveries: deliveries,
      notification_preferences: preferences,
      calls,
      files: files.files,
      deals: person.dealIds.length,
      deal_notes: dealNotes,
      deal_quotes: quotes,
      jobs: person.jobIds.length,
      tasks,
      write_backs_cancelled: cancelled,
      write_backs_scrubbed: scrubbed,
      vendor_client_links: vendorLinks,
    };
    // Ids and numbers only: the event must not become a copy of what was erased.
    await audit({ action: 'contact.erased', resourceType: 'contact', resourceId: contactId, after: { chatwoot_contact_id: contactId, repeated: tombstone.existed, counts, redacted_in_trails: redacted } });
    const erasure: Omit<Erasure, 'files_not_removed' | 'recordings_left_at_twilio'> = { chatwoot_contact_id: contactId, erased_at: tombstone.erased_at, already_erased: tombstone.existed, counts, redacted_in_trails: redacted };
    return { result: erasure, keys: files.keys, recordings: recordingSids, credentials: twilioCredentials };
  });
  // Committed: the bytes and the recordings go now (a rollback above would have needed them).
  let failed = 0;
  for (const key of keys) {
    try {
      await services.files.remove(key);
    } catch {
      failed++;
    }
  }
  return { ...result, files_not_removed: failed, recordings_left_at_twilio: await deleteRecordings(services, credentials, recordings) };
}

/** Whether a contact is known here at all (for the CLI's confirmation). */
export function contactIsKnown(ctx: RequestContext, contactId: number) {
  return read(ctx, async (trx) => isKnown(await findPerson(trx, ctx.accountId, contactId)));
}

export { scrubText };
