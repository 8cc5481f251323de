// Wires Onelink into one Chatwoot account with an administrator's token: the webhook (and its
// secret), the dashboard app, and the conversation attributes Onelink writes. Idempotent: what
// exists is reused; uninstall removes exactly these (found by our webhook URL, our app URL and
// our attribute keys). After installing, `checkRoundTrip` proves that Chatwoot's signed
// deliveries actually arrive and verify.
import type { Knex } from 'knex';
import { randomToken, type Sealer } from '../security/crypto.ts';
import { connectionCheckDedupeKey, connectionCheckPrefix, refusalTotals, signatureReasons, type RefusalReason } from '../../webhooks/chatwoot/receipt-health.ts';
import { ChatwootError, chatwootApi, deleteContact, normaliseBaseUrl, type AttributeDefinitionBody, type ChatwootTarget, type ContactCreateBody, type WebhookBody } from './client.ts';
import { answer, done, type ChatwootApi } from './sdk.ts';
import type { WebhookWithSecret } from './spec/missing.ts';
import { ensureAccount, setupContext } from '../accounts/service.ts';
import { systemContext, write } from '../db/tenant.ts';
import { InstallationError, registerInstallation } from './installations.ts';
import { ensureClientInbox } from './client-inbox.ts';
import { ensureVendorInbox } from './vendor-inbox.ts';

/** Events Onelink subscribes to (contacts feed the contact cache; messages stamp activity; message updates report customer notifications that failed on their channel). */
// contact_* are sent by Chatwoot and listed on its webhook object, but missing from this older
// document's create payload (widened in spec/missing.ts).
export const webhookEvents = ['contact_created', 'contact_updated', 'conversation_created', 'conversation_updated', 'conversation_status_changed', 'message_created', 'message_updated'] as const satisfies WebhookBody['subscriptions'];

/** Conversation attributes Onelink writes back (display type 0 = text, 6 = list). */
export const conversationAttributes: Array<AttributeDefinitionBody & { attribute_key: string }> = [
  { attribute_key: 'onelink_deal', attribute_display_name: 'Onelink deal', attribute_display_type: 0 },
  { attribute_key: 'onelink_deal_stage', attribute_display_name: 'Onelink deal stage', attribute_display_type: 0 },
  { attribute_key: 'onelink_deal_status', attribute_display_name: 'Onelink deal status', attribute_display_type: 6, attribute_values: ['open', 'won', 'lost'] },
  { attribute_key: 'onelink_job', attribute_display_name: 'Onelink job', attribute_display_type: 0 },
  { attribute_key: 'onelink_job_status', attribute_display_name: 'Onelink job status', attribute_display_type: 0 },
];

export interface InstallInput { chatwootUrl: string; accountId: number; token: string; publicUrl: string; timeoutMs: number }
export interface InstallReport {
  installationId: string;
  webhook: 'created' | 'existing';
  signed: boolean;
  dashboardApp: 'created' | 'existing';
  attributesCreated: string[];
  webhookUrl: string;
  /** Our webhooks at an older address (Onelink moved), removed in favour of `webhookUrl`. */
  webhooksReplaced: string[];
  /** The "Vendors" API-channel inbox of the vendor portal's messages (only where the vendor portal is on; otherwise its first message sets it up). */
  vendorInbox: 'created' | 'found' | 'existing' | 'not_needed';
  /** The "Client portal" API-channel inbox of clients' portal messages (only where the client portal is on; otherwise its first message sets it up). */
  clientInbox: 'created' | 'found' | 'existing' | 'not_needed';
}


/** The conversation sidebar, as Chatwoot frames it. */
const appUrl = (publicUrl: string, baseUrl: string, accountId: number, app = 'sidebar') =>
  `${publicUrl}/apps/${app}/?chatwoot=${encodeURIComponent(baseUrl)}&account=${accountId}`;
/** What earlier versions registered (the account page); replaced on install, removed on uninstall. */
const legacyAppUrls = (publicUrl: string, baseUrl: string, accountId: number) => [appUrl(publicUrl, baseUrl, accountId, 'account')];

