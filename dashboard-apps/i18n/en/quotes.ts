// Quotes on a deal, shared with the deal's client in the client portal (staff side).
export const quotesText = {
  'quotes.title': 'Quotes',
};
