// A client's conversations with the business (Chatwoot's Client portal inbox).
import type { Services } from '../services.ts';

export function clientMessageRoutes(_services: Services) {
  return [];
}