/** Why a request got no answer, in a few words ("connection refused", "no answer within 2 s"). */
export function unreachableReason(err: ChatwootError, timeoutMs: number): string {
  if (err.status) return `it answered ${err.status}`;
  const cause = err.cause as (Error & { cause?: { code?: string; message?: string } }) | undefined;
  if (cause?.name === 'TimeoutError' || cause?.name === 'AbortError') return `no answer within ${timeoutMs / 1000} s`;
  const code = cause?.cause?.code;
  const byCode: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ENOTFOUND: 'host not found',
    EAI_AGAIN: 'host name lookup failed',
    ECONNRESET: 'connection reset',
    ETIMEDOUT: 'connection timed out',
    EHOSTUNREACH: 'host unreachable',
    ENETUNREACH: 'network unreachable',
  };
  if (code && byCode[code]) return byCode[code];
  if (code && /CERT|SSL|TLS/.test(code)) return `TLS certificate problem: ${code}`;
  if (cause?.message === 'fetch failed' && cause.cause?.message) return cause.cause.message;
  return cause?.message ?? 'network error';
}

function explain(err: unknown, input: Pick<InstallInput, 'chatwootUrl' | 'accountId' | 'timeoutMs'>): never {
  if (err instanceof ChatwootError && err.kind === 'unauthorized') {
    throw new InstallationError(`Chatwoot refused the token for account ${input.accountId}: use the access token of an administrator of that account.`);
  }
  if (err instanceof ChatwootError && err.kind === 'outcome_unknown') {
    throw new InstallationError(`Chatwoot at ${input.chatwootUrl} did not answer in time (${unreachableReason(err, input.timeoutMs)}), so part of the set-up may be done. Run the installer again: it reuses what exists.`);
  }
  if (err instanceof ChatwootError && err.kind === 'unreachable') {
    // Said once: the client's own message repeats "could not be reached", the reason is what helps.
    throw new InstallationError(`Chatwoot at ${input.chatwootUrl} could not be reached (${unreachableReason(err, input.timeoutMs)}). Check the URL and that this machine can reach it.`);
  }
  throw err;
}

/** The account's webhooks with an id and a URL (newer Chatwoots wrap the list in { payload }). */
async function listWebhooks(api: ChatwootApi, accountId: number) {
  const hooks = await answer(api.GET('/api/v1/accounts/{account_id}/webhooks', { params: { path: { account_id: accountId } } }), 'GET webhooks');
  return (Array.isArray(hooks) ? hooks : (hooks.payload ?? [])).filter((h): h is typeof h & { id: number; url: string } => typeof h.id === 'number' && typeof h.url === 'string');
}
const deleteWebhook = (api: ChatwootApi, accountId: number, webhookId: number) =>
  done(api.DELETE('/api/v1/accounts/{account_id}/webhooks/{webhook_id}', { params: { path: { account_id: accountId, webhook_id: webhookId } } }), 'DELETE webhook');
const deleteDashboardApp = (api: ChatwootApi, accountId: number, id: number) =>
  done(api.DELETE('/api/v1/accounts/{account_id}/dashboard_apps/{id}', { params: { path: { account_id: accountId, id } } }), 'DELETE dashboard_app');
/** The account's conversation attribute definitions (attribute_model 0) that carry an id. */
async function conversationAttributeDefinitions(api: ChatwootApi, accountId: number) {
  const list = await answer(api.GET('/api/v1/accounts/{account_id}/custom_attribute_definitions', { params: { path: { account_id: accountId }, query: { attribute_model: '0' } } }), 'GET custom_attribute_definitions');
  return list.filter((d) => typeof d.id === 'number');
}

