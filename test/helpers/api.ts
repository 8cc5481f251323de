// A small client for API tests: requests as a signed-in caller, answers unwrapped.
import request from 'supertest';
import type { TestApp } from './app.ts';

export function apiAs(t: TestApp, token: string) {
  const send = (method: 'get' | 'post' | 'patch' | 'put' | 'delete') => (path: string, body?: object, query?: Record<string, unknown>) => {
    const req = request(t.app)[method](`/api/v1${path}`).set('Authorization', `Bearer ${token}`);
    if (query) req.query(query);
    return body === undefined ? req : req.send(body);
  };
  return { get: (path: string, query?: Record<string, unknown>) => send('get')(path, undefined, query), post: send('post'), patch: send('patch'), put: send('put'), delete: send('delete') };
}

/** Downloads a signed link without any credentials, as an <img> or a browser tab would; the body as bytes. */
export function fetchSignedLink(t: TestApp, link: string) {
  return request(t.app)
    .get(link)
    .buffer(true)
    .parse((res, done) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done(null, Buffer.concat(chunks)));
    });
}
