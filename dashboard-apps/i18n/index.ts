// Every sentence people read in the apps comes from a catalogue through t(): English first; a
// translation is another catalogue with the same keys (a key it lacks falls back to English).
// Numbers, money and dates are formatted by Intl in the browser's own locale already.
import { en, type Messages } from './en.ts';

export type MessageKey = keyof Messages;
type Catalogue = Partial<Record<MessageKey, string>>;

const catalogues: Record<string, Catalogue> = { en };
let active: Catalogue = en;

/** Adds a language (its code as in navigator.language, e.g. "de" or "pt-BR"). */
export function addCatalogue(locale: string, messages: Catalogue) {
  catalogues[locale.toLowerCase()] = messages;
}

/** Picks the closest catalogue to the wanted languages ("pt-BR", then "pt"), English otherwise. */
export function useLocale(wanted: readonly string[] = typeof navigator === 'undefined' ? [] : navigator.languages) {
  for (const code of wanted.map((c) => c.toLowerCase())) {
    const found = catalogues[code] ?? catalogues[code.split('-')[0]!];
    if (found) {
      active = found;
      return;
    }
  }
  active = en;
}

/** The message for `key`, with {name} placeholders filled from `values`. */
export function t(key: MessageKey, values: Record<string, string | number> = {}): string {
  const template = active[key] ?? en[key];
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => (name in values ? String(values[name]) : whole));
}
