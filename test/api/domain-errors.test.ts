// Services throw domain errors; the HTTP layer alone decides their status and envelope. Each kind
// maps to the answer the API has always given (the API tests prove it per route); anything else is
// not a domain error and stays unmapped (the middleware answers 500 for it).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ConflictError,
  ForbiddenByRuleError,
  InvalidFieldsError,
  NotAuthenticatedError,
  NotFoundError,
  RateLimitedError,
  UnprocessableError,
  invalidField,
  withReferenceFields,
} from '../../extension/errors.ts';
import { httpErrorFrom, maxFieldIssues } from '../../extension/http/errors.ts';

const answer = (err: unknown) => {
  const mapped = httpErrorFrom(err);
  return mapped && { status: mapped.status, code: mapped.code, message: mapped.message, details: mapped.details };
};

describe('domain errors over HTTP', () => {
  it('an invalid field is a 422 naming it in the body', () => {
    expect(answer(invalidField('currency', 'XYZ is not an ISO 4217 currency code', 'unknown_currency', 'Unknown currency'))).toEqual({
      status: 422,
      code: 'validation_failed',
      message: 'Unknown currency',
      details: { fields: [{ path: 'body.currency', message: 'XYZ is not an ISO 4217 currency code', code: 'unknown_currency' }] },
    });
    // Nested fields keep their dots; the body as a whole has no field name.
    expect(answer(new InvalidFieldsError('Bad', [{ field: 'filters.status', message: 'x' }, { field: '', message: 'y', code: 'unknown_neighbour' }]))?.details).toEqual({
      fields: [{ path: 'body.filters.status', message: 'x' }, { path: 'body', message: 'y', code: 'unknown_neighbour' }],
    });
  });

  it('keeps a 422 small however many fields are wrong', () => {
    const many = Array.from({ length: 50 }, (_, i) => ({ field: `slots.${i}.ends`, message: 'Must be after starts', code: 'invalid_slot' }));
    const details = answer(new InvalidFieldsError('Some hours end before they start', many))?.details as { fields: unknown[]; more: number };
    expect([details.fields.length, details.more]).toEqual([maxFieldIssues, 50 - maxFieldIssues]);
  });

  it('not found, conflict, unprocessable and forbidden-by-rule keep their statuses and codes', () => {
    expect(answer(new NotFoundError('Deal'))).toEqual({ status: 404, code: 'not_found', message: 'Deal not found', details: undefined });
    expect(answer(new ConflictError('invalid_transition', 'A won deal cannot become lost', { allowed: ['open'] }))).toEqual({
      status: 409,
      code: 'invalid_transition',
      message: 'A won deal cannot become lost',
      details: { allowed: ['open'] },
    });
    expect(answer(new UnprocessableError('unknown_stage', 'That stage does not exist in this account'))).toMatchObject({ status: 422, code: 'unknown_stage' });
    expect(answer(new ForbiddenByRuleError('capability_disabled', 'crm.deals is switched off'))).toMatchObject({ status: 403, code: 'capability_disabled' });
    expect(answer(new RateLimitedError('At most 5 sign-in links per 15 minutes'))).toMatchObject({ status: 429, code: 'rate_limited', message: 'At most 5 sign-in links per 15 minutes' });
    expect(answer(new NotAuthenticatedError('This sign-in link is invalid'))).toMatchObject({ status: 401, code: 'unauthorized', message: 'This sign-in link is invalid' });
  });

  it('leaves anything else alone', () => {
    expect(httpErrorFrom(new Error('boom'))).toBeUndefined();
    expect(httpErrorFrom({ code: '23505' })).toBeUndefined();
  });

  it('turns a foreign-key refusal on a named column into an invalid field, and passes others through', async () => {
    const columns = { owner_id: { field: 'owner_id', message: 'The owner must be an agent of this account', code: 'unknown_owner' } };
    const refused = await withReferenceFields(() => Promise.reject(Object.assign(new Error('fk'), { code: '23503', constraint: 'deals_account_id_owner_id_foreign' })), columns).catch((e: unknown) => e);
    expect(answer(refused)?.details).toEqual({ fields: [{ path: 'body.owner_id', message: 'The owner must be an agent of this account', code: 'unknown_owner' }] });
    const other = Object.assign(new Error('fk'), { code: '23503', constraint: 'deals_account_id_stage_id_foreign' });
    await expect(withReferenceFields(() => Promise.reject(other), columns)).rejects.toBe(other);
    expect(await withReferenceFields(async () => 7, columns)).toBe(7);
  });
});

describe('services speak the domain, not HTTP', () => {
  const root = join(import.meta.dirname, '..', '..', 'extension');
  // Files that face HTTP themselves, each with why; everything else under extension/ outside
  // http/ and route files must throw domain errors (errors.ts) and leave statuses to the HTTP layer.
  const httpFacing: Record<string, string> = {
    'app.ts': 'the express app: its error middleware maps domain errors to answers',
    'errors.ts': 'the domain errors themselves; their comment explains the body.* mapping',
    'modules/artifacts/upload.ts': 'reads the multipart request; 413/415/400 are about the HTTP upload, not the domain',
    'modules/vendors/documents.ts': 'reads a vendor document from a multipart request, like artifacts/upload.ts',
    'vendor-messages/attachments.ts': 'reads a message with its files from a multipart request, like artifacts/upload.ts',
    'modules/quotes/service.ts': "reads a quote with its document from a multipart request, like artifacts/upload.ts (415 for the file's type)",
    'portal/client-jobs-requests.ts': 'reads a service request with its photos from a multipart request, like artifacts/upload.ts (413/415 for the files)',
    'portal/vendor-jobs.ts': 'the action door stores each answer (status and error) so a replay gets the very same answer',
    'uploads/metadata.ts': 'checks the tus request headers: 400/413 are about the upload request',
    'uploads/finish.ts': "answers the tus request that finishes an upload with our error envelope (tus hooks answer, not Express's error middleware)",
    'auth/sessions.ts': 'signing in: 401/422/503 are authentication answers to the request',
    'capabilities/field-packs.ts': 'custom-field problems are reported at custom_fields.* (no body. prefix), as the API always has',
  };
  const sources = (dir: string): string[] =>
    readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) => {
      const path = dir ? `${dir}/${entry.name}` : entry.name;
      if (entry.isDirectory()) return path === 'http' ? [] : sources(path);
      return entry.name.endsWith('.ts') && !entry.name.endsWith('routes.ts') ? [path] : [];
    });

  it('no module outside http/ and route files names request paths or builds HTTP errors', () => {
    const offenders = sources('')
      .filter((file) => !(file in httpFacing))
      .flatMap((file) => {
        const source = readFileSync(join(root, file), 'utf8');
        return [/['"`]body\./, /\bHttpError\b/, /http\/errors\.ts/].filter((pattern) => pattern.test(source)).map((pattern) => `${file}: ${pattern}`);
      });
    expect(offenders).toEqual([]);
  });

  it('the allow-list names files that exist', () => {
    const all = new Set(sources(''));
    expect(Object.keys(httpFacing).filter((file) => !all.has(file))).toEqual([]);
  });
});
