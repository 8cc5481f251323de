// Every sentence people read in the apps comes from a catalogue through t(): English first; a
// translation is another catalogue with the same keys (a key it lacks falls back to English).
// The English catalogue comes in parts, so a page loads only its own: the core here, and each app
// adds its part at start (the sidebar stays small). Numbers, money and dates are formatted by
// Intl in the browser's own locale already.
import type { account } from './en/account.ts';
import type { admin } from './en/admin.ts';
import type { bell } from './en/bell.ts';
import type { boards } from './en/boards.ts';
import type { dispatchOffers } from './en/dispatch-offers.ts';
import { core } from './en/core.ts';
import type { notificationPreferences } from './en/notification-preferences.ts';
import type { sidebar } from './en/sidebar.ts';
import type { vendorDocuments } from './en/vendor-documents.ts';
import type { vendorUsers } from './en/vendor-users.ts';
import type { businessText } from '../portal/vendor/business/text.ts';
import type { vendorPortal } from '../portal/vendor/i18n.ts';
import type { messagesText } from '../portal/vendor/messages/text.ts';
import type { teamText } from '../portal/vendor/team/text.ts';
import type { uploadsText } from '../portal/vendor/uploads/text.ts';
import type { portalInvite } from './en/portal-invite.ts';
import type { quotesText } from './en/quotes.ts';
import type { reports } from './en/reports.ts';
import type { clientPortal } from '../portal/client/i18n.ts';
import type { clientMessagesText } from '../portal/client/messages/text.ts';
import type { clientJobsText } from '../portal/client/jobs/text.ts';
import type { clientQuotesText } from '../portal/client/quotes/text.ts';

export type Messages = { readonly [K in keyof (typeof core & typeof sidebar & typeof boards & typeof dispatchOffers & typeof admin & typeof account & typeof notificationPreferences & typeof bell & typeof vendorDocuments & typeof vendorUsers & typeof vendorPortal & typeof uploadsText & typeof messagesText & typeof businessText & typeof teamText & typeof portalInvite & typeof quotesText & typeof reports & typeof clientPortal & typeof clientMessagesText & typeof clientJobsText & typeof clientQuotesText)]: string };
export type MessageKey = keyof Messages;
type Catalogue = Partial<Record<MessageKey, string>>;

const english: Catalogue = { ...core };
const catalogues: Record<string, Catalogue> = {};
let active: Catalogue = english;

/** Adds a part of the English catalogue (each app adds its own before it mounts). */
export function addEnglish(part: Catalogue) {
  Object.assign(english, part);
}

/** Adds a translation (its code as in navigator.language, e.g. "de" or "pt-BR"). */
export function addCatalogue(locale: string, messages: Catalogue) {
  catalogues[locale.toLowerCase()] = messages;
}

/** Picks the closest translation to the wanted languages ("pt-BR", then "pt"), English otherwise. */
export function useLocale(wanted: readonly string[] = typeof navigator === 'undefined' ? [] : navigator.languages) {
  for (const code of wanted.map((c) => c.toLowerCase())) {
    const found = code.startsWith('en') ? english : (catalogues[code] ?? catalogues[code.split('-')[0]!]);
    if (found) {
      active = found;
      return;
    }
  }
  active = english;
}

/** The message for `key`, with {name} placeholders filled from `values` (unknown ones stay visible). */
export function t(key: MessageKey, values: Record<string, string | number> = {}): string {
  const template = active[key] ?? english[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => (name in values ? String(values[name]) : whole));
}
