// A board's filters as its address and its saved views hold them: a record of strings, '' where
// a filter is not set. Shared by the pipeline and dispatch boards.
import type { useUrlSearchParams } from '@vueuse/core';

/** Only the filters that are set, trimmed, as the API takes them. */
export function setFilters(filters: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(filters).map(([key, value]) => [key, value.trim()]).filter(([, value]) => value));
}

/** The board's own filters out of `values` (a saved view's may hold more, such as its pipeline). */
export function pickFilters<K extends string>(keys: readonly K[], values: Record<string, string>): Record<K, string> {
  return Object.fromEntries(keys.map((key) => [key, values[key] ?? ''])) as Record<K, string>;
}

/**
 * Keeps the filters in the page address (a filtered board can be bookmarked or sent on) and loads
 * the board once per distinct set: replacing the filters from a view also trips the board's own
 * watchers, which must not load it a second time.
 */
export function filtersInAddress<K extends string>(
  params: ReturnType<typeof useUrlSearchParams>,
  keys: readonly K[],
  options: { filters: () => Record<K, string>; scope?: () => unknown; load: () => void },
) {
  let applied: string | null = null;
  return {
    /** The filters the address holds (at start). */
    read: () => pickFilters(keys, Object.fromEntries(keys.filter((key) => typeof params[key] === 'string').map((key) => [key, params[key] as string]))),
    /** Writes the filters to the address and loads the board, unless that very set is loaded already. */
    apply() {
      const current = setFilters(options.filters());
      for (const key of keys) params[key] = current[key] ?? (null as unknown as string);
      const signature = JSON.stringify([options.scope?.(), current]);
      if (signature === applied) return;
      applied = signature;
      options.load();
    },
  };
}
