// Bearer tokens we issue carry their account: `<kind>_<accountId>_<secret>`. Knowing the account
// before the lookup lets even the token lookup run under row-level security. Only a SHA-256 of
// the whole token is stored.
import { randomToken, sha256 } from '../security/crypto.ts';

export const tokenKinds = { session: 'ols', service: 'olt', magicLink: 'olm' } as const;
export type TokenKind = keyof typeof tokenKinds;

export function issueToken(kind: TokenKind, accountId: number): { token: string; hash: Buffer } {
  const token = `${tokenKinds[kind]}_${accountId}_${randomToken(32)}`;
  return { token, hash: sha256(token) };
}

export function parseToken(token: string): { kind: TokenKind; accountId: number; hash: Buffer } | null {
  const match = /^(ols|olt|olm)_(\d{1,15})_[A-Za-z0-9_-]{43}$/.exec(token);
  if (!match) return null;
  const kind = (Object.keys(tokenKinds) as TokenKind[]).find((k) => tokenKinds[k] === match[1])!;
  return { kind, accountId: Number(match[2]), hash: sha256(token) };
}
