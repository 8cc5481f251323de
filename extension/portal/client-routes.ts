// Client portal sign-in, profile and staff invitations.
import type { Services } from '../services.ts';

export function clientPortalRoutes(_services: Services) {
  return [];
}
