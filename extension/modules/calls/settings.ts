// An account's Twilio connection (credentials sealed at rest), its call routing defaults, and
// its numbers, each with a location and optionally its own forwarding.
import { smsWebhookUrls } from '../../notifications/channels/sms.ts';
import type { Knex } from 'knex';
import { randomToken, type Sealer } from '../../security/crypto.ts';
import type { RequestContext } from '../../context.ts';
import { read, write } from '../../db/tenant.ts';
import { ConflictError, InvalidFieldsError, NotFoundError, withReferenceFields } from '../../errors.ts';

export const jobRules = ['never', 'missed', 'voicemail', 'missed_or_voicemail'] as const;
export type JobRule = (typeof jobRules)[number];

export interface TwilioSettingsRow {
  account_sid: string;
  auth_token_sealed: string;
  webhook_token: string;
  forward_to: string[];
  ring_timeout_seconds: number;
  voicemail_enabled: boolean;
  voicemail_greeting: string | null;
  transcribe_voicemail: boolean;
  chatwoot_inbox_id: number | null;
  create_job_on: JobRule;
  callback_due_minutes: number;
  callback_assignee_id: string | null;
  callback_team_id: number | null;
}

export interface TwilioSettingsInput {
  account_sid: string;
  auth_token?: string;
  forward_to: string[];
  ring_timeout_seconds?: number;
  voicemail_enabled?: boolean;
  voicemail_greeting?: string | null;
  transcribe_voicemail?: boolean;
  chatwoot_inbox_id?: number | null;
  create_job_on?: JobRule;
  callback_due_minutes?: number;
  callback_assignee_id?: string | null;
  callback_team_id?: number | null;
}

/**
 * The addresses to paste into Twilio: the number's voice URL and its status callback; when another
 * app (Studio, an IVR) takes the calls, its recording and transcription callbacks can point at the
 * last two, which is what lets Onelink know a voicemail was left.
 */
export function webhookUrls(publicUrl: string, accountId: number, token: string) {
  const base = `${publicUrl}/webhooks/twilio/${accountId}/${token}`;
  // With the SMS addresses: "A message comes in" for STOP/START (status callbacks go with each message).
  return { voice: `${base}/voice`, status_callback: `${base}/status`, recording_status_callback: `${base}/recording`, transcribe_callback: `${base}/transcription`, ...smsWebhookUrls(publicUrl, accountId, token) };
}

function present(row: TwilioSettingsRow, publicUrl: string, accountId: number) {
  const { auth_token_sealed: _t, webhook_token: token, ...shown } = row;
  return { ...shown, auth_token_set: true, webhook_urls: webhookUrls(publicUrl, accountId, token) };
}

export async function loadTwilioSettings(trx: Knex.Transaction, accountId: number): Promise<TwilioSettingsRow | undefined> {
  return trx('twilio_settings').where({ account_id: accountId }).first();
}

export async function getTwilioSettings(ctx: RequestContext, publicUrl: string) {
  const row = await read(ctx, (trx) => loadTwilioSettings(trx, ctx.accountId));
  return row ? present(row, publicUrl, ctx.accountId) : null; // not connected yet
}

export async function saveTwilioSettings(ctx: RequestContext, sealer: Sealer, publicUrl: string, input: TwilioSettingsInput) {
  return withReferenceFields(
    () =>
      write(ctx, async (trx, audit) => {
        const before = await loadTwilioSettings(trx, ctx.accountId);
        if (!before && !input.auth_token) {
          throw new InvalidFieldsError('The auth token is needed to connect Twilio', [{ field: 'auth_token', message: 'Required the first time', code: 'required' }]);
        }
        const { auth_token: authToken, ...fields } = input;
        const values = { ...fields, ...(authToken ? { auth_token_sealed: sealer.seal(authToken) } : {}) };
        const [row] = (await trx('twilio_settings')
          .insert({ account_id: ctx.accountId, webhook_token: randomToken(24), ...values, auth_token_sealed: values.auth_token_sealed ?? before!.auth_token_sealed })
          .onConflict('account_id')
          .merge({ ...values, updated_at: trx.fn.now() })
          .returning('*')) as TwilioSettingsRow[];
        const shown = (r: TwilioSettingsRow | undefined) => r && { ...r, auth_token_sealed: undefined, webhook_token: undefined };
        await audit({
          action: before ? 'twilio_settings.updated' : 'twilio_settings.created',
          resourceType: 'twilio_settings',
          resourceId: ctx.accountId,
          before: shown(before) ?? null,
          after: { ...shown(row), auth_token_changed: Boolean(authToken) },
        });
        return present(row!, publicUrl, ctx.accountId);
      }),
    { callback_assignee_id: { field: 'callback_assignee_id', message: 'Must be an agent of this account', code: 'unknown_assignee' } },
  );
}

const numberColumns = ['id', 'e164', 'label', 'location', 'forward_to', 'ring_timeout_seconds', 'created_at', 'updated_at'];

export async function listNumbers(ctx: RequestContext) {
  return read(ctx, (trx) => trx('twilio_numbers').where({ account_id: ctx.accountId }).orderBy(['location', 'e164']).select(numberColumns));
}

export async function addNumber(ctx: RequestContext, input: { e164: string; label?: string | null; location?: string | null; forward_to?: string[] | null; ring_timeout_seconds?: number | null }) {
  try {
    return await write(ctx, async (trx, audit) => {
      const [row] = await trx('twilio_numbers').insert({ account_id: ctx.accountId, ...input }).returning(numberColumns);
      await audit({ action: 'twilio_number.added', resourceType: 'twilio_number', resourceId: row.id, after: { ...row } });
      return row;
    });
  } catch (err) {
    if ((err as { code?: string }).code === '23505') throw new ConflictError('number_exists', 'This number is already registered in this account');
    throw err;
  }
}

export async function removeNumber(ctx: RequestContext, numberId: string) {
  return write(ctx, async (trx, audit) => {
    const [row] = await trx('twilio_numbers').where({ account_id: ctx.accountId, id: numberId }).delete().returning(numberColumns);
    if (!row) throw new NotFoundError('Number');
    await audit({ action: 'twilio_number.removed', resourceType: 'twilio_number', resourceId: numberId, before: { ...row } });
    return { id: numberId, deleted: true };
  });
}

/** Forwarding for a call to `to`: the number's own, else the account's. */
export async function routingFor(trx: Knex.Transaction, accountId: number, settings: TwilioSettingsRow, to: string | null) {
  // Twilio sends E.164; anything else (a NUL, say) cannot name one of our numbers and must not reach SQL.
  const number = to && /^\+\d{6,15}$/.test(to) ? await trx('twilio_numbers').where({ account_id: accountId, e164: to }).first('forward_to', 'ring_timeout_seconds', 'location') : undefined;
  return {
    forwardTo: number?.forward_to?.length ? (number.forward_to as string[]) : settings.forward_to,
    timeout: (number?.ring_timeout_seconds as number | null) ?? settings.ring_timeout_seconds,
    location: (number?.location as string | null) ?? null,
  };
}
