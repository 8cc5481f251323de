import { afterEach, describe, expect, it, vi } from 'vitest';
import { accountOfToken, linkToken, store, stored } from './storage.ts';

afterEach(() => vi.unstubAllGlobals());

describe('sign-in link helpers', () => {
  it('reads the token from the fragment, alone or among other parameters', () => {
    expect(linkToken('#token=olm_12_abc')).toBe('olm_12_abc');
    expect(linkToken('#next=%2Fjobs&token=olm_12_a%2Db')).toBe('olm_12_a-b');
    expect(linkToken('#tokens=olm_12_abc')).toBeNull();
    expect(linkToken('')).toBeNull();
  });

  it('names the account a token was issued in, and nothing for other strings', () => {
    expect(accountOfToken('olm_42_secret')).toBe(42);
    expect(accountOfToken('ols_42_secret')).toBeNull();
    expect(accountOfToken('olm_x_secret')).toBeNull();
  });
});

describe('device storage', () => {
  it('keeps JSON values, forgets on null, and reads a broken value as nothing', () => {
    const memory = new Map<string, string>();
    vi.stubGlobal('localStorage', {
      getItem: (key: string) => memory.get(key) ?? null,
      setItem: (key: string, value: string) => void memory.set(key, value),
      removeItem: (key: string) => void memory.delete(key),
    });
    store('k', { a: 1 });
    expect(stored('k')).toEqual({ a: 1 });
    store('k', null);
    expect(stored('k')).toBeNull();
    memory.set('k', '{not json');
    expect(stored('k')).toBeNull();
  });

  it('does without storage when the browser refuses it (private mode, full disk)', () => {
    vi.stubGlobal('localStorage', {
      getItem: () => {
        throw new Error('denied');
      },
      setItem: () => {
        throw new Error('full');
      },
      removeItem: () => undefined,
    });
    expect(() => store('k', 1)).not.toThrow();
    expect(stored('k')).toBeNull();
  });
});
