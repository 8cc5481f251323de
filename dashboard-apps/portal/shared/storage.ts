// What a portal keeps on the device between visits (who signed in, to which account): small JSON
// values in localStorage, which private mode or a full disk may refuse — the page's memory serves then.

export function stored<T>(key: string): T | null {
  try {
    const raw = localStorage.getItem(key);
    return raw ? (JSON.parse(raw) as T) : null;
  } catch {
    return null;
  }
}

export function store(key: string, value: unknown) {
  try {
    if (value === null) localStorage.removeItem(key);
    else localStorage.setItem(key, JSON.stringify(value));
  } catch {
    // private mode or full: this page's memory still serves
  }
}

/** A sign-in link's token names its account (`olm_<account>_…`). */
export const accountOfToken = (token: string) => {
  const match = /^olm_(\d{1,15})_/.exec(token);
  return match ? Number(match[1]) : null;
};

/** The token of a sign-in link (…/sign-in#token=…), if the address carries one. */
export const linkToken = (hash: string) => {
  const raw = /(?:^#|&)token=([^&]+)/.exec(hash)?.[1];
  return raw ? decodeURIComponent(raw) : null;
};
