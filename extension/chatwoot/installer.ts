// Wires Onelink into one Chatwoot account with an administrator's token: the webhook (and its
// secret), the dashboard app, and the conversation attributes Onelink writes. Idempotent: what
// exists is reused; uninstall removes exactly these (found by our webhook URL, our app URL and
// our attribute keys).
import type { Knex } from 'knex';
import type { Sealer } from '../security/crypto.ts';
import { ChatwootError, chatwootRequest, normaliseBaseUrl, type AttributeDefinition, type AttributeDefinitionBody, type ChatwootTarget, type DashboardApp, type Webhook, type WebhookBody } from './client.ts';
import { ensureAccount, systemContext } from '../accounts/service.ts';
import { write } from '../db/tenant.ts';
import { InstallationError, registerInstallation } from './installations.ts';

/** Events Onelink subscribes to (contacts feed the contact cache; messages stamp activity). */
// contact_* are sent by Chatwoot and listed on its webhook object, but missing from this older
// document's create payload: the one place our types widen it.
export const webhookEvents = ['contact_created', 'contact_updated', 'conversation_created', 'conversation_updated', 'conversation_status_changed', 'message_created'] as const;
type WebhookCreate = Omit<WebhookBody, 'subscriptions'> & { subscriptions: Array<NonNullable<WebhookBody['subscriptions']>[number] | 'contact_created' | 'contact_updated'> };

/** Conversation attributes Onelink writes back (display type 0 = text, 6 = list). */
export const conversationAttributes: Array<AttributeDefinitionBody & { attribute_key: string }> = [
  { attribute_key: 'onelink_deal', attribute_display_name: 'Onelink deal', attribute_display_type: 0 },
  { attribute_key: 'onelink_deal_stage', attribute_display_name: 'Onelink deal stage', attribute_display_type: 0 },
  { attribute_key: 'onelink_deal_status', attribute_display_name: 'Onelink deal status', attribute_display_type: 6, attribute_values: ['open', 'won', 'lost'] },
  { attribute_key: 'onelink_job', attribute_display_name: 'Onelink job', attribute_display_type: 0 },
  { attribute_key: 'onelink_job_status', attribute_display_name: 'Onelink job status', attribute_display_type: 0 },
];

export interface InstallInput { chatwootUrl: string; accountId: number; token: string; publicUrl: string; timeoutMs: number }
export interface InstallReport { webhook: 'created' | 'existing'; signed: boolean; dashboardApp: 'created' | 'existing'; attributesCreated: string[]; webhookUrl: string }


/** The conversation sidebar, as Chatwoot frames it. */
const appUrl = (publicUrl: string, baseUrl: string, accountId: number, app = 'sidebar') =>
  `${publicUrl}/apps/${app}/?chatwoot=${encodeURIComponent(baseUrl)}&account=${accountId}`;
/** What earlier versions registered (the account page); replaced on install, removed on uninstall. */
const legacyAppUrls = (publicUrl: string, baseUrl: string, accountId: number) => [appUrl(publicUrl, baseUrl, accountId, 'account')];

