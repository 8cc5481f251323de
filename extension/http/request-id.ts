// Every request gets an id (the caller's X-Request-Id when it is sane), echoed back and logged.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

const acceptable = /^[A-Za-z0-9._:-]{8,128}$/;

export function requestIdFor(req: IncomingMessage, res: ServerResponse): string {
  const given = req.headers['x-request-id'];
  const id = typeof given === 'string' && acceptable.test(given) ? given : randomUUID();
  res.setHeader('X-Request-Id', id);
  return id;
}