export async function install(db: Knex, sealer: Sealer, input: InstallInput): Promise<InstallReport> {
  let installation;
  try {
    installation = await registerInstallation(db, sealer, { chatwootUrl: input.chatwootUrl, apiToken: input.token, timeoutMs: input.timeoutMs });
  } catch (err) {
    explain(err, input);
  }
  if (!installation.administratorOf.includes(input.accountId)) {
    throw new InstallationError(`This token's user is not an administrator of Chatwoot account ${input.accountId} (administrator of: ${installation.administratorOf.join(', ')}).`);
  }
  // Write-backs to this account act with this account's administrator token.
  const ours = await ensureAccount(db, installation.id, { id: input.accountId, name: `Account ${input.accountId}` }, null);
  await write(setupContext(db, ours.account_id), async (trx, audit) => {
    await trx('accounts').where({ account_id: ours.account_id }).update({ chatwoot_api_token_sealed: sealer.seal(input.token), updated_at: trx.fn.now() });
    await audit({ action: 'account.chatwoot_token_set', resourceType: 'account', resourceId: ours.account_id, after: { by: 'installer' } });
  });
  const api = chatwootApi({ baseUrl: installation.base_url, token: input.token, timeoutMs: input.timeoutMs });
  const account = { params: { path: { account_id: input.accountId } } };
  const webhookUrl = `${input.publicUrl}/webhooks/chatwoot/${installation.webhook_path_token}`;
  try {
    const listed = await listWebhooks(api, input.accountId);
    let hook: WebhookWithSecret | undefined = listed.find((h) => h.url === webhookUrl);
    const webhook = hook ? 'existing' : 'created';
    hook ??= await answer(api.POST('/api/v1/accounts/{account_id}/webhooks', { ...account, body: { url: webhookUrl, subscriptions: [...webhookEvents] } }), 'POST webhooks');
    // A webhook made by an older Onelink may lack events added since (message_updated tells us a
    // WhatsApp message failed): Chatwoot replaces the list, so the union is sent.
    const missing = webhookEvents.filter((e) => !(hook!.subscriptions ?? []).includes(e));
    if (webhook === 'existing' && missing.length && hook.id) {
      const subscriptions = [...new Set([...(hook.subscriptions ?? []), ...webhookEvents])] as NonNullable<WebhookWithSecret['subscriptions']>;
      await done(api.PATCH('/api/v1/accounts/{account_id}/webhooks/{webhook_id}', { params: { path: { account_id: input.accountId, webhook_id: hook.id } }, body: { url: webhookUrl, subscriptions } }), 'PATCH webhook');
    }
    // Ours at an older public address (the path token is this installation's): Chatwoot would keep
    // delivering there, to nothing, so the new one replaces it.
    const webhooksReplaced: string[] = [];
    for (const old of listed.filter((h) => h.url !== webhookUrl && h.url.endsWith(`/webhooks/chatwoot/${installation.webhook_path_token}`))) {
      await deleteWebhook(api, input.accountId, old.id);
      webhooksReplaced.push(old.url);
    }
    const secret = hook?.secret ?? null;
    // The URL as Chatwoot now holds it: `installation list` shows it, whatever PUBLIC_URL says later.
    await db('installations')
      .where({ id: installation.id })
      .update({
        // Each account's webhook has its own secret; an installation keeps them all (by account id).
        ...(secret
          ? { webhook_secret_sealed: sealer.seal(secret), webhook_secrets_sealed: db.raw(`webhook_secrets_sealed || jsonb_build_object(?::text, ?::text)`, [String(input.accountId), sealer.seal(secret)]) }
          : {}),
        webhook_url: hook?.url ?? webhookUrl,
        webhook_registered_at: db.fn.now(),
        updated_at: db.fn.now(),
      });

    // dashboard_apps is not in Chatwoot's OpenAPI document: typed in spec/missing.ts (REFERENCE.md).
    const url = appUrl(input.publicUrl, installation.base_url, input.accountId);
    const apps = await answer(api.GET('/api/v1/accounts/{account_id}/dashboard_apps', account), 'GET dashboard_apps');
    const dashboardApp = apps.some((a) => a.content?.some((c) => c.url === url)) ? 'existing' : 'created';
    if (dashboardApp === 'created') await done(api.POST('/api/v1/accounts/{account_id}/dashboard_apps', { ...account, body: { title: 'Onelink', content: [{ type: 'frame', url }] } }), 'POST dashboard_apps');
    const legacy = legacyAppUrls(input.publicUrl, installation.base_url, input.accountId);
    for (const old of apps.filter((a) => a.content?.some((c) => legacy.includes(c.url)))) await deleteDashboardApp(api, input.accountId, old.id);

    const existing = await conversationAttributeDefinitions(api, input.accountId);
    const attributesCreated: string[] = [];
    for (const definition of conversationAttributes) {
      if (existing.some((d) => d.attribute_key === definition.attribute_key)) continue;
      const body: AttributeDefinitionBody = { ...definition, attribute_model: 0 };
      await done(api.POST('/api/v1/accounts/{account_id}/custom_attribute_definitions', { ...account, body }), 'POST custom_attribute_definitions');
      attributesCreated.push(definition.attribute_key);
    }
    // Kept on uninstall: its conversations are the vendors' message history.
    const ctx = await systemContext(db, ours.account_id, 'installer');
    const vendorInbox = ctx.capabilities.has('portal.vendor')
      ? (await ensureVendorInbox(ctx, sealer, { baseUrl: installation.base_url, token: input.token, timeoutMs: input.timeoutMs }, input.accountId)).outcome
      : 'not_needed';
    // Kept on uninstall too: its conversations are clients' message history.
    const clientInbox = ctx.capabilities.has('portal.client')
      ? (await ensureClientInbox(ctx, sealer, { baseUrl: installation.base_url, token: input.token, timeoutMs: input.timeoutMs }, input.accountId)).outcome
      : 'not_needed';
    const signed = Boolean(secret) || Boolean(await db('installations').where({ id: installation.id }).first('webhook_secret_sealed').then((r) => r?.webhook_secret_sealed));
    return { installationId: installation.id, webhook, signed, dashboardApp, attributesCreated, webhookUrl, webhooksReplaced, vendorInbox, clientInbox };
  } catch (err) {
    explain(err, input);
  }
}