function explain(err: unknown, input: Pick<InstallInput, 'chatwootUrl' | 'accountId'>): never {
  if (err instanceof ChatwootError && err.kind === 'unauthorized') {
    throw new InstallationError(`Chatwoot refused the token for account ${input.accountId}: use the access token of an administrator of that account.`);
  }
  if (err instanceof ChatwootError && err.kind === 'unreachable') {
    throw new InstallationError(`Chatwoot at ${input.chatwootUrl} could not be reached (${err.message}). Check the URL and that this machine can reach it.`);
  }
  throw err;
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
  await write(systemContext(db, ours.account_id), async (trx, audit) => {
    await trx('accounts').where({ account_id: ours.account_id }).update({ chatwoot_api_token_sealed: sealer.seal(input.token), updated_at: trx.fn.now() });
    await audit({ action: 'account.chatwoot_token_set', resourceType: 'account', resourceId: ours.account_id, after: { by: 'installer' } });
  });
  const target: ChatwootTarget = { baseUrl: installation.base_url, token: input.token, timeoutMs: input.timeoutMs };
  const account = `/api/v1/accounts/${input.accountId}`;
  const webhookUrl = `${input.publicUrl}/webhooks/chatwoot/${installation.webhook_path_token}`;
  try {
    const hooks = await chatwootRequest<Webhook[] | { payload?: Webhook[] }>(target, 'GET', `${account}/webhooks`);
    let hook = (Array.isArray(hooks) ? hooks : (hooks?.payload ?? [])).find((h) => h.url === webhookUrl);
    const webhook = hook ? 'existing' : 'created';
    const create: WebhookCreate = { url: webhookUrl, subscriptions: [...webhookEvents] };
    hook ??= await chatwootRequest<Webhook>(target, 'POST', `${account}/webhooks`, create);
    const secret = hook?.secret ?? null;
    if (secret) await db('installations').where({ id: installation.id }).update({ webhook_secret_sealed: sealer.seal(secret), updated_at: db.fn.now() });

    // --- dashboard_apps is not in Chatwoot's OpenAPI document; shape per REFERENCE.md. ---
    const url = appUrl(input.publicUrl, installation.base_url, input.accountId);
    const apps = await chatwootRequest<DashboardApp[]>(target, 'GET', `${account}/dashboard_apps`);
    const dashboardApp = (apps ?? []).some((a) => a.content?.some((c) => c.url === url)) ? 'existing' : 'created';
    if (dashboardApp === 'created') await chatwootRequest(target, 'POST', `${account}/dashboard_apps`, { title: 'Onelink', content: [{ type: 'frame', url }] } satisfies Omit<DashboardApp, 'id'>);
    const legacy = legacyAppUrls(input.publicUrl, installation.base_url, input.accountId);
    for (const old of (apps ?? []).filter((a) => a.content?.some((c) => legacy.includes(c.url)))) await chatwootRequest(target, 'DELETE', `${account}/dashboard_apps/${old.id}`);

    const existing = await chatwootRequest<AttributeDefinition[]>(target, 'GET', `${account}/custom_attribute_definitions?attribute_model=0`);
    const attributesCreated: string[] = [];
    for (const definition of conversationAttributes) {
      if ((existing ?? []).some((d) => d.attribute_key === definition.attribute_key)) continue;
      const body: AttributeDefinitionBody = { ...definition, attribute_model: 0 };
      await chatwootRequest(target, 'POST', `${account}/custom_attribute_definitions`, body);
      attributesCreated.push(definition.attribute_key);
    }
    const signed = Boolean(secret) || Boolean(await db('installations').where({ id: installation.id }).first('webhook_secret_sealed').then((r) => r?.webhook_secret_sealed));
    return { webhook, signed, dashboardApp, attributesCreated, webhookUrl };
  } catch (err) {
    explain(err, input);
  }
}

export async function uninstall(db: Knex, input: InstallInput): Promise<{ removed: string[] }> {
  const installation = await db('installations').where({ base_url: normaliseBaseUrl(input.chatwootUrl) }).first();
  if (!installation) throw new InstallationError(`${input.chatwootUrl} is not connected to this Onelink.`);
  const target: ChatwootTarget = { baseUrl: installation.base_url, token: input.token, timeoutMs: input.timeoutMs };
  const account = `/api/v1/accounts/${input.accountId}`;
  const removed: string[] = [];
  try {
    const webhookUrl = `${input.publicUrl}/webhooks/chatwoot/${installation.webhook_path_token}`;
    const hooks = await chatwootRequest<Webhook[]>(target, 'GET', `${account}/webhooks`);
    for (const hook of (hooks ?? []).filter((h) => h.url === webhookUrl)) {
      await chatwootRequest(target, 'DELETE', `${account}/webhooks/${hook.id}`);
      removed.push(`webhook ${hook.id}`);
    }
    const ours = [appUrl(input.publicUrl, installation.base_url, input.accountId), ...legacyAppUrls(input.publicUrl, installation.base_url, input.accountId)];
    for (const app of ((await chatwootRequest<DashboardApp[]>(target, 'GET', `${account}/dashboard_apps`)) ?? []).filter((a) => a.content?.some((c) => ours.includes(c.url)))) {
      await chatwootRequest(target, 'DELETE', `${account}/dashboard_apps/${app.id}`);
      removed.push(`dashboard app ${app.id}`);
    }
    const keys = conversationAttributes.map((a) => a.attribute_key);
    for (const definition of ((await chatwootRequest<AttributeDefinition[]>(target, 'GET', `${account}/custom_attribute_definitions?attribute_model=0`)) ?? []).filter((d) => keys.includes(d.attribute_key))) {
      await chatwootRequest(target, 'DELETE', `${account}/custom_attribute_definitions/${definition.id}`);
      removed.push(`attribute ${definition.attribute_key}`);
    }
  } catch (err) {
    explain(err, input);
  }
  return { removed };
}
