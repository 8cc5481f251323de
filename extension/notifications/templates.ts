// Customer messages: one text per client event, which an account may rewrite per language. A text
// names variables in braces; unknown names are refused when saved, and a variable with no value
// (no ETA given) is left out of the sentence it stands in.
import type { Knex } from 'knex';
import { eventNames, catalogue, type EventName } from './catalogue.ts';

export const templateVariables = ['job_reference', 'window', 'vendor_first_name', 'eta', 'portal_link', 'account_name', 'customer_name'] as const;
export type TemplateVariable = (typeof templateVariables)[number];
export type TemplateValues = Partial<Record<TemplateVariable, string>>;

export const customerEvents = eventNames.filter((e) => catalogue[e].audience === 'client');

/** The built-in texts (English). An account's own text, in its language, replaces one. */
export const defaultTemplates: Record<string, string> = {
  'client.request_received': 'Hi {customer_name}, we received your request ({job_reference}). We will let you know when a visit is scheduled. Follow it here: {portal_link}',
  'client.visit_scheduled': 'Your visit for {job_reference} is scheduled for {window}. Details: {portal_link}',
  'client.technician_on_the_way': '{vendor_first_name} is on the way for {job_reference}. Expected arrival: {eta}.',
  'client.job_completed': 'Your job {job_reference} is complete. Thank you for choosing {account_name}! Photos and documents: {portal_link}',
  'client.document_shared': 'A new document for {job_reference} has been shared with you: {portal_link}',
};

const placeholder = /\{([a-z_]+)\}/g;

/** Variable names a text uses that do not exist (for a clear 422 when an admin saves it). */
export function unknownVariables(body: string): string[] {
  return [...body.matchAll(placeholder)].map((m) => m[1]!).filter((name) => !(templateVariables as readonly string[]).includes(name));
}

/**
 * Fills a text. A sentence whose variable has no value loses that variable and the words tied to it
 * ("Expected arrival: {eta}." becomes nothing), rather than going out with a hole in it.
 */
export function fillTemplate(body: string, values: TemplateValues): string {
  const sentences = body.split(/(?<=[.!?])\s+/);
  const kept = sentences.filter((sentence) => [...sentence.matchAll(placeholder)].every((m) => values[m[1] as TemplateVariable]));
  return kept
    .join(' ')
    .replace(placeholder, (_, name: string) => values[name as TemplateVariable] ?? '')
    .trim();
}

/** The candidates for a locale, most specific first: pt_BR → pt_BR, pt, en. */
function localeChain(locale: string | null): string[] {
  const chain = locale ? [locale, locale.split(/[-_]/)[0]!] : [];
  return [...new Set([...chain, 'en'])];
}

export interface TemplateChoice { event: EventName; locale: string; body: string; custom: boolean }

/** The text an account uses for `event` in `locale` (its own when it wrote one, else the built-in). */
export async function templateFor(trx: Knex.Transaction, accountId: number, event: EventName, locale: string | null): Promise<TemplateChoice> {
  const chain = localeChain(locale);
  const rows = (await trx('notification_templates').where({ account_id: accountId, event }).whereIn('locale', chain).select('locale', 'body')) as Array<{ locale: string; body: string }>;
  for (const candidate of chain) {
    const row = rows.find((r) => r.locale === candidate);
    if (row) return { event, locale: row.locale, body: row.body, custom: true };
  }
  return { event, locale: 'en', body: defaultTemplates[event] ?? '', custom: false };
}

/** Values used by the admin preview: a sample job. */
export const sampleValues: TemplateValues = {
  job_reference: 'J-1042',
  window: 'Tue 3 Dec, 09:00–11:00',
  vendor_first_name: 'Sam',
  eta: '10:15',
  portal_link: 'https://onelink.example.com/portal/client/',
  account_name: 'Acme Services',
  customer_name: 'Alex',
};
