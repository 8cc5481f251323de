// The session also travels as a partitioned cookie (CHIPS). Inside Chatwoot's iframe,
// third-party cookies and storage may be blocked, but a cookie partitioned by the top-level
// site still works, and it survives the frame being rebuilt on every conversation switch.
// Requests authenticated by this cookie must carry our app header (see authenticate): a
// custom header cannot be sent cross-site without a CORS preflight we never grant.
import type { CookieOptions, Response } from 'express';

export const sessionCookie = 'onelink_session';
export const appRequestHeader = 'x-requested-with';
export const appRequestHeaderValue = 'onelink';

const options: CookieOptions = { httpOnly: true, secure: true, sameSite: 'none', partitioned: true, path: '/' };

export function setSessionCookie(res: Response, token: string, expiresAt: Date) {
  res.cookie(sessionCookie, token, { ...options, expires: expiresAt });
}

export function clearSessionCookie(res: Response) {
  res.clearCookie(sessionCookie, options);
}
