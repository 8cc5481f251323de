// A small read-through cache for what every webhook needs and rarely changes (the addressed
// installation or account and its secret): entries live for a few seconds, so a change made by
// the installer or an admin is picked up quickly. A caller that has reason to doubt a kept entry
// (a signature failed against the kept secret) asks for one at most `maxAgeMs` old.
export function shortLived<K, V>(load: (key: K) => Promise<V>, { ttlMs = 10_000, maxEntries = 1000 } = {}) {
  const entries = new Map<K, { at: number; value: V }>();
  return async (key: K, { maxAgeMs = ttlMs }: { maxAgeMs?: number } = {}): Promise<V> => {
    const hit = entries.get(key);
    if (hit && Date.now() - hit.at < Math.min(ttlMs, maxAgeMs)) return hit.value;
    const value = await load(key);
    if (entries.size >= maxEntries) entries.clear();
    entries.set(key, { at: Date.now(), value });
    return value;
  };
}
