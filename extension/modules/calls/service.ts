// The call log: list and detail, links to a job or a conversation, a disposition, and the
// recording played through Onelink (Twilio's URL never leaves the server).
import { Readable } from 'node:stream';
import type { Knex } from 'knex';
import { queueWriteBack } from '../../chatwoot/outbox-queue.ts';
import type { RequestContext } from '../../context.ts';
import { read, write } from '../../db/tenant.ts';
import { InvalidFieldsError, NotFoundError } from '../../errors.ts';
import { paginate } from '../../http/pagination.ts';
import type { Sealer, UrlSigner } from '../../security/crypto.ts';
import { jobReference } from '../jobs/rules.ts';
import { appendJobEvent } from '../jobs/service.ts';
import type { CallDisposition, CallStatus } from './status.ts';

/** How long a recording link handed to the UI works. */
export const recordingLinkMinutes = 60;

const columns = [
  'id', 'call_sid', 'direction', 'from_e164', 'to_e164', 'status', 'started_at', 'ended_at', 'duration_seconds', 'recording_sid',
  'recording_duration_seconds', 'transcript', 'transcript_status', 'disposition', 'chatwoot_contact_id', 'chatwoot_conversation_id', 'job_id',
  'callback_task_id', 'created_at', 'updated_at',
];

interface CallRow {
  id: string;
  recording_sid: string | null;
  [key: string]: unknown;
}

function present(signer: UrlSigner, accountId: number, row: CallRow) {
  const link = row.recording_sid
    ? `/api/v1/calls/recording?token=${signer.sign({ a: accountId, c: row.id }, new Date(Date.now() + recordingLinkMinutes * 60_000))}`
    : null;
  return { ...row, recording_link: link };
}

export interface CallFilters {
  status?: CallStatus[];
  direction?: 'inbound' | 'outbound';
  contact_id?: number;
  conversation_id?: number;
  job_id?: string;
  number?: string;
  started_from?: Date;
  started_to?: Date;
}

export async function listCalls(ctx: RequestContext, signer: UrlSigner, filters: CallFilters, page: { limit: number; cursor?: string }) {
  return read(ctx, async (trx) => {
    const q = trx('calls').where({ account_id: ctx.accountId }).select(columns);
    if (filters.status?.length) q.whereIn('status', filters.status);
    if (filters.direction) q.where({ direction: filters.direction });
    if (filters.contact_id !== undefined) q.where({ chatwoot_contact_id: filters.contact_id });
    if (filters.conversation_id !== undefined) q.where({ chatwoot_conversation_id: filters.conversation_id });
    if (filters.job_id) q.where({ job_id: filters.job_id });
    if (filters.number) q.where((w) => w.where({ from_e164: filters.number }).orWhere({ to_e164: filters.number }));
    if (filters.started_from) q.where('started_at', '>=', filters.started_from);
    if (filters.started_to) q.where('started_at', '<', filters.started_to);
    const result = await paginate<CallRow>(q, { keys: { started_at: 'timestamptz', id: 'uuid' }, direction: 'desc', limit: page.limit, cursor: page.cursor });
    return { items: result.items.map((row) => present(signer, ctx.accountId, row)), nextCursor: result.nextCursor };
  });
}

async function loadCall(trx: Knex.Transaction, ctx: RequestContext, callId: string, forUpdate = false) {
  const q = trx('calls').where({ account_id: ctx.accountId, id: callId });
  if (forUpdate) q.forUpdate();
  const row = (await q.first(columns)) as CallRow | undefined;
  if (!row) throw new NotFoundError('Call');
  return row;
}

export async function getCall(ctx: RequestContext, signer: UrlSigner, callId: string) {
  return read(ctx, async (trx) => present(signer, ctx.accountId, await loadCall(trx, ctx, callId)));
}

export async function setDisposition(ctx: RequestContext, signer: UrlSigner, callId: string, disposition: CallDisposition | null) {
  return write(ctx, async (trx, audit) => {
    const before = await loadCall(trx, ctx, callId, true);
    const [after] = (await trx('calls').where({ account_id: ctx.accountId, id: callId }).update({ disposition, updated_at: trx.fn.now() }).returning(columns)) as CallRow[];
    await audit({ action: 'call.disposition_set', resourceType: 'call', resourceId: callId, before: { disposition: before.disposition }, after: { disposition } });
    return present(signer, ctx.accountId, after!);
  });
}

