// Admin routes for the account's profile, capability flags and fields.
import { z } from 'zod';
import { isPhoneCountry } from '../phones/e164.ts';
import { sendData } from '../http/envelope.ts';
import { defineRoute } from '../http/registry.ts';
import { text } from '../http/schemas.ts';
import { createAccountField, listFieldSetup, updateAccountField } from './account-fields.ts';
import { fieldEntities } from './field-packs.ts';
import { capabilities, profiles } from './profiles.ts';
import { getAccountCapabilities, updateAccountCapabilities } from './service.ts';

const fieldTypes = ['text', 'number', 'date', 'boolean', 'choice'] as const;
const choices = z.array(text({ min: 1, max: 100 })).max(100);

export function capabilityRoutes() {
  const manage = { permission: 'admin:capabilities', capability: null } as const;
  return [
    defineRoute({
      method: 'get',
      path: '/admin/fields',
      summary: 'Field packs (with their fields, on or off here) and the fields this account defined itself',
      tags: ['admin'],
      access: manage,
      handler: ({ ctx, res }) => sendData(res, listFieldSetup(ctx)),
    }),
    defineRoute({
      method: 'post',
      path: '/admin/fields',
      summary: 'Add a field of the account’s own to deals, jobs or vendors (key and type are fixed once created)',
      tags: ['admin'],
      access: manage,
      body: z.object({
        entity: z.enum(fieldEntities),
        key: z.string().regex(/^[a-z][a-z0-9_]{0,39}$/, 'lower-case letters, digits and _, starting with a letter (at most 40)'),
        label: text({ min: 1, max: 100 }),
        type: z.enum(fieldTypes),
        options: choices.optional(),
        required: z.boolean().optional(),
        sensitive: z.boolean().optional().describe('Never written back to Chatwoot, never logged, masked in the audit trail'),
      }),
      handler: async ({ ctx, body, res }) => sendData(res, await createAccountField(ctx, body), {}, 201),
    }),
    defineRoute({
      method: 'patch',
      path: '/admin/fields/:fieldId',
      summary: 'Relabel a field, change its choices, make it required or sensitive, or archive it (archived: no new values)',
      tags: ['admin'],
      access: manage,
      params: z.object({ fieldId: z.uuid() }),
      body: z.object({ label: text({ min: 1, max: 100 }).optional(), options: choices.optional(), required: z.boolean().optional(), sensitive: z.boolean().optional(), archived: z.boolean().optional() }),
      handler: async ({ ctx, params, body, res }) => sendData(res, await updateAccountField(ctx, params.fieldId, body)),
    }),
    defineRoute({
      method: 'get',
      path: '/admin/capabilities',
      summary: 'The account profile, each capability flag (enabled, profile default) and the active custom fields',
      tags: ['admin'],
      access: manage,
      handler: async ({ ctx, res }) => sendData(res, await getAccountCapabilities(ctx)),
    }),
    defineRoute({
      method: 'patch',
      path: '/admin/capabilities',
      summary: 'Change the profile, switch flags on (true), off (false) or back to the profile default (null), and/or set the default phone country',
      tags: ['admin'],
      access: manage,
      body: z
        .object({
          profile: z.enum(profiles).optional(),
          overrides: z.partialRecord(z.enum(capabilities), z.boolean().nullable()).optional(),
          phone_country: z
            .string()
            .refine(isPhoneCountry, 'a two-letter country code in capitals, e.g. US, GB, BR')
            .nullable()
            .optional()
            .describe('Where phone numbers written without a country code are read; null: from the Chatwoot locale, else US'),
        })
        .refine((b) => b.profile !== undefined || b.overrides !== undefined || b.phone_country !== undefined, 'Give a profile, overrides, a phone country, or several'),
      handler: async ({ ctx, body, res }) => sendData(res, await updateAccountCapabilities(ctx, body)),
    }),
  ];
}
