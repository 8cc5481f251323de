// Quotes on deals, shared with the deal's client: staff routes under the deal, the client's own
// routes in the client portal, and the signed links their documents are read by.
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import { sendData, sendError } from '../../http/envelope.ts';
import { HttpError } from '../../http/errors.ts';
import { defineRoute } from '../../http/registry.ts';
import { text } from '../../http/schemas.ts';
import type { Services } from '../../services.ts';
import { dropReceived, receiveForm } from '../artifacts/upload.ts';
import { createQuote, decideQuote, getClientQuote, listClientQuotes, listDealQuotes, openSignedQuote, requireClient, requireDeal, shareQuote, withdrawQuote } from './service.ts';

const dealParams = z.object({ dealId: z.uuid() });
const quoteParams = dealParams.extend({ quoteId: z.uuid() });

/** RFC 6266 / 5987: an ASCII fallback and the exact UTF-8 name. */
function disposition(filename: string) {
  const ascii = filename.replace(/[^\x20-\x7e]/g, '_').replace(/[\\"]/g, '_');
  return `inline; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`;
}

const clientQuote = z.object({
  id: z.uuid(),
  title: z.string(),
  amount: z.string().describe('A decimal in the currency’s units, e.g. "1250.50" (JPY: "98000")'),
  currency: z.string(),
  status: z.enum(['shared', 'approved', 'declined']),
  shared_at: z.string().nullable(),
  decided_at: z.string().nullable(),
  decision_comment: z.string().nullable(),
  document: z.object({ url: z.string(), filename: z.string(), content_type: z.string() }).nullable().describe('A signed link, 60 minutes'),
  deal: z.object({ reference: z.string() }),
});

export function quoteRoutes(services: Services) {
  const readDeals = { permission: 'deals:read', capability: 'crm.deals' } as const;
  const writeDeals = { permission: 'deals:write', capability: 'crm.deals' } as const;
  const client = { permission: 'client_portal:use', capability: 'portal.client' } as const;
  return [
    defineRoute({
      method: 'get',
      path: '/deals/:dealId/quotes',
      summary: 'The deal’s quotes, newest first, with the client’s decision (who, when, from which address) and a signed link to each document',
      tags: ['deals'],
      access: readDeals,
      params: dealParams,
      handler: async ({ ctx, params, res }) => sendData(res, await listDealQuotes(services, ctx, params.dealId)),
    }),
    defineRoute({
      method: 'post',
      path: '/deals/:dealId/quotes',
      summary:
        'Add a draft quote: title, amount (a decimal such as 1250.50, at most the currency’s decimals) and currency (ISO 4217). As JSON, or as multipart/form-data with the same fields and the document (a PDF or photo, up to ONELINK_UPLOAD_MAX_MB) in a field named "document"',
      tags: ['deals'],
      access: writeDeals,
      params: dealParams,
      multipart: true,
      body: z.object({
        title: text({ min: 1, max: 300 }),
        amount: z.string().max(40).describe('A decimal such as "1250.50" (no thousands separators)'),
        currency: z.string().regex(/^[A-Za-z]{3}$/, 'a three-letter ISO 4217 code such as USD'),
      }),
      handler: async ({ ctx, params, body, req, res }) => {
        if (body) return sendData(res, await createQuote(services, ctx, params.dealId, body, null), {}, 201);
        // Multipart: the deal is checked before a byte is read.
        await requireDeal(ctx, params.dealId);
        const maxBytes = services.config.ONELINK_UPLOAD_MAX_MB * 1024 * 1024;
        const form = await receiveForm(req, { tmpDir: path.join(services.config.filesDir, '.incoming'), maxBytes, fileField: 'document' });
        try {
          if (form.tooMany) throw new HttpError(413, 'too_many_files', 'A quote takes one document', { max_files: 1 });
          sendData(res, await createQuote(services, ctx, params.dealId, form.fields, form.files[0] ?? null), {}, 201);
        } finally {
          await dropReceived(form.files);
        }
      },
    }),
    defineRoute({
      method: 'post',
      path: '/deals/:dealId/quotes/:quoteId/share',
      summary: 'Share a draft quote with the deal’s client in the client portal (409 no_contact / no_client_portal_user until the deal’s contact has been invited to the portal)',
      tags: ['deals'],
      access: writeDeals,
      params: quoteParams,
      successStatus: 200,
      handler: async ({ ctx, params, res }) => sendData(res, await shareQuote(services, ctx, params.dealId, params.quoteId)),
    }),
    defineRoute({
      method: 'post',
      path: '/deals/:dealId/quotes/:quoteId/withdraw',
      summary: 'Withdraw a draft or shared quote before the client decides (409 quote_decided once they have)',
      tags: ['deals'],
      access: writeDeals,
      params: quoteParams,
      successStatus: 200,
      handler: async ({ ctx, params, res }) => sendData(res, await withdrawQuote(services, ctx, params.dealId, params.quoteId)),
    }),
    defineRoute({
      method: 'get',
      path: '/portal/client/quotes',
      summary: 'Your quotes: those shared with you on your deals, newest first, with the decision once made ([] when there are none)',
      tags: ['portal'],
      access: client,
      response: z.array(clientQuote),
      handler: async ({ ctx, res }) => sendData(res, await listClientQuotes(services, ctx)),
    }),
    defineRoute({
      method: 'get',
      path: '/portal/client/quotes/:quoteId',
      summary: 'One of your quotes',
      tags: ['portal'],
      access: client,
      params: z.object({ quoteId: z.uuid() }),
      response: clientQuote,
      handler: async ({ ctx, params, res }) => sendData(res, await getClientQuote(services, ctx, params.quoteId)),
    }),
    defineRoute({
      method: 'post',
      path: '/portal/client/quotes/:quoteId/decision',
      summary:
        'Approve or decline one of your quotes, with a comment if you like. Recorded with who, when, the address and the device; approving wins the deal, declining loses it with your comment as the reason. Once only: 409 quote_decided after',
      tags: ['portal'],
      access: client,
      params: z.object({ quoteId: z.uuid() }),
      body: z.object({ decision: z.enum(['approve', 'decline']), comment: text({ max: 500 }).nullable().optional() }),
      response: clientQuote,
      successStatus: 200,
      handler: async ({ ctx, params, body, req, res }) => {
        requireClient(ctx);
        sendData(res, await decideQuote(services, ctx, params.quoteId, body, { ip: req.ip ?? null, userAgent: req.get('user-agent') ?? null }));
      },
    }),
    defineRoute({
      method: 'get',
      path: '/quotes/content',
      summary: 'A quote’s document behind a signed, short-lived link from the quote routes',
      tags: ['deals'],
      access: { public: true },
      rateLimitPerMinute: 1200,
      query: z.object({ token: z.string().min(10).max(1000) }),
      handler: async ({ query, res }) => {
        const file = await openSignedQuote(services, query.token);
        if (!file) return sendError(res, 404, 'not_found', 'This link is invalid or has expired');
        res.setHeader('Content-Type', file.row.content_type ?? 'application/octet-stream');
        if (file.row.size_bytes !== null) res.setHeader('Content-Length', String(file.row.size_bytes));
        res.setHeader('Content-Disposition', disposition(file.row.filename ?? 'quote'));
        res.setHeader('Cache-Control', 'private, max-age=600');
        // Served bytes are never a page: no scripts, no plugins, even if a browser tried to render them.
        res.setHeader('Content-Security-Policy', "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox");
        await pipeline(file.stream, res).catch(() => undefined);
      },
    }),
  ];
}
