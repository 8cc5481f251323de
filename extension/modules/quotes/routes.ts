// Quotes on deals, shared with the deal's client.
import type { Services } from '../../services.ts';

export function quoteRoutes(_services: Services) {
  return [];
}
