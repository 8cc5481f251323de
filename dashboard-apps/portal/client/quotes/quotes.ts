// The client's quotes as the server sends them, and how their amounts read.
import { call } from '../../shared/http.ts';

export interface ClientQuote {
  id: string;
  title: string;
  /** A decimal in the currency's units ("1250.50"; JPY "98000"). */
  amount: string;
  currency: string;
  status: 'shared' | 'approved' | 'declined';
  shared_at: string | null;
  decided_at: string | null;
  decision_comment: string | null;
  document: { url: string; filename: string; content_type: string } | null;
  deal: { reference: string };
}

export const loadQuotes = async () => (await call<ClientQuote[]>('GET', '/portal/client/quotes')).data;
export const loadQuote = async (id: string) => (await call<ClientQuote>('GET', `/portal/client/quotes/${encodeURIComponent(id)}`)).data;
export const decide = async (id: string, decision: 'approve' | 'decline', comment: string) =>
  (await call<ClientQuote>('POST', `/portal/client/quotes/${encodeURIComponent(id)}/decision`, { decision, ...(comment ? { comment } : {}) })).data;

/** The amount in the person's own number format, in the quote's currency ("€1,250.50", "￥98,000"). */
export function formatAmount(quote: Pick<ClientQuote, 'amount' | 'currency'>) {
  try {
    return new Intl.NumberFormat(undefined, { style: 'currency', currency: quote.currency }).format(Number(quote.amount));
  } catch {
    return `${quote.amount} ${quote.currency}`;
  }
}

export const statusTone = { shared: 'info', approved: 'success', declined: 'danger' } as const;
