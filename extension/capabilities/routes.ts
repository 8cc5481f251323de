// Admin routes for the account's profile and capability flags.
import { z } from 'zod';
import { sendData } from '../http/envelope.ts';
import { defineRoute } from '../http/registry.ts';
import { capabilities, profiles } from './profiles.ts';
import { getAccountCapabilities, updateAccountCapabilities } from './service.ts';

export function capabilityRoutes() {
  return [
    defineRoute({
      method: 'get',
      path: '/admin/capabilities',
      summary: 'The account profile, each capability flag (enabled, profile default) and the active custom fields',
      tags: ['admin'],
      access: { permission: 'admin:capabilities', capability: null },
      handler: async ({ ctx, res }) => sendData(res, await getAccountCapabilities(ctx)),
    }),
    defineRoute({
      method: 'patch',
      path: '/admin/capabilities',
      summary: 'Change the profile and/or switch flags on (true), off (false) or back to the profile default (null)',
      tags: ['admin'],
      access: { permission: 'admin:capabilities', capability: null },
      body: z
        .object({
          profile: z.enum(profiles).optional(),
          overrides: z.partialRecord(z.enum(capabilities), z.boolean().nullable()).optional(),
        })
        .refine((b) => b.profile !== undefined || b.overrides !== undefined, 'Give a profile, overrides, or both'),
      handler: async ({ ctx, body, res }) => sendData(res, await updateAccountCapabilities(ctx, body)),
    }),
  ];
}
