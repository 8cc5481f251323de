// Erasing and exporting a person on request (admins): see service.ts and export.ts.
import { z } from 'zod';
import { sendData } from '../http/envelope.ts';
import { invalid } from '../http/errors.ts';
import { defineRoute } from '../http/registry.ts';
import { chatwootId, chatwootIdParam } from '../http/schemas.ts';
import type { Services } from '../services.ts';
import { exportContact } from './export.ts';
import { forgetContact } from './service.ts';

const params = z.object({ contactId: chatwootIdParam });
const count = z.number().int().min(0);
const rows = z.array(z.record(z.string(), z.unknown()));

const erasure = z.object({
  chatwoot_contact_id: z.number().int(),
  erased_at: z.string().describe('When the contact was first erased'),
  already_erased: z.boolean().describe('The contact had been erased before: the counts are what was found since (usually all zero)'),
  counts: z.record(z.string(), count).describe('Rows erased or de-identified, per kind'),
  redacted_in_trails: z.object({ audit_events: count, job_events: count }).describe('Earlier audit and job events that quoted the person, now redacted (their strings replaced, nothing else changed)'),
  files_not_removed: count.describe('Stored files whose removal failed after the erasure (their records are gone)'),
  recordings_left_at_twilio: z.array(z.string()).describe('Call recordings Twilio did not delete, or that could not be deleted for want of stored Twilio credentials: remove them in Twilio'),
});

const personExport = z.object({
  exported_at: z.string(),
  chatwoot_contact_id: z.number().int(),
  erased_at: z.string().nullable(),
  links_expire_at: z.string(),
  contact: z.record(z.string(), z.unknown()).nullable(),
  conversations: rows,
  deals: rows,
  jobs: rows,
  tasks: rows,
  calls: rows,
  portal_users: rows,
  client_threads: rows,
  notifications: rows,
  notification_deliveries: rows,
  notification_preferences: rows,
  vendor_client_links: rows,
  files: rows.describe('Name, size, content type and a signed download link (24 hours) of each file'),
  audit_events: rows,
});

export function privacyRoutes(services: Services) {
  const admin = { permission: 'admin:system', capability: null } as const;
  return [
    defineRoute({
      method: 'post',
      path: '/contacts/:contactId/erase',
      summary:
        'Erase a person on request: their cached contact, client portal users (with sessions and files), call numbers, recordings and transcripts; their deals, jobs and tasks are kept without the link or personal fields. The body repeats the contact id ({"confirm": <contactId>}). Erasing again answers 200 with already_erased and zero counts. Erase the person in Chatwoot too',
      tags: ['admin'],
      access: admin,
      params,
      body: z.object({ confirm: chatwootId.describe('The contact id again, so an erasure cannot be fired by accident') }),
      response: erasure,
      successStatus: 200,
      handler: async ({ ctx, params, body, res }) => {
        if (body.confirm !== params.contactId) {
          throw invalid('confirm must repeat the contact id of the path', [{ path: 'body.confirm', message: `must be ${params.contactId}, the contact being erased`, code: 'confirmation_mismatch' }]);
        }
        sendData(res, await forgetContact(services, ctx, params.contactId));
      },
    }),
    defineRoute({
      method: 'get',
      path: '/contacts/:contactId/export',
      summary: 'Everything Onelink holds about a person, as a JSON download: cached contact, conversations, deals (with notes and quotes), jobs (with events), tasks, calls, client portal users, messages, notifications, files (with signed links) and the audit events about them',
      tags: ['admin'],
      access: admin,
      params,
      response: personExport,
      handler: async ({ ctx, params, res }) => {
        const data = await exportContact(services, ctx, params.contactId);
        res.setHeader('Content-Disposition', `attachment; filename="contact-${params.contactId}-export.json"`);
        res.setHeader('Cache-Control', 'no-store');
        sendData(res, data);
      },
    }),
  ];
}