export async function uninstall(db: Knex, input: InstallInput): Promise<{ removed: string[] }> {
  const installation = await db('installations').where({ base_url: normaliseBaseUrl(input.chatwootUrl) }).first();
  if (!installation) throw new InstallationError(`${input.chatwootUrl} is not connected to this Onelink.`);
  const api = chatwootApi({ baseUrl: installation.base_url, token: input.token, timeoutMs: input.timeoutMs });
  const removed: string[] = [];
  try {
    const webhookUrl = `${input.publicUrl}/webhooks/chatwoot/${installation.webhook_path_token}`;
    // Ours wherever Onelink was reachable when it was registered: the path token is this installation's.
    for (const hook of (await listWebhooks(api, input.accountId)).filter((h) => h.url === webhookUrl || h.url.endsWith(`/webhooks/chatwoot/${installation.webhook_path_token}`))) {
      await deleteWebhook(api, input.accountId, hook.id);
      removed.push(`webhook ${hook.id}`);
    }
    if (removed.length) {
      await db('installations')
        .where({ id: installation.id })
        .update({ webhook_url: null, webhook_registered_at: null, webhook_secrets_sealed: db.raw(`webhook_secrets_sealed - ?::text`, [String(input.accountId)]) });
    }
    const ours = [appUrl(input.publicUrl, installation.base_url, input.accountId), ...legacyAppUrls(input.publicUrl, installation.base_url, input.accountId)];
    const apps = await answer(api.GET('/api/v1/accounts/{account_id}/dashboard_apps', { params: { path: { account_id: input.accountId } } }), 'GET dashboard_apps');
    for (const app of apps.filter((a) => a.content?.some((c) => ours.includes(c.url)))) {
      await deleteDashboardApp(api, input.accountId, app.id);
      removed.push(`dashboard app ${app.id}`);
    }
    const keys = conversationAttributes.map((a) => a.attribute_key);
    for (const definition of (await conversationAttributeDefinitions(api, input.accountId)).filter((d) => keys.includes(d.attribute_key ?? ''))) {
      await done(
        api.DELETE('/api/v1/accounts/{account_id}/custom_attribute_definitions/{id}', { params: { path: { account_id: input.accountId, id: definition.id! } } }),
        'DELETE custom_attribute_definitions',
      );
      removed.push(`attribute ${definition.attribute_key}`);
    }
  } catch (err) {
    explain(err, input);
  }
  return { removed };
}

// --- The round trip: does Chatwoot's signed delivery reach us and verify? ---

export interface RoundTripInput extends InstallInput {
  /** How long to wait for the delivery. */
  waitMs: number;
  /** How often to look (tests use less). */
  pollMs?: number;
}

