// formatPhone for pages that keep their first load small (the sidebar): the numbering rules are
// fetched when the page asks (after its first answer is on screen: parsing them takes the main
// thread for a moment), and a number is shown only once it can be shown formatted, so it never
// flips from the raw form to the formatted one.
import { shallowRef } from 'vue';
import type { formatPhone as FormatPhone } from './phone.ts';

const formatter = shallowRef<typeof FormatPhone | null>(null);
let loading: Promise<unknown> | null = null;

/** Starts loading the numbering rules (once). */
export function loadPhoneRules() {
  loading ??= import('./phone.ts')
    .then((module) => (formatter.value = module.formatPhone))
    .catch(() => (formatter.value = (value: string) => value)); // the chunk could not load: show numbers as given
  return loading;
}

/** The number formatted for display, or null while the rules load. */
export function usePhoneDisplay() {
  return (value: string | null | undefined, homeCountry?: string | null) => (value ? (formatter.value?.(value, homeCountry) ?? null) : null);
}