/** Links the call to a job (the job's story records it) and/or a Chatwoot conversation (which gets a note). */
export async function linkCall(ctx: RequestContext, signer: UrlSigner, callId: string, input: { job_id?: string | null; conversation_id?: number | null }) {
  return write(ctx, async (trx, audit) => {
    const before = await loadCall(trx, ctx, callId, true);
    const changes: Record<string, unknown> = {};
    if (input.job_id !== undefined && input.job_id !== before.job_id) {
      if (input.job_id) {
        const job = await trx('jobs').where({ account_id: ctx.accountId, id: input.job_id }).first('id', 'number', 'summary');
        if (!job) throw new InvalidFieldsError('Unknown job', [{ field: 'job_id', message: 'No such job in this account', code: 'unknown_job' }]);
        await appendJobEvent(trx, ctx, job.id, 'call_linked', { call_id: callId, from: before.from_e164, status: before.status, started_at: before.started_at });
      }
      changes.job_id = input.job_id;
    }
    if (input.conversation_id !== undefined && input.conversation_id !== before.chatwoot_conversation_id) {
      changes.chatwoot_conversation_id = input.conversation_id;
      if (input.conversation_id) {
        const caller = (before.from_e164 as string | null) ?? 'a withheld number';
        const job = (changes.job_id ?? before.job_id) as string | null;
        const jobNumber = job ? (await trx('jobs').where({ account_id: ctx.accountId, id: job }).first('number'))?.number : null;
        await queueWriteBack(trx, ctx, input.conversation_id, [
          { kind: 'note', content: `Onelink · 📞 Call from ${caller} (${before.status}) linked to this conversation${jobNumber ? `, job ${jobReference(jobNumber)}` : ''}` },
        ]);
      }
    }
    if (!Object.keys(changes).length) {
      audit.nothingChanged();
      return present(signer, ctx.accountId, before);
    }
    const [after] = (await trx('calls').where({ account_id: ctx.accountId, id: callId }).update({ ...changes, updated_at: trx.fn.now() }).returning(columns)) as CallRow[];
    await audit({ action: 'call.linked', resourceType: 'call', resourceId: callId, before: { job_id: before.job_id, chatwoot_conversation_id: before.chatwoot_conversation_id }, after: changes });
    return present(signer, ctx.accountId, after!);
  });
}

/**
 * The recording behind a signed link, fetched from Twilio with the account's credentials.
 * Only Twilio's API host is ever asked (the URL came from a signed callback, but a server
 * should still not fetch arbitrary addresses on anyone's behalf).
 */
export async function openRecording(deps: { db: Knex; sealer: Sealer; urlSigner: UrlSigner; twilioApiUrl: string; timeoutMs: number }, token: string) {
  const claims = deps.urlSigner.verify(token);
  if (!claims || typeof claims.a !== 'number' || typeof claims.c !== 'string') return null;
  const accountId = claims.a;
  const found = await read({ db: deps.db, accountId }, async (trx) => ({
    call: await trx('calls').where({ account_id: accountId, id: claims.c }).first('recording_url', 'recording_sid'),
    settings: await trx('twilio_settings').where({ account_id: accountId }).first('account_sid', 'auth_token_sealed'),
  }));
  if (!found.call?.recording_url || !found.settings) return null;
  const url = new URL(`${found.call.recording_url as string}.mp3`);
  // Only this account's recordings on Twilio's API host.
  const expected = `/2010-04-01/Accounts/${found.settings.account_sid}/Recordings/`;
  if (url.origin !== new URL(deps.twilioApiUrl).origin || !url.pathname.startsWith(expected) || !/^RE[0-9a-f]{32}\.mp3$/.test(url.pathname.slice(expected.length))) return null;
  const auth = Buffer.from(`${found.settings.account_sid}:${deps.sealer.open(found.settings.auth_token_sealed)}`).toString('base64');
  // The timeout covers Twilio's answer, not the streaming of a long recording to the listener.
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), deps.timeoutMs);
  const response = await fetch(url, { headers: { Authorization: `Basic ${auth}` }, signal: abort.signal, redirect: 'follow' }).finally(() => clearTimeout(timer));
  if (!response.ok || !response.body) return { unavailable: response.status } as const;
  return {
    stream: Readable.fromWeb(response.body as import('node:stream/web').ReadableStream),
    contentType: response.headers.get('content-type') ?? 'audio/mpeg',
    length: response.headers.get('content-length'),
    sid: found.call.recording_sid as string,
  } as const;
}