export interface RoundTripReport { ms: number; signed: boolean }

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const increase = (before: Partial<Record<RefusalReason, number>>, after: Partial<Record<RefusalReason, number>>, reasons: readonly RefusalReason[]) =>
  reasons.reduce((sum, r) => sum + (after[r] ?? 0) - (before[r] ?? 0), 0);

/**
 * Creates a throw-away contact ("Onelink connection check …") in the account, waits for
 * Chatwoot's delivery of it to arrive and verify at our webhook (the running service records it
 * in the database this installer uses), then deletes the contact. Throws an InstallationError
 * saying plainly what failed: the signature (chatwoot/chatwoot#13809), the clock, or nothing
 * arriving at all.
 */
export async function checkRoundTrip(db: Knex, input: RoundTripInput, report: Pick<InstallReport, 'installationId' | 'webhookUrl' | 'signed'>): Promise<RoundTripReport> {
  const started = Date.now();
  const nonce = randomToken(12);
  const key = connectionCheckDedupeKey(nonce);
  const before = await refusalTotals(db, report.installationId);
  const target: ChatwootTarget = { baseUrl: normaliseBaseUrl(input.chatwootUrl), token: input.token, timeoutMs: input.timeoutMs };
  // No inbox: Chatwoot then creates the bare contact (its spec marks inbox_id required, its controller does not).
  const body: ContactCreateBody = { name: `Onelink connection check ${nonce}`, identifier: `${connectionCheckPrefix}${nonce}` };
  let contactId: number | undefined;
  try {
    const created = await answer(chatwootApi(target).POST('/api/v1/accounts/{account_id}/contacts', { params: { path: { account_id: input.accountId } }, body }), 'POST contacts');
    contactId = created.payload?.contact?.id;
  } catch (err) {
    explain(err, input);
  }
  try {
    for (;;) {
      const arrived = await db('webhook_deliveries').where({ installation_id: report.installationId, source: 'chatwoot', dedupe_key: key }).first('id');
      if (arrived) return { ms: Date.now() - started, signed: report.signed };
      const now = await refusalTotals(db, report.installationId);
      if (increase(before, now, signatureReasons) > 0) {
        throw new InstallationError(
          `Chatwoot's deliveries are failing the signature check: the secret stored here is not the one Chatwoot signs with (see chatwoot/chatwoot#13809). ` +
            `Every event is refused, and Chatwoot does not send it again. Delete the Onelink webhook in Chatwoot (Settings → Integrations → Webhooks: ${report.webhookUrl}) ` +
            `and run the installer again, so that Chatwoot issues a new secret and Onelink keeps it.`,
        );
      }
      if (increase(before, now, ['stale_timestamp']) > 0) {
        throw new InstallationError(`Chatwoot's deliveries arrive with a timestamp more than 5 minutes off this server's clock and are refused: set the clocks of both servers right (NTP).`);
      }
      if (increase(before, now, ['invalid_body']) > 0) {
        throw new InstallationError(`Chatwoot's delivery arrived signed but its body could not be stored (NUL bytes): look at what sits between Chatwoot and ${report.webhookUrl}.`);
      }
      if (Date.now() - started >= input.waitMs) break;
      await sleep(Math.min(input.pollMs ?? 250, Math.max(1, input.waitMs - (Date.now() - started))));
    }
  } finally {
    if (contactId !== undefined) await deleteContact(target, input.accountId, contactId).catch(() => undefined);
  }
  throw new InstallationError(
    `No delivery arrived within ${Math.round(input.waitMs / 1000)} s: check that Chatwoot can reach ${report.webhookUrl} ` +
      `(Chatwoot 4.14+ refuses private addresses unless SAFE_FETCH_ALLOW_PRIVATE_NETWORK=true) and that the Onelink service answering there uses this database.`,
  );
}

/**
 * Whether an Onelink service is connected to this database to receive deliveries: its delivery
 * worker holds a listening connection named `onelink-deliveries`.
 */
export async function serviceIsConnected(db: Knex): Promise<boolean> {
  const { rows } = await db.raw<{ rows: Array<{ n: number }> }>(`select count(*)::int as n from pg_stat_activity where datname = current_database() and application_name = 'onelink-deliveries'`);
  return (rows[0]?.n ?? 0) > 0;
}
