// The command line's erase and export of a person (npm run onelink -- forget-contact / export-contact):
// the account is named as Chatwoot names it (the number in /app/accounts/<id>/…), and the work runs
// in a system context, so the audit trail says the command line acted.
import readline from 'node:readline/promises';
import type { Knex } from 'knex';
import { normaliseBaseUrl } from '../chatwoot/client.ts';
import { ConfigError } from '../config.ts';
import { systemContext } from '../db/tenant.ts';
import { NotFoundError } from '../errors.ts';
import type { Services } from '../services.ts';
import { exportContact } from './export.ts';
import { forgetContact } from './service.ts';

const whole = (value: string | undefined) => (value !== undefined && /^[1-9][0-9]{0,15}$/.test(value) ? Number(value) : null);

/** Our account for a Chatwoot account id (and Chatwoot, when several are connected and share the id). */
async function accountFor(db: Knex, chatwootAccountId: number, chatwootUrl: string | undefined): Promise<number> {
  const query = db('accounts as a').join('installations as i', 'i.id', 'a.installation_id').where('a.chatwoot_account_id', chatwootAccountId);
  if (chatwootUrl) query.andWhere('i.base_url', normaliseBaseUrl(chatwootUrl));
  const rows = (await query.select('a.account_id', 'i.base_url')) as Array<{ account_id: number; base_url: string }>;
  if (!rows.length) throw new ConfigError(`No connected Chatwoot account ${chatwootAccountId}${chatwootUrl ? ` at ${chatwootUrl}` : ''} (npm run onelink -- installation list)`);
  if (rows.length > 1) throw new ConfigError(`Several connected Chatwoots have an account ${chatwootAccountId} (${rows.map((r) => r.base_url).join(', ')}): name one with --chatwoot-url`);
  return rows[0]!.account_id;
}

export interface PersonCommand {
  account?: string;
  contact?: string;
  chatwootUrl?: string;
  yes?: boolean;
}

async function contextFor(db: Knex, input: PersonCommand, process: string) {
  const chatwootAccountId = whole(input.account);
  const contactId = whole(input.contact);
  if (chatwootAccountId === null || contactId === null) throw new ConfigError('--account (the Chatwoot account id) and --contact (the Chatwoot contact id) take whole numbers and are required');
  return { ctx: await systemContext(db, await accountFor(db, chatwootAccountId, input.chatwootUrl), process), contactId, chatwootAccountId };
}

const unknownContact = (contactId: number, chatwootAccountId: number) => new ConfigError(`Onelink holds nothing about contact ${contactId} in account ${chatwootAccountId}`);

/** Prints the person's data as JSON. */
export async function exportContactCommand(services: Pick<Services, 'db' | 'urlSigner' | 'config'>, input: PersonCommand) {
  const { ctx, contactId, chatwootAccountId } = await contextFor(services.db, input, 'cli:export-contact');
  try {
    console.log(JSON.stringify(await exportContact(services, ctx, contactId), null, 2));
  } catch (err) {
    throw err instanceof NotFoundError ? unknownContact(contactId, chatwootAccountId) : err;
  }
}

/** Erases the person after a confirmation (typed, or --yes); prints what went. */
export async function forgetContactCommand(services: Pick<Services, 'db' | 'files' | 'sealer' | 'config'>, input: PersonCommand) {
  const { ctx, contactId, chatwootAccountId } = await contextFor(services.db, input, 'cli:forget-contact');
  if (!input.yes) {
    if (!process.stdin.isTTY) throw new ConfigError('Erasing cannot be undone: pass --yes to confirm');
    const prompt = readline.createInterface({ input: process.stdin, output: process.stdout });
    const answer = await prompt.question(`Erase contact ${contactId} of account ${chatwootAccountId} from Onelink? This cannot be undone. Type the contact id to confirm: `);
    prompt.close();
    if (answer.trim() !== String(contactId)) throw new ConfigError('Not confirmed: nothing was erased');
  }
  let erasure: Awaited<ReturnType<typeof forgetContact>>;
  try {
    erasure = await forgetContact(services, ctx, contactId);
  } catch (err) {
    throw err instanceof NotFoundError ? unknownContact(contactId, chatwootAccountId) : err;
  }
  const counted = Object.entries(erasure.counts).filter(([, n]) => n > 0);
  console.log(`${erasure.already_erased ? 'Contact was erased before; erased now' : 'Erased'}: ${counted.length ? counted.map(([kind, n]) => `${kind.replace(/_/g, ' ')} ${n}`).join(', ') : 'nothing more'}.`);
  const redacted = erasure.redacted_in_trails;
  if (redacted.audit_events || redacted.job_events) console.log(`Redacted the person from ${redacted.audit_events} earlier audit events and ${redacted.job_events} job events.`);
  if (erasure.files_not_removed) console.log(`${erasure.files_not_removed} stored file(s) could not be removed; their records are gone.`);
  if (erasure.recordings_left_at_twilio.length) console.log(`Recordings still at Twilio (remove them in Twilio's console): ${erasure.recordings_left_at_twilio.join(', ')}.`);
  console.log('If the person still exists in Chatwoot, erase them there too.');
}
