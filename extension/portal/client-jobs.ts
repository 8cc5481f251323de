// A client's jobs and service requests.
import type { Services } from '../services.ts';

export function clientJobRoutes(_services: Services) {
  return [];
}
